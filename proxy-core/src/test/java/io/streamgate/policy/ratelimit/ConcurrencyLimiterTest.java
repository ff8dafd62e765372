package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ConcurrencyLimiterTest {
    private static final long WAIT_SECONDS = 10;

    private final List<EventExecutor> executors = new ArrayList<>();

    @AfterEach
    void stopExecutors() {
        for (EventExecutor executor : executors) {
            executor.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly(WAIT_SECONDS, TimeUnit.SECONDS);
        }
    }

    private EventExecutor executor() {
        EventExecutor executor = new DefaultEventExecutor();
        executors.add(executor);
        return executor;
    }

    private static ConcurrencyLimiter limiter(int concurrent, int queue, Duration queueTimeout) {
        return RateLimiters.create(List.of(Rules.concurrency("c", concurrent, queue, queueTimeout)), null,
                NanoClock.SYSTEM).concurrency("c");
    }

    /** Collects callback results; Optional.empty() stands for a null (refused). */
    private static final class Outcomes implements Consumer<Permit> {
        final LinkedBlockingQueue<Optional<Permit>> results = new LinkedBlockingQueue<>();

        @Override
        public void accept(Permit permit) {
            results.add(Optional.ofNullable(permit));
        }

        Permit granted() throws InterruptedException {
            Optional<Permit> result = results.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertNotNull(result, "no callback");
            assertTrue(result.isPresent(), "refused instead of granted");
            return result.get();
        }

        void refused() throws InterruptedException {
            Optional<Permit> result = results.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertNotNull(result, "no callback");
            assertFalse(result.isPresent(), "granted instead of refused");
        }
    }

    /** Waits until every task submitted to {@code executor} so far has run. */
    private static void drain(EventExecutor executor) throws Exception {
        executor.submit(() -> { }).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Test
    void admitsUpToTheLimitPerKeyAndForgetsIdleKeys() {
        ConcurrencyLimiter limiter = limiter(2, 0, null);
        Permit first = limiter.tryAcquire("k");
        Permit second = limiter.tryAcquire("k");
        assertNotNull(first);
        assertNotNull(second);
        assertNull(limiter.tryAcquire("k"));
        assertNotNull(limiter.tryAcquire("other"), "keys are independent");
        assertEquals(2, limiter.inFlight("k"));

        first.release();
        first.release(); // idempotent: must not free the second slot
        assertEquals(1, limiter.inFlight("k"));
        Permit third = limiter.tryAcquire("k");
        assertNotNull(third);
        assertNull(limiter.tryAcquire("k"));

        second.release();
        third.release();
        assertEquals(0, limiter.inFlight("k"));
        assertEquals(1, limiter.keyCount(), "only 'other' still holds a slot");
    }

    @Test
    void waitersAreServedInOrderOnTheirExecutorAndNeverSynchronously() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 3, Duration.ofMinutes(1));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        List<Outcomes> waiters = List.of(new Outcomes(), new Outcomes(), new Outcomes());
        AtomicBoolean offLoop = new AtomicBoolean();
        for (Outcomes waiter : waiters) {
            limiter.enqueue("k", executor, permit -> {
                if (!executor.inEventLoop()) {
                    offLoop.set(true);
                }
                waiter.accept(permit);
            });
        }
        assertEquals(3, limiter.waiting("k"));
        assertNull(limiter.tryAcquire("k"), "a newcomer does not overtake the queue");

        held.release();
        Permit first = waiters.get(0).granted();
        assertEquals(1, limiter.inFlight("k"), "the slot was handed over, not freed");
        assertEquals(2, limiter.waiting("k"));
        drain(executor);
        assertTrue(waiters.get(1).results.isEmpty() && waiters.get(2).results.isEmpty());

        first.release();
        Permit second = waiters.get(1).granted();
        assertTrue(waiters.get(2).results.isEmpty());
        second.release();
        waiters.get(2).granted().release();
        assertFalse(offLoop.get(), "callbacks run on the waiter's executor");
        assertEquals(0, limiter.inFlight("k"));
        assertEquals(0, limiter.keyCount());

        Outcomes free = new Outcomes();
        AtomicBoolean calledInline = new AtomicBoolean(true);
        Thread caller = Thread.currentThread();
        limiter.enqueue("k", executor, permit -> {
            calledInline.set(Thread.currentThread() == caller);
            free.accept(permit);
        });
        free.granted().release();
        assertFalse(calledInline.get(), "a free slot is still delivered by the executor");
    }

    @Test
    void aFullQueueRefusesAtOnce() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 1, Duration.ofMinutes(1));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        Outcomes queued = new Outcomes();
        Outcomes overflow = new Outcomes();
        limiter.enqueue("k", executor, queued);
        limiter.enqueue("k", executor, overflow);
        overflow.refused();
        assertEquals(1, limiter.waiting("k"));
        held.release();
        queued.granted().release();
        assertEquals(0, limiter.keyCount());
    }

    @Test
    void aWaiterIsRefusedWhenTheQueueTimeoutPasses() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 2, Duration.ofMillis(200));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        Outcomes waiter = new Outcomes();
        limiter.enqueue("k", executor, waiter);
        waiter.refused();
        assertEquals(0, limiter.waiting("k"));
        held.release();
        drain(executor);
        assertTrue(waiter.results.isEmpty(), "a timed-out waiter gets nothing later");
        assertEquals(0, limiter.inFlight("k"));
        assertEquals(0, limiter.keyCount());
    }

    @Test
    void aCancelledWaiterIsSkipped() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 2, Duration.ofMinutes(1));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        Outcomes gone = new Outcomes();
        Outcomes next = new Outcomes();
        Waiter cancelled = limiter.enqueue("k", executor, gone);
        limiter.enqueue("k", executor, next);
        cancelled.cancel();
        cancelled.cancel();
        assertEquals(1, limiter.waiting("k"));
        held.release();
        next.granted().release();
        drain(executor);
        assertTrue(gone.results.isEmpty());
        assertEquals(0, limiter.keyCount());
    }

    @Test
    void aPermitGrantedWhileTheWaiterCancelsIsReleasedNotLeaked() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 1, Duration.ofMinutes(1));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        Outcomes waiter = new Outcomes();
        Waiter handle = limiter.enqueue("k", executor, waiter);
        CountDownLatch blocked = new CountDownLatch(1);
        executor.execute(() -> {
            try {
                blocked.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        held.release(); // hands the slot to the waiter; the delivery task queues behind the blocker
        assertEquals(1, limiter.inFlight("k"));
        handle.cancel();
        blocked.countDown();
        drain(executor);
        assertTrue(waiter.results.isEmpty(), "cancelled before delivery: no callback");
        assertEquals(0, limiter.inFlight("k"));
        assertEquals(0, limiter.keyCount());
    }

    @Test
    void aCallbackThatThrowsDoesNotKeepTheSlot() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 0, null);
        EventExecutor executor = executor();
        limiter.enqueue("k", executor, permit -> {
            throw new IllegalStateException("handler bug (expected by the test)");
        });
        drain(executor);
        assertEquals(0, limiter.inFlight("k"));
    }

    @Test
    void aShutDownExecutorWithdrawsTheWait() throws Exception {
        ConcurrencyLimiter limiter = limiter(1, 1, Duration.ofMinutes(1));
        EventExecutor executor = executor();
        Permit held = limiter.tryAcquire("k");
        Outcomes waiter = new Outcomes();
        limiter.enqueue("k", executor, waiter);
        executor.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly(WAIT_SECONDS, TimeUnit.SECONDS);
        held.release(); // delivery is rejected: the slot must come back
        assertEquals(0, limiter.inFlight("k"));
        assertEquals(0, limiter.keyCount());
    }

    /**
     * Threads race tryAcquire, enqueue, cancel, release (twice) and short queue timeouts on two executors. Every
     * holder counts itself in while it holds a permit; that count must never exceed the limit, every waiter that
     * was not cancelled must be called back exactly once (permit or refusal), and everything must drain to zero.
     */
    @Test
    void stressNeverExceedsTheLimitAndDrainsToZero() throws Exception {
        int limit = 3;
        ConcurrencyLimiter limiter = limiter(limit, 4, Duration.ofMillis(5));
        List<EventExecutor> loops = List.of(executor(), executor());
        String[] keys = {"a", "b"};
        AtomicInteger[] holders = {new AtomicInteger(), new AtomicInteger()};
        AtomicInteger violations = new AtomicInteger();
        Queue<AtomicInteger> mustBeCalledOnce = new ConcurrentLinkedQueue<>();
        int threads = 4;
        int rounds = 3_000;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    start.await();
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = 0; i < rounds; i++) {
                        int k = random.nextInt(keys.length);
                        String key = keys[k];
                        if (random.nextInt(3) == 0) {
                            Permit permit = limiter.tryAcquire(key);
                            if (permit != null) {
                                hold(holders[k], limit, violations);
                                holders[k].decrementAndGet();
                                permit.release();
                                permit.release();
                            }
                            continue;
                        }
                        EventExecutor loop = loops.get(random.nextInt(loops.size()));
                        AtomicInteger calls = new AtomicInteger();
                        boolean releaseLater = random.nextBoolean();
                        Waiter waiter = limiter.enqueue(key, loop, permit -> {
                            calls.incrementAndGet();
                            if (permit == null) {
                                return;
                            }
                            hold(holders[k], limit, violations);
                            if (releaseLater) {
                                loop.schedule(() -> {
                                    holders[k].decrementAndGet();
                                    permit.release();
                                }, random.nextInt(200), TimeUnit.MICROSECONDS);
                            } else {
                                holders[k].decrementAndGet();
                                permit.release();
                            }
                        });
                        if (random.nextInt(4) == 0) {
                            waiter.cancel(); // may still have been called back once, if delivery came first
                        } else {
                            mustBeCalledOnce.add(calls);
                        }
                        if (limiter.inFlight(key) > limit) {
                            violations.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (limiter.keyCount() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            for (EventExecutor loop : loops) {
                drain(loop);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, violations.get(), "more holders than the limit");
        assertTrue(mustBeCalledOnce.size() > 1_000, "the test exercised the queue");
        assertEquals(0, mustBeCalledOnce.stream().filter(calls -> calls.get() != 1).count(),
                "waiters not called back exactly once");
        for (String key : keys) {
            assertEquals(0, limiter.inFlight(key), key);
            assertEquals(0, limiter.waiting(key), key);
        }
        assertEquals(0, holders[0].get() + holders[1].get());
        assertEquals(0, limiter.keyCount());
    }

    private static void hold(AtomicInteger holders, int limit, AtomicInteger violations) {
        if (holders.incrementAndGet() > limit) {
            violations.incrementAndGet();
        }
    }
}
