package io.streamgate.policy.ratelimit;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A {@link NanoClock} that only moves when told to. Thread-safe. */
final class ManualClock implements NanoClock {
    private final AtomicLong now;

    ManualClock(long start) {
        this.now = new AtomicLong(start);
    }

    @Override
    public long nanoTime() {
        return now.get();
    }

    void advance(long nanos) {
        now.addAndGet(nanos);
    }

    void advance(Duration duration) {
        advance(duration.toNanos());
    }
}
