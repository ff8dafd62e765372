package io.streamgate.bench;

import io.streamgate.config.UpstreamConfig;
import io.streamgate.upstream.Upstream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What choosing an endpoint costs every request: {@code choose} plus the attempt's outcome and {@code finished}, on
 * four endpoints, from two threads (two event loops choosing at once). {@code setup}: "plain" (least outstanding,
 * no health settings beyond the default outlier detection: the lock-free path), "guarded" (active checks, breaker
 * and slow start configured), "admission" (max_in_flight set: choosing and finishing take the upstream's lock),
 * "least_loaded" (power of two choices), "consistent_hash" (bounded-load hashing on one API key).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(2)
public class EndpointChoiceBenchmark {
    @Param({"plain", "guarded", "admission", "least_loaded", "consistent_hash"})
    public String setup;

    private Upstream upstream;
    /** The request's hash key: only consistent_hash reads one. */
    private String hashKey;

    @Setup
    public void setUp() {
        List<UpstreamConfig.Endpoint> endpoints = List.of(
                new UpstreamConfig.Endpoint("10.0.0.1", 8000, 1, false), new UpstreamConfig.Endpoint("10.0.0.2", 8000, 1, false),
                new UpstreamConfig.Endpoint("10.0.0.3", 8000, 1, false), new UpstreamConfig.Endpoint("10.0.0.4", 8000, 1, false));
        UpstreamConfig.Health health = setup.equals("guarded")
                ? new UpstreamConfig.Health(new UpstreamConfig.HealthCheck("/health", Duration.ofSeconds(5), Duration.ofSeconds(2), 2, 3),
                        UpstreamConfig.Outlier.DEFAULT,
                        new UpstreamConfig.Breaker(0.5, 20, Duration.ofSeconds(10), Duration.ofSeconds(30), 3), Duration.ofSeconds(30))
                : UpstreamConfig.Health.DEFAULT;
        UpstreamConfig.Balance balance = switch (setup) {
            case "least_loaded" -> new UpstreamConfig.Balance(UpstreamConfig.Balance.Strategy.LEAST_LOADED, null, null, 0,
                    new UpstreamConfig.LoadMetrics("/metrics", Duration.ofSeconds(5)));
            case "consistent_hash" -> new UpstreamConfig.Balance(UpstreamConfig.Balance.Strategy.CONSISTENT_HASH,
                    UpstreamConfig.Balance.HashKey.API_KEY, null, 1.25, null);
            default -> UpstreamConfig.Balance.DEFAULT;
        };
        hashKey = setup.equals("consistent_hash") ? "team-a" : null;
        UpstreamConfig.Admission admission = setup.equals("admission")
                ? new UpstreamConfig.Admission(1_000_000, 128, Duration.ofSeconds(30), true) : UpstreamConfig.Admission.UNLIMITED;
        upstream = new Upstream(new UpstreamConfig("bench", endpoints, 64 * 1024,
                new UpstreamConfig.Pool(1024, 1024, Duration.ofSeconds(30), Duration.ofSeconds(4), 0), balance, health,
                UpstreamConfig.Retries.DEFAULT, admission, UpstreamConfig.BackendTls.DEFAULT, null, null, Duration.ofSeconds(30)));
    }

    @Benchmark
    public int chooseAndFinish() {
        long choice = upstream.choose(hashKey, 0);
        int i = Upstream.endpoint(choice);
        upstream.attemptEnded(i, Upstream.trial(choice), Boolean.TRUE);
        upstream.finished(i);
        return i;
    }
}
