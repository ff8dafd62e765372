package io.streamgate.testing;

import io.netty.channel.Channel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** One TCP connection the test backend accepted (from the proxy's connection pool). */
public final class BackendConnection {
    private final int id;
    private final Channel channel;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicInteger requests = new AtomicInteger();

    BackendConnection(int id, Channel channel) {
        this.id = id;
        this.channel = channel;
        channel.closeFuture().addListener(f -> closed.complete(null));
    }

    /** 1-based, in accept order. */
    public int id() {
        return id;
    }

    /** Completes when the connection is closed, by either side. */
    public CompletableFuture<Void> closed() {
        return closed;
    }

    public boolean isOpen() {
        return !closed.isDone();
    }

    /** How many request heads arrived on this connection. */
    public int requests() {
        return requests.get();
    }

    void requestArrived() {
        requests.incrementAndGet();
    }

    Channel channel() {
        return channel;
    }

    @Override
    public String toString() {
        return "connection#" + id + (isOpen() ? "(open" : "(closed") + ", " + requests() + " requests)";
    }
}
