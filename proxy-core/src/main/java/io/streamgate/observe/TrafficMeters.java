package io.streamgate.observe;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.ToDoubleFunction;

/**
 * The meters of the traffic policies: LLM tokens per key, rate-limit refusals, cache results, and the state of the
 * cache and of the shared rate-limit store. Label values stay bounded: route and rule names and API-key names come
 * from the config; anonymous callers are "anonymous".
 */
public final class TrafficMeters {
    private final MeterRegistry registry;

    public TrafficMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Prompt and completion tokens a backend reported (or, without a report, the estimate charged). */
    public void tokens(String identity, String route, long prompt, long completion) {
        String id = identity == null ? "anonymous" : identity;
        if (prompt > 0) {
            registry.counter("streamgate.llm.tokens", "identity", id, "route", route, "type", "prompt").increment(prompt);
        }
        if (completion > 0) {
            registry.counter("streamgate.llm.tokens", "identity", id, "route", route, "type", "completion").increment(completion);
        }
    }

    public void rateLimited(String route, String rule) {
        registry.counter("streamgate.ratelimit.rejections", "route", route, "rule", rule).increment();
    }

    /** One request on a caching route: hit, miss or bypass. */
    public void cacheResult(String route, String result) {
        registry.counter("streamgate.cache.requests", "route", route, "result", result).increment();
    }

    /** A monotonic count read from {@code source} when scraped. */
    public <T> void functionCounter(String name, String description, T source, ToDoubleFunction<T> count) {
        FunctionCounter.builder(name, source, count).description(description).register(registry);
    }

    /** A value read from {@code source} when scraped. */
    public <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value) {
        Gauge.builder(name, source, value).description(description).register(registry);
    }
}
