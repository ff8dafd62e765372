package io.streamgate.server;

import io.streamgate.observe.TrafficMeters;
import io.streamgate.policy.cache.MissCoalescer;
import io.streamgate.policy.cache.ResponseCache;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.upstream.UpstreamPools;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What every connection of one running gateway shares: the current snapshot, the pools, the response cache, the
 * meters, the drain state.
 */
public final class Gateway {
    private final AtomicReference<Snapshot> snapshot;
    private final UpstreamPools pools;
    private final ResponseCache cache;
    private final MissCoalescer coalescer;
    private final TrafficMeters meters;
    private final NanoClock clock;
    private final AtomicInteger activeExchanges = new AtomicInteger();
    private final AtomicInteger activeStreams = new AtomicInteger();
    private volatile boolean draining;
    private volatile boolean drainTimed;
    private volatile long drainDeadline;

    /**
     * @param clock time for rate limits and cache ages (tests move it by hand)
     */
    public Gateway(Snapshot initial, UpstreamPools pools, ResponseCache cache, MissCoalescer coalescer, TrafficMeters meters,
                   NanoClock clock) {
        this.snapshot = new AtomicReference<>(initial);
        this.pools = pools;
        this.cache = cache;
        this.coalescer = coalescer;
        this.meters = meters;
        this.clock = clock;
    }

    public Snapshot snapshot() {
        return snapshot.get();
    }

    /**
     * Makes {@code next} the snapshot new requests use; exchanges already running keep theirs. Returns the one replaced.
     */
    public Snapshot swap(Snapshot next) {
        return snapshot.getAndSet(next);
    }

    public UpstreamPools pools() {
        return pools;
    }

    public ResponseCache cache() {
        return cache;
    }

    public MissCoalescer coalescer() {
        return coalescer;
    }

    public TrafficMeters meters() {
        return meters;
    }

    public NanoClock clock() {
        return clock;
    }

    /** Requests whose exchange has not ended, across all connections. */
    public int activeExchanges() {
        return activeExchanges.get();
    }

    void exchangeStarted() {
        activeExchanges.incrementAndGet();
    }

    void exchangeEnded() {
        activeExchanges.decrementAndGet();
    }

    /** Event streams being relayed right now. */
    public int activeStreams() {
        return activeStreams.get();
    }

    void streamStarted() {
        activeStreams.incrementAndGet();
    }

    void streamEnded() {
        activeStreams.decrementAndGet();
    }

    /** Once set, every response closes its connection and idle connections are closed. */
    public boolean draining() {
        return draining;
    }

    public void startDraining() {
        draining = true;
    }

    /**
     * Set by a graceful close before anything is closed: from {@code deadline} (a {@link System#nanoTime()} value) on,
     * the gateway cuts what is still in flight, so a client connection that closes then was closed by us.
     */
    public void drainUntil(long deadline) {
        drainDeadline = deadline;
        drainTimed = true; // written second: a reader that sees it set sees the deadline too
    }

    /** Whether a graceful close's drain time is over: in-flight exchanges ending now were cut by it. */
    public boolean drainTimedOut() {
        return drainTimed && System.nanoTime() - drainDeadline >= 0;
    }
}
