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

    public Upstream(UpstreamConfig config) {
        this.config = config;
    }

    public UpstreamConfig config() {
        return config;
    }

    /** The index in {@code config().endpoints()} of the next endpoint, round-robin. */
    public int nextEndpoint() {
        int n = config.endpoints().size();
        return n == 1 ? 0 : Math.floorMod(cursor.getAndIncrement(), n);
    }
}
