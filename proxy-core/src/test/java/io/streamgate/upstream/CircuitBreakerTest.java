package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.UpstreamConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
    private static final long MS = 1_000_000L;
    private final CircuitBreaker breaker = new CircuitBreaker(
            new UpstreamConfig.Breaker(0.5, 4, Duration.ofSeconds(10), Duration.ofSeconds(1), 2));

    @Test
    void opensAtTheFailureRateOnceEnoughRequestsWereSeen() {
        long t = 1_000 * MS;
        assertFalse(breaker.record(false, t));
        assertFalse(breaker.record(false, t), "two requests are below minimum_requests");
        assertFalse(breaker.record(true, t));
        assertTrue(breaker.record(false, t), "3 of 4 failed: over 50%");
        assertEquals(CircuitBreaker.State.OPEN, breaker.state(t));
        assertFalse(breaker.tryPass(t + 999 * MS));
    }

    @Test
    void staysClosedUnderTheRate() {
        long t = 0;
        for (int i = 0; i < 20; i++) {
            breaker.record(i % 3 != 2, t); // every third fails
        }
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(t));
    }

    @Test
    void oldOutcomesLeaveTheWindow() {
        long t = 0;
        breaker.record(false, t);
        breaker.record(false, t);
        breaker.record(false, t);
        long later = t + 11_000 * MS;
        assertFalse(breaker.record(false, later), "the three old failures aged out: one request in the window");
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(later));
    }

    @Test
    void halfOpensAfterOpenForAndClosesWhenTrialsPass() {
        long t = 0;
        for (int i = 0; i < 4; i++) {
            breaker.record(false, t);
        }
        long half = t + 1_000 * MS;
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half));
        assertTrue(breaker.tryPass(half));
        assertTrue(breaker.tryPass(half));
        assertFalse(breaker.tryPass(half), "only half_open_requests trials");
        breaker.record(true, half);
        breaker.record(true, half);
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(half));
    }

    @Test
    void aFailedTrialOpensAgain() {
        long t = 0;
        for (int i = 0; i < 4; i++) {
            breaker.record(false, t);
        }
        long half = t + 1_000 * MS;
        assertTrue(breaker.tryPass(half));
        assertTrue(breaker.record(false, half));
        assertEquals(CircuitBreaker.State.OPEN, breaker.state(half));
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half + 1_000 * MS));
    }

    @Test
    void anAbandonedTrialFreesItsSlot() {
        long t = 0;
        for (int i = 0; i < 4; i++) {
            breaker.record(false, t);
        }
        long half = t + 1_000 * MS;
        assertTrue(breaker.tryPass(half));
        assertTrue(breaker.tryPass(half));
        breaker.trialAbandoned();
        assertTrue(breaker.wouldPass(half));
    }
}
