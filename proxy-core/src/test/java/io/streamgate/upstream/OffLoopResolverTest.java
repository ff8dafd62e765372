package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Host names of backends are looked up off the event loop that connects; literals are not looked up at all. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OffLoopResolverTest {
    private final DefaultEventLoop loop = new DefaultEventLoop();
    private final ExecutorService lookupThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-lookup"));
    private final AtomicInteger lookups = new AtomicInteger();
    private final AtomicReference<String> lookupThreadName = new AtomicReference<>();
    private final CountDownLatch answer = new CountDownLatch(1);

    /** Stands in for a DNS server: "slow.test" answers when the test says so, "nope.test" does not exist. */
    private final OffLoopResolver resolver = new OffLoopResolver(host -> {
        lookups.incrementAndGet();
        lookupThreadName.set(Thread.currentThread().getName());
        if (host.equals("nope.test")) {
            throw new UnknownHostException(host);
        }
        try {
            answer.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new InetAddress[] {InetAddress.getByAddress(host, new byte[] {10, 1, 2, 3}),
                InetAddress.getByAddress(host, new byte[] {10, 1, 2, 4})};
    }, lookupThread, Duration.ofSeconds(10));

    @AfterEach
    void stop() throws Exception {
        answer.countDown();
        resolver.close();
        lookupThread.shutdownNow();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private Future<InetSocketAddress> resolveOnLoop(String host) throws Exception {
        // As Bootstrap does: the resolver of the connecting loop, called on that loop.
        return loop.submit(() -> resolver.getResolver(loop).resolve(InetSocketAddress.createUnresolved(host, 8000)))
                .get(5, TimeUnit.SECONDS);
    }

    @Test
    void aSlowLookupLeavesTheLoopFreeAndCompletesOnIt() throws Exception {
        Future<InetSocketAddress> resolved = resolveOnLoop("slow.test");
        assertFalse(resolved.isDone(), "the DNS server has not answered yet");
        // The loop runs other work while the lookup waits (a resolver on the loop would hold it until the answer).
        assertEquals("ran", loop.submit(() -> "ran").get(2, TimeUnit.SECONDS));
        AtomicBoolean listenerOnLoop = new AtomicBoolean();
        CountDownLatch listened = new CountDownLatch(1);
        resolved.addListener(f -> {
            listenerOnLoop.set(loop.inEventLoop());
            listened.countDown();
        });

        answer.countDown();
        InetSocketAddress address = resolved.get(5, TimeUnit.SECONDS);
        assertEquals("10.1.2.3", address.getAddress().getHostAddress(), "the first address of the answer");
        assertEquals(8000, address.getPort());
        assertEquals("slow.test", address.getHostString());
        assertTrue(listened.await(5, TimeUnit.SECONDS));
        assertTrue(listenerOnLoop.get(), "the connect continues on its own loop");
        assertEquals("test-lookup", lookupThreadName.get());
        assertNotEquals(Thread.currentThread().getName(), lookupThreadName.get());
    }

    @Test
    void connectsToANameWhoseLookupRunsWaitForItInsteadOfLookingUpAgain() throws Exception {
        List<Future<InetSocketAddress>> waiting = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            waiting.add(resolveOnLoop("slow.test"));
        }
        answer.countDown();
        for (Future<InetSocketAddress> resolved : waiting) {
            assertEquals("10.1.2.3", resolved.get(5, TimeUnit.SECONDS).getAddress().getHostAddress());
        }
        assertEquals(1, lookups.get(), "twenty connects shared one lookup");
        resolveOnLoop("slow.test").get(5, TimeUnit.SECONDS);
        assertEquals(2, lookups.get(), "a lookup after the answer is a new one (the JVM's cache decides its cost)");
    }

    @Test
    void aNameWithoutAnAnswerDoesNotHoldUpTheLookupsOfOtherNames() throws Exception {
        ExecutorService twoThreads = Executors.newFixedThreadPool(2);
        OffLoopResolver shared = new OffLoopResolver(host -> {
            if (host.equals("silent.test")) {
                try {
                    answer.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return new InetAddress[] {InetAddress.getByAddress(host, new byte[] {10, 9, 9, 9})};
        }, twoThreads, Duration.ofSeconds(10));
        try {
            List<Future<InetSocketAddress>> silent = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                silent.add(loop.submit(() -> shared.getResolver(loop)
                        .resolve(InetSocketAddress.createUnresolved("silent.test", 80))).get(5, TimeUnit.SECONDS));
            }
            Future<InetSocketAddress> other = loop.submit(() -> shared.getResolver(loop)
                    .resolve(InetSocketAddress.createUnresolved("other.test", 80))).get(5, TimeUnit.SECONDS);
            assertEquals("10.9.9.9", other.get(5, TimeUnit.SECONDS).getAddress().getHostAddress(),
                    "another name is answered while silent.test waits");
            assertFalse(silent.get(0).isDone());
        } finally {
            answer.countDown();
            shared.close();
            twoThreads.shutdownNow();
        }
    }

    @Test
    void resolveAllGivesEveryAddressOfTheAnswer() throws Exception {
        answer.countDown();
        Future<List<InetSocketAddress>> all = loop.submit(() -> resolver.getResolver(loop)
                .resolveAll(InetSocketAddress.createUnresolved("slow.test", 80))).get(5, TimeUnit.SECONDS);
        List<InetSocketAddress> addresses = all.get(5, TimeUnit.SECONDS);
        assertEquals(List.of("10.1.2.3", "10.1.2.4"),
                addresses.stream().map(a -> a.getAddress().getHostAddress()).toList());
    }

    @Test
    void literalAddressesAreParsedOnTheLoopWithoutALookup() throws Exception {
        for (String literal : new String[] {"127.0.0.1", "::1", "[::1]", "10.0.0.7"}) {
            Future<InetSocketAddress> resolved = resolveOnLoop(literal);
            assertTrue(resolved.isDone(), literal + " is done at once");
            InetAddress expected = InetAddress.getByName(literal.replace("[", "").replace("]", ""));
            assertEquals(expected, resolved.getNow().getAddress(), literal);
        }
        assertEquals(0, lookups.get(), "no literal went to the lookup threads");
    }

    @Test
    void anUnknownNameFailsTheResolutionWithTheLookupsError() throws Exception {
        Future<InetSocketAddress> resolved = resolveOnLoop("nope.test");
        ExecutionException e = assertThrows(ExecutionException.class, () -> resolved.get(5, TimeUnit.SECONDS));
        assertInstanceOf(UnknownHostException.class, e.getCause());
        assertEquals(1, lookups.get());
    }

    @Test
    void aLookupWithoutAnAnswerFailsAtTheTimeout() throws Exception {
        OffLoopResolver impatient = new OffLoopResolver(host -> {
            try {
                answer.await(20, TimeUnit.SECONDS); // a DNS server that never answers (until the test ends)
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new UnknownHostException("late");
        }, lookupThread, Duration.ofMillis(300));
        try {
            long start = System.nanoTime();
            Future<InetSocketAddress> resolved = loop.submit(() -> impatient.getResolver(loop)
                    .resolve(InetSocketAddress.createUnresolved("silent.test", 80))).get(5, TimeUnit.SECONDS);
            ExecutionException e = assertThrows(ExecutionException.class, () -> resolved.get(10, TimeUnit.SECONDS));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertInstanceOf(UnknownHostException.class, e.getCause());
            assertEquals("silent.test: no answer within 300 ms", e.getCause().getMessage());
            assertTrue(tookMillis >= 250 && tookMillis < 5000, "failed after " + tookMillis + " ms");
        } finally {
            impatient.close();
        }
    }
}
