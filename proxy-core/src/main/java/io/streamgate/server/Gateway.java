package io.streamgate.server;

import io.streamgate.upstream.UpstreamPools;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** What every connection of one running gateway shares: the current snapshot, the pools, the drain state. */
public final class Gateway {
    private final AtomicReference<Snapshot> snapshot;
    private final UpstreamPools pools;
    private final AtomicInteger activeExchanges = new AtomicInteger();
    private volatile boolean draining;

    public Gateway(Snapshot initial, UpstreamPools pools) {
        this.snapshot = new AtomicReference<>(initial);
        this.pools = pools;
    }

    public Snapshot snapshot() {
        return snapshot.get();
    }

    public UpstreamPools pools() {
        return pools;
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

    /** Once set, every response closes its connection and idle connections are closed. */
    public boolean draining() {
        return draining;
    }

    public void startDraining() {
        draining = true;
    }
}
