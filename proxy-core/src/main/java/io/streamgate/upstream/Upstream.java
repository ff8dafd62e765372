package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Endpoint;
import java.util.concurrent.atomic.AtomicInteger;

/** A configured upstream at run time: its settings and the round-robin cursor over its endpoints. */
public final class Upstream {
    private final UpstreamConfig config;
    private final AtomicInteger cursor = new AtomicInteger();

    public Upstream(UpstreamConfig config) {
        this.config = config;
    }

    public UpstreamConfig config() {
        return config;
    }

    public Endpoint next() {
        var endpoints = config.endpoints();
        if (endpoints.size() == 1) {
            return endpoints.get(0);
        }
        return endpoints.get(Math.floorMod(cursor.getAndIncrement(), endpoints.size()));
    }
}
