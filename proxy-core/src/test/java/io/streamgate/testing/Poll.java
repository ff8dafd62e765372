package io.streamgate.testing;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Bounded polling for events the test cannot be told about directly (the gateway finishing an exchange on its event
 * loop, a slot being freed). Never for time-based behaviour: that is driven by {@link ManualClock}. Stateless.
 */
public final class Poll {
    private Poll() {
    }

    /** Returns once {@code condition} holds; fails with {@code what()} when it does not within {@code timeoutMillis}. */
    public static void until(BooleanSupplier condition, long timeoutMillis, Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeoutMillis + " ms: " + what.get());
            }
            TimeUnit.MILLISECONDS.sleep(5);
        }
    }
}
