package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.testing.ManualClock;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LocalBucketLimiterTest {
    private static final long TENTH = 100_000_000L; // one token of 10 per second, in ns
    private static final long DAY = TimeUnit.DAYS.toNanos(1);

    private final ManualClock clock = new ManualClock(1L << 62);

    private LocalBucketLimiter limiter(RateLimitConfig rule) {
        return (LocalBucketLimiter) RateLimiters.create(List.of(rule), null, clock).bucket(rule.name());
    }

    private LocalBucketLimiter tenPerSecond() {
        return limiter(Rules.requests("r", 10, Duration.ofSeconds(1), 10));
    }

    /** Starting values exercise the wrap-around of both the nanosecond clock and the fixed-point time. */
    @ParameterizedTest
    @ValueSource(longs = {0, -4_000_000_000_000_000_000L, 1L << 62, Long.MAX_VALUE - 500_000_000L})
    void burstThenRefusalWithTheExactWaitThenRecoveryAfterExactlyTheRefillTime(long start) {
        ManualClock clock = new ManualClock(start);
        BucketLimiter limiter = RateLimiters.create(
                List.of(Rules.requests("r", 10, Duration.ofSeconds(1), 10)), null, clock).bucket("r");
        for (long left = 9; left >= 0; left--) {
            assertEquals(left, limiter.tryAcquire("k", 1));
        }
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));
        assertEquals(-TENTH, limiter.tryAcquire("k", 1), "a refusal takes nothing");
        clock.advance(TENTH - 1);
        assertEquals(-1, limiter.tryAcquire("k", 1));
        clock.advance(1);
        assertEquals(0, limiter.tryAcquire("k", 1));
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));

        clock.advance(Duration.ofSeconds(1));
        assertEquals(0, limiter.tryAcquire("k", 10), "a full refill after one second");
        clock.advance(Duration.ofHours(1));
        assertEquals(9, limiter.tryAcquire("k", 1), "never more than the burst");
    }

    @Test
    void keysAreIsolated() {
        BucketLimiter limiter = tenPerSecond();
        assertEquals(0, limiter.tryAcquire("a", 10));
        assertEquals(-TENTH, limiter.tryAcquire("a", 1));
        assertEquals(9, limiter.tryAcquire("b", 1));
        assertEquals(-TENTH, limiter.tryAcquire("a", 1));
    }

    @Test
    void costsAboveOneTakeThatManyTokens() {
        BucketLimiter limiter = limiter(Rules.tokens("t", 100_000, Duration.ofMinutes(1), 10_000));
        long perToken = 600_000; // 100,000 per minute
        assertEquals(6_000, limiter.tryAcquire("k", 4_000));
        assertEquals(-1_000 * perToken, limiter.tryAcquire("k", 7_000));
        assertEquals(0, limiter.tryAcquire("k", 6_000));
        clock.advance(5 * perToken);
        assertEquals(0, limiter.tryAcquire("k", 5));
        assertEquals(-perToken, limiter.tryAcquire("k", 1));
        assertEquals(0, limiter.tryAcquire("k", 0), "zero takes nothing and is admitted while not in debt");
    }

    @Test
    void aCostAboveTheBurstIsAdmittedIntoAFullBucketAndLeavesADebt() {
        BucketLimiter limiter = tenPerSecond();
        assertEquals(0, limiter.tryAcquire("k", 25));
        assertEquals(-16 * TENTH, limiter.tryAcquire("k", 1), "15 tokens owed plus the one asked for");
        assertEquals(-25 * TENTH, limiter.tryAcquire("k", 25), "waits until the bucket is full again");
        clock.advance(24 * TENTH);
        assertEquals(-TENTH, limiter.tryAcquire("k", 11), "not full yet");
        clock.advance(TENTH);
        assertEquals(0, limiter.tryAcquire("k", 11));
    }

    @Test
    void adjustChargesIntoDebtAndRefundsUpToAFullBucket() {
        BucketLimiter limiter = tenPerSecond();
        assertEquals(5, limiter.tryAcquire("k", 5));
        limiter.adjust("k", 20);
        assertEquals(-16 * TENTH, limiter.tryAcquire("k", 1), "5 taken + 20 charged + 1 asked, 10 fit");
        limiter.adjust("k", -1_000);
        assertEquals(0, limiter.tryAcquire("k", 10), "refunded to a full bucket, not beyond");
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));

        limiter.adjust("k", -3);
        assertEquals(0, limiter.tryAcquire("k", 3), "a partial refund");
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));
    }

    @Test
    void refundOfAFullBucketAddsNothing() {
        BucketLimiter limiter = tenPerSecond();
        limiter.adjust("k", -5);
        assertEquals(0, limiter.tryAcquire("k", 10));
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));
    }

    @Test
    void debtIsCappedAtOneHourOfRefillForAFastRule() {
        BucketLimiter limiter = tenPerSecond();
        limiter.adjust("k", Long.MAX_VALUE);
        // TAT at most one bucket (1 s) plus one hour ahead; one more token waits for all of it but the bucket.
        assertEquals(-(Duration.ofHours(1).toNanos() + TENTH), limiter.tryAcquire("k", 1));
        limiter.adjust("k", Long.MIN_VALUE);
        assertEquals(9, limiter.tryAcquire("k", 1));
    }

    @Test
    void oneTokenPerNanosecond() {
        BucketLimiter limiter = limiter(Rules.tokens("t", 1_000_000_000, Duration.ofSeconds(1), 1_000));
        assertEquals(0, limiter.tryAcquire("k", 1_000));
        assertEquals(-1, limiter.tryAcquire("k", 1));
        clock.advance(500);
        assertEquals(0, limiter.tryAcquire("k", 500));
        assertEquals(-1, limiter.tryAcquire("k", 1));
        assertEquals(-250, limiter.tryAcquire("k", 250));
    }

    @ParameterizedTest
    @ValueSource(longs = {10_000_000_000L, 1_000_000_000_000L})
    void ratesAboveOneTokenPerNanosecondStillCostSomething(long perSecond) {
        BucketLimiter limiter = limiter(Rules.tokens("t", perSecond, Duration.ofSeconds(1), perSecond));
        assertEquals(0, limiter.tryAcquire("k", perSecond));
        assertEquals(-1, limiter.tryAcquire("k", 1), "empty: even one token must wait");
        assertTrue(limiter.tryAcquire("k", 1_000) < 0);
        clock.advance(Duration.ofMillis(500));
        long remaining = limiter.tryAcquire("k", 1);
        double expected = perSecond / 2.0;
        assertEquals(expected, remaining, expected * 0.005, "half a second refills half the bucket");
    }

    @Test
    void oneTokenPerDay() {
        BucketLimiter limiter = limiter(Rules.requests("r", 1, Duration.ofDays(1), 2));
        assertEquals(1, limiter.tryAcquire("k", 1));
        assertEquals(0, limiter.tryAcquire("k", 1));
        assertEquals(-DAY, limiter.tryAcquire("k", 1));
        clock.advance(DAY - 1);
        assertEquals(-1, limiter.tryAcquire("k", 1));
        clock.advance(1);
        assertEquals(0, limiter.tryAcquire("k", 1));
    }

    @Test
    void aBucketThatTakesYearsToFillStillWorksAndDecadesAreRefused() {
        BucketLimiter limiter = limiter(Rules.requests("r", 1, Duration.ofDays(365), 10));
        assertEquals(0, limiter.tryAcquire("k", 10));
        assertEquals(-365 * DAY, limiter.tryAcquire("k", 1));
        clock.advance(365 * DAY);
        assertEquals(0, limiter.tryAcquire("k", 1));

        assertThrows(IllegalArgumentException.class,
                () -> limiter(Rules.requests("r", 1, Duration.ofDays(365), 20)));
    }

    @Test
    void concurrentAcquiresAdmitExactlyTheBurst() throws Exception {
        BucketLimiter limiter = limiter(Rules.requests("r", 1, Duration.ofHours(1), 10_000));
        int threads = 4;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Integer>> admitted = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                admitted.add(pool.submit(() -> {
                    start.await();
                    int count = 0;
                    for (int i = 0; i < 5_000; i++) {
                        if (limiter.tryAcquire("hot", 1) >= 0) {
                            count++;
                        }
                    }
                    return count;
                }));
            }
            start.countDown();
            int total = 0;
            for (Future<Integer> f : admitted) {
                total += f.get(30, TimeUnit.SECONDS);
            }
            assertEquals(10_000, total);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void idleBucketsAreDroppedOnceFullAgainAndAMissingBucketIsAFullOne() {
        LocalBucketLimiter limiter = tenPerSecond();
        for (int i = 0; i < 1_000; i++) {
            limiter.tryAcquire("key" + i, 1);
        }
        assertEquals(1_000, limiter.bucketCount());
        clock.advance(TENTH - 1);
        assertEquals(1_000, limiter.bucketCount(), "not full yet: must be kept");
        clock.advance(Duration.ofSeconds(1)); // full again, but within the two fill times a memo may still use it
        assertEquals(1_000, limiter.bucketCount());
        clock.advance(Duration.ofSeconds(2));
        assertEquals(0, limiter.bucketCount());
        assertEquals(9, limiter.tryAcquire("key0", 1));
    }

    @Test
    void aBucketFromAMemoIsTheSharedOneUnderTheSameLimit() {
        LocalBucketLimiter limiter = tenPerSecond();
        BucketMemo first = new BucketMemo();
        BucketMemo second = new BucketMemo();
        for (long left = 9; left >= 5; left--) {
            assertEquals(left, limiter.tryAcquire("k", 1, first));
        }
        for (long left = 4; left >= 0; left--) {
            assertEquals(left, limiter.tryAcquire(new String("k"), 1, second), "an equal key from another connection");
        }
        assertEquals(-TENTH, limiter.tryAcquire("k", 1, first));
        assertEquals(-TENTH, limiter.tryAcquire("k", 1));
        assertEquals(9, limiter.tryAcquire("other", 1, first), "another key is another bucket");
        assertEquals(-TENTH, limiter.tryAcquire("k", 1, first));
        clock.advance(TENTH);
        assertEquals(0, limiter.tryAcquire("k", 1, second));
    }

    @Test
    void theCacheKeepsABucketWhileAMemoMayStillDrawFromIt() {
        LocalBucketLimiter limiter = tenPerSecond();
        BucketMemo memo = new BucketMemo();
        assertEquals(9, limiter.tryAcquire("k", 1, memo)); // found in (put into) the cache now
        clock.advance(Duration.ofMillis(999));
        assertEquals(0, limiter.tryAcquire("k", 10, memo), "from the memo, without asking the cache");
        clock.advance(Duration.ofMillis(500));
        // Half refilled: dropping the bucket now would hand out a fresh burst.
        assertEquals(4, limiter.tryAcquire("k", 1));
    }

    @Test
    void aMemoEntryIsUsedForOneFillTimeThenTheCacheIsAskedAgain() {
        LocalBucketLimiter limiter = tenPerSecond();
        BucketMemo memo = new BucketMemo();
        assertEquals(9, limiter.tryAcquire("k", 1, memo));
        clock.advance(Duration.ofSeconds(5));
        assertEquals(0, limiter.bucketCount(), "full and idle: dropped");
        assertEquals(0, limiter.tryAcquire("k", 10), "a new bucket, emptied without the memo");
        assertEquals(-TENTH, limiter.tryAcquire("k", 1, memo), "the memo's old bucket is not used any more");
    }

    @Test
    void aBucketInDebtIsKeptUntilTheDebtIsPaid() {
        LocalBucketLimiter limiter = tenPerSecond();
        limiter.tryAcquire("adjusted", 1);
        limiter.adjust("adjusted", 100); // 10.1 s ahead
        limiter.tryAcquire("oversized", 25); // 2.5 s ahead
        clock.advance(Duration.ofMillis(1_500));
        assertEquals(2, limiter.bucketCount());
        assertEquals(-TENTH, limiter.tryAcquire("oversized", 1));
        clock.advance(Duration.ofMillis(3_500));
        assertEquals(-42 * TENTH, limiter.tryAcquire("adjusted", 1));
        clock.advance(Duration.ofSeconds(30));
        assertEquals(0, limiter.bucketCount());
    }

    @Test
    void aHitOnAnExistingBucketDoesNotAllocate() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        BucketLimiter limiter = limiter(Rules.requests("r", 1_000_000_000, Duration.ofSeconds(1), 1_000_000_000));
        long admitted = 0;
        for (int i = 0; i < 300_000; i++) { // warm-up, so that the JIT has compiled the path
            admitted += limiter.tryAcquire("hot", 1) >= 0 ? 1 : 0;
            clock.advance(1);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 200_000; i++) {
            admitted += limiter.tryAcquire("hot", 1) >= 0 ? 1 : 0;
            clock.advance(1);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(500_000, admitted);
        // One object per call would be at least 3.2 MB; the margin allows for the JIT or the JVM itself.
        assertTrue(allocated < 20_000, allocated + " bytes allocated by 200,000 admissions");
    }

    @Test
    void negativeCostsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> tenPerSecond().tryAcquire("k", -1));
    }
}
