package io.streamgate.upstream;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * What connecting to one endpoint has shown lately, across event loops: consecutive failures and a total. This is
 * the passive signal the gateway has of a backend's health before active checks exist; "up" means the last attempt
 * (if any) connected. Thread-safe.
 */
public final class ConnectHealth {
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final LongAdder failures = new LongAdder();

    void record(boolean connected) {
        if (connected) {
            consecutiveFailures.set(0);
        } else {
            consecutiveFailures.incrementAndGet();
            failures.increment();
        }
    }

    public boolean up() {
        return consecutiveFailures.get() == 0;
    }

    public long failures() {
        return failures.sum();
    }
}
