package io.streamgate.policy.ratelimit;

import io.streamgate.config.RateLimitConfig;
import java.util.concurrent.CompletableFuture;

/**
 * A REQUESTS or TOKENS rule: one token bucket per key (GCRA). Thread-safe: one instance is shared by all event
 * loops.
 *
 * <p>Results of {@link #tryAcquire} and {@link #acquire} are encoded in one {@code long} so the hot path does not
 * allocate: admitted returns the whole tokens left ({@code >= 0}); refused takes nothing and returns
 * {@code -(nanoseconds until n tokens are available)}, always {@code <= -1}.
 *
 * <p>A cost {@code n} larger than the burst could never fit, so it is admitted when the bucket is full, charging
 * {@code n} up to {@link #maxCharge()} (the bucket goes into debt and later requests wait for it to be paid back);
 * while the bucket is not full it is refused with the wait until it is full again. One huge request is thus never
 * locked out, and over time it still pays its cost. {@code n == 0} takes nothing and is refused only while in debt.
 */
public interface BucketLimiter {
    RateLimitConfig config();

    /** True when buckets are local (tryAcquire may be used); false for store REDIS. */
    boolean isLocal();

    /**
     * Local buckets only: takes {@code n >= 0} tokens from {@code key}'s bucket, without allocating when the
     * bucket exists. Result encoded as described in the class comment.
     *
     * @throws UnsupportedOperationException for store REDIS
     */
    long tryAcquire(String key, long n);

    /**
     * {@link #tryAcquire(String, long)}, taking the bucket from {@code memo} when it holds it (a connection's earlier
     * request with the same key) and leaving it there for the next.
     */
    default long tryAcquire(String key, long n, BucketMemo memo) {
        return tryAcquire(key, n);
    }

    /**
     * The most tokens one acquire takes: a larger cost (admitted into a full bucket) is charged only this much, the
     * debt cap. A caller that later settles the charge against real usage must settle from this, not from the cost it
     * asked for, or the refund would exceed what was taken.
     */
    long maxCharge();

    /** The burst as text, for the RateLimit-Limit header on every response of a limited route. */
    default String burstText() {
        return Long.toString(config().burst());
    }

    /**
     * Any store; completes with the same encoding as {@link #tryAcquire}. May complete on a non-Netty thread (the
     * caller hops back), or be complete already when returned (local buckets; Redis skipped or refusing at once). For REDIS, on error or timeout: FailureMode.OPEN answers from a local bucket of the same
     * rule; CLOSED completes exceptionally with {@link RateLimitStoreUnavailableException}.
     */
    CompletableFuture<Long> acquire(String key, long n);

    /**
     * Unconditional correction: {@code delta > 0} charges more (the bucket may go into debt, delaying later
     * requests; debt is capped, see {@link RateLimiters}), {@code delta < 0} refunds (never beyond a full bucket).
     * Settles LLM token estimates against real usage, and gives tokens back when a later rule refused the request.
     * Fire-and-forget for Redis.
     */
    void adjust(String key, long delta);

    /**
     * Whether {@code acquired}, a future returned by {@link #acquire} of this limiter, was answered by local buckets
     * standing in for the shared store (REDIS, FailureMode.OPEN, while Redis could not answer): the charge was then
     * taken there, and its settlement or give-back must go there too ({@link #adjust(String, long, boolean)}), not
     * to Redis, which never saw it.
     */
    default boolean fellBack(CompletableFuture<Long> acquired) {
        return false;
    }

    /** {@link #adjust(String, long)} of a charge taken where {@link #fellBack} said. */
    default void adjust(String key, long delta, boolean fellBack) {
        adjust(key, delta);
    }
}
