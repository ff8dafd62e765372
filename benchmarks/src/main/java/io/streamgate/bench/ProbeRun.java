package io.streamgate.bench;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

import java.net.URI;
import java.util.ConcurrentModificationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What all slots of one probe run share: the target, the time window, the histogram and the counters.
 * Only events received inside [measureFrom, deadline) are recorded, so runs of equal length are comparable; in
 * fixed mode (one stream per connection, no reconnects) every event from measureFrom on is recorded. Every event that
 * carries a send time is counted in {@link #eventsTotal()}, warm-up or not.
 */
final class ProbeRun {
    private final URI url;
    private final long measureFrom;
    private final long deadline;
    private final int concurrency;
    private final boolean fixed;
    /** Nanoseconds, up to 10 minutes, 3 significant digits. Written from several event loops. */
    private final Histogram latencies = new ConcurrentHistogram(TimeUnit.MINUTES.toNanos(10), 3);
    private final AtomicLong streamsCompleted = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong connected = new AtomicLong();
    private final LongAdder eventsTotal = new LongAdder();
    /** nanoTime when the C-th connection opened; 0 until then. */
    private volatile long allOpenAt;
    private final CountDownLatch slotsDone;

    ProbeRun(URI url, long measureFrom, long deadline, int concurrency, boolean fixed) {
        this.url = url;
        this.measureFrom = measureFrom;
        this.deadline = deadline;
        this.concurrency = concurrency;
        this.fixed = fixed;
        this.slotsDone = new CountDownLatch(concurrency);
    }

    URI url() {
        return url;
    }

    int concurrency() {
        return concurrency;
    }

    /** Each connection runs exactly one stream and is not replaced when it ends or fails. */
    boolean fixed() {
        return fixed;
    }

    boolean pastDeadline(long nanoTime) {
        return nanoTime - deadline >= 0;
    }

    void recordLatency(long sentNanos, long receivedNanos) {
        eventsTotal.increment();
        if (receivedNanos - measureFrom >= 0 && (fixed || receivedNanos - deadline < 0)) {
            latencies.recordValue(Math.min(Math.max(0, receivedNanos - sentNanos), latencies.getHighestTrackableValue()));
        }
    }

    void streamCompleted() {
        streamsCompleted.incrementAndGet();
    }

    void connected() {
        if (connected.incrementAndGet() == concurrency) {
            allOpenAt = System.nanoTime();
        }
    }

    /** When all C connections had opened (the C-th open, counting reconnects), or 0 if that never happened. */
    long allOpenAt() {
        return allOpenAt;
    }

    void error() {
        errors.incrementAndGet();
    }

    void slotDone() {
        slotsDone.countDown();
    }

    boolean awaitSlots(long nanos) throws InterruptedException {
        return slotsDone.await(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    /**
     * A copy to read: streams that outlive the probe's wait (an overloaded target) may still be recording, and
     * iterating the live histogram then fails.
     */
    Histogram latencies() {
        while (true) {
            try {
                return latencies.copy();
            } catch (ConcurrentModificationException e) {
                // a value was recorded while copying: copy again
            }
        }
    }

    long streamsCompleted() {
        return streamsCompleted.get();
    }

    long errors() {
        return errors.get();
    }

    long connections() {
        return connected.get();
    }

    long eventsTotal() {
        return eventsTotal.sum();
    }
}
