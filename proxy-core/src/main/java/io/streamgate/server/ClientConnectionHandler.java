package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.streamgate.config.RouteConfig;
import io.streamgate.observe.AccessLog;
import io.streamgate.observe.ExchangeRecord;
import io.streamgate.policy.ResponseHeader;
import io.streamgate.policy.CorsPolicy;
import io.streamgate.policy.ratelimit.BucketMemo;
import io.streamgate.upstream.ForwardingHeaders;
import io.streamgate.upstream.HopByHopHeaders;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
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
    /**
     * Body bytes an HTTP/2 stream may still send after its answer, read and dropped: enough for the usual upload to
     * end, as clients that read their answer only once their body is sent (the JDK's HttpClient, curl) need. Dropping
     * costs bandwidth, not memory. Not capped by max_body_size: a client told 413 for a body a little too large would
     * then never get to read it.
     */
    private static final long DISCARD_BYTES = 1024 * 1024;

    private final Gateway gateway;
    private final String scheme;
    private final boolean http2;
    private final ArrayDeque<Object> queued = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private boolean started;
    /** The socket peer; a trusted load balancer may name the real client through the PROXY protocol. */
    private InetAddress socketPeer;
    /** The socket peer's address as text, made once per connection rather than per request. */
    private String socketPeerText = "-";
    private int queuedBytes;
    private Exchange current;
    /** Set after an answer to a request whose end has yet to arrive: the rest of the request is read and dropped. */
    private boolean discardUntilLast;
    /** While an HTTP/2 stream's body is dropped: the bytes it may still send, and when its last piece arrived. */
    private long discardBudget;
    private long lastDiscarded;
    /** While an HTTP/2 stream's body is dropped: the write of its answer, which a reset must not overtake. */
    private ChannelFuture answerWritten;
    private boolean closing;
    private ConnectionTimer timer;
    /** When the connection last became idle (no request in flight), in System.nanoTime() terms. */
    private long idleSince;
    /** When the first bytes of the next request's head arrived, or -1: the request_header_timeout runs from here. */
    private long headStarted = -1;
    /** Whether this read burst delivered a decoded message (so its bytes were not a partial head). */
    private boolean decodedThisBurst;
    /** Rate-limit buckets this connection's requests drew from; made by the first request of a limited route. */
    private BucketMemo bucketMemo;
    /** The previous request's target, whose host the next request with the same authority reuses. */
    private RequestTarget lastTarget;
    /** Set when this HTTP/2 stream broke the protocol: the reset that follows is the client's error, not its leaving. */
    private boolean streamError;

    /**
     * @param scheme "https" behind TLS, else "http" (for X-Forwarded-Proto)
     * @param http2  whether this handler serves one HTTP/2 stream rather than an HTTP/1.1 connection
     */
    ClientConnectionHandler(Gateway gateway, String scheme, boolean http2) {
        this.gateway = gateway;
        this.scheme = scheme;
        this.http2 = http2;
    }

    String scheme() {
        return scheme;
    }

    BucketMemo bucketMemo() {
        if (bucketMemo == null) {
            bucketMemo = new BucketMemo();
        }
        return bucketMemo;
    }

    boolean isHttp2() {
        return http2;
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.timer = new ConnectionTimer(ctx.executor(), this::onTimer);
        if (ctx.channel().isActive()) {
            start(); // added after TLS and ALPN, on a connection that is long active
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        InetSocketAddress remote = (InetSocketAddress) ConnectionInfo.connection(ctx.channel()).remoteAddress();
        socketPeer = remote == null ? null : remote.getAddress();
        socketPeerText = socketPeer == null ? "-" : NetUtil.toAddressString(socketPeer);
        // Not becameIdle(): while shutdown is announced but the listener still accepts, a new connection gets to
        // send its request (answered with Connection: close) instead of being closed unheard.
        startIdleClock(System.nanoTime());
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        decodedThisBurst = true;
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
            respondUnread(r.error(), r.message(), r.head(), headStarted >= 0 ? headStarted : System.nanoTime());
        } else if (msg instanceof HttpRequest) {
            discardUntilLast = false;
            onRequest((HttpRequest) msg);
        } else {
            discard(msg);
        }
    }

    /** A piece of a request already answered: dropped, as long as the client does not send too much. */
    private void discard(Object msg) {
        boolean last = msg instanceof LastHttpContent;
        if (msg instanceof HttpContent) {
            discardBudget -= ((HttpContent) msg).content().readableBytes();
            lastDiscarded = System.nanoTime();
        }
        ReferenceCountUtil.release(msg);
        if (last) {
            discardUntilLast = false;
        } else if (http2 && discardUntilLast && discardBudget < 0) {
            stopDiscarding();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null) {
            current.flushUpstream();
        } else if (headStarted < 0 && !http2 && queued.isEmpty() && !decodedThisBurst) {
            // Bytes arrived but no complete request head yet: the slowloris clock starts.
            headStarted = System.nanoTime();
            timer.wakeAt(headStarted + gateway.snapshot().config().server().limits().requestHeaderTimeout().toNanos());
        }
        decodedThisBurst = false;
        updateReading();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (current != null) {
            current.onClientWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    /**
     * On an HTTP/2 stream a reset comes as an event whether or not the stream is being read (a waiting request is
     * not): the client gave the request up, so its exchange ends now and the stream channel closes.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame) {
            ctx.close();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        timer.cancel(); // by LingeringClose, which owns the connection's end from then on
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        timer.cancel();
        if (current != null) {
            Exchange e = current;
            current = null;
            e.onClientClosed(streamError);
        }
        releaseQueued();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2Exception.StreamException) {
            // A stream error (a malformed request: its DATA frames do not add up to its content-length): the multiplexer
            // closes the stream right after with the error's own code, PROTOCOL_ERROR. Closing it here would reset it
            // first with CANCEL, the code of a stream that is merely given up.
            streamError = true;
            return;
        }
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
        headStarted = -1;
        Snapshot snapshot = gateway.snapshot();
        String requestId = RequestIds.fromOrNew(req.headers());
        ExchangeRecord record = newRecord(req, requestId);
        // The client address is settled before anything can refuse the request, so that every answer (a bad target,
        // no route) is logged with the client, not with the load balancer in front of it.
        // The PROXY header (read after the connection opened, so looked up per request) names the peer to reason about.
        InetAddress proxied = ConnectionInfo.connection(ctx.channel()).attr(ConnectionInfo.PROXIED_CLIENT).get();
        InetAddress peer = proxied != null ? proxied : socketPeer;
        boolean peerTrusted = peer != null && snapshot.proxies().trusts(peer);
        // Only a trusted peer's X-Forwarded-For is read (and only then is the list of its values built).
        List<String> forwardedFor = peerTrusted ? req.headers().getAll(ForwardingHeaders.X_FORWARDED_FOR) : List.of();
        InetAddress client = peerTrusted ? snapshot.proxies().clientAddress(peer, forwardedFor) : peer;
        if (!peerTrusted) {
            ForwardingHeaders.dropClientSupplied(req.headers());
        }
        if (client != socketPeer) {
            record.clientIp = client == null ? "-" : NetUtil.toAddressString(client);
        }
        RequestTarget target = RequestTarget.parse(req, snapshot.router(), lastTarget,
                snapshot.config().server().allowEncodedInPath());
        if (target.error() != null) {
            respondLocal(target.errorKind(), target.error(), requestId, req, record, true, List.of());
            return;
        }
        lastTarget = target;
        RouteConfig route = preflightRoute(snapshot, target, req);
        if (route == null) {
            route = snapshot.router().match(target.host(), req.method().name(), target.path());
        }
        if (route == null) {
            respondLocal(ProxyError.ROUTE_NOT_FOUND, "no route for " + req.method() + " " + target.path(), requestId, req, record,
                    hasBody(req), List.of());
            return;
        }
        record.route = route.name();
        // Server-level rules were skipped at accept for a trusted socket peer; they apply to the real client now. Also
        // when a reload has since stopped trusting the peer: nothing else would ever check this connection.
        boolean serverRulesPending = socketPeer != null && (snapshot.proxies().trusts(socketPeer)
                || ConnectionInfo.connection(ctx.channel()).hasAttr(ConnectionInfo.SERVER_RULES_DEFERRED));
        RequestPolicies.Outcome policy = RequestPolicies.evaluate(snapshot, route, req, client, serverRulesPending);
        if (policy.preflight() != null) {
            respondPreflight(policy.preflight(), requestId, req, record);
            return;
        }
        if (policy.error() != null) {
            gateway.meters().rejected(route.name(), policy.error().code());
            respondLocal(policy.error(), policy.message(), requestId, req, record, hasBody(req), policy.corsHeaders());
            return;
        }
        record.identity = policy.identity();
        long declared = HttpUtil.getContentLength(req, -1L);
        if (route.maxBodySize() > 0 && declared > route.maxBodySize()) {
            respondLocal(ProxyError.BODY_TOO_LARGE, "request body of " + declared + " bytes exceeds the limit of "
                    + route.maxBodySize() + " bytes", requestId, req, record, true, policy.corsHeaders());
            return;
        }
        String expect = req.headers().get(HttpHeaderNames.EXPECT);
        if (expect != null) {
            if (!HttpUtil.is100ContinueExpected(req)) {
                respondLocal(ProxyError.EXPECTATION_FAILED, "unsupported expectation: " + expect, requestId, req, record, true,
                        policy.corsHeaders());
                return;
            }
            // Our own checks passed, so the client may send the body; the backend never sees the expectation.
            req.headers().remove(HttpHeaderNames.EXPECT);
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        }
        String xff = peerTrusted ? snapshot.proxies().forwardedFor(peer, forwardedFor) : record.clientIp;
        current = new Exchange(this, gateway, snapshot, route, req, target, requestId, record, xff, policy.corsHeaders());
        current.start();
    }

    /**
     * For a CORS preflight, the route the announced request would take, when that route does CORS: its rules answer the
     * preflight even if it does not list OPTIONS among its methods. Null otherwise (route by the OPTIONS method).
     */
    private static RouteConfig preflightRoute(Snapshot snapshot, RequestTarget target, HttpRequest req) {
        if (!req.method().equals(HttpMethod.OPTIONS)) {
            return null; // every other request: no header lookup
        }
        String requested = req.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD);
        if (!CorsPolicy.isPreflight(req.method().name(), req.headers().get(HttpHeaderNames.ORIGIN), requested)) {
            return null;
        }
        RouteConfig intended = snapshot.router().match(target.host(), requested.trim(), target.path());
        return intended != null && snapshot.routePolicies().get(intended.name()).cors() != null ? intended : null;
    }

    /** A CORS preflight answered by the gateway; the backend never sees it. */
    private void respondPreflight(FullHttpResponse response, String requestId, HttpRequest req, ExchangeRecord record) {
        boolean close = !http2 && (!HopByHopHeaders.keepAlive(req) || hasBody(req) || gateway.draining());
        response.headers().set(RequestIds.HEADER, requestId).setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        if (close) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        finishLocal(response, record, close, hasBody(req));
    }

    private ExchangeRecord newRecord(HttpRequest req, String requestId) {
        ExchangeRecord r = connectionRecord(requestId, System.nanoTime(), System.currentTimeMillis());
        describe(r, req);
        return r;
    }

    /** The request line and the headers the access log shows. */
    private void describe(ExchangeRecord r, HttpRequest req) {
        r.method = req.method().name();
        r.uri = req.uri();
        r.protocol = http2 ? "HTTP/2.0" : req.protocolVersion().text();
        r.userAgent = req.headers().get(HttpHeaderNames.USER_AGENT);
        r.referer = req.headers().get(HttpHeaderNames.REFERER);
    }

    /**
     * What the connection knows of any request on it, read or not: its id, the socket peer, the client certificate,
     * and when it started ({@code durationNanos} holds the start until finishLocal or the exchange turns it into the
     * duration).
     */
    private ExchangeRecord connectionRecord(String requestId, long startNanos, long startEpochMillis) {
        ExchangeRecord r = new ExchangeRecord();
        r.requestId = requestId;
        r.clientIp = socketPeerText;
        r.protocol = http2 ? "HTTP/2.0" : null;
        r.clientCert = ConnectionInfo.connection(ctx.channel()).attr(ConnectionInfo.CLIENT_CERT_SUBJECT).get();
        r.startEpochMillis = startEpochMillis;
        r.durationNanos = startNanos;
        return r;
    }

    /** Whether the request's framing announces a body (chunked, or a non-zero Content-Length). */
    static boolean hasBody(HttpRequest req) {
        return HopByHopHeaders.chunked(req) || HttpUtil.getContentLength(req, 0L) > 0;
    }

    /**
     * A refusal of a request whose head could not be read (malformed, too large, too slow): it is answered, logged and
     * counted like every other answer, with what is known of it: the client and the time, and, when its request line
     * was read ({@code head} not null), what that and the header fields read so far say.
     */
    private void respondUnread(ProxyError error, String message, HttpRequest head, long startNanos) {
        String requestId = head == null ? RequestIds.generate() : RequestIds.fromOrNew(head.headers());
        long ago = (System.nanoTime() - startNanos) / 1_000_000;
        ExchangeRecord r = connectionRecord(requestId, startNanos, System.currentTimeMillis() - ago);
        if (head != null) {
            describe(r, head);
        }
        // The PROXY header's client when there was one; no X-Forwarded-For could be read.
        InetAddress proxied = ConnectionInfo.connection(ctx.channel()).attr(ConnectionInfo.PROXIED_CLIENT).get();
        if (proxied != null) {
            r.clientIp = NetUtil.toAddressString(proxied);
        }
        respondLocal(error, message, requestId, null, r, true, List.of());
    }

    private void respondLocal(ProxyError error, String message, String requestId, HttpRequest req, ExchangeRecord record,
                              boolean forceClose, List<ResponseHeader> corsHeaders) {
        boolean close = !http2 && (forceClose || req == null || !HopByHopHeaders.keepAlive(req) || gateway.draining());
        FullHttpResponse response = ErrorResponses.of(ctx.alloc(), error, message, requestId, close);
        RequestPolicies.addCorsHeaders(response.headers(), corsHeaders);
        // Without a head read (req null) whatever the client sends next is unknown; a body is unread as yet. A client
        // too slow for request_header_timeout is cut, not waited for, as nginx does: lingering would give a slowloris
        // still trickling its head up to lingering's 30 s more of its connection.
        boolean inputMayFollow = error != ProxyError.REQUEST_TIMEOUT && (req == null || hasBody(req));
        finishLocal(response, record, close, inputMayFollow);
    }

    /** @param unreadBody whether the answered request may still have bytes to come (which a close must outwait) */
    private void finishLocal(FullHttpResponse response, ExchangeRecord record, boolean close, boolean unreadBody) {
        long now = System.nanoTime(); // the answer's end: its duration, and the start of the idle clock
        if (record != null) {
            record.status = response.status().code();
            record.bytesOut = response.content().readableBytes();
            record.durationNanos = now - record.durationNanos;
            gateway.meters().exchangeEnded(record);
            AccessLog.log(record);
        }
        ChannelFuture written = ctx.writeAndFlush(response);
        if (close) {
            closing = true;
            closeAfter(written, unreadBody || !queued.isEmpty());
            releaseQueued();
        } else {
            startDiscarding(written);
            becameIdle(now);
        }
    }

    /**
     * Called by the exchange once it has ended, with {@code answer} the write of its complete response, or null when it
     * cut the connection itself. Unless {@code keepAlive}, the connection is closed after that write.
     */
    void exchangeEnded(Exchange e, boolean keepAlive, ChannelFuture answer) {
        if (current != e) {
            if (!keepAlive && answer != null) {
                answer.addListener(ChannelFutureListener.CLOSE);
            }
            return;
        }
        current = null;
        if (!keepAlive) {
            closing = true;
            if (answer != null) {
                closeAfter(answer, e.clientMaySend() || !queued.isEmpty());
            }
            releaseQueued();
            return;
        }
        if (!e.requestComplete()) {
            startDiscarding(answer);
        }
        drainQueue();
        if (current == null && queued.isEmpty() && !closing) {
            becameIdle(e.endNanos());
        }
        updateReading();
    }

    /**
     * Closes the connection once {@code answer} is written. When the client may still be sending (the rest of a body,
     * pipelined requests), an HTTP/1.1 connection lingers first ({@link LingeringClose}), so that the close does not
     * reset the connection under an answer the client has yet to read. An HTTP/2 stream ends alone
     * ({@link #endStreamAfter}): its connection stays.
     */
    private void closeAfter(ChannelFuture answer, boolean inputMayFollow) {
        if (http2) {
            endStreamAfter(answer);
            return;
        }
        if (!inputMayFollow) {
            answer.addListener(ChannelFutureListener.CLOSE);
            return;
        }
        answer.addListener(f -> {
            if (!f.isSuccess()) {
                ctx.close();
                return;
            }
            // Not from within this listener: it may run inside the decoder's own read, which the handlers' removal
            // would pull the rug from under.
            ctx.executor().execute(() -> LingeringClose.start(ctx.channel()));
        });
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

    /**
     * The request was answered before its end arrived: the rest is read and dropped. Over HTTP/1.1 that is only ever
     * the end marker of a request without a body (one with a body has its connection closed). An HTTP/2 stream stays
     * open instead of being reset: clients such as the JDK's HttpClient wait, whatever the reset's code, until they
     * could send their whole body, so they get their answer only if the gateway keeps reading (which returns their
     * flow-control credit) until the stream's END_STREAM. Bounded like an upload: {@link #DISCARD_BYTES}, and
     * body_idle_timeout between pieces.
     */
    private void startDiscarding(ChannelFuture answer) {
        discardUntilLast = true;
        if (http2) {
            answerWritten = answer;
            discardBudget = DISCARD_BYTES;
            lastDiscarded = System.nanoTime();
            timer.wakeAt(lastDiscarded + bodyIdleNanos());
        }
    }

    /**
     * An HTTP/2 client went on too long after its answer: its stream ends ({@link #endStreamAfter}). Until the answer
     * has left nothing is read, so the client can hold no more than the stream's window here.
     */
    private void stopDiscarding() {
        discardUntilLast = false;
        closing = true;
        endStreamAfter(answerWritten);
    }

    /**
     * Closes an HTTP/2 stream once its answer has left. If the client has not ended its request (a 408 for a stalled
     * body, a client that went on too long after an early answer), RST_STREAM(NO_ERROR) first asks it to stop sending
     * without making it discard the answer (RFC 9113 §8.1), where the CANCEL of a plain close tells it the stream was
     * given up. Only once the answer has left: a reset would overtake response DATA still held by flow control, which
     * it drops.
     */
    private void endStreamAfter(ChannelFuture answer) {
        answer.addListener(f -> {
            Http2Stream.State state = ((Http2StreamChannel) ctx.channel()).stream().state();
            if (f.isSuccess() && state == Http2Stream.State.HALF_CLOSED_LOCAL) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR)).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close();
            }
        });
    }

    private long bodyIdleNanos() {
        return gateway.snapshot().config().server().limits().bodyIdleTimeout().toNanos();
    }

    /**
     * Starts the client_idle_timeout from {@code now} (System.nanoTime()): a connection with no request in flight for
     * that long is closed.
     */
    private void becameIdle(long now) {
        headStarted = -1;
        if (gateway.draining() && !http2) {
            ctx.close();
            return;
        }
        startIdleClock(now);
    }

    private void startIdleClock(long now) {
        idleSince = now;
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
        if (http2 && discardUntilLast) {
            long deadline = lastDiscarded + bodyIdleNanos();
            if (now - deadline >= 0) {
                stopDiscarding();
            } else {
                timer.wakeAt(deadline);
            }
            return;
        }
        if (headStarted >= 0) {
            long headDeadline = headStarted + gateway.snapshot().config().server().limits().requestHeaderTimeout().toNanos();
            if (now - headDeadline >= 0) {
                respondUnread(ProxyError.REQUEST_TIMEOUT, "the request headers did not arrive in time", null, headStarted);
                return;
            }
            timer.wakeAt(headDeadline);
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
