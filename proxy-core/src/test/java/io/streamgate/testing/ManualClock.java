package io.streamgate.testing;

import io.streamgate.policy.ratelimit.NanoClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that only moves when the test says so, for rate-limit refill and cache ages: a test advances it by exactly
 * the time it wants to pass instead of sleeping and hoping. Thread-safe: the gateway reads it from its event loops
 * while the test thread advances it.
 */
public final class ManualClock implements NanoClock {
    /** Far from zero, so nothing in the gateway can mistake the start of time for "never". */
    private static final long START_NANOS = 1_000_000L * 1_000_000_000L;

    private final AtomicLong now;

    public ManualClock() {
        this(START_NANOS);
    }

    /** Starting at {@code start}, e.g. just before {@code System.nanoTime()}'s wrap-around. */
    public ManualClock(long start) {
        this.now = new AtomicLong(start);
    }

    @Override
    public long nanoTime() {
        return now.get();
    }

    public void advance(Duration by) {
        advance(by.toNanos());
    }

    public void advance(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("a clock never goes back: " + nanos + " ns");
        }
        now.addAndGet(nanos);
    }
}
