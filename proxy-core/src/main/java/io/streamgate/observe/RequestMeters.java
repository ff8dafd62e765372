package io.streamgate.observe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The per-request meters of one (route, upstream) pair, built once and then found without allocating: requests by
 * method and status, duration, time to first byte and stream duration, chunks and bytes relayed. Thread-safe.
 *
 * <p>Histogram buckets suit LLM traffic: a cached answer takes milliseconds, a first token may wait minutes in
 * vLLM's queue, and a stream may run for many minutes.
 */
final class RequestMeters {
    static final Duration[] LLM_BUCKETS = {
        Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
        Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
        Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(1),
        Duration.ofMinutes(2), Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(30)};
    /** Methods with a label of their own; anything else is "OTHER", so clients cannot invent label values. */
    private static final String[] METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "OTHER"};

    private final MeterRegistry registry;
    private final String route;
    private final String upstream;
    /** By method index, then status code (100..599). */
    private final AtomicReferenceArray<Counter>[] requests;
    private final Timer duration;
    private final Timer firstByte;
    private final Timer streamDuration;
    private final Counter chunks;
    private final Counter bytesOut;
    private final Counter bytesIn;

    @SuppressWarnings("unchecked")
    RequestMeters(MeterRegistry registry, String route, String upstream) {
        this.registry = registry;
        this.route = route;
        this.upstream = upstream;
        this.requests = new AtomicReferenceArray[METHODS.length];
        for (int i = 0; i < METHODS.length; i++) {
            requests[i] = new AtomicReferenceArray<>(500);
        }
        this.duration = timer("streamgate.request.duration", "from the request head to the end of the response");
        this.firstByte = timer("streamgate.response.first.byte",
                "from the request head to the first byte of the response body (time to first token for streams)");
        this.streamDuration = timer("streamgate.stream.duration", "how long event streams (text/event-stream) ran");
        this.chunks = Counter.builder("streamgate.relayed.chunks").description("response body pieces relayed to clients")
                .tags("route", route, "upstream", upstream).register(registry);
        this.bytesOut = Counter.builder("streamgate.relayed.bytes").baseUnit("bytes").description("body bytes relayed")
                .tags("route", route, "upstream", upstream, "direction", "response").register(registry);
        this.bytesIn = Counter.builder("streamgate.relayed.bytes").baseUnit("bytes").description("body bytes relayed")
                .tags("route", route, "upstream", upstream, "direction", "request").register(registry);
    }

    private Timer timer(String name, String description) {
        return Timer.builder(name).description(description).tags("route", route, "upstream", upstream)
                .serviceLevelObjectives(LLM_BUCKETS).minimumExpectedValue(LLM_BUCKETS[0])
                .maximumExpectedValue(LLM_BUCKETS[LLM_BUCKETS.length - 1]).register(registry);
    }

    void record(ExchangeRecord r) {
        int status = r.status < 100 || r.status > 599 ? 599 : r.status;
        int m = methodIndex(r.method);
        Counter c = requests[m].get(status - 100);
        if (c == null) {
            c = Counter.builder("streamgate.requests").description("requests answered, by route, upstream, method and status")
                    .tags("route", route, "upstream", upstream, "method", METHODS[m], "status", Integer.toString(status))
                    .register(registry);
            requests[m].set(status - 100, c);
        }
        c.increment();
        duration.record(Math.max(0, r.durationNanos), TimeUnit.NANOSECONDS);
        if (r.firstBodyNanos >= 0) {
            firstByte.record(r.firstBodyNanos, TimeUnit.NANOSECONDS);
        }
        if (r.eventStream) {
            streamDuration.record(Math.max(0, r.durationNanos), TimeUnit.NANOSECONDS);
        }
        if (r.chunksOut > 0) {
            chunks.increment(r.chunksOut);
        }
        if (r.bytesOut > 0) {
            bytesOut.increment(r.bytesOut);
        }
        if (r.bytesIn > 0) {
            bytesIn.increment(r.bytesIn);
        }
    }

    private static int methodIndex(String method) {
        for (int i = 0; i < METHODS.length - 1; i++) {
            if (METHODS[i].equals(method)) {
                return i;
            }
        }
        return METHODS.length - 1;
    }

    /** Finds or builds the meters of a (route, upstream) pair. */
    static final class Registry {
        private final MeterRegistry registry;
        private final ConcurrentHashMap<String, ConcurrentHashMap<String, RequestMeters>> byRoute = new ConcurrentHashMap<>();

        Registry(MeterRegistry registry) {
            this.registry = registry;
        }

        RequestMeters of(String route, String upstream) {
            String r = route == null ? "none" : route;
            String u = upstream == null ? "none" : upstream;
            ConcurrentHashMap<String, RequestMeters> byUpstream = byRoute.get(r);
            if (byUpstream == null) {
                byUpstream = byRoute.computeIfAbsent(r, k -> new ConcurrentHashMap<>());
            }
            RequestMeters m = byUpstream.get(u);
            if (m == null) {
                m = byUpstream.computeIfAbsent(u, k -> new RequestMeters(registry, r, k));
            }
            return m;
        }
    }
}
