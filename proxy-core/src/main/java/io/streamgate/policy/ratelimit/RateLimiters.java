package io.streamgate.policy.ratelimit;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RedisConfig;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * All rate-limit rules of one configuration, built once per config snapshot: a {@link BucketLimiter} per
 * REQUESTS/TOKENS rule and a {@link ConcurrencyLimiter} per CONCURRENCY rule.
 *
 * <p>Bucket debt (from {@link BucketLimiter#adjust} or a request bigger than the burst) is capped at 63 full
 * buckets or one hour of refill, whichever is longer, so one wild correction cannot lock a key out for good.
 *
 * <p>A Redis client is created only when some rule has store REDIS; creating this never waits for Redis.
 * Immutable and thread-safe once created, except {@link #close()}.
 */
public final class RateLimiters implements AutoCloseable {
    private final Map<String, BucketLimiter> buckets;
    private final Map<String, ConcurrencyLimiter> concurrency;
    private final RedisRateLimitStore store;

    private RateLimiters(Map<String, BucketLimiter> buckets, Map<String, ConcurrencyLimiter> concurrency,
            RedisRateLimitStore store) {
        this.buckets = buckets;
        this.concurrency = concurrency;
        this.store = store;
    }

    /**
     * @param redis the shared store, or null if none is configured
     * @throws IllegalArgumentException for duplicate names, out-of-range values, a REDIS rule without
     *                                  {@code redis}, or an invalid Redis URI
     */
    public static RateLimiters create(Collection<RateLimitConfig> rules, RedisConfig redis, NanoClock clock) {
        return create(rules, redis, clock, null);
    }

    /**
     * As {@link #create(Collection, RedisConfig, NanoClock)}, for a reloaded configuration: every rule whose settings
     * did not change keeps its limiter from {@code previous} (and so its buckets, slots and queue), and the Redis
     * connection is kept when the {@code redis} section did not change. Hand {@code previous} to
     * {@link #retire(RateLimiters)} once the new set is in use.
     */
    public static RateLimiters create(Collection<RateLimitConfig> rules, RedisConfig redis, NanoClock clock,
                                      RateLimiters previous) {
        Set<String> names = new HashSet<>();
        for (RateLimitConfig rule : rules) {
            validate(rule, redis);
            if (!names.add(rule.name())) {
                throw new IllegalArgumentException("duplicate rate limit '" + rule.name() + "'");
            }
        }
        Map<String, BucketLimiter> buckets = new HashMap<>();
        Map<String, ConcurrencyLimiter> concurrency = new HashMap<>();
        boolean needsRedis = rules.stream()
                .anyMatch(r -> r.kind() != RateLimitConfig.Kind.CONCURRENCY && r.store() == RateLimitConfig.Store.REDIS);
        boolean keepStore = needsRedis && previous != null && previous.store != null && previous.store.config().equals(redis);
        RedisRateLimitStore store = keepStore ? previous.store : needsRedis ? new RedisRateLimitStore(redis, clock) : null;
        try {
            for (RateLimitConfig rule : rules) {
                ConcurrencyLimiter oldSlots = previous == null ? null : previous.concurrency.get(rule.name());
                BucketLimiter oldBuckets = previous == null ? null : previous.buckets.get(rule.name());
                if (oldSlots != null && oldSlots.config().equals(rule)) {
                    concurrency.put(rule.name(), oldSlots);
                } else if (oldBuckets != null && oldBuckets.config().equals(rule)
                        && (rule.store() == RateLimitConfig.Store.LOCAL || keepStore)) {
                    buckets.put(rule.name(), oldBuckets);
                } else if (rule.kind() == RateLimitConfig.Kind.CONCURRENCY) {
                    concurrency.put(rule.name(), new ConcurrencyLimiter(rule));
                } else if (rule.store() == RateLimitConfig.Store.REDIS) {
                    buckets.put(rule.name(), new RedisBucketLimiter(rule, store, clock));
                } else {
                    buckets.put(rule.name(), new LocalBucketLimiter(rule, clock));
                }
            }
        } catch (RuntimeException e) {
            if (store != null && !keepStore) {
                store.close();
            }
            throw e;
        }
        return new RateLimiters(Map.copyOf(buckets), Map.copyOf(concurrency), store);
    }

    private static void validate(RateLimitConfig rule, RedisConfig redis) {
        String name = "rate limit '" + rule.name() + "'";
        if (rule.kind() == RateLimitConfig.Kind.CONCURRENCY) {
            require(rule.concurrent() >= 1, name + ": concurrent must be at least 1");
            require(rule.queue() >= 0, name + ": queue must not be negative");
            require(rule.queue() == 0 || rule.queueTimeout() != null && rule.queueTimeout().toNanos() > 0,
                    name + ": a queue needs a positive queue_timeout");
            return;
        }
        require(rule.amount() >= 1, name + ": amount must be at least 1");
        require(rule.per() != null && rule.per().toNanos() > 0, name + ": per must be positive");
        require(rule.burst() >= 1, name + ": burst must be at least 1");
        require(rule.store() != RateLimitConfig.Store.REDIS || redis != null,
                name + ": store redis needs a redis section");
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /** @throws IllegalArgumentException if there is no REQUESTS or TOKENS rule of that name */
    public BucketLimiter bucket(String ruleName) {
        BucketLimiter limiter = buckets.get(ruleName);
        if (limiter == null) {
            throw new IllegalArgumentException("no REQUESTS or TOKENS rate limit named '" + ruleName + "'");
        }
        return limiter;
    }

    /** @throws IllegalArgumentException if there is no CONCURRENCY rule of that name */
    public ConcurrencyLimiter concurrency(String ruleName) {
        ConcurrencyLimiter limiter = concurrency.get(ruleName);
        if (limiter == null) {
            throw new IllegalArgumentException("no CONCURRENCY rate limit named '" + ruleName + "'");
        }
        return limiter;
    }

    /** Whether the Redis store currently answers (true when there is none). */
    public boolean storeAvailable() {
        return store == null || store.available();
    }

    /** Failed Redis calls and connection attempts so far. */
    public long storeFailures() {
        return store == null ? 0 : store.failures.sum();
    }

    /** Acquires answered from local buckets because Redis could not (FailureMode.OPEN). */
    public long fallbackAcquires() {
        return store == null ? 0 : store.fallbacks.sum();
    }

    /** Acquires refused because Redis could not answer (FailureMode.CLOSED). */
    public long closedRefusals() {
        return store == null ? 0 : store.closedRefusals.sum();
    }

    /**
     * Closes what {@code successor} did not take over (the Redis client, if it has a new one), first handing each
     * Redis rule to its namesake in {@code successor} for the requests still in flight; call off the loops.
     */
    public void retire(RateLimiters successor) {
        if (store != null && store != successor.store) {
            // Requests admitted under this configuration may still be in flight (a stream is settled when it ends,
            // minutes later): their acquires and settlements go to the same rule of the new configuration rather
            // than to a closed client.
            buckets.forEach((name, limiter) -> {
                BucketLimiter next = successor.buckets.get(name);
                if (limiter instanceof RedisBucketLimiter redis && next != null && next != limiter
                        && next.config().kind() == limiter.config().kind()) {
                    redis.handOver(next);
                }
            });
            store.close();
        }
    }

    /** Shuts the Redis client down, waiting up to a few seconds (call it off the event loops); no-op without. */
    @Override
    public void close() {
        if (store != null) {
            store.close();
        }
    }
}
