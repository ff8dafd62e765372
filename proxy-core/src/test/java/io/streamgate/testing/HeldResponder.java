package io.streamgate.testing;

import io.streamgate.testing.TestBackend.Responder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Responder} that takes each request (head and body) and then holds its answer until the test releases
 * that request by its target, so a test can keep chosen requests in flight through the proxy and finish them in the
 * order it wants. Released answers come from the wrapped responder. Thread-safe: backend workers wait in
 * {@link #respond} while the test thread releases.
 */
public final class HeldResponder implements Responder {
    /** Longest a request is held; a test that forgets to release fails instead of hanging. */
    private static final long HOLD_LIMIT_SECONDS = 20;

    private final Responder then;
    private final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
    private final Object arrivals = new Object();
    private int arrived;
    private volatile boolean allReleased;

    public HeldResponder(Responder then) {
        this.then = then;
    }

    @Override
    public void respond(BackendExchange exchange) throws Exception {
        exchange.awaitBody(30);
        synchronized (arrivals) {
            arrived++;
            arrivals.notifyAll();
        }
        if (!allReleased && !gate(exchange.uri()).await(HOLD_LIMIT_SECONDS, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the test never released " + exchange.uri());
        }
        then.respond(exchange);
    }

    private CountDownLatch gate(String uri) {
        return gates.computeIfAbsent(uri, u -> new CountDownLatch(1));
    }

    /** Lets every request for {@code uri} (request target as the backend sees it) be answered, now or when it comes. */
    public void release(String uri) {
        gate(uri).countDown();
    }

    /** Lets every request, held or future, be answered. */
    public void releaseAll() {
        allReleased = true;
        gates.values().forEach(CountDownLatch::countDown);
    }

    /** Requests that arrived whole so far, held or answered. */
    public int arrived() {
        synchronized (arrivals) {
            return arrived;
        }
    }

    /** Waits until at least {@code n} requests arrived; fails after {@code timeoutMillis}. */
    public void awaitArrived(int n, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (arrivals) {
            while (arrived < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("expected " + n + " requests at the backend within " + timeoutMillis
                            + " ms, got " + arrived);
                }
                TimeUnit.NANOSECONDS.timedWait(arrivals, left);
            }
        }
    }
}
