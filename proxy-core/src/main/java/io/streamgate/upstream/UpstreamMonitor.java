package io.streamgate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.policy.llm.ModelList;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background work for one upstream, on one event loop: active health checks of each endpoint, scrapes of each
 * endpoint's load figures (balance: least_loaded), and fetching its model list (when a route routes by model and the
 * upstream lists none). Each task runs again {@code interval} after the previous run finished, so a slow endpoint
 * never has two checks in flight. Nothing here blocks: every fetch is a non-blocking {@link BackendFetch}.
 */
public final class UpstreamMonitor {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamMonitor.class);
    private static final int MAX_METRICS_BYTES = 4 << 20;
    private static final int MAX_MODELS_BYTES = 1 << 20;
    private static final Duration MODELS_TIMEOUT = Duration.ofSeconds(5);

    private final Upstream upstream;
    private final EventLoop loop;
    private final Bootstrap template;
    private final Map<String, String> headers;
    private volatile boolean stopped;
    private final boolean discoverModels;

    private UpstreamMonitor(Upstream upstream, EventLoop loop, Bootstrap template, boolean discoverModels) {
        this.upstream = upstream;
        this.discoverModels = discoverModels;
        this.loop = loop;
        this.template = template;
        String key = upstream.config().apiKey();
        this.headers = key == null ? Map.of() : Map.of("authorization", "Bearer " + key);
    }

    /**
     * Starts what {@code upstream}'s settings ask for; returns null when there is nothing to do.
     *
     * @param discoverModels whether some route routes by model over this upstream
     */
    public static UpstreamMonitor start(Upstream upstream, EventLoop loop, Bootstrap template, boolean discoverModels) {
        UpstreamConfig c = upstream.config();
        boolean checks = c.health().check() != null;
        boolean load = c.balance().loadMetrics() != null;
        boolean models = discoverModels && upstream.models().discovers();
        if (!checks && !load && !models) {
            return null;
        }
        UpstreamMonitor m = new UpstreamMonitor(upstream, loop, template, discoverModels);
        for (int i = 0; i < c.endpoints().size(); i++) {
            int endpoint = i;
            if (checks) {
                m.repeat(() -> m.check(endpoint), () -> c.health().check().interval());
            }
            if (load) {
                m.repeat(() -> m.scrape(endpoint), () -> c.balance().loadMetrics().interval());
            }
        }
        if (models) {
            // Until a list is known (a backend still loading its model), ask every 2 s rather than every refresh.
            Duration soon = c.modelsRefresh().compareTo(Duration.ofSeconds(2)) < 0 ? c.modelsRefresh() : Duration.ofSeconds(2);
            m.repeat(m::fetchModels, () -> upstream.models().known() ? c.modelsRefresh() : soon);
        }
        return m;
    }

    /** The {@code discoverModels} it was started with: a reload that changes it needs a new monitor. */
    public boolean discoversModels() {
        return discoverModels;
    }

    /** Stops every task after its current run. */
    public void stop() {
        stopped = true;
    }

    /** Runs {@code task} now and again {@code interval} after each run completes. */
    private void repeat(Supplier<Future<?>> task, Supplier<Duration> interval) {
        loop.execute(() -> {
            if (stopped) {
                return;
            }
            task.get().addListener(done -> {
                if (!stopped) {
                    loop.schedule(() -> repeat(task, interval), interval.get().toNanos(), TimeUnit.NANOSECONDS);
                }
            });
        });
    }

    private Future<BackendFetch.Response> fetch(int endpoint, String path, Duration timeout, int maxBytes) {
        UpstreamConfig.Endpoint e = upstream.config().endpoints().get(endpoint);
        String serverName = upstream.config().tls().serverName();
        return BackendFetch.get(loop, template, e.tls() ? upstream.ssl() : null, serverName != null ? serverName : e.host(),
                e.host(), e.port(), path, headers, timeout, maxBytes);
    }

    private Future<?> check(int endpoint) {
        UpstreamConfig.HealthCheck hc = upstream.config().health().check();
        EndpointHealth health = upstream.health(endpoint);
        return fetch(endpoint, hc.path(), hc.timeout(), 64 * 1024).addListener(f -> {
            boolean passed = f.isSuccess() && ((BackendFetch.Response) f.getNow()).status() / 100 == 2;
            boolean wasAvailable = health.state(System.nanoTime()) != EndpointHealth.State.UNHEALTHY;
            health.checked(passed, System.nanoTime());
            boolean isAvailable = health.state(System.nanoTime()) != EndpointHealth.State.UNHEALTHY;
            if (isAvailable && !wasAvailable) {
                upstream.endpointReturned();
            }
            if (wasAvailable != isAvailable) {
                String why = f.isSuccess() ? "status " + ((BackendFetch.Response) f.getNow()).status() : String.valueOf(f.cause().getMessage());
                LOG.warn("upstream {} endpoint {} is {} (health check {}: {})", upstream.config().name(),
                        upstream.config().endpoints().get(endpoint), isAvailable ? "healthy again" : "unhealthy",
                        hc.path(), passed ? "passed" : why);
            }
        });
    }

    private Future<?> scrape(int endpoint) {
        UpstreamConfig.LoadMetrics lm = upstream.config().balance().loadMetrics();
        Duration timeout = lm.interval().compareTo(Duration.ofSeconds(2)) < 0 ? lm.interval() : Duration.ofSeconds(2);
        return fetch(endpoint, lm.path(), timeout, MAX_METRICS_BYTES).addListener(f -> {
            VllmLoad load = null;
            if (f.isSuccess() && ((BackendFetch.Response) f.getNow()).status() / 100 == 2) {
                load = VllmLoad.parse(((BackendFetch.Response) f.getNow()).body());
            }
            upstream.health(endpoint).load(load); // a failed scrape must not leave an old, low figure in place
        });
    }

    /** Asks the endpoints in order until one answers with a model list. */
    private Future<?> fetchModels() {
        int n = upstream.config().endpoints().size();
        var done = loop.<Void>newPromise();
        tryModels(0, n, done);
        return done;
    }

    private void tryModels(int endpoint, int left, io.netty.util.concurrent.Promise<Void> done) {
        if (left == 0 || stopped) {
            done.trySuccess(null);
            return;
        }
        fetch(endpoint, "/v1/models", MODELS_TIMEOUT, MAX_MODELS_BYTES).addListener(f -> {
            String problem;
            if (f.isSuccess()) {
                BackendFetch.Response r = (BackendFetch.Response) f.getNow();
                if (r.status() / 100 == 2) {
                    try {
                        List<ModelList.Model> models = ModelList.parse(r.body());
                        if (!upstream.models().known()) {
                            LOG.info("upstream {} serves {}", upstream.config().name(), models.stream().map(ModelList.Model::id).toList());
                        }
                        upstream.models().discovered(models);
                        done.trySuccess(null);
                        return;
                    } catch (IOException e) {
                        problem = "not a model list: " + e.getMessage();
                    }
                } else {
                    problem = "status " + r.status();
                }
            } else {
                problem = String.valueOf(f.cause().getMessage());
            }
            LOG.debug("model list of {} from {}: {}", upstream.config().name(), upstream.config().endpoints().get(endpoint), problem);
            tryModels((endpoint + 1) % upstream.config().endpoints().size(), left - 1, done);
        });
    }
}
