package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A configured upstream at run time: its settings and the round-robin cursor over its endpoints. Connection pools
 * belong to this object (see {@link UpstreamPools}), so they live as long as the config snapshot that made it.
 */
public final class Upstream {
    private final UpstreamConfig config;
    private final AtomicInteger cursor = new AtomicInteger();
    /** Set when a reload replaced this upstream; exchanges of the old snapshot may still lease from it. */
    private volatile boolean retired;

    public Upstream(UpstreamConfig config) {
        this.config = config;
    }

    public UpstreamConfig config() {
        return config;
    }

    boolean retired() {
        return retired;
    }

    void retire() {
        retired = true;
    }

    /** The index in {@code config().endpoints()} of the next endpoint, round-robin. */
    public int nextEndpoint() {
        int n = config.endpoints().size();
        return n == 1 ? 0 : Math.floorMod(cursor.getAndIncrement(), n);
    }
}
