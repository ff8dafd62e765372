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
        assertFalse(breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL));
        assertFalse(breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL), "two requests are below minimum_requests");
        assertFalse(breaker.record(true, t, CircuitBreaker.NOT_A_TRIAL));
        assertTrue(breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL), "3 of 4 failed: over 50%");
        assertEquals(CircuitBreaker.State.OPEN, breaker.state(t));
        assertEquals(CircuitBreaker.REFUSED, breaker.tryPass(t + 999 * MS));
    }

    @Test
    void staysClosedUnderTheRate() {
        long t = 0;
        for (int i = 0; i < 20; i++) {
            breaker.record(i % 3 != 2, t, CircuitBreaker.NOT_A_TRIAL); // every third fails
        }
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(t));
    }

    @Test
    void oldOutcomesLeaveTheWindow() {
        long t = 0;
        breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL);
        breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL);
        breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL);
        long later = t + 11_000 * MS;
        assertFalse(breaker.record(false, later, CircuitBreaker.NOT_A_TRIAL), "the three old failures aged out: one request in the window");
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(later));
    }

    private long openAt(long t) {
        for (int i = 0; i < 4; i++) {
            breaker.record(false, t, CircuitBreaker.NOT_A_TRIAL);
        }
        assertEquals(CircuitBreaker.State.OPEN, breaker.state(t));
        return t + 1_000 * MS;
    }

    @Test
    void halfOpensAfterOpenForAndClosesWhenTrialsPass() {
        long half = openAt(0);
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half));
        int first = breaker.tryPass(half);
        int second = breaker.tryPass(half);
        assertTrue(first > 0 && second > 0, "half-open requests go as trials");
        assertEquals(CircuitBreaker.REFUSED, breaker.tryPass(half), "only half_open_requests trials");
        breaker.record(true, half, first);
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half));
        breaker.record(true, half, second);
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(half));
    }

    @Test
    void aFailedTrialOpensAgain() {
        long half = openAt(0);
        int trial = breaker.tryPass(half);
        assertTrue(breaker.record(false, half, trial));
        assertEquals(CircuitBreaker.State.OPEN, breaker.state(half));
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half + 1_000 * MS));
    }

    @Test
    void anAbandonedTrialFreesItsSlot() {
        long half = openAt(0);
        breaker.tryPass(half);
        int second = breaker.tryPass(half);
        assertFalse(breaker.wouldPass(half));
        breaker.trialAbandoned(second);
        assertTrue(breaker.wouldPass(half));
    }

    /**
     * Attempts sent while the breaker was closed can end while it is half-open. They are not trials: a success must not
     * close it (nothing was sent to the endpoint since it opened), a failure must not reopen it, and neither may free
     * or fill a trial slot held by a real trial.
     */
    @Test
    void attemptsSentBeforeTheBreakerOpenedDoNotDecideTheHalfOpenState() {
        int sentClosed = breaker.tryPass(0);
        assertEquals(CircuitBreaker.NOT_A_TRIAL, sentClosed);
        long half = openAt(0);
        int trial = breaker.tryPass(half);
        int other = breaker.tryPass(half);
        assertTrue(trial > 0 && other > 0);

        assertFalse(breaker.record(true, half, sentClosed));
        assertFalse(breaker.record(true, half, sentClosed));
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(half), "two earlier successes closed it");
        assertFalse(breaker.record(false, half, sentClosed), "an earlier failure reopened it");
        breaker.trialAbandoned(sentClosed);
        assertFalse(breaker.wouldPass(half), "an earlier attempt freed a trial slot held by a trial");

        breaker.record(true, half, trial);
        breaker.record(true, half, other);
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(half));
    }

    /** A trial that outlives its half-open period (another trial failed) does not decide the next one. */
    @Test
    void aTrialOfAnEarlierHalfOpenPeriodDoesNotDecideTheNext() {
        long half = openAt(0);
        int slow = breaker.tryPass(half);
        int failed = breaker.tryPass(half);
        assertTrue(breaker.record(false, half, failed));
        long again = half + 1_000 * MS;
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(again));
        int trial = breaker.tryPass(again);
        assertTrue(trial > 0 && trial != slow);

        assertFalse(breaker.record(false, again, slow), "a trial of the earlier period reopened it");
        breaker.record(true, again, slow);
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(again));
        breaker.record(true, again, trial);
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state(again), "one of two trials passed");
        breaker.record(true, again, breaker.tryPass(again));
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state(again));
    }
}
