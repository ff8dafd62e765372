package io.streamgate.bench;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RateLimitConfig.KeySource;
import io.streamgate.config.RateLimitConfig.Kind;
import io.streamgate.config.RateLimitConfig.Store;
import io.streamgate.policy.ratelimit.BucketLimiter;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.policy.ratelimit.RateLimiters;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One local token-bucket acquire (GCRA: a Caffeine lookup plus a CAS on the bucket), as every request under a
 * REQUESTS or TOKENS rule pays it on its event loop: one hot key from one thread; the same key from two threads
 * (CAS contention, as when two event loops serve one client or one API key); and 100,000 keys in turn (cache
 * misses in the CPU, a realistic per-IP spread).
 *
 * <p>{@code outcome}: "admit" uses a rule so generous that every acquire is admitted and writes the bucket;
 * "refuse" exhausts every bucket first, so acquires only read it (the path a client over its limit takes).
 * Run with {@code -prof gc} to see that a hit allocates nothing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TokenBucketBenchmark {
    private static final int KEYS = 100_000;
    private static final String HOT = "203.0.113.7";

    @Param({"admit", "refuse"})
    public String outcome;

    private RateLimiters limiters;
    private BucketLimiter limiter;
    private String[] keys;

    /** Each thread walks the keys from its own position. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setUp() {
        boolean admit = outcome.equals("admit");
        // admit: 10^9 tokens per second, far above what one core can take; refuse: one per second, taken below.
        // Both buckets take an hour to fill, so that no bucket expires (and is evicted) during a run.
        long amount = admit ? 1_000_000_000L : 1;
        long burst = 3_600 * amount;
        RateLimitConfig rule = new RateLimitConfig("bench", KeySource.CLIENT_IP, null, Kind.REQUESTS, amount,
                Duration.ofSeconds(1), burst, 0, 0, null, Store.LOCAL);
        limiters = RateLimiters.create(List.of(rule), null, NanoClock.SYSTEM);
        limiter = limiters.bucket("bench");
        keys = new String[KEYS];
        long take = admit ? 1 : burst;
        for (int i = 0; i < KEYS; i++) {
            keys[i] = "10." + (i >> 16) + "." + ((i >> 8) & 0xff) + "." + (i & 0xff);
            limiter.tryAcquire(keys[i], take);
        }
        limiter.tryAcquire(HOT, take);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        limiters.close();
    }

    @Benchmark
    @Threads(1)
    public long hotKey() {
        return limiter.tryAcquire(HOT, 1);
    }

    @Benchmark
    @Threads(2)
    public long hotKeyContended() {
        return limiter.tryAcquire(HOT, 1);
    }

    @Benchmark
    @Threads(1)
    public long manyKeys(Cursor cursor) {
        int i = cursor.next;
        cursor.next = i + 1 == KEYS ? 0 : i + 1;
        return limiter.tryAcquire(keys[i], 1);
    }
}
