package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;

/**
 * A circuit breaker on one endpoint's failure rate: closed while the share of failed attempts in a sliding window
 * stays under the configured rate; open (no requests) for {@code open_for} once it is reached; then half-open, letting
 * a few trial requests through: all succeed → closed, one fails → open again. The window is ten buckets, so old
 * outcomes age out in steps of a tenth of it without a record per request. Synchronized: outcomes arrive from every
 * event loop, and an exchange holds the lock for a few field updates.
 */
final class CircuitBreaker {
    enum State { CLOSED, OPEN, HALF_OPEN }

    private static final int BUCKETS = 10;

    private final UpstreamConfig.Breaker config;
    private final long bucketNanos;
    private final int[] successes = new int[BUCKETS];
    private final int[] failures = new int[BUCKETS];
    private final long[] bucketStart = new long[BUCKETS];
    private State state = State.CLOSED;
    private long openUntil;
    private int trialsInFlight;
    private int trialsPassed;

    CircuitBreaker(UpstreamConfig.Breaker config) {
        this.config = config;
        this.bucketNanos = Math.max(1, config.window().toNanos() / BUCKETS);
    }

    synchronized State state(long now) {
        if (state == State.OPEN && now - openUntil >= 0) {
            state = State.HALF_OPEN;
            trialsInFlight = 0;
            trialsPassed = 0;
        }
        return state;
    }

    /** Whether a request may go now; half-open, it takes one of the trial slots (give it back with an outcome). */
    synchronized boolean tryPass(long now) {
        return switch (state(now)) {
            case CLOSED -> true;
            case OPEN -> false;
            case HALF_OPEN -> {
                if (trialsInFlight + trialsPassed >= config.halfOpenRequests()) {
                    yield false;
                }
                trialsInFlight++;
                yield true;
            }
        };
    }

    /** Whether a request could pass now, without taking a trial slot. */
    synchronized boolean wouldPass(long now) {
        State s = state(now);
        return s == State.CLOSED || s == State.HALF_OPEN && trialsInFlight + trialsPassed < config.halfOpenRequests();
    }

    /** When an open breaker half-opens; only meaningful while open. */
    synchronized long openUntil() {
        return openUntil;
    }

    /** @return true when this outcome opened the breaker */
    synchronized boolean record(boolean success, long now) {
        if (state(now) == State.HALF_OPEN) {
            trialsInFlight = Math.max(0, trialsInFlight - 1);
            if (!success) {
                open(now);
                return true;
            }
            if (++trialsPassed >= config.halfOpenRequests()) {
                state = State.CLOSED;
                java.util.Arrays.fill(successes, 0);
                java.util.Arrays.fill(failures, 0);
            }
            return false;
        }
        if (state == State.OPEN) {
            return false; // an attempt that started before the breaker opened
        }
        int b = bucket(now);
        if (success) {
            successes[b]++;
        } else {
            failures[b]++;
        }
        long total = 0;
        long failed = 0;
        for (int i = 0; i < BUCKETS; i++) {
            if (now - bucketStart[i] < config.window().toNanos()) {
                total += successes[i] + failures[i];
                failed += failures[i];
            }
        }
        if (total >= config.minimumRequests() && failed >= config.failureRate() * total) {
            open(now);
            return true;
        }
        return false;
    }

    /** A trial request ended without telling anything about the endpoint (the client left): free its slot. */
    synchronized void trialAbandoned() {
        if (state == State.HALF_OPEN) {
            trialsInFlight = Math.max(0, trialsInFlight - 1);
        }
    }

    private void open(long now) {
        state = State.OPEN;
        openUntil = now + config.openFor().toNanos();
        java.util.Arrays.fill(successes, 0);
        java.util.Arrays.fill(failures, 0);
    }

    private int bucket(long now) {
        long slot = Math.floorDiv(now, bucketNanos);
        int b = (int) Math.floorMod(slot, BUCKETS);
        long start = slot * bucketNanos;
        if (bucketStart[b] != start) {
            bucketStart[b] = start;
            successes[b] = 0;
            failures[b] = 0;
        }
        return b;
    }
}
