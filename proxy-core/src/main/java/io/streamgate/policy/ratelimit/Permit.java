package io.streamgate.policy.ratelimit;

/** One slot of a {@link ConcurrencyLimiter} key, held while the request is in flight. Thread-safe. */
public interface Permit {
    /** Idempotent. Hands the slot to the oldest waiter of the key, if any, else frees it. */
    void release();
}
