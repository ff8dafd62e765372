package io.streamgate.bench;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

import java.net.URI;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What all slots of one probe run share: the target, the time window, the histogram and the counters.
 * Only events received inside [measureFrom, deadline) are recorded, so runs of equal length are comparable.
 */
final class ProbeRun {
    private final URI url;
    private final long measureFrom;
    private final long deadline;
    private final int concurrency;
    /** Nanoseconds, up to 10 minutes, 3 significant digits. Written from several event loops. */
    private final Histogram latencies = new ConcurrentHistogram(TimeUnit.MINUTES.toNanos(10), 3);
    private final AtomicLong streamsCompleted = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final CountDownLatch slotsDone;

    ProbeRun(URI url, long measureFrom, long deadline, int concurrency) {
        this.url = url;
        this.measureFrom = measureFrom;
        this.deadline = deadline;
        this.concurrency = concurrency;
        this.slotsDone = new CountDownLatch(concurrency);
    }

    URI url() {
        return url;
    }

    int concurrency() {
        return concurrency;
    }

    boolean pastDeadline(long nanoTime) {
        return nanoTime - deadline >= 0;
    }

    void recordLatency(long sentNanos, long receivedNanos) {
        if (receivedNanos - measureFrom >= 0 && receivedNanos - deadline < 0) {
            latencies.recordValue(Math.min(Math.max(0, receivedNanos - sentNanos), latencies.getHighestTrackableValue()));
        }
    }

    void streamCompleted() {
        streamsCompleted.incrementAndGet();
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

    Histogram latencies() {
        return latencies;
    }

    long streamsCompleted() {
        return streamsCompleted.get();
    }

    long errors() {
        return errors.get();
    }
}
