package io.streamgate.server.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoop;
import io.streamgate.Streamgate;
import io.streamgate.server.ConfigFile;
import io.streamgate.server.ConfigReloader;
import java.util.concurrent.CompletableFuture;

/**
 * What the admin listener serves, gathered from the running gateway. The config view is made from the bytes the
 * running configuration was made from (the file may have changed on disk since).
 */
public final class AdminEndpoints {
    private final Streamgate gateway;
    private final PrometheusMeterRegistry registry;
    private volatile ConfigView config;
    private volatile ConfigReloader reloader;
    private volatile EventLoop executor;

    /** @param loaded the file the gateway's configuration was made from, at {@code loadedAt} (epoch ms) */
    public AdminEndpoints(Streamgate gateway, PrometheusMeterRegistry registry, ConfigFile loaded, long loadedAt) {
        this.gateway = gateway;
        this.registry = registry;
        this.config = ConfigView.of(loaded, loadedAt);
    }

    /** Enables {@code POST /admin/reload}. */
    public void useReloader(ConfigReloader reloader) {
        this.reloader = reloader;
    }

    /** After a reload: the view shows the file the new configuration was made from. */
    public void configReloaded(ConfigFile applied) {
        config = ConfigView.of(applied, System.currentTimeMillis());
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
