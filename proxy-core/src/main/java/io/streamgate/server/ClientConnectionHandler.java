package io.streamgate.server;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.streamgate.config.RouteConfig;
import io.streamgate.observe.AccessLog;
import io.streamgate.observe.ExchangeRecord;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * One client connection. It owns the connection's reads (auto-read is off): it reads while a request body can flow
 * to the backend, and while waiting for a response it keeps reading so that a client leaving is noticed at once.
 * Requests pipelined behind the current one are parked in a bounded queue and served strictly in order, so response
 * N always precedes response N+1 (HTTP/1.1 has no other way to pair them).
 */
final class ClientConnectionHandler extends ChannelInboundHandlerAdapter {
    /** Parked pipelined input beyond this stops reading until the current exchange ends. */
    private static final int MAX_QUEUED_MESSAGES = 64;
    private static final int MAX_QUEUED_BYTES = 64 * 1024;

    private final Gateway gateway;
    private final ArrayDeque<Object> queued = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private String clientIp;
    private int queuedBytes;
    private Exchange current;
    /** Set after a local answer to a request whose (empty) end marker has yet to arrive. */
    private boolean discardUntilLast;
    private boolean closing;
    private ConnectionTimer timer;
    /** When the connection last became idle (no request in flight), in System.nanoTime() terms. */
    private long idleSince;

    ClientConnectionHandler(Gateway gateway) {
        this.gateway = gateway;
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    String clientIp() {
        return clientIp;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.timer = new ConnectionTimer(ctx.executor(), this::onTimer);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
        clientIp = remote == null ? "-" : remote.getAddress().getHostAddress();
        becameIdle();
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!closing && (current != null && current.requestComplete() || !queued.isEmpty())) {
            enqueue(msg);
        } else {
            process(msg);
        }
    }

    private void enqueue(Object msg) {
        queued.add(msg);
        if (msg instanceof HttpContent) {
            queuedBytes += ((HttpContent) msg).content().readableBytes();
        }
    }

    private void process(Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg);
        } else if (current != null) {
            current.onRequestInput(msg);
        } else if (msg instanceof RejectedRequest) {
            RejectedRequest r = (RejectedRequest) msg;
            respondLocal(r.error(), r.message(), RequestIds.generate(), null, true);
        } else if (msg instanceof HttpRequest) {
            discardUntilLast = false;
            onRequest((HttpRequest) msg);
        } else {
            // The rest of a request already answered locally.
            if (msg instanceof LastHttpContent) {
                discardUntilLast = false;
            }
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null) {
            current.flushUpstream();
        }
        updateReading();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current != null) {
            current.onClientWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        timer.cancel();
        if (current != null) {
            Exchange e = current;
            current = null;
            e.onClientClosed();
        }
        releaseQueued();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Resets and broken pipes are how clients leave; channelInactive does the cleanup.
        ctx.close();
    }

    /** Reads when there is room for what would arrive; called whenever that may have changed. */
    void updateReading() {
        if (closing || !ctx.channel().isActive()) {
            return;
        }
        boolean want;
        if (current == null) {
            want = queued.isEmpty();
        } else if (!current.requestComplete()) {
            want = current.canAcceptBody();
        } else {
            want = queued.size() < MAX_QUEUED_MESSAGES && queuedBytes < MAX_QUEUED_BYTES;
        }
        if (want) {
            ctx.read();
        }
    }

    private void onRequest(HttpRequest req) {
        Snapshot snapshot = gateway.snapshot();
        String requestId = RequestIds.fromOrNew(req.headers());
        ExchangeRecord record = newRecord(req, requestId);
        RequestTarget target = RequestTarget.parse(req);
        if (target.error() != null) {
            respondLocal(ProxyError.BAD_REQUEST, target.error(), requestId, req, record, true);
            return;
        }
        RouteConfig route = snapshot.router().match(target.host(), req.method().name(), target.path());
        if (route == null) {
            respondLocal(ProxyError.ROUTE_NOT_FOUND, "no route for " + req.method() + " " + target.path(), requestId, req, record,
                    hasBody(req));
            return;
        }
        record.route = route.name();
        long declared = HttpUtil.getContentLength(req, -1L);
        if (route.maxBodySize() > 0 && declared > route.maxBodySize()) {
            respondLocal(ProxyError.BODY_TOO_LARGE, "request body of " + declared + " bytes exceeds the limit of "
                    + route.maxBodySize() + " bytes", requestId, req, record, true);
            return;
        }
        String expect = req.headers().get(HttpHeaderNames.EXPECT);
        if (expect != null) {
            if (!HttpUtil.is100ContinueExpected(req)) {
                respondLocal(ProxyError.EXPECTATION_FAILED, "unsupported expectation: " + expect, requestId, req, record, true);
                return;
            }
            // Our own checks passed, so the client may send the body; the backend never sees the expectation.
            req.headers().remove(HttpHeaderNames.EXPECT);
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        }
        current = new Exchange(this, gateway, snapshot, route, req, target, requestId, record);
        current.start();
    }

    private ExchangeRecord newRecord(HttpRequest req, String requestId) {
        ExchangeRecord r = new ExchangeRecord();
        r.requestId = requestId;
        r.clientIp = clientIp;
        r.method = req.method().name();
        r.uri = req.uri();
        r.protocol = req.protocolVersion().text();
        r.userAgent = req.headers().get(HttpHeaderNames.USER_AGENT);
        r.referer = req.headers().get(HttpHeaderNames.REFERER);
        r.startEpochMillis = System.currentTimeMillis();
        r.durationNanos = System.nanoTime();
        return r;
    }

    private static boolean hasBody(HttpRequest req) {
        return HttpUtil.isTransferEncodingChunked(req) || HttpUtil.getContentLength(req, 0L) > 0;
    }

    /** A refusal answered by the gateway itself for a request that never got an exchange. */
    private void respondLocal(ProxyError error, String message, String requestId, HttpRequest req, boolean close) {
        respondLocal(error, message, requestId, req, null, close);
    }

    private void respondLocal(ProxyError error, String message, String requestId, HttpRequest req, ExchangeRecord record,
                              boolean forceClose) {
        boolean close = forceClose || req == null || !HttpUtil.isKeepAlive(req) || gateway.draining();
        var response = ErrorResponses.of(ctx.alloc(), error, message, requestId, close);
        var written = ctx.writeAndFlush(response);
        if (record != null) {
            record.status = error.status().code();
            record.bytesOut = response.content().readableBytes();
            record.durationNanos = System.nanoTime() - record.durationNanos;
            AccessLog.log(record);
        }
        if (close) {
            closing = true;
            written.addListener(ChannelFutureListener.CLOSE);
            releaseQueued();
        } else {
            discardUntilLast = true;
            becameIdle();
        }
    }

    /** Called by the exchange once it has ended; {@code keepAlive} false means the connection is closing. */
    void exchangeEnded(Exchange e, boolean keepAlive) {
        if (current != e) {
            return;
        }
        current = null;
        if (!keepAlive) {
            closing = true;
            releaseQueued();
            return;
        }
        drainQueue();
        if (current == null && queued.isEmpty() && !closing) {
            becameIdle();
        }
        updateReading();
    }

    private void drainQueue() {
        Object msg;
        while (!closing && (current == null || !current.requestComplete()) && (msg = queued.poll()) != null) {
            if (msg instanceof HttpContent) {
                queuedBytes -= ((HttpContent) msg).content().readableBytes();
            }
            process(msg);
        }
    }

    private void releaseQueued() {
        Object msg;
        while ((msg = queued.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
        queuedBytes = 0;
    }

    /** Starts the client_idle_timeout: a connection with no request in flight for that long is closed. */
    private void becameIdle() {
        if (gateway.draining()) {
            ctx.close();
            return;
        }
        idleSince = System.nanoTime();
        timer.wakeAt(idleSince + gateway.snapshot().config().server().clientIdleTimeout().toNanos());
    }

    /** Asks to be called back by {@link #onTimer()} no later than {@code deadline}. */
    void wakeAt(long deadline) {
        timer.wakeAt(deadline);
    }

    private void onTimer() {
        long now = System.nanoTime();
        if (closing) {
            return;
        }
        if (current != null) {
            current.onTimer(now);
            return;
        }
        long deadline = idleSince + gateway.snapshot().config().server().clientIdleTimeout().toNanos();
        if (now - deadline >= 0) {
            ctx.close();
        } else {
            timer.wakeAt(deadline);
        }
    }

    /** Closes the connection now if it is idle; used when draining starts. */
    void closeIfIdle() {
        if (current == null && queued.isEmpty()) {
            ctx.close();
        }
    }
}
