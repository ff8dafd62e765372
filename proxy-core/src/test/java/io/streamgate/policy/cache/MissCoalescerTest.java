package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MissCoalescerTest {
    /** Generous upper bound for waiting on another thread; never a speed assertion. */
    private static final long WAIT_SECONDS = 10;
    private static final Duration LONG_LOCK = Duration.ofMinutes(5);
    private static final CacheKey KEY = CacheKeys.of("r", "GET", "h", "/v1/models", null, null);
    private static final CachedResponse ENTRY = new CachedResponse(200, List.of(Map.entry("a", "b")),
            new byte[] {42}, false, 0, 0, Long.MAX_VALUE / 2);

    private final DefaultEventExecutor loopA = new DefaultEventExecutor();
    private final DefaultEventExecutor loopB = new DefaultEventExecutor();

    @AfterEach
    void shutDown() {
        loopA.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        loopB.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** What a callback saw: the entry and whether it ran on the waiter's own executor. */
    private record Delivery(CachedResponse entry, boolean onOwnExecutor) {
    }

    private static CompletableFuture<Delivery> waitFor(MissCoalescer coalescer, CacheKey key, EventExecutor executor,
            AtomicInteger calls) {
        CompletableFuture<Delivery> delivered = new CompletableFuture<>();
        MissCoalescer.Waiter waiter = coalescer.join(key, executor, entry -> {
            calls.incrementAndGet();
            delivered.complete(new Delivery(entry, executor.inEventLoop()));
        });
        assertNotNull(waiter, "a leader is already fetching, so this caller must wait");
        return delivered;
    }

    /** Runs everything queued on the executor before this call (it is FIFO), so late callbacks would have run. */
    private static void drain(EventExecutor executor) throws Exception {
        executor.submit(() -> { }).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    @Test
    void firstCallerLeadsAndWaitersGetTheStoredEntryOnTheirOwnExecutors() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        assertNull(coalescer.join(KEY, loopA, e -> { }), "the first caller is the leader");
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Delivery> onA = waitFor(coalescer, KEY, loopA, calls);
        CompletableFuture<Delivery> onB = waitFor(coalescer, KEY, loopB, calls);
        assertFalse(onA.isDone() || onB.isDone());

        coalescer.complete(KEY, ENTRY);

        Delivery a = onA.get(WAIT_SECONDS, TimeUnit.SECONDS);
        Delivery b = onB.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertSame(ENTRY, a.entry());
        assertSame(ENTRY, b.entry());
        assertTrue(a.onOwnExecutor() && b.onOwnExecutor());
        drain(loopA);
        drain(loopB);
        assertEquals(2, calls.get(), "each waiter is called exactly once");
    }

    @Test
    void uncacheableOrFailedLeaderSendsWaitersToTheBackend() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        assertNull(coalescer.join(KEY, loopA, e -> { }));
        CompletableFuture<Delivery> w = waitFor(coalescer, KEY, loopB, new AtomicInteger());
        coalescer.complete(KEY, null);
        Delivery d = w.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertNull(d.entry());
        assertTrue(d.onOwnExecutor());

        assertNull(coalescer.join(KEY, loopA, e -> { }));
        CompletableFuture<Delivery> w2 = waitFor(coalescer, KEY, loopB, new AtomicInteger());
        coalescer.abandon(KEY);
        assertNull(w2.get(WAIT_SECONDS, TimeUnit.SECONDS).entry());
    }

    @Test
    void neverCallsBackSynchronously() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Delivery> delivered = new CompletableFuture<>();
        int callsRightAfterComplete = loopA.submit(() -> {
            assertNull(coalescer.join(KEY, loopA, e -> { }));
            coalescer.join(KEY, loopA, e -> {
                calls.incrementAndGet();
                delivered.complete(new Delivery(e, loopA.inEventLoop()));
            });
            coalescer.complete(KEY, ENTRY);
            return calls.get();
        }).get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertEquals(0, callsRightAfterComplete, "complete on the waiter's own loop must not run its callback inline");
        assertSame(ENTRY, delivered.get(WAIT_SECONDS, TimeUnit.SECONDS).entry());
    }

    @Test
    void waitersGiveUpAfterTheLockTimeoutAndAnOverdueLeaderIsReplaced() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(Duration.ofMillis(200));
        assertNull(coalescer.join(KEY, loopA, e -> { }));
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Delivery> w = waitFor(coalescer, KEY, loopB, calls);

        Delivery timedOut = w.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertNull(timedOut.entry(), "no answer within the lock timeout: go to the backend yourself");
        assertTrue(timedOut.onOwnExecutor());

        assertNull(coalescer.join(KEY, loopA, e -> { }), "the stuck leader no longer holds the key");
        CompletableFuture<Delivery> next = waitFor(coalescer, KEY, loopA, new AtomicInteger());
        coalescer.complete(KEY, ENTRY);
        assertSame(ENTRY, next.get(WAIT_SECONDS, TimeUnit.SECONDS).entry());
        drain(loopB);
        assertEquals(1, calls.get(), "a timed-out waiter is not called again");
    }

    @Test
    void cancelledWaitersAreNotCalled() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        assertNull(coalescer.join(KEY, loopA, e -> { }));
        AtomicInteger cancelledCalls = new AtomicInteger();
        MissCoalescer.Waiter cancelled = coalescer.join(KEY, loopA, e -> cancelledCalls.incrementAndGet());
        CompletableFuture<Delivery> other = waitFor(coalescer, KEY, loopB, new AtomicInteger());
        cancelled.cancel();
        cancelled.cancel();
        coalescer.complete(KEY, ENTRY);
        assertSame(ENTRY, other.get(WAIT_SECONDS, TimeUnit.SECONDS).entry());
        drain(loopA);
        assertEquals(0, cancelledCalls.get());
    }

    @Test
    void cancelOnTheOwnLoopWinsOverAnAlreadyQueuedDelivery() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        AtomicInteger calls = new AtomicInteger();
        loopA.submit(() -> {
            assertNull(coalescer.join(KEY, loopA, e -> { }));
            MissCoalescer.Waiter waiter = coalescer.join(KEY, loopA, e -> calls.incrementAndGet());
            coalescer.complete(KEY, ENTRY);
            waiter.cancel();
        }).get(WAIT_SECONDS, TimeUnit.SECONDS);
        drain(loopA);
        assertEquals(0, calls.get());
    }

    @Test
    void aNewLeaderStartsAfterComplete() {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        assertNull(coalescer.join(KEY, loopA, e -> { }));
        assertNotNull(coalescer.join(KEY, loopA, e -> { }));
        coalescer.complete(KEY, ENTRY);
        assertNull(coalescer.join(KEY, loopA, e -> { }), "the flight is over; the next miss leads again");
        coalescer.complete(KEY, null);
        coalescer.complete(KEY, null);
    }

    @Test
    void keysAreIndependent() throws Exception {
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        CacheKey other = CacheKeys.of("r", "GET", "h", "/v1/other", null, null);
        assertNull(coalescer.join(KEY, loopA, e -> { }));
        assertNull(coalescer.join(other, loopA, e -> { }), "another key has its own leader");
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Delivery> onKey = waitFor(coalescer, KEY, loopA, calls);
        coalescer.complete(other, ENTRY);
        drain(loopA);
        assertFalse(onKey.isDone(), "completing another key does not release this one");
        coalescer.complete(KEY, null);
        assertNull(onKey.get(WAIT_SECONDS, TimeUnit.SECONDS).entry());
    }

    @Test
    void concurrentJoinsElectExactlyOneLeader() throws Exception {
        int threads = 16;
        MissCoalescer coalescer = new MissCoalescer(LONG_LOCK);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 50; round++) {
                CacheKey key = CacheKeys.of("r", "GET", "h", "/round/" + round, null, null);
                CountDownLatch start = new CountDownLatch(1);
                AtomicInteger delivered = new AtomicInteger();
                AtomicBoolean wrong = new AtomicBoolean();
                CountDownLatch allDelivered = new CountDownLatch(threads - 1);
                List<Future<Boolean>> leaders = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    EventExecutor loop = t % 2 == 0 ? loopA : loopB;
                    leaders.add(pool.submit(() -> {
                        start.await();
                        return coalescer.join(key, loop, e -> {
                            if (e != ENTRY || !loop.inEventLoop()) {
                                wrong.set(true);
                            }
                            delivered.incrementAndGet();
                            allDelivered.countDown();
                        }) == null;
                    }));
                }
                start.countDown();
                int leaderCount = 0;
                for (Future<Boolean> f : leaders) {
                    leaderCount += f.get(WAIT_SECONDS, TimeUnit.SECONDS) ? 1 : 0;
                }
                assertEquals(1, leaderCount, "round " + round);
                coalescer.complete(key, ENTRY);
                assertTrue(allDelivered.await(WAIT_SECONDS, TimeUnit.SECONDS), "round " + round);
                assertFalse(wrong.get(), "every waiter gets the leader's entry on its own loop");
                drain(loopA);
                drain(loopB);
                assertEquals(threads - 1, delivered.get(), "round " + round);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void lockTimeoutMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new MissCoalescer(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> new MissCoalescer(Duration.ofMillis(-1)));
    }
}
