package io.streamgate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Endpoint;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * The connections to one endpoint owned by one event loop. Confined to that loop, so it needs no locks. Idle
 * connections are leased last-in first-out, so surplus ones stay idle and age out; waiting requests are served
 * first-in first-out, in bounded number and for a bounded time.
 */
public final class EndpointPool {
    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final Endpoint endpoint;
    private final String endpointName;
    private final String endpointAuthority;
    private final UpstreamConfig.Pool config;
    private final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private int open;
    private ScheduledFuture<?> evictionTask;
    /** Set when a reload replaced this pool's upstream: connections coming back are closed, not kept. */
    private boolean retired;
    /** Copies of the counts for meters read from other threads; written on this loop after every change. */
    private volatile int publishedOpen;
    private volatile int publishedIdle;
    private volatile int publishedPending;

    private final ConnectHealth health;

    private final SslContext ssl;
    private final String serverName;

    /** @param ssl the TLS context for an {@code https://} endpoint, else null */
    EndpointPool(EventLoop loop, Bootstrap bootstrap, Endpoint endpoint, UpstreamConfig.Pool config, ConnectHealth health,
                 SslContext ssl, String serverName) {
        this.health = health;
        this.ssl = endpoint.tls() ? ssl : null;
        this.serverName = serverName != null ? serverName : endpoint.host();
        this.loop = loop;
        this.bootstrap = bootstrap;
        this.endpoint = endpoint;
        this.endpointName = endpoint.toString();
        this.endpointAuthority = endpoint.authority();
        this.config = config;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    /** {@code http://host:port}, computed once: the endpoint's name in meters and health. */
    String endpointName() {
        return endpointName;
    }

    /** {@code host:port}, computed once for the access log (as nginx's {@code $upstream_addr}). */
    String endpointAuthority() {
        return endpointAuthority;
    }

    /** Connections open or opening, leased or idle. */
    public int openConnections() {
        return open;
    }

    public int idleConnections() {
        return idle.size();
    }

    /** For meters, from any thread: connections open, idle, and requests waiting for one, as last published. */
    public int publishedOpen() {
        return publishedOpen;
    }

    public int publishedIdle() {
        return publishedIdle;
    }

    public int publishedPending() {
        return publishedPending;
    }

    private void publish() {
        publishedOpen = open;
        publishedIdle = idle.size();
        publishedPending = waiters.size();
    }

    /**
     * Leases an idle connection if there is one, or returns null. The common case of a busy pool, taken without the
     * promise {@link #acquire} needs for the rest.
     */
    public UpstreamConnection tryIdle() {
        assert loop.inEventLoop();
        UpstreamConnection c = pollIdle();
        if (c != null) {
            publish();
        }
        return c;
    }

    /**
     * Leases a connection: an idle one unless {@code fresh}, else a new one while under the limit, else a place in
     * the wait queue. Completes on this pool's loop.
     */
    public Future<UpstreamConnection> acquire(int connectTimeoutMillis, boolean fresh) {
        assert loop.inEventLoop();
        Promise<UpstreamConnection> promise = loop.newPromise();
        if (!fresh) {
            UpstreamConnection c = pollIdle();
            if (c != null) {
                publish();
                return promise.setSuccess(c);
            }
        }
        if (open < config.maxConnections()) {
            connect(promise, connectTimeoutMillis);
        } else if (waiters.size() < config.maxPending()) {
            Waiter w = new Waiter(promise, connectTimeoutMillis);
            w.timeout = loop.schedule(() -> {
                if (waiters.remove(w)) {
                    publish();
                    promise.tryFailure(new PoolExhaustedException("no connection to " + endpoint + " became free within "
                            + config.acquireTimeout().toMillis() + " ms"));
                }
            }, config.acquireTimeout().toNanos(), TimeUnit.NANOSECONDS);
            waiters.add(w);
            // A requester that gives up (its client left) cancels: its place is free for others at once, and no
            // connection is opened for it later.
            promise.addListener(f -> {
                if (f.isCancelled() && waiters.remove(w)) {
                    w.timeout.cancel(false);
                    publish();
                }
            });
        } else {
            promise.setFailure(new PoolExhaustedException(endpoint + " has " + open + " connections and "
                    + waiters.size() + " waiting requests"));
        }
        publish();
        return promise;
    }

    private UpstreamConnection pollIdle() {
        long now = System.nanoTime();
        UpstreamConnection c;
        while ((c = idle.pollFirst()) != null) {
            if (c.channel().isActive() && now - c.idleSinceNanos() < config.idleTimeout().toNanos()) {
                return c;
            }
            c.channel().close();
        }
        return null;
    }

    private void connect(Promise<UpstreamConnection> promise, int connectTimeoutMillis) {
        open++;
        UpstreamConnection conn = new UpstreamConnection(this);
        ChannelFuture f = bootstrap.clone(loop)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new UpstreamChannelInitializer(conn, ssl, endpoint, serverName))
                .connect(endpoint.host(), endpoint.port());
        f.addListener(done -> {
            health.record(done.isSuccess());
            if (done.isSuccess()) {
                if (!promise.trySuccess(conn)) {
                    release(conn, true, System.nanoTime()); // the requester gave up meanwhile; keep the connection for others
                }
            } else {
                open--;
                promise.tryFailure(done.cause());
                serveWaiter();
                publish();
            }
        });
    }

    /** Back from an exchange at {@code now} (System.nanoTime()): to a waiter, to the idle stack, or closed. */
    void release(UpstreamConnection c, boolean reusable, long now) {
        assert loop.inEventLoop();
        if (reusable && (config.maxRequestsPerConnection() == 0 || c.uses() < config.maxRequestsPerConnection())) {
            Waiter w;
            while ((w = waiters.poll()) != null) {
                w.timeout.cancel(false);
                if (w.promise.trySuccess(c)) {
                    publish();
                    return;
                }
            }
            if (!retired) {
                c.markIdle(now);
                idle.addFirst(c);
                scheduleEviction();
                publish();
                return;
            }
        }
        c.channel().close(); // closed() does the accounting once the channel is inactive
    }

    /** The channel became inactive, leased or idle. */
    void closed(UpstreamConnection c) {
        open--;
        idle.remove(c);
        serveWaiter();
        publish();
    }

    private void serveWaiter() {
        if (open < config.maxConnections()) {
            Waiter w = waiters.poll();
            if (w != null) {
                w.timeout.cancel(false);
                connect(w.promise, w.connectTimeoutMillis);
            }
        }
    }

    private void scheduleEviction() {
        if (evictionTask == null) {
            long period = Math.max(TimeUnit.MILLISECONDS.toNanos(100), config.idleTimeout().toNanos() / 4);
            evictionTask = loop.scheduleWithFixedDelay(this::evictIdle, period, period, TimeUnit.NANOSECONDS);
        }
    }

    private void evictIdle() {
        long now = System.nanoTime();
        long limit = config.idleTimeout().toNanos();
        for (Iterator<UpstreamConnection> it = idle.iterator(); it.hasNext(); ) {
            UpstreamConnection c = it.next();
            if (now - c.idleSinceNanos() >= limit) {
                it.remove();
                c.channel().close();
            }
        }
        if (idle.isEmpty()) {
            evictionTask.cancel(false);
            evictionTask = null;
        }
        publish();
    }

    /** No new leases will come: close what is idle now, and every connection that comes back. */
    void retire() {
        retired = true;
        UpstreamConnection c;
        while ((c = idle.pollFirst()) != null) {
            c.channel().close();
        }
    }

    /**
     * The gateway shuts down: idle connections close now, leased ones when their exchange ends. Requests waiting for a
     * connection are in flight and drain like the others: they keep their place (each still bounded by
     * acquire_timeout, and by the drain, which closes their clients) and get the connections given back meanwhile.
     */
    void closeIdle() {
        retire();
    }

    private static final class Waiter {
        final Promise<UpstreamConnection> promise;
        final int connectTimeoutMillis;
        ScheduledFuture<?> timeout;

        Waiter(Promise<UpstreamConnection> promise, int connectTimeoutMillis) {
            this.promise = promise;
            this.connectTimeoutMillis = connectTimeoutMillis;
        }
    }
}
