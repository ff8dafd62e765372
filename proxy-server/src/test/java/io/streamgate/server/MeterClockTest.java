package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The registry's wall clock follows the system's within its tick, without a clock read per record. */
class MeterClockTest {

    @Test
    void wallTimeKeepsUpWithTheSystemClock() throws InterruptedException {
        MeterClock clock = MeterClock.instance();
        long first = clock.wallTime();
        // The ticker may be late on a busy machine; what matters is that it moves, and stays near the system clock.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (clock.wallTime() == first && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(clock.wallTime() > first, "the ticker refreshes the wall time");
        Thread.sleep(3 * MeterClock.TICK_MILLIS);
        long lag = System.currentTimeMillis() - clock.wallTime();
        assertTrue(lag >= 0 && lag < 2_000, "behind the system clock by " + lag + " ms");
        long before = System.nanoTime();
        long monotonic = clock.monotonicTime();
        assertTrue(monotonic >= before && monotonic <= System.nanoTime(), "monotonic time is System.nanoTime()");
    }

    @Test
    void theGatewaysRegistryRecordsWithIt() {
        PrometheusMeterRegistry registry = GatewayLauncher.prometheusRegistry();
        try {
            assertSame(MeterClock.instance(), registry.config().clock());
            Timer timer = Timer.builder("t").register(registry);
            timer.record(7, TimeUnit.MILLISECONDS);
            timer.record(3, TimeUnit.MILLISECONDS);
            assertEquals(2, timer.count());
            assertEquals(7, timer.max(TimeUnit.MILLISECONDS), 0.001);
            assertTrue(registry.scrape().contains("t_seconds_max 0.007"), registry.scrape());
        } finally {
            registry.close();
        }
    }
}
