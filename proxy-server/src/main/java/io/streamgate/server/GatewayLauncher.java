package io.streamgate.server;

import ch.qos.logback.classic.LoggerContext;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import io.streamgate.config.UpstreamConfig;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.server.admin.AdminEndpoints;
import io.streamgate.server.admin.AdminServer;
import io.streamgate.server.demo.DemoBackend;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs the gateway in the foreground until a signal stops it, then drains in-flight requests and exits. */
final class GatewayLauncher {
    private static final Logger log = LoggerFactory.getLogger(GatewayLauncher.class);

    /** How much longer than the drain timeout shutdown waits for sockets and event loops to close. */
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(10);
    /** How often the config file is checked for changes (cert-manager and editors rewrite it in place). */
    private static final Duration FILE_CHECK_PERIOD = Duration.ofSeconds(2);

    private GatewayLauncher() {
    }

    /**
     * Starts the optional demo backend, then the gateway, and blocks until the gateway has closed.
     *
     * @return the exit status: 0 after a requested shutdown, 1 if starting failed or the gateway stopped by itself
     */
    static int run(Path configFile, InetSocketAddress demoAddress, PrintStream err) {
        // Read once: the configuration, its hash and the admin view are all made from these bytes.
        ConfigFile loaded;
        ProxyConfig config;
        try {
            loaded = ConfigFile.read(configFile);
            config = loaded.parse();
        } catch (IOException e) {
            err.println(ConfigLoader.unreadable(configFile, e).getMessage());
            return 1;
        } catch (ConfigException e) {
            err.println(e.getMessage());
            return 1;
        }

        DemoBackend demo = null;
        Streamgate gateway;
        AdminServer admin = null;
        ConfigReloader reloader;
        PrometheusMeterRegistry registry = prometheusRegistry();
        try {
            if (demoAddress != null) {
                demo = DemoBackend.start(demoAddress);
                log.info("Demo backend (fake OpenAI API, not a model) listening on http://{}", authority(demo.address()));
                warnIfNoUpstreamReaches(config, demo.address());
            }
            AccessLogOutput.configure(config.accessLog());
            gateway = Streamgate.start(config, new Streamgate.Options(registry, NanoClock.SYSTEM));
            try {
                AdminEndpoints endpoints = new AdminEndpoints(gateway, registry, loaded, System.currentTimeMillis());
                reloader = new ConfigReloader(loaded, gateway, registry, endpoints::configReloaded);
                endpoints.useReloader(reloader);
                admin = startAdmin(config, endpoints);
            } catch (RuntimeException e) {
                gateway.close(Duration.ZERO);
                throw new IllegalStateException(e.getMessage(), e);
            }
            reloader.watch(FILE_CHECK_PERIOD);
            ReloadSignal.install(reloader);
            promoteStartUpObjects();
        } catch (RuntimeException e) {
            if (demo != null) {
                demo.close();
            }
            err.println("streamgate: cannot start: " + (e.getMessage() != null ? e.getMessage() : e));
            return 1;
        }

        String scheme = config.server().tls() == null ? "http" : "https";
        log.info("Streamgate {} listening on {}://{} (transport {}, config {})",
                Version.current(), scheme, authority(gateway.address()), gateway.transportName(), configFile);
        if (demo != null) {
            log.info("Try: curl -N {}{}://{}/v1/chat/completions -H 'Content-Type: application/json' "
                    + "-d '{\"model\":\"demo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'",
                    scheme.equals("https") ? "-k " : "", scheme, authority(gateway.address()));
        }

        AtomicBoolean shutdownRequested = new AtomicBoolean();
        DemoBackend demoToClose = demo;
        AdminServer adminToClose = admin;

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutdownRequested.set(true);
            // The settings in force now: a reload may have changed them.
            shutDown(gateway, demoToClose, adminToClose, gateway.config().server().shutdownDelay(),
                    gateway.config().server().drainTimeout());
        }, "streamgate-shutdown"));

        Throwable failure = null;
        try {
            gateway.closeFuture().join();
        } catch (CompletionException e) {
            failure = e.getCause(); // after a requested shutdown, the hook has logged it
        }
        if (!shutdownRequested.get()) {
            log.error("The gateway closed without being asked to; exiting", failure);
            return 1;
        }
        return 0;
    }

    /**
     * One full collection once everything is up and before traffic builds (tens of milliseconds; a request arriving
     * meanwhile waits that long). It moves the several megabytes of objects made at start-up (classes, config,
     * pipelines, the transport's buffer views) to the old generation in one go. Otherwise G1 copies them from
     * survivor space to survivor space at each of the first ~15 young collections under load, which makes those
     * pauses 8–10 ms instead of ~2 ms (docs/performance.md, "Garbage collection"). Without effect under
     * {@code -XX:+DisableExplicitGC}.
     */
    private static void promoteStartUpObjects() {
        long start = System.nanoTime();
        System.gc();
        log.debug("Start-up objects moved to the old generation in {} ms", (System.nanoTime() - start) / 1_000_000);
    }

    /**
     * Micrometer's processor binder names two meters against Prometheus conventions (process_cpu_time_ns_total,
     * system_cpu_count); promtool flags them. process_cpu_usage and system_cpu_usage carry the same information. The
     * registry's clock is {@link MeterClock}: no clock read per timer record.
     */
    static PrometheusMeterRegistry prometheusRegistry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(),
                MeterClock.instance());
        registry.config().meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"))
                .meterFilter(MeterFilter.deny(id -> id.getName().equals("system.cpu.count")));
        return registry;
    }

    private static AdminServer startAdmin(ProxyConfig config, AdminEndpoints endpoints) {
        if (config.admin() == null) {
            return null;
        }
        AdminServer admin = AdminServer.start(config.admin(), endpoints);
        log.info("Admin listener on http://{} (/healthz, /readyz, /metrics, /admin/*{})", authority(admin.address()),
                config.admin().token() == null ? "" : " with a token");
        return admin;
    }

    private static void shutDown(Streamgate gateway, DemoBackend demo, AdminServer admin, Duration delay, Duration drain) {
        long start = System.nanoTime();
        if (!delay.isZero()) {
            log.info("Shutting down in {}: /readyz now reports not ready so load balancers stop sending", format(delay));
            gateway.announceShutdown();
            try {
                Thread.sleep(delay.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        log.info("Shutting down: no new connections; in-flight requests may finish for up to {}", format(drain));
        try {
            gateway.close(drain);
            gateway.closeFuture().get(drain.plus(CLOSE_GRACE).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("The gateway did not close within {} after the drain timeout; exiting anyway", format(CLOSE_GRACE));
        } catch (ExecutionException e) {
            log.warn("The gateway closed with an error", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("Closing the gateway failed", e);
        } finally {
            if (demo != null) {
                demo.close();
            }
            if (admin != null) {
                admin.close();
            }
            log.info("Streamgate stopped after {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            // The access log goes through an async appender: stopping the context flushes what it still queues.
            if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
                context.stop();
            }
        }
    }

    /** A demo backend nobody routes to is almost certainly a mistake in the config or the port. */
    private static void warnIfNoUpstreamReaches(ProxyConfig config, InetSocketAddress demo) {
        boolean reached = config.upstreams().values().stream()
                .flatMap(upstream -> upstream.endpoints().stream())
                .mapToInt(UpstreamConfig.Endpoint::port)
                .anyMatch(port -> port == demo.getPort());
        if (!reached) {
            log.warn("No upstream endpoint in the config uses port {}; requests will not reach the demo backend",
                    demo.getPort());
        }
    }

    /** Durations as the config file writes them ("30s", "250ms"), not ISO-8601 ("PT30S"). */
    static String format(Duration duration) {
        long millis = duration.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + "s" : millis + "ms";
    }

    static String authority(InetSocketAddress address) {
        String host = address.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
