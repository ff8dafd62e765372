package io.streamgate.policy.ratelimit;

/** A request queued by {@link ConcurrencyLimiter#enqueue}. Thread-safe. */
public interface Waiter {
    /**
     * Withdraws the wait (the client left). Idempotent. After it returns the callback is not called, unless the
     * callback had already started; a permit granted concurrently is released, never leaked.
     */
    void cancel();
}
