package io.streamgate.policy.ratelimit;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The buckets one client connection drew from last, a few rules' worth: the next request on a keep-alive connection
 * nearly always names the same key (the connection's address, its API key) and then takes its bucket from here
 * instead of the rule's shared cache, whose lookup (a hash probe, a read-buffer entry and an expiry update) is most
 * of what a rate limit costs per request. An entry is good for a limited time, which keeps the shared cache from
 * dropping a bucket that is still in use (see {@link LocalBucketLimiter}). Confined to the connection's event loop.
 */
public final class BucketMemo {
    private static final int SIZE = 4;

    private final Object[] owners = new Object[SIZE];
    private final String[] keys = new String[SIZE];
    private final AtomicLong[] buckets = new AtomicLong[SIZE];
    /** Per entry: the limiter's clock reading until which the bucket may be used from here. */
    private final long[] goodUntil = new long[SIZE];
    private int next;

    /** {@code owner}'s bucket for {@code key} if remembered and still good at {@code now}; else null. */
    AtomicLong find(Object owner, String key, long now) {
        for (int i = 0; i < SIZE; i++) {
            if (owners[i] == owner) {
                String k = keys[i];
                return (k == key || k.equals(key)) && goodUntil[i] - now > 0 ? buckets[i] : null;
            }
        }
        return null;
    }

    /** Replaces {@code owner}'s entry, or the oldest one. */
    void remember(Object owner, String key, AtomicLong bucket, long goodUntil) {
        int slot = -1;
        for (int i = 0; i < SIZE && slot < 0; i++) {
            if (owners[i] == owner) {
                slot = i;
            }
        }
        if (slot < 0) {
            slot = next;
            next = (next + 1) % SIZE;
        }
        owners[slot] = owner;
        keys[slot] = key;
        buckets[slot] = bucket;
        this.goodUntil[slot] = goodUntil;
    }
}
