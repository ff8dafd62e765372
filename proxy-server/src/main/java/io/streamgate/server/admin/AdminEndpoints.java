package io.streamgate.server.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoop;
import io.streamgate.Streamgate;
import java.util.concurrent.CompletableFuture;

/**
 * What the admin listener serves, gathered from the running gateway. The config view is computed once per loaded
 * config (the file may have changed on disk since).
 */
public final class AdminEndpoints {
    private final Streamgate gateway;
    private final PrometheusMeterRegistry registry;
    private final ConfigView config;
    private volatile EventLoop executor;

    public AdminEndpoints(Streamgate gateway, PrometheusMeterRegistry registry, java.nio.file.Path configFile, long loadedAt)
            throws java.io.IOException {
        this.gateway = gateway;
        this.registry = registry;
        this.config = ConfigView.of(configFile, loadedAt);
    }

    void useExecutor(io.netty.util.concurrent.EventExecutor executor) {
        this.executor = (EventLoop) executor;
    }

    String scrape() {
        return registry.scrape();
    }

    ConfigView config() {
        return config;
    }

    Streamgate gateway() {
        return gateway;
    }

    /** Ready when the gateway is not draining and every upstream has an endpoint that accepts connections. */
    CompletableFuture<UpstreamProbe.Result> probeUpstreams() {
        return UpstreamProbe.probe(gateway.config(), executor);
    }

    boolean draining() {
        return gateway.draining();
    }
}
