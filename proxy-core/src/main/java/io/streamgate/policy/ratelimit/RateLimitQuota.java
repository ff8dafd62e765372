package io.streamgate.policy.ratelimit;

import io.streamgate.config.RateLimitConfig;
import java.math.BigInteger;

/**
 * Values for the {@code RateLimit-Limit}, {@code RateLimit-Remaining} and {@code RateLimit-Reset} response headers
 * (and {@code Retry-After}), derived from the {@code long} results of {@link BucketLimiter}. Immutable.
 *
 * @param limit        the bucket capacity (burst)
 * @param remaining    whole tokens left
 * @param resetSeconds seconds until the bucket is full again, rounded up
 */
public record RateLimitQuota(long limit, long remaining, long resetSeconds) {
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    /**
     * From an admitted acquire's result. The reset is computed from the whole tokens missing, so it can exceed
     * the exact time to full by up to one token's refill time; after a request bigger than the burst (result 0,
     * bucket in debt) it is the time to refill the burst, not the debt.
     *
     * @throws IllegalArgumentException if {@code remaining} is negative (a refused result)
     */
    public static RateLimitQuota admitted(RateLimitConfig rule, long remaining) {
        if (remaining < 0) {
            throw new IllegalArgumentException("not an admitted result: " + remaining);
        }
        long missing = Math.max(0, rule.burst() - remaining);
        long reset = ceilSeconds(missing, rule.per().toNanos(), rule.amount());
        return new RateLimitQuota(rule.burst(), Math.min(remaining, rule.burst()), reset);
    }

    /**
     * Retry-After seconds (rounded up, at least 1) from a refused result.
     *
     * @throws IllegalArgumentException if {@code refusedResult} is not negative (an admitted result)
     */
    public static long retryAfterSeconds(long refusedResult) {
        if (refusedResult >= 0) {
            throw new IllegalArgumentException("not a refused result: " + refusedResult);
        }
        long waitNanos = refusedResult == Long.MIN_VALUE ? Long.MAX_VALUE : -refusedResult;
        return Math.max(1, ceilDiv(waitNanos, NANOS_PER_SECOND));
    }

    /** ceil(tokens * perNanos / amount / 10^9), exact even where the product overflows a long. */
    private static long ceilSeconds(long tokens, long perNanos, long amount) {
        if (Math.multiplyHigh(tokens, perNanos) == 0 && tokens * perNanos >= 0) {
            return ceilDiv(ceilDiv(tokens * perNanos, amount), NANOS_PER_SECOND); // nested ceilings compose
        }
        BigInteger divisor = BigInteger.valueOf(amount).multiply(BigInteger.valueOf(NANOS_PER_SECOND));
        BigInteger[] qr = BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(perNanos)).divideAndRemainder(divisor);
        BigInteger seconds = qr[1].signum() == 0 ? qr[0] : qr[0].add(BigInteger.ONE);
        return seconds.bitLength() < Long.SIZE ? seconds.longValue() : Long.MAX_VALUE;
    }

    private static long ceilDiv(long x, long y) {
        return -Math.floorDiv(-x, y);
    }
}
