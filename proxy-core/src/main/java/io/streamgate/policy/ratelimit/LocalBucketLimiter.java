package io.streamgate.policy.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.streamgate.config.RateLimitConfig;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Token buckets in this JVM, one per key, using GCRA: a bucket is a single "theoretical arrival time" (TAT), the
 * instant at which it will be full again; taking {@code n} tokens pushes it {@code n} emission intervals into the
 * future, and a request fits while the TAT stays within one full bucket ({@code tau}) of now. One CAS per
 * admission; no lock is shared across event loops, and nothing is allocated per call when the key's bucket
 * exists (Caffeine's amortized maintenance, run on the calling thread, allocates only when it removes buckets).
 *
 * <p>Time is kept in fixed point ({@code 2^-shift} ns) so that rates above one token per nanosecond still cost
 * something per token; values wrap like {@link System#nanoTime()} and are only ever compared by difference. The
 * shift is the largest that keeps every difference in range: TATs stay within {@code maxAhead} of now (debt is
 * capped there) and idle buckets expire before they fall further behind. For buckets that fill within a minute
 * the shift is 18, so the interval is rounded by at most 2^-19 ns: exact to 2 ppm at one token per nanosecond,
 * 0.2% at 10^12 tokens per second; each doubling of a longer fill time costs one bit, which only matters at
 * such extreme rates.
 *
 * <p>A missing bucket is a full one, so buckets live in a Caffeine cache that drops them once they are full
 * again (plus two bucket-fill times of slack, see {@link BucketExpiry}), bounded to
 * {@value #MAX_BUCKETS_PER_RULE} keys: evicting a bucket that is still in use only grants that key a fresh burst.
 * A connection may keep using the bucket it found for one bucket-fill time without asking the cache again
 * ({@link BucketMemo}); the slack is what makes that safe. (A bucket evicted for size meanwhile is the case above:
 * until the memo entry runs out, that key may draw from two buckets.)
 *
 * <p>Thread-safe.
 */
final class LocalBucketLimiter implements BucketLimiter {
    static final long MAX_BUCKETS_PER_RULE = 1_000_000;
    /** Debt may reach this many full buckets... */
    private static final long DEBT_BUCKETS = 63;
    /** ...or this much refill time, whichever is longer, so fast rules can absorb big token corrections. */
    private static final long MIN_MAX_AHEAD_NANOS = TimeUnit.HOURS.toNanos(1);
    /** Upper bound on any span in fixed point, leaving headroom below 2^63 for sums and differences. */
    private static final long MAX_SPAN = 1L << 60;

    private final RateLimitConfig config;
    private final NanoClock clock;
    private final long burst;
    private final String burstText;
    private final int shift;
    private final long intervalUnits;
    private final long tauUnits;
    private final long maxAheadUnits;
    private final Cache<String, AtomicLong> buckets;
    /** Pre-built so a cache hit does not allocate a capturing lambda. */
    private final Function<String, AtomicLong> newBucket;

    LocalBucketLimiter(RateLimitConfig config, NanoClock clock) {
        this.config = config;
        this.clock = clock;
        this.burst = config.burst();
        this.burstText = Long.toString(burst);
        long perNanos = config.per().toNanos();
        double tauNanos = (double) perNanos / config.amount() * burst;
        if (!(tauNanos < MAX_SPAN / 2)) {
            throw new IllegalArgumentException("rate limit '" + config.name() + "': filling the bucket of "
                    + burst + " takes longer than the supported ~18 years");
        }
        long maxAheadNanos = Math.min(MAX_SPAN - 1,
                (long) Math.max(tauNanos * (DEBT_BUCKETS + 1), tauNanos + MIN_MAX_AHEAD_NANOS));
        // The largest shift with maxAheadNanos << shift < 2^60.
        this.shift = Long.numberOfLeadingZeros(maxAheadNanos) - 4;
        this.intervalUnits = Math.max(1, Math.round(Math.scalb((double) perNanos, shift) / config.amount()));
        if (intervalUnits > (MAX_SPAN - 1) / burst) {
            throw new IllegalArgumentException("rate limit '" + config.name() + "': rate or burst too large");
        }
        this.tauUnits = intervalUnits * burst;
        this.maxAheadUnits = Math.max(tauUnits, maxAheadNanos << shift);
        // Full: one bucket behind now, so callers that read the clock just before creating it see it full.
        this.newBucket = key -> new AtomicLong(nowUnits() - tauUnits);
        this.buckets = Caffeine.newBuilder()
                .maximumSize(MAX_BUCKETS_PER_RULE)
                .expireAfter(new BucketExpiry())
                .ticker(clock::nanoTime)
                // Maintenance (expiry, eviction) runs amortized on the calling thread: handing it to the common
                // pool allocates on every submission and, on a small box, competes with the event loops anyway.
                .executor(Runnable::run)
                .build();
    }

    @Override
    public RateLimitConfig config() {
        return config;
    }

    @Override
    public boolean isLocal() {
        return true;
    }

    @Override
    public long tryAcquire(String key, long n) {
        long now = nowUnits();
        return acquire(key, buckets.get(key, newBucket), now, n);
    }

    @Override
    public long tryAcquire(String key, long n, BucketMemo memo) {
        long now = nowUnits();
        AtomicLong tat = memo.find(this, key, now);
        if (tat == null) {
            tat = buckets.get(key, newBucket);
            // Kept by the cache at least until TAT + 2 tau (BucketExpiry); used from the memo until now + tau, an
            // admission moves the TAT to at most now + 2 tau: the bucket is full again before the cache may drop it.
            memo.remember(this, key, tat, now + tauUnits);
        }
        return acquire(key, tat, now, n);
    }

    @Override
    public long maxCharge() {
        return maxAheadUnits / intervalUnits; // costUnits(n) is exactly n intervals up to here
    }

    @Override
    public String burstText() {
        return burstText;
    }

    private long acquire(String key, AtomicLong tat, long now, long n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative cost " + n);
        }
        if (n > burst) {
            return acquireOversized(key, tat, now, n);
        }
        long cost = n * intervalUnits;
        while (true) {
            long current = tat.get();
            long base = current - now > 0 ? current : now;
            long aheadAfter = base - now + cost;
            if (aheadAfter > tauUnits) {
                return -Math.max(1, toNanosCeil(aheadAfter - tauUnits));
            }
            if (tat.compareAndSet(current, base + cost)) {
                return (tauUnits - aheadAfter) / intervalUnits;
            }
        }
    }

    /** Admitted only into a full bucket, which then owes {@code n - burst} tokens. */
    private long acquireOversized(String key, AtomicLong tat, long now, long n) {
        long cost = costUnits(n);
        while (true) {
            long current = tat.get();
            if (current - now > 0) {
                return -Math.max(1, toNanosCeil(current - now));
            }
            if (tat.compareAndSet(current, now + cost)) {
                extendExpiry(key);
                return 0;
            }
        }
    }

    @Override
    public CompletableFuture<Long> acquire(String key, long n) {
        return CompletableFuture.completedFuture(tryAcquire(key, n));
    }

    @Override
    public void adjust(String key, long delta) {
        if (delta > 0) {
            charge(key, delta);
        } else if (delta < 0) {
            refund(key, delta == Long.MIN_VALUE ? Long.MAX_VALUE : -delta);
        }
    }

    private void charge(String key, long n) {
        long now = nowUnits();
        AtomicLong tat = buckets.get(key, newBucket);
        long cost = costUnits(n);
        while (true) {
            long current = tat.get();
            long ahead = Math.max(0, current - now);
            long next = now + Math.min(maxAheadUnits, ahead + cost);
            if (tat.compareAndSet(current, next)) {
                break;
            }
        }
        extendExpiry(key);
    }

    private void refund(String key, long n) {
        AtomicLong tat = buckets.getIfPresent(key);
        if (tat == null) {
            return; // a missing bucket is full
        }
        long now = nowUnits();
        long cost = costUnits(n);
        while (true) {
            long current = tat.get();
            long ahead = current - now;
            if (ahead <= 0) {
                return;
            }
            long next = now + Math.max(0, ahead - cost);
            if (tat.compareAndSet(current, next)) {
                return;
            }
        }
    }

    /**
     * A read recomputes the expiry from the bucket's TAT as it is now; after pushing the TAT beyond one bucket
     * (debt), this makes sure the bucket is kept until the debt is paid.
     */
    private void extendExpiry(String key) {
        buckets.getIfPresent(key);
    }

    /** n emission intervals, capped at maxAhead (which also keeps the product from overflowing). */
    private long costUnits(long n) {
        return n > maxAheadUnits / intervalUnits ? maxAheadUnits : n * intervalUnits;
    }

    private long nowUnits() {
        return clock.nanoTime() << shift;
    }

    /** Non-negative fixed-point span to nanoseconds, rounded up. */
    private long toNanosCeil(long units) {
        return -((-units) >> shift);
    }

    /** The cap on how far a bucket's TAT may run ahead of now (one bucket plus the debt cap). */
    long maxAheadNanos() {
        return maxAheadUnits >> shift;
    }

    /** Buckets currently held, after running Caffeine's pending maintenance (expiry). For tests. */
    long bucketCount() {
        buckets.cleanUp();
        return buckets.estimatedSize();
    }

    /**
     * Keeps a bucket until it would be full again. Caffeine asks before the caller changes the TAT, so the
     * answer adds one bucket ({@code tau}): an admission moves the TAT at most {@code tau} past now; and one more,
     * for the admissions a connection makes from its {@link BucketMemo} during the next {@code tau} without asking
     * the cache. Pushes beyond that (debt) re-read the entry afterwards ({@link #extendExpiry}). The expiry is never shortened, so a
     * concurrent reader that saw an older TAT cannot cut a debt short (except by a sub-microsecond race between
     * two reads, after which the next access restores it).
     */
    private final class BucketExpiry implements Expiry<String, AtomicLong> {
        @Override
        public long expireAfterCreate(String key, AtomicLong tat, long currentTime) {
            return untilFullPlusTwoTau(tat, currentTime);
        }

        @Override
        public long expireAfterUpdate(String key, AtomicLong tat, long currentTime, long currentDuration) {
            return Math.max(currentDuration, untilFullPlusTwoTau(tat, currentTime));
        }

        @Override
        public long expireAfterRead(String key, AtomicLong tat, long currentTime, long currentDuration) {
            return Math.max(currentDuration, untilFullPlusTwoTau(tat, currentTime));
        }

        private long untilFullPlusTwoTau(AtomicLong tat, long currentTime) {
            return toNanosCeil(Math.max(0, tat.get() - (currentTime << shift)) + 2 * tauUnits);
        }
    }
}
