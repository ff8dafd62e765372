package io.streamgate.policy.ratelimit;

import io.netty.util.concurrent.EventExecutor;
import io.streamgate.config.RateLimitConfig;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.function.Function;

/**
 * A CONCURRENCY rule: at most {@code config.concurrent()} requests in flight per key, with up to
 * {@code config.queue()} more waiting in FIFO order for at most {@code config.queueTimeout()}.
 *
 * <p>Thread-safe. Each key's state is guarded by its own monitor (held only for a few field updates, never
 * while calling back), and is dropped from the map as soon as nothing is in flight or waiting, so idle keys cost
 * no memory. A released slot passes straight to the oldest waiter without being freed in between, so a newcomer
 * cannot overtake the queue; invariant: a key has waiters only while all its slots are taken.
 *
 * <p>A waiter moves once out of WAITING, by compare-and-set: to GRANTED (a slot was handed to it), CANCELLED or
 * REFUSED (queue full or timed out). GRANTED is then resolved on the waiter's executor to DELIVERED (the
 * callback gets the permit) or, if cancel() got there first, CANCELLED, and the delivery releases the permit. So
 * a slot is never lost or granted twice whatever the interleaving of release, cancel and timeout.
 */
public final class ConcurrencyLimiter {
    private static final Logger LOG = LoggerFactory.getLogger(ConcurrencyLimiter.class);
    private final RateLimitConfig config;
    private final int limit;
    private final int queueLimit;
    private final long queueTimeoutNanos;
    private final ConcurrentHashMap<String, KeyState> states = new ConcurrentHashMap<>();
    private final Function<String, KeyState> newState = KeyState::new;

    ConcurrencyLimiter(RateLimitConfig config) {
        this.config = config;
        this.limit = config.concurrent();
        this.queueLimit = config.queue();
        this.queueTimeoutNanos = queueLimit == 0 ? 0 : config.queueTimeout().toNanos();
    }

    public RateLimitConfig config() {
        return config;
    }

    /** Admits at once, or returns null when the key is at its limit (waiters or not). */
    public Permit tryAcquire(String key) {
        while (true) {
            KeyState state = states.computeIfAbsent(key, newState);
            synchronized (state) {
                if (state.removed) {
                    continue;
                }
                if (state.inFlight < limit) {
                    state.inFlight++;
                    return new Grant(state);
                }
                return null;
            }
        }
    }

    /**
     * Waits for a permit: later calls back on {@code executor} (which also times the queue) with a permit, or
     * with null when refused (the queue was already full, or queue_timeout passed). Never calls back
     * synchronously; a free slot is taken at once and delivered by a task on {@code executor}. If the executor
     * rejects tasks (shut down), the wait is withdrawn and the callback never runs.
     */
    public Waiter enqueue(String key, EventExecutor executor, Consumer<Permit> callback) {
        QueuedRequest request = new QueuedRequest(executor, callback);
        int outcome;
        while (true) {
            KeyState state = states.computeIfAbsent(key, newState);
            synchronized (state) {
                if (state.removed) {
                    continue;
                }
                request.state = state;
                if (state.inFlight < limit) {
                    state.inFlight++;
                    request.status.set(QueuedRequest.GRANTED);
                    outcome = QueuedRequest.GRANTED;
                } else if (state.queue.size() < queueLimit) {
                    state.queue.addLast(request);
                    outcome = QueuedRequest.WAITING;
                } else {
                    outcome = QueuedRequest.REFUSED;
                }
            }
            break;
        }
        if (outcome == QueuedRequest.GRANTED) {
            request.deliver(new Grant(request.state));
        } else if (outcome == QueuedRequest.WAITING) {
            request.startTimeout();
        } else {
            request.refuseLater();
        }
        return request;
    }

    /** Requests holding a slot of {@code key}. For tests and metrics. */
    public int inFlight(String key) {
        KeyState state = states.get(key);
        if (state == null) {
            return 0;
        }
        synchronized (state) {
            return state.inFlight;
        }
    }

    /** Requests queued for {@code key} (a cancelled one may count until its cancel() returns). */
    public int waiting(String key) {
        KeyState state = states.get(key);
        if (state == null) {
            return 0;
        }
        synchronized (state) {
            return state.queue.size();
        }
    }

    /** Keys with anything in flight or waiting. For tests. */
    int keyCount() {
        return states.size();
    }

    /** Frees a slot of {@code state}, or hands it to the oldest waiter still waiting. */
    private void releaseSlot(KeyState state) {
        QueuedRequest next = null;
        synchronized (state) {
            QueuedRequest candidate;
            while ((candidate = state.queue.pollFirst()) != null) {
                if (candidate.status.compareAndSet(QueuedRequest.WAITING, QueuedRequest.GRANTED)) {
                    next = candidate;
                    break;
                }
            }
            if (next == null) {
                state.inFlight--;
                removeIfIdle(state);
            }
        }
        if (next != null) {
            next.deliver(new Grant(state));
        }
    }

    /** Takes a waiter that left out of the queue. */
    private void withdraw(QueuedRequest request) {
        KeyState state = request.state;
        synchronized (state) {
            state.queue.remove(request);
            removeIfIdle(state);
        }
    }

    /** Caller holds the monitor of {@code state}. */
    private void removeIfIdle(KeyState state) {
        if (state.inFlight == 0 && state.queue.isEmpty()) {
            state.removed = true;
            states.remove(state.key, state);
        }
    }

    /** Per-key counters, guarded by its own monitor; {@code removed} once dropped from the map (then stale). */
    private static final class KeyState {
        final String key;
        final ArrayDeque<QueuedRequest> queue = new ArrayDeque<>();
        int inFlight;
        boolean removed;

        KeyState(String key) {
            this.key = key;
        }
    }

    /** A slot; release is idempotent. */
    private final class Grant implements Permit {
        private final KeyState state;
        private final AtomicBoolean released = new AtomicBoolean();

        Grant(KeyState state) {
            this.state = state;
        }

        @Override
        public void release() {
            if (released.compareAndSet(false, true)) {
                releaseSlot(state);
            }
        }
    }

    /** One enqueue() call; see the class comment for its states. */
    private final class QueuedRequest implements Waiter {
        static final int WAITING = 0;
        static final int GRANTED = 1;
        static final int DELIVERED = 2;
        static final int CANCELLED = 3;
        static final int REFUSED = 4;

        final AtomicInteger status = new AtomicInteger(WAITING);
        private final EventExecutor executor;
        private final Consumer<Permit> callback;
        /** Set under the key's monitor before the request is visible to other threads. */
        KeyState state;
        private volatile ScheduledFuture<?> timeout;

        QueuedRequest(EventExecutor executor, Consumer<Permit> callback) {
            this.executor = executor;
            this.callback = callback;
        }

        /** Status is GRANTED: hands {@code permit} over on the executor unless cancel() wins. */
        void deliver(Grant permit) {
            try {
                executor.execute(() -> {
                    if (status.compareAndSet(GRANTED, DELIVERED)) {
                        stopTimeout();
                        accept(permit);
                    } else {
                        permit.release();
                    }
                });
            } catch (RejectedExecutionException e) {
                status.set(CANCELLED);
                permit.release();
            }
        }

        void startTimeout() {
            try {
                timeout = executor.schedule(this::expire, queueTimeoutNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                cancel();
                return;
            }
            if (status.get() != WAITING) {
                stopTimeout(); // granted or cancelled while scheduling
            }
        }

        void refuseLater() {
            try {
                executor.execute(this::refuse);
            } catch (RejectedExecutionException e) {
                status.set(CANCELLED);
            }
        }

        private void expire() {
            if (status.compareAndSet(WAITING, REFUSED)) {
                withdraw(this);
                callback.accept(null);
            }
        }

        private void refuse() {
            if (status.compareAndSet(WAITING, REFUSED)) {
                callback.accept(null);
            }
        }

        /**
         * A callback that throws must not keep the slot: the permit is released (idempotently) and the failure logged,
         * not rethrown, because some executors (Netty's DefaultEventExecutor) stop for good on a task that throws.
         */
        private void accept(Grant permit) {
            try {
                callback.accept(permit);
            } catch (RuntimeException e) {
                permit.release();
                LOG.error("a rate-limit queue callback failed; its slot was released", e);
            } catch (Error e) {
                permit.release();
                throw e;
            }
        }

        @Override
        public void cancel() {
            while (true) {
                int current = status.get();
                if (current == WAITING) {
                    if (status.compareAndSet(WAITING, CANCELLED)) {
                        stopTimeout();
                        withdraw(this);
                        return;
                    }
                } else if (current == GRANTED) {
                    if (status.compareAndSet(GRANTED, CANCELLED)) {
                        stopTimeout();
                        return; // the pending delivery task releases the permit
                    }
                } else {
                    return;
                }
            }
        }

        private void stopTimeout() {
            ScheduledFuture<?> t = timeout;
            if (t != null) {
                t.cancel(false);
            }
        }
    }
}
