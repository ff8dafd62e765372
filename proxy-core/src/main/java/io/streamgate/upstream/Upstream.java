package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Balance;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A configured upstream at run time: its settings, the requests in flight on each endpoint, and the choice of an
 * endpoint for the next request. Connection pools belong to this object (see {@link UpstreamPools}), so they live as
 * long as the snapshots that share it. Thread-safe without locks: exchanges on every event loop choose concurrently.
 */
public final class Upstream {
    private final UpstreamConfig config;
    private final int[] weights;
    private final AtomicIntegerArray outstanding;
    private final AtomicInteger cursor = new AtomicInteger();
    /** ROUND_ROBIN: endpoint indexes in smooth weighted order, one full cycle. */
    private final int[] schedule;
    /** CONSISTENT_HASH: the ring, or null. */
    private final HashRing ring;
    /** Set when a reload replaced this upstream; exchanges of the old snapshot may still lease from it. */
    private volatile boolean retired;

    public Upstream(UpstreamConfig config) {
        this.config = config;
        List<UpstreamConfig.Endpoint> endpoints = config.endpoints();
        this.weights = endpoints.stream().mapToInt(UpstreamConfig.Endpoint::weight).toArray();
        this.outstanding = new AtomicIntegerArray(weights.length);
        this.schedule = SmoothWeightedOrder.of(weights);
        this.ring = config.balance().strategy() == Balance.Strategy.CONSISTENT_HASH
                ? new HashRing(endpoints.stream().map(Object::toString).toList(), weights) : null;
    }

    public UpstreamConfig config() {
        return config;
    }

    boolean retired() {
        return retired;
    }

    void retire() {
        retired = true;
    }

    /**
     * Picks the endpoint for a new request and counts it as in flight until {@link #finished(int)}. Returns its index
     * in {@code config().endpoints()}.
     *
     * @param hashKey the request's key for CONSISTENT_HASH (null when it has none: then the least busy endpoint)
     */
    public int choose(String hashKey) {
        int n = weights.length;
        int chosen;
        if (n == 1) {
            chosen = 0;
        } else {
            chosen = switch (config.balance().strategy()) {
                case ROUND_ROBIN -> schedule[Math.floorMod(cursor.getAndIncrement(), schedule.length)];
                case LEAST_OUTSTANDING -> leastOutstanding();
                case CONSISTENT_HASH -> hashKey == null ? leastOutstanding() : boundedHash(hashKey);
            };
        }
        outstanding.incrementAndGet(chosen);
        return chosen;
    }

    /** The request on endpoint {@code index} ended. */
    public void finished(int index) {
        outstanding.decrementAndGet(index);
    }

    /** Fewest in flight per unit of weight; ties go to the next in rotation, so equal endpoints share evenly. */
    private int leastOutstanding() {
        int n = weights.length;
        int start = Math.floorMod(cursor.getAndIncrement(), n);
        int best = start;
        for (int k = 1; k < n; k++) {
            int i = (start + k) % n;
            // outstanding[i] / weights[i] < outstanding[best] / weights[best], without division
            if ((long) outstanding.get(i) * weights[best] < (long) outstanding.get(best) * weights[i]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * The key's endpoint on the ring, unless it already carries more than its share: load_factor times the average
     * in flight (counting this request), scaled by weight; then the next endpoint clockwise that has room.
     */
    private int boundedHash(String key) {
        long total = 1;
        int weightSum = 0;
        for (int i = 0; i < weights.length; i++) {
            total += outstanding.get(i);
            weightSum += weights[i];
        }
        double perWeight = config.balance().loadFactor() * total / weightSum;
        return ring.first(key, i -> outstanding.get(i) < Math.ceil(perWeight * weights[i]));
    }
}
