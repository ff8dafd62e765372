package io.streamgate.observe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;
import io.streamgate.config.UpstreamConfig;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The meters of the traffic policies: LLM tokens per key, rate-limit refusals, cache results, and the state of the
 * cache and of the shared rate-limit store. Label values stay bounded: route and rule names and API-key names come
 * from the config; anonymous callers are "anonymous".
 */
public final class TrafficMeters {
    private static final String TOKENS_HELP = "LLM tokens reported by backends (or estimated without a report), per API key";

    private final MeterRegistry registry;
    private final RequestMeters.Registry requests;
    /** By endpoint object: found per request without building its name. */
    private final ConcurrentHashMap<UpstreamConfig.Endpoint, Timer> acquireTimers = new ConcurrentHashMap<>();
    /** Meters counted on every request of a route are looked up here, so counting allocates nothing. */
    private final CounterFamily cacheResults;
    private final CounterFamily promptTokens;
    private final CounterFamily completionTokens;
    /** Listens to GC notifications until closed. */
    private JvmGcMetrics gcMetrics;

    public TrafficMeters(MeterRegistry registry) {
        this.registry = registry;
        this.requests = new RequestMeters.Registry(registry);
        this.cacheResults = new CounterFamily(registry, "streamgate.cache.requests",
                "requests on caching routes: hit, miss or bypass", "route", "result");
        this.promptTokens = new CounterFamily(registry, "streamgate.llm.tokens", TOKENS_HELP, "identity", "route",
                "type", "prompt");
        this.completionTokens = new CounterFamily(registry, "streamgate.llm.tokens", TOKENS_HELP, "identity", "route",
                "type", "completion");
    }

    /** Requests, durations, time to first byte, stream duration, chunks and bytes of an exchange that ended. */
    public void exchangeEnded(ExchangeRecord r) {
        requests.of(r.route, r.upstream).record(r);
    }

    /** A request refused by a policy (ip_denied, invalid_api_key, cors_origin_denied, rate_limit_exceeded, ...). */
    public void rejected(String route, String reason) {
        counter("streamgate.rejections", "requests refused by a policy, by reason",
                "route", route == null ? "none" : route, "reason", reason).increment();
    }

    /**
     * A client connection closed at accept, before a byte was read: {@code reason} is ip_denied, max_connections or
     * max_connections_per_ip. Counted because nothing else sees these: no request, so no access line.
     */
    public void connectionRefused(String reason) {
        counter("streamgate.connections.refused", "client connections closed at accept, by reason", "reason", reason)
                .increment();
    }

    /**
     * A request sent again: {@code reason} is stale_connection (a reused connection turned out closed; same endpoint),
     * connect_failure, reset, first_byte_failover or status_NNN (another endpoint).
     */
    public void retried(String upstream, String reason) {
        counter("streamgate.upstream.retries", "requests sent again, by reason", "upstream", upstream, "reason", reason)
                .increment();
    }

    /** How long getting a pooled (or new) connection to {@code endpoint} took. */
    public void acquired(String upstream, UpstreamConfig.Endpoint endpoint, long nanos) {
        Timer t = acquireTimers.get(endpoint);
        if (t == null) {
            t = acquireTimers.computeIfAbsent(endpoint, e -> Timer.builder("streamgate.upstream.acquire")
                    .description("time to lease a connection from the endpoint's pool (connecting included)")
                    .tags("upstream", upstream, "endpoint", e.toString()).register(registry));
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Prompt and completion tokens a backend reported (or, without a report, the estimate charged). */
    public void tokens(String identity, String route, long prompt, long completion) {
        String id = identity == null ? "anonymous" : identity;
        if (prompt > 0) {
            promptTokens.get(id, route).increment(prompt);
        }
        if (completion > 0) {
            completionTokens.get(id, route).increment(completion);
        }
    }

    public void rateLimited(String route, String rule) {
        counter("streamgate.ratelimit.rejections", "requests refused by a rate limit, by rule", "route", route, "rule", rule)
                .increment();
    }

    /** One request on a caching route: hit, miss or bypass. */
    public void cacheResult(String route, String result) {
        cacheResults.get(route, result).increment();
    }

    /** A monotonic count read from {@code source} when scraped; {@code tags} are name, value pairs. */
    public <T> void functionCounter(String name, String description, T source, ToDoubleFunction<T> count, String... tags) {
        FunctionCounter.builder(name, source, count).description(description).tags(tags).register(registry);
    }

    /** JVM memory, GC, threads, CPU, and the direct memory Netty holds for buffers. */
    public void bindRuntime() {
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        Gauge.builder("streamgate.netty.direct.memory", () -> PlatformDependent.usedDirectMemory())
                .description("direct memory Netty has reserved (-1 when it cannot tell)").baseUnit("bytes")
                .register(registry);
        ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
        if (alloc instanceof ByteBufAllocatorMetricProvider) {
            ByteBufAllocatorMetric metric = ((ByteBufAllocatorMetricProvider) alloc).metric();
            Gauge.builder("streamgate.netty.allocator.memory", metric, ByteBufAllocatorMetric::usedDirectMemory)
                    .description("memory held by Netty's buffer allocator").baseUnit("bytes").tag("type", "direct")
                    .register(registry);
            Gauge.builder("streamgate.netty.allocator.memory", metric, ByteBufAllocatorMetric::usedHeapMemory)
                    .description("memory held by Netty's buffer allocator").baseUnit("bytes").tag("type", "heap")
                    .register(registry);
        }
    }

    private Counter counter(String name, String description, String... tags) {
        return Counter.builder(name).description(description).tags(tags).register(registry);
    }

    /** Stops listening to the JVM; the meters stay in the registry with their last values. */
    public void close() {
        if (gcMetrics != null) {
            gcMetrics.close();
        }
    }

    /**
     * A value read from {@code source} when scraped; {@code tags} are name, value pairs. Registering the same name and
     * tags again (each reload re-registers its upstreams' gauges, which look their values up by name) keeps the first,
     * as Micrometer would, but without its "already registered" warning.
     */
    public <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value, String... tags) {
        Tags exact = Tags.of(tags);
        boolean registered = registry.find(name).tags(exact).gauges().stream()
                .anyMatch(g -> Tags.of(g.getId().getTags()).equals(exact));
        if (!registered) {
            Gauge.builder(name, source, value).description(description).tags(exact).register(registry);
        }
    }
}
