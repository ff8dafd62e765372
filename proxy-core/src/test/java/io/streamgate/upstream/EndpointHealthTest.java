package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.UpstreamConfig;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class EndpointHealthTest {
    private static final long S = 1_000_000_000L;

    private static EndpointHealth health(UpstreamConfig.HealthCheck check, Duration slowStart) {
        return new EndpointHealth(new UpstreamConfig.Health(check,
                new UpstreamConfig.Outlier(3, Duration.ofSeconds(10), Duration.ofSeconds(35)), null, slowStart));
    }

    private static void fail(EndpointHealth h, int times, long now) {
        for (int i = 0; i < times; i++) {
            h.record(false, now, true, CircuitBreaker.NOT_A_TRIAL);
        }
    }

    @Test
    void ejectionGrowsWhileTheEndpointKeepsFailingAndIsCapped() {
        EndpointHealth h = health(null, Duration.ZERO);
        long t = 100 * S;
        fail(h, 3, t);
        assertEquals(EndpointHealth.State.EJECTED, h.state(t));
        assertTrue(h.available(t + 10 * S));
        fail(h, 3, t + 10 * S);
        assertFalse(h.available(t + 10 * S + 19 * S), "second ejection lasts 20 s");
        assertTrue(h.available(t + 30 * S));
        fail(h, 3, t + 30 * S);
        assertFalse(h.available(t + 30 * S + 34 * S), "third would be 40 s, capped at 35 s");
        assertTrue(h.available(t + 30 * S + 35 * S));
    }

    /**
     * An endpoint that stays dead (no health check to take it out) is ejected again and again: every ejection lasts
     * at least base_ejection, however many came before. With base_ejection 1m, doubling it 28 times overflowed a
     * long, and the 29th and 30th ejections ended before they began.
     */
    @Test
    void aLongRunOfEjectionsNeverOverflowsTheBackoff() {
        EndpointHealth h = new EndpointHealth(new UpstreamConfig.Health(null,
                new UpstreamConfig.Outlier(3, Duration.ofMinutes(1), Duration.ofHours(1)), null, Duration.ZERO));
        long t = 0;
        for (int ejection = 1; ejection <= 40; ejection++) {
            fail(h, 3, t);
            assertEquals(EndpointHealth.State.EJECTED, h.state(t), "ejection " + ejection + " did not take the endpoint out");
            long span = Math.min(60L << Math.min(ejection - 1, 20), 3600) * S;
            assertFalse(h.available(t + span - 1), "ejection " + ejection + " should last " + span / S + " s");
            t += span;
            assertTrue(h.available(t), "ejection " + ejection + " should end after " + span / S + " s");
        }
    }

    @Test
    void successResetsTheCountAndTheBackoff() {
        EndpointHealth h = health(null, Duration.ZERO);
        long t = 0;
        fail(h, 2, t);
        h.record(true, t, true, CircuitBreaker.NOT_A_TRIAL);
        fail(h, 2, t);
        assertTrue(h.available(t), "never three in a row");
        fail(h, 1, t);
        assertFalse(h.available(t));
        long back = t + 10 * S;
        assertTrue(h.available(back));
        h.record(true, back, true, CircuitBreaker.NOT_A_TRIAL);
        fail(h, 3, back);
        assertTrue(h.available(back + 10 * S), "after a success the next ejection is the base again");
    }

    @Test
    void notEjectedWhenItWouldLeaveNothing() {
        EndpointHealth h = health(null, Duration.ZERO);
        for (int i = 0; i < 10; i++) {
            h.record(false, 0, false, CircuitBreaker.NOT_A_TRIAL);
        }
        assertTrue(h.available(0));
    }

    @Test
    void activeChecksTakeOutAndPutBackByThresholds() {
        EndpointHealth h = health(new UpstreamConfig.HealthCheck("/health", Duration.ofSeconds(1), Duration.ofSeconds(1), 2, 3), Duration.ZERO);
        h.checked(false, 0);
        h.checked(false, 0);
        assertTrue(h.available(0));
        h.checked(false, 0);
        assertEquals(EndpointHealth.State.UNHEALTHY, h.state(0));
        h.checked(true, 0);
        assertFalse(h.available(0));
        h.checked(true, 0);
        assertEquals(EndpointHealth.State.HEALTHY, h.state(0));
    }

    @Test
    void slowStartRampsTheShareAfterComingBack() {
        EndpointHealth h = health(new UpstreamConfig.HealthCheck("/health", Duration.ofSeconds(1), Duration.ofSeconds(1), 1, 1),
                Duration.ofSeconds(10));
        assertEquals(1.0, h.slowStartShare(0));
        h.checked(false, 0);
        h.checked(true, 100 * S);
        assertEquals(EndpointHealth.State.SLOW_START, h.state(100 * S));
        assertEquals(0.1, h.slowStartShare(100 * S), 1e-9);
        assertEquals(0.5, h.slowStartShare(105 * S), 1e-9);
        assertEquals(1.0, h.slowStartShare(110 * S));
        assertEquals(EndpointHealth.State.HEALTHY, h.state(110 * S));
    }

    /**
     * Every event loop asks whether an endpoint is available without a lock, and the first to see an ejection over
     * ends it; meanwhile another loop may record a failure that ejects the endpoint again. The new ejection must stand.
     * Two threads race on many endpoints at once, each ejected until 10 s: one asks at 10 s, the other records a failure
     * at 10 s (one failure ejects, for 20 s). Whatever the interleaving, each endpoint must end up ejected. Clearing the
     * old ejection with a plain write, decided from its end time read just before, erased the new one.
     */
    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void anEjectionEndedByOneLoopWhileAnotherFailsAgainStands() throws Exception {
        int rounds = 200_000;
        long end = 10 * S;
        UpstreamConfig.Health oneFailureEjects = new UpstreamConfig.Health(null,
                new UpstreamConfig.Outlier(1, Duration.ofSeconds(10), Duration.ofMinutes(1)), null, Duration.ZERO);
        EndpointHealth[] endpoints = new EndpointHealth[rounds];
        for (int r = 0; r < rounds; r++) {
            endpoints[r] = new EndpointHealth(oneFailureEjects);
            fail(endpoints[r], 1, 0);
        }
        // Each thread starts round r only once the other one has reached it, so the two calls of a round overlap. On a
        // busy machine the asker stops early, to keep the test short: the failer then runs the rest alone, unraced.
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
        AtomicInteger askerAt = new AtomicInteger(-1);
        AtomicInteger failerAt = new AtomicInteger(-1);
        Thread asker = new Thread(() -> {
            for (int r = 0; r < rounds; r++) {
                if (System.nanoTime() - deadline > 0) {
                    askerAt.set(Integer.MAX_VALUE);
                    return;
                }
                askerAt.set(r);
                while (failerAt.get() < r) {
                    Thread.onSpinWait();
                }
                endpoints[r].available(end);
            }
        });
        Thread failer = new Thread(() -> {
            for (int r = 0; r < rounds; r++) {
                failerAt.set(r);
                while (askerAt.get() < r) {
                    Thread.onSpinWait();
                }
                endpoints[r].record(false, end, true, CircuitBreaker.NOT_A_TRIAL);
            }
        });
        asker.start();
        failer.start();
        asker.join();
        failer.join();
        int lost = 0;
        for (EndpointHealth h : endpoints) {
            if (h.state(end) != EndpointHealth.State.EJECTED) {
                lost++;
            }
        }
        assertEquals(0, lost, "ejections lost to a concurrent end of the previous one, of " + rounds);
    }
}
