package io.streamgate.upstream;

import io.streamgate.config.UpstreamConfig;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * What the gateway knows of one endpoint's health, shared by every event loop and kept across reloads that leave the
 * endpoint in place: the active check's verdict, passive ejection after consecutive failures (for a time that doubles
 * while the endpoint keeps failing), the circuit breaker, the moment it last came back (for slow start) and its last
 * scraped load. An endpoint is <em>available</em> when none of these keeps it out.
 *
 * <p>Outcomes are recorded under this object's lock (except the common success with nothing to reset), while every
 * event loop asks whether the endpoint is available without it. So the end of an ejection is noticed by whichever
 * thread looks first, and is taken back with a compare-and-set on the ejection itself: a failure that ejects the
 * endpoint again at that moment installs a new ejection, which a late clear of the old one cannot undo.
 */
public final class EndpointHealth {
    /** What /readyz and the admin API show. */
    public enum State {
        HEALTHY, UNHEALTHY, EJECTED, OPEN, HALF_OPEN, SLOW_START;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final UpstreamConfig.Health config;
    private final CircuitBreaker breaker;
    private volatile boolean checkedDown;
    /** Active check streaks; only the monitor task touches them. */
    private int checkPasses;
    private int checkFailures;
    private int consecutiveFailures;
    /** Set by a failure, cleared by a success once no failure streak or ejection backoff is left to reset. */
    private volatile boolean failedLately;
    private int ejections;
    /** The ejection in force (set under the lock, cleared by a CAS when it ends), or null. */
    private volatile Ejection ejection;
    private volatile long returnedAt;
    private volatile boolean returning;
    private volatile VllmLoad load;

    private static final VarHandle EJECTION;

    static {
        try {
            EJECTION = MethodHandles.lookup().findVarHandle(EndpointHealth.class, "ejection", Ejection.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One ejection, immutable: its identity tells it from a later one that ends at another time. */
    private record Ejection(long until) {
    }

    EndpointHealth(UpstreamConfig.Health config) {
        this.config = config;
        this.breaker = config.breaker() == null ? null : new CircuitBreaker(config.breaker());
    }

    UpstreamConfig.Health config() {
        return config;
    }

    /** Whether a request may be sent here now (a half-open breaker only while it has trial slots). */
    boolean available(long now) {
        return !checkedDown && !ejected(now) && (breaker == null || breaker.wouldPass(now));
    }

    /**
     * Called for the endpoint chosen for an attempt: {@link CircuitBreaker#REFUSED} when a half-open breaker has no
     * trial slot left, else what the attempt must pass back to {@link #record} and {@link #abandoned} (a trial's
     * half-open period, or {@link CircuitBreaker#NOT_A_TRIAL}).
     */
    int admit(long now) {
        return breaker == null ? CircuitBreaker.NOT_A_TRIAL : breaker.tryPass(now);
    }

    public State state(long now) {
        if (checkedDown) {
            return State.UNHEALTHY;
        }
        if (ejected(now)) {
            return State.EJECTED;
        }
        if (breaker != null) {
            CircuitBreaker.State b = breaker.state(now);
            if (b != CircuitBreaker.State.CLOSED) {
                return b == CircuitBreaker.State.OPEN ? State.OPEN : State.HALF_OPEN;
            }
        }
        return slowStartShare(now) < 1 ? State.SLOW_START : State.HEALTHY;
    }

    public boolean available() {
        return available(System.nanoTime());
    }

    /**
     * The share of its normal traffic a returning endpoint takes: from 0.1 when it comes back to 1 after slow_start.
     */
    double slowStartShare(long now) {
        long window = config.slowStart().toNanos();
        if (window == 0 || !returning) {
            return 1;
        }
        // Not cleared here once the window is over: this read is unlocked, and clearing raced with a return that
        // began meanwhile (the clear, computed from the old returnedAt, cancelled the new slow start).
        long since = now - returnedAt;
        if (since >= window) {
            return 1;
        }
        return Math.max(0.1, (double) since / window);
    }

    /** Nanoseconds until this endpoint may be available again (for Retry-After), or 0 if unknown. */
    long nanosUntilBack(long now) {
        Ejection e = ejection;
        long wait = e != null && now - e.until() < 0 ? e.until() - now : 0;
        if (breaker != null && breaker.state(now) == CircuitBreaker.State.OPEN) {
            wait = Math.max(wait, breaker.openUntil() - now);
        }
        if (checkedDown && config.check() != null) {
            wait = Math.max(wait, config.check().interval().toNanos() * config.check().healthyThreshold());
        }
        return wait;
    }

    /**
     * One attempt's outcome: a failure is a connect failure, a reset before the response, or a 5xx.
     *
     * @param mayEject whether ejecting this endpoint would leave its upstream another available endpoint
     * @param trial    what {@link #admit} answered for this attempt
     */
    void record(boolean success, long now, boolean mayEject, int trial) {
        if (success && breaker == null && !failedLately) {
            return; // the common case, taken by every request without touching a lock
        }
        recordLocked(success, now, mayEject, trial);
    }

    private synchronized void recordLocked(boolean success, long now, boolean mayEject, int trial) {
        if (breaker != null && breaker.record(success, now, trial)) {
            returning = false;
        }
        if (success) {
            consecutiveFailures = 0;
            if (!ejected(now)) {
                ejections = 0;
                failedLately = false;
            }
            return;
        }
        failedLately = true;
        UpstreamConfig.Outlier o = config.outlier();
        if (o == null || ++consecutiveFailures < o.consecutiveFailures() || !mayEject || ejected(now)) {
            return;
        }
        consecutiveFailures = 0;
        long base = o.baseEjection().toNanos();
        long max = o.maxEjection().toNanos();
        // base << ejections, capped at max without computing it: a dead endpoint is ejected again and again, and
        // the doubled span overflows a long long before the shift count reaches 64 (base 1m: the 29th ejection).
        long span = base > max >> ejections ? max : base << ejections;
        ejections = Math.min(ejections + 1, 62);
        ejection = new Ejection(now + span);
    }

    /**
     * The client left before the attempt said anything about the endpoint.
     *
     * @param trial what {@link #admit} answered for this attempt
     */
    void abandoned(int trial) {
        if (breaker != null) {
            breaker.trialAbandoned(trial);
        }
    }

    /** An active check's result; only the monitor calls this, one check at a time per endpoint. */
    void checked(boolean passed, long now) {
        UpstreamConfig.HealthCheck c = config.check();
        if (passed) {
            checkFailures = 0;
            if (checkedDown && ++checkPasses >= c.healthyThreshold()) {
                checkedDown = false;
                comeBack(now);
            }
        } else {
            checkPasses = 0;
            if (!checkedDown && ++checkFailures >= c.unhealthyThreshold()) {
                checkedDown = true;
            }
        }
    }

    VllmLoad load() {
        return load;
    }

    void load(VllmLoad l) {
        this.load = l;
    }

    private boolean ejected(long now) {
        Ejection e = ejection;
        if (e == null) {
            return false;
        }
        if (now - e.until() < 0) {
            return true;
        }
        // Over. Only the thread whose CAS takes this very ejection out starts the endpoint's slow start, and a new
        // ejection set meanwhile by a failure (under the lock) is left in force: a plain write of "not ejected" here,
        // decided from the old end time, erased it.
        if (EJECTION.compareAndSet(this, e, null)) {
            comeBack(now);
        }
        return false;
    }

    private void comeBack(long now) {
        returnedAt = now;
        returning = true;
    }
}
