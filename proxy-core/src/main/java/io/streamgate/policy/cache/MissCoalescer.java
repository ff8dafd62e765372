package io.streamgate.policy.cache;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Collapses concurrent identical misses into one backend request, like nginx's {@code proxy_cache_lock}: the first
 * caller for a key becomes the leader and fetches; later callers wait for what the leader stores. Thread-safe.
 *
 * <p>Waiting is bounded twice. Each waiter gives up after the lock timeout and goes to the backend itself. And a
 * flight older than the lock timeout no longer collects waiters: the next caller becomes a new leader, so a leader
 * that never calls {@link #complete} (a bug, a lost connection) cannot disable coalescing for its key forever. When
 * that old leader does complete later, it completes whichever flight is current for the key; its entry is just as
 * valid for those waiters.
 *
 * <p>Callbacks always run on the waiter's own executor (its event loop), never inside {@link #join} or
 * {@link #complete}. A leader always ends its flight with {@link #complete}, passing null when it stored nothing
 * (response not cacheable, fetch failed, client gone); {@link #abandon} says the same more plainly on error paths.
 * Because a flight ends as soon as its leader completes, a caller that missed the cache just before and joins just
 * after becomes a leader: leaders should look the key up once more before fetching (and complete with what they
 * found).
 */
public final class MissCoalescer {
    private final long lockTimeoutNanos;
    private final ConcurrentHashMap<CacheKey, Flight> flights = new ConcurrentHashMap<>();

    /** @param lockTimeout how long a waiter waits, and how long a leader keeps the key, at most */
    public MissCoalescer(Duration lockTimeout) {
        if (lockTimeout.isNegative() || lockTimeout.isZero()) {
            throw new IllegalArgumentException("lock timeout must be positive: " + lockTimeout);
        }
        this.lockTimeoutNanos = lockTimeout.toNanos();
    }

    /**
     * Null when the caller is the leader: it must fetch and then call {@link #complete} or {@link #abandon}.
     * Otherwise a registered {@link Waiter}: {@code callback} runs once on {@code executor} with the entry the leader
     * stored, or with null (the leader's response was not cacheable, it failed or abandoned, or the lock timeout
     * passed), meaning "go to the backend yourself".
     */
    public Waiter join(CacheKey key, EventExecutor executor, Consumer<CachedResponse> callback) {
        while (true) {
            long now = System.nanoTime();
            Flight current = flights.get(key);
            if (current == null) {
                if (flights.putIfAbsent(key, new Flight(now)) == null) {
                    return null;
                }
            } else if (now - current.startedNanos >= lockTimeoutNanos) {
                if (flights.replace(key, current, new Flight(now))) {
                    return null;
                }
            } else {
                PendingWaiter waiter = new PendingWaiter(current, executor, callback);
                if (current.add(waiter)) {
                    waiter.startTimer(lockTimeoutNanos);
                    return waiter;
                }
                // The flight finished between get and add; look again.
            }
        }
    }

    /** Ends the key's flight: every waiter gets {@code stored} (null when nothing was stored) on its executor. */
    public void complete(CacheKey key, CachedResponse stored) {
        Flight flight = flights.remove(key);
        if (flight == null) {
            return;
        }
        for (PendingWaiter waiter : flight.finish()) {
            waiter.deliver(stored);
        }
    }

    /** Same as {@code complete(key, null)}: the leader stored nothing; its waiters go to the backend themselves. */
    public void abandon(CacheKey key) {
        complete(key, null);
    }

    /** A registered wait for a leader's result. */
    public interface Waiter {
        /**
         * Withdraws the wait (the client went away). Called on the waiter's executor, it guarantees the callback
         * will not run; from another thread, a callback already under way may still run.
         */
        void cancel();
    }

    /** One leader's fetch and the callers waiting for it. */
    private static final class Flight {
        final long startedNanos;
        private final Set<PendingWaiter> waiters = new HashSet<>();
        private boolean finished;

        Flight(long startedNanos) {
            this.startedNanos = startedNanos;
        }

        synchronized boolean add(PendingWaiter waiter) {
            if (finished) {
                return false;
            }
            waiters.add(waiter);
            return true;
        }

        synchronized void remove(PendingWaiter waiter) {
            waiters.remove(waiter);
        }

        synchronized List<PendingWaiter> finish() {
            finished = true;
            List<PendingWaiter> all = List.copyOf(waiters);
            waiters.clear();
            return all;
        }
    }

    /** Settled exactly once: by delivery, by its timeout or by cancel, whichever comes first. */
    private static final class PendingWaiter implements Waiter {
        private final Flight flight;
        private final EventExecutor executor;
        private final Consumer<CachedResponse> callback;
        private final AtomicBoolean settled = new AtomicBoolean();
        private volatile boolean cancelled;
        private volatile ScheduledFuture<?> timer;

        PendingWaiter(Flight flight, EventExecutor executor, Consumer<CachedResponse> callback) {
            this.flight = flight;
            this.executor = executor;
            this.callback = callback;
        }

        void startTimer(long nanos) {
            ScheduledFuture<?> scheduled = executor.schedule(this::timeOut, nanos, TimeUnit.NANOSECONDS);
            timer = scheduled;
            if (settled.get()) {
                // Delivered or cancelled before the timer existed to be cancelled.
                scheduled.cancel(false);
            }
        }

        void deliver(CachedResponse stored) {
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            cancelTimer();
            try {
                executor.execute(() -> invoke(stored));
            } catch (RejectedExecutionException e) {
                // The event loop is shutting down, and with it the connection that was waiting: nobody to answer.
            }
        }

        private void timeOut() {
            if (settled.compareAndSet(false, true)) {
                flight.remove(this);
                invoke(null);
            }
        }

        @Override
        public void cancel() {
            cancelled = true;
            if (settled.compareAndSet(false, true)) {
                cancelTimer();
                flight.remove(this);
            }
        }

        private void invoke(CachedResponse stored) {
            if (!cancelled) {
                callback.accept(stored);
            }
        }

        private void cancelTimer() {
            ScheduledFuture<?> scheduled = timer;
            if (scheduled != null) {
                scheduled.cancel(false);
            }
        }
    }
}
