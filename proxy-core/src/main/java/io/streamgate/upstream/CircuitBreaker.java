package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;

/**
 * A circuit breaker on one endpoint's failure rate: closed while the share of failed attempts in a sliding window
 * stays under the configured rate; open (no requests) for {@code open_for} once it is reached; then half-open, letting
 * a few trial requests through: all succeed → closed, one fails → open again. The window is ten buckets, so old
 * outcomes age out in steps of a tenth of it without a record per request. Synchronized: outcomes arrive from every
 * event loop, and an exchange holds the lock for a few field updates.
 *
 * <p>A trial is exactly a request {@link #tryPass} admitted as one: it carries the number of its half-open period,
 * and only an outcome with the current number counts as a trial. An attempt that was sent while the breaker was
 * closed (or a trial of an earlier half-open period) can end while it is half-open; counting it as a trial closed the
 * breaker with no request sent to the recovered endpoint, or reopened it, and freed a slot that a real trial held.
 */
final class CircuitBreaker {
    enum State { CLOSED, OPEN, HALF_OPEN }

    /** {@link #tryPass}: the request may not go. */
    static final int REFUSED = -1;
    /** {@link #tryPass}: the request goes as an ordinary one (closed), not as a trial. */
    static final int NOT_A_TRIAL = 0;

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
    /** Number of the current (or last) half-open period: 0 before the first, never 0 again, so NOT_A_TRIAL is none. */
    private int period;

    CircuitBreaker(UpstreamConfig.Breaker config) {
        this.config = config;
        this.bucketNanos = Math.max(1, config.window().toNanos() / BUCKETS);
    }

    synchronized State state(long now) {
        if (state == State.OPEN && now - openUntil >= 0) {
            state = State.HALF_OPEN;
            period = period == Integer.MAX_VALUE ? 1 : period + 1;
            trialsInFlight = 0;
            trialsPassed = 0;
        }
        return state;
    }

    /**
     * Whether a request may go now: {@link #REFUSED}, {@link #NOT_A_TRIAL}, or (half-open) the trial's period, a
     * positive number that takes one of the trial slots until passed back to {@link #record} or {@link #trialAbandoned}.
     */
    synchronized int tryPass(long now) {
        return switch (state(now)) {
            case CLOSED -> NOT_A_TRIAL;
            case OPEN -> REFUSED;
            case HALF_OPEN -> {
                if (trialsInFlight + trialsPassed >= config.halfOpenRequests()) {
                    yield REFUSED;
                }
                trialsInFlight++;
                yield period;
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

    /**
     * @param trial what {@link #tryPass} answered for this attempt
     * @return true when this outcome opened the breaker
     */
    synchronized boolean record(boolean success, long now, int trial) {
        State s = state(now);
        if (s == State.HALF_OPEN && trial == period) {
            trialsInFlight--;
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
        if (s != State.CLOSED) {
            // Sent before the breaker opened, or a trial of a half-open period already decided: the endpoint's state
            // then says nothing about it now, and only this period's trials may decide it.
            return false;
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

    /**
     * An attempt ended without telling anything about the endpoint (the client left): a trial of this half-open period
     * frees its slot.
     *
     * @param trial what {@link #tryPass} answered for this attempt
     */
    synchronized void trialAbandoned(int trial) {
        if (state == State.HALF_OPEN && trial == period) {
            trialsInFlight--;
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
