package io.streamgate.policy.ratelimit;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RedisConfig;
import java.util.concurrent.CompletableFuture;

/**
 * A REQUESTS or TOKENS rule whose buckets live in Redis, shared by every gateway of a fleet; same GCRA and same
 * result encoding as {@link LocalBucketLimiter}. Bucket keys are {@code keyPrefix + rule name + ":" + key}.
 *
 * <p>While the store cannot answer (see {@link RedisRateLimitStore}): with FailureMode.OPEN each gateway answers
 * from its own local buckets of the same rule (so the fleet admits up to one limit per gateway meanwhile), and
 * adjustments go there too; with CLOSED acquires fail with {@link RateLimitStoreUnavailableException} and
 * adjustments are dropped. A charge the local buckets took stays theirs: {@link #fellBack} tells the caller, whose
 * settlement then goes there ({@link #adjust(String, long, boolean)}) even once Redis answers again.
 *
 * <p>Thread-safe.
 */
final class RedisBucketLimiter implements BucketLimiter {
    private final RateLimitConfig config;
    private final RedisRateLimitStore store;
    private final LocalBucketLimiter fallback;
    private final boolean failOpen;
    private final String keyPrefix;
    private final String per;
    private final String amount;
    private final String burst;
    private final String maxAhead;
    /**
     * Set when a reload retired this limiter's store: the rule of the same name and kind in the new configuration,
     * which then answers for this one (requests admitted before the reload are settled there, not on a closed client).
     */
    private volatile BucketLimiter successor;

    RedisBucketLimiter(RateLimitConfig config, RedisRateLimitStore store, NanoClock clock) {
        this.config = config;
        this.store = store;
        this.fallback = new LocalBucketLimiter(config, clock);
        this.failOpen = store.config().onFailure() == RedisConfig.FailureMode.OPEN;
        this.keyPrefix = store.config().keyPrefix() + config.name() + ":";
        this.per = Long.toString(config.per().toNanos());
        this.amount = Long.toString(config.amount());
        this.burst = Long.toString(config.burst());
        this.maxAhead = Long.toString(fallback.maxAheadNanos());
    }

    @Override
    public RateLimitConfig config() {
        return config;
    }

    @Override
    public boolean isLocal() {
        return false;
    }

    /** The script caps a charge at the same debt as the local buckets (max ahead, passed to it). */
    @Override
    public long maxCharge() {
        return fallback.maxCharge();
    }

    @Override
    public long tryAcquire(String key, long n) {
        throw new UnsupportedOperationException("rate limit '" + config.name() + "' is kept in Redis: use acquire");
    }

    @Override
    public CompletableFuture<Long> acquire(String key, long n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative cost " + n);
        }
        BucketLimiter next = successor;
        if (next != null) {
            return next.acquire(key, n);
        }
        Answer result = new Answer();
        if (!store.shouldTry()) {
            completeFailedOver(result, key, n, null);
            return result;
        }
        store.run(keyPrefix + key, arguments(n, GcraScript.ACQUIRE)).whenComplete((value, error) -> {
            BucketLimiter handedTo = successor;
            if (error == null) {
                result.complete(value);
            } else if (handedTo != null) {
                // The store was retired (closed) under this call: the new configuration's rule answers instead.
                handedTo.acquire(key, n).whenComplete((v, e) -> {
                    if (e == null) {
                        result.complete(v);
                    } else {
                        result.completeExceptionally(e);
                    }
                });
            } else {
                completeFailedOver(result, key, n, error);
            }
        });
        return result;
    }

    @Override
    public void adjust(String key, long delta) {
        if (delta == 0) {
            return;
        }
        BucketLimiter next = successor;
        if (next != null) {
            next.adjust(key, delta);
            return;
        }
        if (!store.available()) {
            adjustFallback(key, delta);
            return;
        }
        store.run(keyPrefix + key, arguments(delta, GcraScript.ADJUST)).whenComplete((value, error) -> {
            if (error != null) {
                BucketLimiter handedTo = successor;
                if (handedTo != null) {
                    handedTo.adjust(key, delta);
                } else {
                    adjustFallback(key, delta);
                }
            }
        });
    }

    /**
     * Hands this rule over to {@code next}, its replacement in a reloaded configuration, before this limiter's store
     * is closed: from now on (and for calls the closing store fails) {@code next} answers and takes the adjustments.
     */
    void handOver(BucketLimiter next) {
        successor = next;
    }

    private void adjustFallback(String key, long delta) {
        if (failOpen) {
            fallback.adjust(key, delta);
        }
    }

    private String[] arguments(long n, String mode) {
        return new String[] {per, amount, burst, Long.toString(n), maxAhead, mode};
    }

    @Override
    public boolean fellBack(CompletableFuture<Long> acquired) {
        return acquired instanceof Answer answer && answer.local;
    }

    @Override
    public void adjust(String key, long delta, boolean fellBack) {
        if (fellBack) {
            fallback.adjust(key, delta); // where the charge was taken, whether Redis answers again or not
        } else {
            adjust(key, delta);
        }
    }

    /** Answers while Redis cannot; {@code cause} is null when Redis was skipped during the back-off. */
    private void completeFailedOver(Answer result, String key, long n, Throwable cause) {
        if (failOpen) {
            store.fallbacks.increment();
            result.local = true;
            result.complete(fallback.tryAcquire(key, n));
        } else {
            store.closedRefusals.increment();
            result.completeExceptionally(new RateLimitStoreUnavailableException(
                    "Redis rate-limit store unavailable for rule '" + config.name() + "'", cause));
        }
    }

    /** An acquire's answer, and whether the local buckets gave it. */
    private static final class Answer extends CompletableFuture<Long> {
        /** Set before completion, so read after it by whoever sees the result. */
        volatile boolean local;
    }

    /** The local buckets used while Redis is down (OPEN). For tests. */
    LocalBucketLimiter fallback() {
        return fallback;
    }
}
