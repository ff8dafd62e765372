package io.streamgate.server.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoop;
import io.streamgate.Streamgate;
import io.streamgate.server.ConfigReloader;
import java.util.concurrent.CompletableFuture;

/**
 * What the admin listener serves, gathered from the running gateway. The config view is computed once per loaded
 * config (the file may have changed on disk since).
 */
public final class AdminEndpoints {
    private final Streamgate gateway;
    private final PrometheusMeterRegistry registry;
    private final java.nio.file.Path configFile;
    private volatile ConfigView config;
    private volatile ConfigReloader reloader;
    private volatile EventLoop executor;

    public AdminEndpoints(Streamgate gateway, PrometheusMeterRegistry registry, java.nio.file.Path configFile, long loadedAt)
            throws java.io.IOException {
        this.gateway = gateway;
        this.registry = registry;
        this.configFile = configFile;
        this.config = ConfigView.of(configFile, loadedAt);
    }

    /** The SHA-256 of the configuration file as loaded. */
    public String configHash() {
        return config.sha256();
    }

    /** Enables {@code POST /admin/reload}. */
    public void useReloader(ConfigReloader reloader) {
        this.reloader = reloader;
    }

    /** After a reload: the view shows the file as it is now. */
    public void configReloaded() {
        try {
            config = ConfigView.of(configFile, System.currentTimeMillis());
        } catch (java.io.IOException | RuntimeException e) {
            // The file was read a moment ago by the reload, which has taken effect; it may have changed since (an
            // editor half-way through writing it, which SnakeYAML refuses). Keep the old view rather than fail the
            // reload: the next change reloads and replaces it.
        }
    }

    ConfigReloader reloader() {
        return reloader;
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

    /** Ready when the gateway is not draining and every upstream has an endpoint that takes requests. */
    CompletableFuture<UpstreamProbe.Result> probeUpstreams() {
        return UpstreamProbe.probe(gateway, executor);
    }

    boolean draining() {
        return gateway.draining();
    }
}
