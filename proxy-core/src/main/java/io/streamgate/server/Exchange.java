package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RouteConfig;
import io.streamgate.policy.cache.BodyDigest;
import io.streamgate.policy.cache.CachedResponse;
import io.streamgate.policy.cache.Conditional;
import io.streamgate.policy.llm.LlmRequest;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Endpoint;
import io.streamgate.observe.AccessLog;
import io.streamgate.observe.ExchangeRecord;
import io.streamgate.policy.ResponseHeader;
import io.streamgate.upstream.EndpointPool;
import io.streamgate.upstream.HopByHopHeaders;
import io.streamgate.upstream.PoolExhaustedException;
import io.streamgate.upstream.Upstream;
import io.streamgate.upstream.UpstreamConnection;
import io.streamgate.upstream.UpstreamListener;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One request relayed to a backend and its response relayed back, on the client connection's event loop.
 *
 * <p>Bodies stream both ways and are never aggregated. Reads on each side are driven by the other side's
 * writability, so a slow reader holds back the writer and memory per exchange stays bounded. The response is
 * flushed at the end of every upstream read burst, which for an event stream means every event as it arrives.
 *
 * <p>Failure rules: before any response byte reached the client the client gets a JSON error (502, 503, 504); after,
 * the client connection is cut without the terminating chunk, so a client can always tell a broken stream from a
 * finished one. A request that met a reused connection already closed by the backend is sent once more on a fresh
 * connection, provided its body is still held in full (up to the upstream's replay_buffer). Other failures before
 * the response started (connect failure, reset, a retried status, the first-byte failover) are retried on another
 * endpoint within the upstream's retry settings and budget; every attempt's outcome feeds the endpoint's health.
 *
 * <p>This class makes those decisions and runs the request's life through them; the parts that hold state of their
 * own are delegated: {@link RequestBodyPeek} reads and rewrites the body's JSON, {@link ResponseRelay} carries the
 * response body (with its event-stream handling and heartbeats), {@link UpstreamRequestHead} shapes the head the
 * backend gets, and {@link EndpointLease}, {@link HeldRequestBody}, {@link Admission}, {@link CacheUse} and
 * {@link UsageTracker} keep the request's lease, body, limits, cache use and token usage.
 */
final class Exchange implements UpstreamListener {
    /** Body bytes a waiting request may hold: HTTP/2's default stream window, and more than most LLM requests. */
    private static final int WAITING_BODY_BYTES = 64 * 1024;

    private final ClientConnectionHandler connection;
    private final ChannelHandlerContext ctx;
    private final Gateway gateway;
    private final RouteConfig route;
    private final Snapshot snapshot;
    /** The route's upstream, or the one model routing picked (the lease's). */
    private Upstream upstream;
    /**
     * The request head, for sending it (again, on a retry or failover) and for the cache; dropped, with the body peek
     * that shares it, once the response has started, as nothing sends it after that: a long stream then keeps only
     * what the access log needs (its {@link #record}), and a young collection copies ~0.7 KB less per open stream.
     */
    private HttpRequest request;
    private final RequestTarget target;
    private final String requestId;
    private final ExchangeRecord record;
    private final long startNanos;
    /** When the exchange ended (System.nanoTime()); the client connection's idle time starts there. */
    private long endNanos;
    private final boolean headRequest;
    private final boolean clientHttp11;
    private final String clientHost;
    private final String forwardedFor;
    private final List<ResponseHeader> corsHeaders;
    private final long bodyIdleNanos;
    /** The route's rate limits for this request, or null when it has none. */
    private final Admission admission;
    /** Retry-After and RateLimit-* of the rule that refused this request, or null while none did. */
    private List<ResponseHeader> refusalHeaders;
    /** Whether LLM token usage is read on this exchange (a token limit or metering on the route). */
    private final boolean metered;
    private UsageTracker usage;
    private CacheUse cache;
    /** The reading of the body's JSON before anything goes to the backend, or null when it is not read. */
    private RequestBodyPeek peek;

    private boolean clientKeepAlive;
    /** The endpoint of the current attempt (kept for messages after it was released). */
    private Endpoint endpoint;
    private UpstreamConnection upstreamConn;
    /** Tries on the current endpoint (a stale pooled connection costs one). */
    private int attempts;
    private final EndpointLease lease;
    private long queueDeadline = Long.MAX_VALUE;
    private long failoverDeadline = Long.MAX_VALUE;
    private long acquireStarted;
    /** The pool's answer this exchange waits for (a place in its wait list, or a connect), or null. */
    private Future<UpstreamConnection> pendingAcquire;
    /** Body parts not yet sent upstream, and copies of the body for a retry. */
    private final HeldRequestBody heldBody = new HeldRequestBody();
    private long bodyBytes;
    private boolean requestComplete;
    /** Set when the body stalled past body_idle_timeout: the client is cut for it, not waited for. */
    private boolean bodyStalled;
    /** Whether the request announced a body; without one it is complete as far as answering is concerned. */
    private final boolean declaredBody;
    private boolean requestSent;
    private boolean upstreamNeedsFlush;
    private boolean responseStarted;
    private boolean responseComplete;
    private boolean interim;
    /** Whether the backend sent anything (an interim 1xx counts) on the current attempt's connection. */
    private boolean heardFromUpstream;
    private boolean upstreamKeepAlive;
    /** The response body's way to the client; made with the exchange, in place of the fields it now holds. */
    private final ResponseRelay relay;
    private boolean done;

    /** Last time a piece of the request body arrived from the client. */
    private long lastBodyActivity;
    private long firstByteDeadline = Long.MAX_VALUE;

    /**
     * @param forwardedFor the X-Forwarded-For value to send upstream
     * @param corsHeaders  CORS headers to add to the response
     */
    Exchange(ClientConnectionHandler connection, Gateway gateway, Snapshot snapshot, RouteConfig route, HttpRequest request,
             RequestTarget target, String requestId, ExchangeRecord record, String forwardedFor, List<ResponseHeader> corsHeaders) {
        this.connection = connection;
        this.ctx = connection.ctx();
        this.gateway = gateway;
        this.route = route;
        this.snapshot = snapshot;
        this.upstream = snapshot.upstreams().get(route.upstream());
        this.lease = new EndpointLease(upstream);
        record.upstream = route.upstream();
        this.request = request;
        this.target = target;
        this.requestId = requestId;
        this.record = record;
        this.startNanos = record.durationNanos;
        this.headRequest = request.method().equals(HttpMethod.HEAD);
        this.clientHttp11 = request.protocolVersion().equals(HttpVersion.HTTP_1_1);
        // An HTTP/2 stream ends by itself; connection-level keep-alive and draining are the connection's business.
        this.clientKeepAlive = connection.isHttp2() || HopByHopHeaders.keepAlive(request) && !gateway.draining();
        this.clientHost = target.authority();
        this.forwardedFor = forwardedFor;
        this.corsHeaders = corsHeaders;
        this.bodyIdleNanos = snapshot.config().server().limits().bodyIdleTimeout().toNanos();
        this.relay = new ResponseRelay(this, ctx, record, startNanos, route.sseHeartbeat());
        this.lastBodyActivity = startNanos;
        this.declaredBody = ClientConnectionHandler.hasBody(request);
        List<RateLimitConfig> limits = snapshot.routePolicies().get(route.name()).rateLimits();
        this.admission = limits.isEmpty() ? null : new Admission(snapshot.rateLimiters(), limits, route.name(), record.identity,
                record.clientIp, request.headers(), ctx.executor(), connection.bucketMemo());
        this.metered = route.tokens().meter() || admission != null && admission.hasTokenRules();
    }

    /** When the exchange ended (System.nanoTime()); valid once it has called back {@code exchangeEnded}. */
    long endNanos() {
        return endNanos;
    }

    boolean requestComplete() {
        return requestComplete;
    }

    /**
     * Whether the client may still be sending this request once its answer is written, which a close must outwait
     * (lingering): not when the request is complete, nor when the client was answered 408 for stalling its body.
     */
    boolean clientMaySend() {
        return !requestComplete && !bodyStalled;
    }

    /**
     * Whether the body is read now: as the backend connection takes it, while its start is peeked at, and while the
     * request waits for admission, a queue or a connection, up to {@link #WAITING_BODY_BYTES}. Reading a waiting
     * request shows a client that leaves (over HTTP/2 a closed connection, over NIO any close, only come that way).
     */
    boolean canAcceptBody() {
        return !done && (upstreamConn != null ? upstreamConn.channel().isWritable()
                : peek != null && peek.peeking() || heldBody.parkedBytes() < WAITING_BODY_BYTES);
    }

    /**
     * The gateway reads the request body again after holding it back (admission, a queue, a connection on its way, a
     * backend not reading): the client's idle time counts from now, as it does not while the gateway is not reading.
     */
    private void resumeBody() {
        if (!requestComplete && canAcceptBody()) {
            lastBodyActivity = System.nanoTime();
            rearmTimer();
        }
        connection.updateReading();
    }

    void start() {
        gateway.exchangeStarted();
        UpstreamRequestHead.prepare(request, route, target, forwardedFor, connection.scheme(), clientHost, requestId);
        rearmTimer();
        if (admission != null) {
            admission.admitRequest(this::afterRequestAdmitted, this::refuse);
        } else {
            afterRequestAdmitted();
        }
    }

    /** A rate limit said no: 429 (or 503 when the shared store is down) with Retry-After and RateLimit-*. */
    private void refuse(ProxyError error, String message, List<ResponseHeader> headers) {
        if (done) {
            return;
        }
        gateway.meters().rateLimited(route.name(), admission.rejectedRule());
        gateway.meters().rejected(route.name(), error.code());
        refusalHeaders = headers;
        fail(error, message, "rate_limited");
    }

    private void afterRequestAdmitted() {
        if (done) {
            return;
        }
        if (ModelRouter.isCatalogRequest(route, request.method().name(), target.path())) {
            answerCatalog();
            return;
        }
        if (RequestBodyPeek.readsBody(request, route, metered, upstream)) {
            peek = new RequestBodyPeek(this, route, snapshot, request, heldBody, ctx.alloc(), metered);
            if (peek.holdsStart(requestComplete)) {
                // Hold the start of the body (bounded by tokens.peek_limit) to read it before the backend sees anything.
                resumeBody();
                return;
            }
        }
        afterBodyPeeked();
    }

    /**
     * Enough of the body is held to read it (or it is not read): read it, look in the cache, admit tokens. Runs once,
     * from {@link #afterRequestAdmitted} or, while peeking, from the body part that completed the peek.
     */
    private void afterBodyPeeked() {
        LlmRequest llm = null;
        String digest = null;
        if (peek != null && heldBody.hasParked()) {
            if (!peek.read(requestComplete)) {
                return;
            }
            llm = peek.llm();
            digest = peek.digest();
            if (peek.usageInjected()) {
                usage = new UsageTracker(llm, true);
            }
        } else if (!declaredBody && route.cache() != null && request.method().equals(HttpMethod.POST)) {
            digest = BodyDigest.of(new byte[0], 0);
        }
        if (metered) {
            if (usage == null) {
                usage = new UsageTracker(llm, false);
            }
            // The charge is settled from the usage in the response, which compressed bytes hide (and from which an
            // injected usage chunk could not be taken out): left to the client's Accept-Encoding, a client asking for
            // gzip would pay for its prompt only. Set before the cache key is made, as a Vary on it reads this value.
            request.headers().set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
        }
        if (route.cache() != null) {
            cache = CacheUse.of(gateway, route, request, target.host(), target.withPath(target.path()), record.identity,
                    declaredBody, digest, llm);
            // A hit costs the backend nothing, so it is answered before the token budgets are asked: a bucket in debt
            // holds back generations, not answers already paid for. Request-rate and concurrency limits, like every
            // policy before them, have admitted it already.
            CachedResponse hit = cache.lookup();
            if (hit != null) {
                answerFromCache(hit);
                return;
            }
        }
        if (admission != null && admission.hasTokenRules()) {
            long estimate = llm == null ? 0 : llm.admissionEstimate();
            admission.admitTokens(estimate, this::afterAdmitted, this::refuse);
        } else {
            afterAdmitted();
        }
    }

    /** Every limit admitted a request the cache did not answer: wait for an identical request's answer, or fetch. */
    private void afterAdmitted() {
        if (done) {
            return;
        }
        if (cache != null) {
            if (!cache.lead(ctx.executor(), this::onSharedEntry)) {
                return;
            }
            CachedResponse late = cache.lookupAgain();
            if (late != null) {
                answerFromCache(late);
                return;
            }
        }
        acquire(false);
    }

    /** What an identical request fetched meanwhile: serve it, or fetch ourselves when it could not be cached. */
    private void onSharedEntry(CachedResponse entry) {
        if (done) {
            return;
        }
        if (entry != null) {
            answerFromCache(entry);
        } else {
            acquire(false);
        }
    }

    /** The route's upstream, or the one model routing picked. */
    Upstream upstream() {
        return upstream;
    }

    /** Model routing picked {@code name}: the lease, the record and what follows use its upstream. */
    Upstream reroute(String name) {
        upstream = snapshot.upstreams().get(name);
        lease.reroute(upstream);
        record.upstream = name;
        return upstream;
    }

    /**
     * The body read by {@link RequestBodyPeek} is refused: ends the exchange with {@code error}, and with
     * {@code headers} (Retry-After) when not null.
     */
    void refuseBody(ProxyError error, String message, String note, List<ResponseHeader> headers) {
        if (headers != null) {
            refusalHeaders = headers;
        }
        fail(error, message, note);
    }

    /** GET of the route's model list: the union of its upstreams' models, answered here. */
    private void answerCatalog() {
        byte[] json = ModelRouter.catalog(route.models(), snapshot.upstreams());
        boolean keepAlive = keepClientAfterAnswer();
        ByteBuf body = headRequest ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(json);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
        HttpHeaders h = response.headers();
        h.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, json.length)
                .set(RequestIds.HEADER, requestId);
        respondHere(response, keepAlive);
    }

    /** Answers from the cache; the backend is never asked. */
    private void answerFromCache(CachedResponse entry) {
        long now = gateway.clock().nanoTime();
        boolean keepAlive = keepClientAfterAnswer();
        // A conditional GET or HEAD the entry satisfies gets 304 with the entry's validators, as from the backend.
        boolean notModified = Conditional.notModified(request.method().name(), request.headers(), entry);
        boolean withBody = !headRequest && !notModified;
        // The entry's array is never written again, so the response can wrap it instead of copying it.
        ByteBuf body = withBody ? Unpooled.wrappedBuffer(entry.body()) : Unpooled.EMPTY_BUFFER;
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                notModified ? HttpResponseStatus.NOT_MODIFIED : HttpResponseStatus.valueOf(entry.status()), body);
        HttpHeaders h = response.headers();
        for (Map.Entry<String, String> e : entry.headers()) {
            if (!notModified || Conditional.keptIn304(e.getKey())) {
                h.add(e.getKey(), e.getValue());
            }
        }
        if (!notModified) {
            h.setInt(HttpHeaderNames.CONTENT_LENGTH, entry.body().length);
        }
        h.set(HttpHeaderNames.AGE, entry.ageSeconds(now))
                .set("x-cache", "HIT")
                .set(RequestIds.HEADER, requestId);
        // Replayed as a complete event stream: logged and timed as one (ttft_ms, stream duration).
        record.eventStream = entry.eventStream() && !notModified;
        respondHere(response, keepAlive);
    }

    /** Sends a whole response made here (cache hit, model list); the backend is never asked. */
    private void respondHere(FullHttpResponse response, boolean keepAlive) {
        HttpHeaders h = response.headers();
        if (!keepAlive) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (!clientHttp11) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        RequestPolicies.addCorsHeaders(h, corsHeaders);
        addQuotaHeaders(h);
        record.status = response.status().code();
        record.bytesOut = response.content().readableBytes();
        long now = System.nanoTime();
        record.firstByteNanos = now - startNanos;
        record.firstBodyNanos = record.firstByteNanos;
        record.chunksOut = 1;
        responseStarted = true;
        responseComplete = true;
        ChannelFuture written = ctx.writeAndFlush(response);
        end(now);
        connection.exchangeEnded(this, keepAlive, written); // which closes the connection after it unless keepAlive
    }

    /**
     * Whether the client connection stays open after an answer sent now. Over HTTP/1.1 only once the request was read
     * to its end (the rest of a body would be read as the next request; a request without a body may be answered
     * before its empty end marker arrives). An HTTP/2 stream's rest is read and dropped by the connection (see
     * ClientConnectionHandler#exchangeEnded): only a client that stalled or broke its body has its stream closed.
     */
    private boolean keepClientAfterAnswer() {
        return connection.isHttp2() ? clientKeepAlive
                : clientKeepAlive && (requestComplete || !declaredBody) && !gateway.draining();
    }

    /** RateLimit-* (and on a refusal Retry-After) for whatever response this request gets, when it is sent. */
    private void addQuotaHeaders(HttpHeaders h) {
        if (refusalHeaders != null) {
            addHeaders(h, refusalHeaders);
        } else if (admission != null) {
            admission.addQuotaHeaders(h);
        }
    }

    private static void addHeaders(HttpHeaders h, List<ResponseHeader> headers) {
        for (ResponseHeader rh : headers) {
            h.set(rh.name(), rh.value());
        }
    }

    private void acquire(boolean fresh) {
        if (!lease.holding()) {
            int chosen = lease.choose(hashKey());
            if (chosen == Upstream.ALL_BUSY) {
                waitForEndpoint();
                return;
            }
            if (chosen == Upstream.NONE_AVAILABLE) {
                noEndpoint();
                return;
            }
            newEndpoint();
        }
        attempts++;
        EndpointPool pool = gateway.pools().pool(ctx.channel().eventLoop(), upstream, lease.index());
        UpstreamConnection idle = fresh ? null : pool.tryIdle();
        if (idle != null) {
            onLeased(idle);
            return;
        }
        acquireStarted = System.nanoTime();
        Future<UpstreamConnection> f = pool.acquire((int) Math.min(Integer.MAX_VALUE, route.timeouts().connect().toMillis()), fresh);
        if (f.isDone()) {
            onAcquired(f);
        } else {
            pendingAcquire = f;
            f.addListener(done -> onAcquired(f));
        }
    }

    /** The lease holds a new endpoint: its attempts start from zero. */
    private void newEndpoint() {
        endpoint = lease.endpoint();
        attempts = 0;
    }

    /** Every available endpoint is at max_in_flight: wait in the upstream's queue, or 503 when it is full. */
    private void waitForEndpoint() {
        var keys = snapshot.apiKeyClasses();
        var key = record.identity == null ? null : keys.get(record.identity);
        if (!lease.enqueue(record.identity != null ? record.identity : record.clientIp,
                key == null ? 1 : key.queueWeight(), key == null ? 0 : key.priority(), hashKey(), ctx.executor(), this::onGranted)) {
            refuseBusy(ProxyError.UPSTREAM_QUEUE_FULL, "every endpoint of upstream " + upstream.config().name()
                    + " is at max_in_flight and the wait queue is full", "upstream_queue_full");
            return;
        }
        queueDeadline = System.nanoTime() + upstream.config().admission().queueTimeout().toNanos();
        rearmTimer();
    }

    /** The queue gave this request an endpoint (already counted in flight); on this exchange's event loop. */
    private void onGranted(long choice) {
        queueDeadline = Long.MAX_VALUE;
        if (lease.granted(choice, done)) {
            newEndpoint();
            acquire(false);
        }
    }

    private void refuseBusy(ProxyError error, String message, String note) {
        long seconds = Math.max(1, upstream.config().admission().queueTimeout().toSeconds() / 4);
        refusalHeaders = List.of(new ResponseHeader("retry-after", Long.toString(seconds)));
        gateway.meters().rejected(route.name(), error.code());
        fail(error, message, note);
    }

    /** No endpoint may be used: all unhealthy, ejected or open (or, on a retry, all tried already). */
    private void noEndpoint() {
        long nanos = upstream.nanosUntilAvailable();
        long seconds = Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
        refusalHeaders = List.of(new ResponseHeader("retry-after", Long.toString(Math.min(seconds, 300))));
        fail(ProxyError.NO_HEALTHY_UPSTREAM, "no healthy endpoint in upstream " + upstream.config().name(), "no_healthy_upstream");
    }

    /**
     * After a failed attempt (already reported): sends the request to another endpoint if nothing reached the client,
     * the body can be replayed, attempts and the retry budget allow. False when the caller must fail the request.
     */
    private boolean retryElsewhere(String reason) {
        if (!mayRetry() || !lease.takeRetryBudget()) {
            return false;
        }
        closeUpstream();
        lease.release();
        int chosen = lease.choose(hashKey());
        if (chosen == Upstream.NONE_AVAILABLE) {
            return false; // nowhere else to go: the caller reports the failure that brought us here
        }
        gateway.meters().retried(upstream.config().name(), reason);
        record.note = null;
        requestSent = false;
        firstByteDeadline = Long.MAX_VALUE;
        failoverDeadline = Long.MAX_VALUE;
        if (chosen == Upstream.ALL_BUSY) {
            waitForEndpoint();
        } else {
            newEndpoint();
            acquire(false);
        }
        return true;
    }

    /** Whether a retry is allowed by what was sent and received, the attempts left, and an endpoint left to try. */
    private boolean mayRetry() {
        return !done && !responseStarted && heldBody.replayable() && lease.mayRetry();
    }

    /** What a consistent hash is computed over for this request, or null when the upstream does not hash. */
    private String hashKey() {
        UpstreamConfig.Balance b = upstream.config().balance();
        if (b.strategy() != UpstreamConfig.Balance.Strategy.CONSISTENT_HASH) {
            return null;
        }
        return switch (b.key()) {
            case API_KEY -> record.identity != null ? record.identity : record.clientIp;
            case CLIENT_IP -> record.clientIp;
            case HEADER -> request.headers().get(b.header());
            case PROMPT_PREFIX -> peek == null ? null : peek.promptPrefix();
        };
    }

    private void onAcquired(Future<UpstreamConnection> f) {
        pendingAcquire = null;
        if (f.isCancelled()) {
            return; // by end(): this exchange is over
        }
        gateway.meters().acquired(upstream.config().name(), endpoint, System.nanoTime() - acquireStarted);
        if (!f.isSuccess()) {
            if (done) {
                return;
            }
            Throwable cause = f.cause();
            if (cause instanceof PoolExhaustedException) {
                fail(ProxyError.POOL_EXHAUSTED, cause.getMessage(), "pool_exhausted");
                return;
            }
            lease.report(false);
            if (upstream.config().retries().onConnectFailure() && retryElsewhere("connect_failure")) {
                return;
            }
            if (cause instanceof ConnectTimeoutException) {
                fail(ProxyError.UPSTREAM_TIMEOUT, "connecting to " + endpoint + " timed out", "connect_timeout");
            } else {
                fail(ProxyError.UPSTREAM_UNAVAILABLE, "cannot connect to " + endpoint + ": " + cause.getMessage(), "connect_failed");
            }
            return;
        }
        onLeased(f.getNow());
    }

    private void onLeased(UpstreamConnection c) {
        if (done) {
            c.release(true, System.nanoTime()); // never used by us, still clean
            return;
        }
        upstreamConn = c;
        heardFromUpstream = false;
        c.attach(this);
        record.upstreamEndpoint = c.authority();
        Channel ch = c.channel();
        UpstreamRequestHead.forEndpoint(request, route, upstream.config(), endpoint, clientHost);
        c.writeRequestHead(request);
        if (attempts > 1 || lease.resent()) {
            heldBody.resendTo(ch, requestComplete);
        } else {
            heldBody.sendTo(ch);
        }
        heldBody.limitReplay(upstream.config().replayBuffer());
        if (requestComplete) {
            markRequestSent(System.nanoTime());
        }
        ch.flush();
        ch.read();
        resumeBody();
    }

    /** Body parts, or a rejection of a malformed body, from the client connection. */
    void onRequestInput(Object msg) {
        if (!(msg instanceof HttpContent)) {
            ReferenceCountUtil.release(msg);
            if (msg instanceof RejectedRequest && !done) {
                RejectedRequest r = (RejectedRequest) msg;
                clientKeepAlive = false;
                if (responseStarted) {
                    abort("bad_request_body");
                } else {
                    fail(r.error(), r.message(), "bad_request_body");
                }
            }
            return;
        }
        HttpContent part = (HttpContent) msg;
        if (done) {
            part.release();
            return;
        }
        int n = part.content().readableBytes();
        bodyBytes += n;
        record.bytesIn = bodyBytes;
        lastBodyActivity = System.nanoTime();
        if (route.maxBodySize() > 0 && bodyBytes > route.maxBodySize()) {
            part.release();
            if (responseStarted) {
                abort("body_too_large");
            } else {
                fail(ProxyError.BODY_TOO_LARGE, "request body exceeds the limit of " + route.maxBodySize() + " bytes", "body_too_large");
            }
            return;
        }
        // While no connection is ready every copy is kept, whatever replay_buffer says: a retry waiting for one needs
        // them all, and they share the parked parts' buffers, bounded by WAITING_BODY_BYTES or the peek. onLeased cuts.
        heldBody.keepForReplay(part.content(), upstreamConn == null ? Long.MAX_VALUE : upstream.config().replayBuffer());
        boolean last = part instanceof LastHttpContent;
        if (last) {
            requestComplete = true;
            heldBody.keepTrailers(((LastHttpContent) part).trailingHeaders());
        }
        if (upstreamConn == null) {
            heldBody.park(part);
            if (peek != null && peek.collected(requestComplete)) {
                afterBodyPeeked();
            }
            return;
        }
        Channel ch = upstreamConn.channel();
        if (last) {
            ch.writeAndFlush(part, ch.voidPromise());
            markRequestSent(lastBodyActivity);
        } else {
            ch.write(part, ch.voidPromise());
            upstreamNeedsFlush = true;
        }
    }

    private void markRequestSent(long now) {
        requestSent = true;
        if (!responseStarted) {
            firstByteDeadline = now + route.timeouts().firstByte().toNanos();
            Duration failover = route.timeouts().firstByteFailover();
            if (!failover.isZero() && failover.compareTo(route.timeouts().firstByte()) < 0) {
                failoverDeadline = now + failover.toNanos();
            }
            rearmTimer();
        }
    }

    /** Flushes body parts written during the client's read burst. */
    void flushUpstream() {
        if (upstreamNeedsFlush && upstreamConn != null) {
            upstreamNeedsFlush = false;
            upstreamConn.channel().flush();
        }
    }

    @Override
    public void onUpstreamMessage(HttpObject msg) {
        if (done) {
            ReferenceCountUtil.release(msg);
            return;
        }
        heardFromUpstream = true;
        if (msg.decoderResult().isFailure()) {
            String why = String.valueOf(msg.decoderResult().cause());
            ReferenceCountUtil.release(msg);
            upstreamKeepAlive = false;
            if (responseStarted) {
                abort("upstream_bad_response");
            } else {
                // A backend answering garbage is as broken as one resetting: passive health must see it.
                lease.report(false);
                fail(ProxyError.UPSTREAM_BAD_RESPONSE, "invalid response from " + endpoint + ": " + why, "upstream_bad_response");
            }
            return;
        }
        if (msg instanceof HttpResponse) {
            HttpResponse response = (HttpResponse) msg;
            int code = response.status().code();
            if (code < 200) {
                ReferenceCountUtil.release(msg);
                if (code == 101) {
                    lease.report(false); // the gateway never asks to switch protocols: a broken backend, as above
                    fail(ProxyError.UPSTREAM_BAD_RESPONSE, "backend switched protocols, which this gateway does not relay",
                            "upstream_bad_response");
                    return;
                }
                interim = true; // 100 or 103: the final response follows on the same connection
                return;
            }
            onResponseHead(response);
            if (!responseStarted) {
                return; // retried elsewhere (or failed): the message was released
            }
        }
        if (msg instanceof HttpContent) {
            HttpContent part = (HttpContent) msg;
            if (interim) {
                interim = !(part instanceof LastHttpContent);
                part.release();
                return;
            }
            relay.forward(part);
        }
    }

    private void onResponseHead(HttpResponse response) {
        int status = response.status().code();
        lease.report(status < 500);
        // The budget is asked before the response is dropped: a retry it refuses leaves the backend's own answer to
        // the client, as on the last attempt, rather than a 502 of ours in its place.
        if (upstream.config().retries().onStatus(status) && mayRetry() && lease.takeRetryBudget()) {
            // The rest of this response is dropped with its connection, which retryElsewhere closes.
            ReferenceCountUtil.release(response);
            if (!retryElsewhere("status_" + status)) {
                fail(ProxyError.UPSTREAM_UNAVAILABLE, endpoint + " answered " + status, "upstream_status_" + status);
            }
            return;
        }
        long now = System.nanoTime();
        responseStarted = true;
        firstByteDeadline = Long.MAX_VALUE;
        heldBody.dropReplay();
        request = null;
        peek = null;
        record.firstByteNanos = now - startNanos;
        record.status = response.status().code();
        upstreamKeepAlive = HopByHopHeaders.keepAlive(response);
        boolean framedByLength = HttpUtil.isContentLengthSet(response) && !HopByHopHeaders.chunked(response);
        HttpHeaders h = response.headers();
        HopByHopHeaders.strip(h);
        int code = response.status().code();
        boolean bodiless = headRequest || code == 204 || code == 304;
        relay.begin(h, now, usage, cache);
        if (!bodiless && framedByLength && relay.changesLength()) {
            // The backend's length would no longer match what the client gets: the body is re-framed (chunked, or up
            // to the close).
            h.remove(HttpHeaderNames.CONTENT_LENGTH);
            framedByLength = false;
        }
        if (!bodiless && !framedByLength) {
            if (clientHttp11) {
                h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            } else {
                clientKeepAlive = false; // an HTTP/1.0 client learns the end of the body from the close
            }
        }
        if (!connection.isHttp2() && (!requestComplete || gateway.draining())) {
            clientKeepAlive = false; // the rest of the request body would be read as the next request
        }
        if (!clientKeepAlive) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (!clientHttp11) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        boolean eventStream = relay.eventStream();
        record.eventStream = eventStream;
        if (eventStream) {
            gateway.streamStarted();
        }
        if (cache != null) {
            cache.onResponseHead(response, eventStream); // before our own headers, which are not part of the entry
        }
        h.set(RequestIds.HEADER, requestId);
        RequestPolicies.addCorsHeaders(h, corsHeaders);
        addQuotaHeaders(h);
        response.setProtocolVersion(HttpVersion.HTTP_1_1);
        ctx.write(response, ctx.voidPromise());
        rearmTimer();
    }

    @Override
    public void onUpstreamReadComplete() {
        if (done) {
            return;
        }
        if (responseStarted) {
            ctx.flush();
        }
        if (ctx.channel().isWritable() && upstreamConn != null) {
            upstreamConn.channel().read();
        }
    }

    void onClientWritabilityChanged(boolean writable) {
        if (writable && !done && upstreamConn != null) {
            upstreamConn.channel().read();
        }
    }

    @Override
    public void onUpstreamWritabilityChanged(boolean writable) {
        if (writable) {
            resumeBody();
        } else {
            connection.updateReading();
        }
    }

    @Override
    public void onUpstreamClosed(Throwable cause) {
        UpstreamConnection c = upstreamConn;
        upstreamConn = null;
        if (done) {
            return;
        }
        if (!responseStarted) {
            if (c != null && c.isReused() && attempts == 1 && !heardFromUpstream && heldBody.replayable()) {
                // The backend closed an idle keep-alive connection just as we reused it: nothing was processed (one
                // that answered anything, even an interim 1xx, had read the request: that is a reset). The
                // first-byte clocks start again when the request is sent on the new connection, so no failover can
                // send it elsewhere while this acquire is pending.
                gateway.meters().retried(upstream.config().name(), "stale_connection");
                requestSent = false;
                firstByteDeadline = Long.MAX_VALUE;
                failoverDeadline = Long.MAX_VALUE;
                acquire(true);
                return;
            }
            lease.report(false);
            if (upstream.config().retries().onReset() && retryElsewhere("reset")) {
                return;
            }
            String why = cause == null ? "closed the connection" : cause.toString();
            fail(ProxyError.UPSTREAM_UNAVAILABLE, endpoint + " " + why + " before responding", "upstream_reset");
        } else {
            abort("upstream_reset");
        }
    }

    /**
     * The client went away: stop the backend's work at once (vLLM aborts the generation when its socket closes).
     *
     * @param malformed whether its HTTP/2 stream was reset because it broke the protocol (DATA frames that contradict
     *                  its content-length): a bad request, logged 400 as nginx does, rather than a client that left
     */
    void onClientClosed(boolean malformed) {
        if (done) {
            return;
        }
        closeUpstream();
        if (!responseComplete) {
            if (gateway.drainTimedOut()) {
                // The gateway cut it, as a backend cuts a stream: the client keeps the status it got. One that got
                // nothing is the gateway's failure, the 503 it would answer while shutting down.
                if (!responseStarted) {
                    record.status = ProxyError.SHUTTING_DOWN.status().code();
                }
                record.note = "drain_timeout";
            } else if (malformed) {
                if (!responseStarted) {
                    record.status = ProxyError.BAD_REQUEST.status().code();
                }
                record.note = "bad_request_body";
            } else {
                record.status = 499;
                record.note = "client_closed";
            }
        }
        if (usage != null && requestSent && !responseStarted) {
            usage.clientLeft(); // the backend was working on it
        }
        end(System.nanoTime());
    }

    /** The connection's timer fired: enforce whichever deadline has passed, then ask for the next one. */
    void onTimer(long now) {
        if (done) {
            return;
        }
        RouteConfig.Timeouts t = route.timeouts();
        if (!t.total().isZero() && now - startNanos >= t.total().toNanos()) {
            timeout("total_timeout", "no complete response within " + t.total().toMillis() + " ms");
            return;
        }
        if (!requestComplete && canAcceptBody() && now - lastBodyActivity >= bodyIdleNanos) {
            clientKeepAlive = false;
            bodyStalled = true;
            if (responseStarted) {
                abort("client_body_timeout");
            } else {
                fail(ProxyError.REQUEST_TIMEOUT, "the request body stalled for " + bodyIdleNanos / 1_000_000 + " ms",
                        "client_body_timeout");
            }
            return;
        }
        if (lease.queued() && now >= queueDeadline) {
            if (lease.leaveQueue()) {
                refuseBusy(ProxyError.UPSTREAM_QUEUE_TIMEOUT, "waited " + upstream.config().admission().queueTimeout().toMillis()
                        + " ms for a free endpoint in upstream " + upstream.config().name(), "upstream_queue_timeout");
                return;
            }
            queueDeadline = Long.MAX_VALUE; // granted meanwhile: the grant is on its way to this loop
        }
        if (!responseStarted && now >= failoverDeadline) {
            failoverDeadline = Long.MAX_VALUE;
            // Only an attempt given up on counts against its endpoint. When no retry may follow (no other endpoint,
            // no attempt or budget left) the request waits on here, and the endpoint's answer is what counts.
            if (mayRetry() && lease.takeRetryBudget()) {
                lease.report(false);
                if (retryElsewhere("first_byte_failover")) {
                    rearmTimer();
                    return;
                }
                if (!lease.holding()) {
                    noEndpoint(); // it let go of the endpoint and found none to take: nothing is left to wait for
                    return;
                }
            }
        }
        if (!responseStarted && now >= firstByteDeadline) {
            lease.report(false);
            timeout("first_byte_timeout", endpoint + " sent no response headers within " + t.firstByte().toMillis() + " ms");
            return;
        }
        if (responseStarted && now - relay.lastUpstreamActivity() >= t.idle().toNanos()) {
            timeout("idle_timeout", "no data for " + t.idle().toMillis() + " ms");
            return;
        }
        relay.heartbeatIfDue(now);
        rearmTimer();
    }

    private void timeout(String note, String message) {
        if (responseStarted) {
            abort(note);
        } else {
            fail(ProxyError.UPSTREAM_TIMEOUT, message, note);
        }
    }

    /** Schedules the timer for the earliest deadline that applies now. */
    private void rearmTimer() {
        if (done) {
            return;
        }
        RouteConfig.Timeouts t = route.timeouts();
        long next = Long.MAX_VALUE;
        if (!t.total().isZero()) {
            next = startNanos + t.total().toNanos();
        }
        if (!responseStarted) {
            next = Math.min(next, Math.min(firstByteDeadline, failoverDeadline));
            next = Math.min(next, queueDeadline);
        }
        if (responseStarted) {
            next = Math.min(next, relay.lastUpstreamActivity() + t.idle().toNanos());
        }
        if (!requestComplete && canAcceptBody()) {
            next = Math.min(next, lastBodyActivity + bodyIdleNanos);
        }
        next = Math.min(next, relay.nextHeartbeat());
        if (next != Long.MAX_VALUE) {
            connection.wakeAt(next);
        }
    }

    /** Ends the exchange with a JSON error; only before any response byte was written. */
    private void fail(ProxyError error, String message, String note) {
        closeUpstream();
        boolean keepAlive = keepClientAfterAnswer();
        var response = ErrorResponses.of(ctx.alloc(), error, message, requestId, !keepAlive);
        RequestPolicies.addCorsHeaders(response.headers(), corsHeaders);
        addQuotaHeaders(response.headers());
        record.status = error.status().code();
        record.bytesOut = response.content().readableBytes();
        record.note = note;
        ChannelFuture written = ctx.writeAndFlush(response);
        end(System.nanoTime());
        connection.exchangeEnded(this, keepAlive, written); // which closes the connection after it unless keepAlive
    }

    /** Ends a response mid-body: the client sees the connection close without the terminating chunk. */
    private void abort(String note) {
        closeUpstream();
        record.note = note;
        // An empty part pushes out what was already written before the close (close alone would drop it).
        ctx.writeAndFlush(new DefaultHttpContent(Unpooled.EMPTY_BUFFER)).addListener(ChannelFutureListener.CLOSE);
        end(System.nanoTime());
        connection.exchangeEnded(this, false, null);
    }

    /**
     * The whole response was relayed but for its last piece, which this writes and now owns; {@code now} is when it
     * arrived (System.nanoTime(), read once for the whole ending: the pool, the duration, the client's idle clock).
     */
    void finish(HttpContent last, long now) {
        responseComplete = true;
        ChannelFuture lastWrite = ctx.writeAndFlush(last);
        // An event stream can end by the backend closing the connection; one that ended inside an event was cut.
        if (cache != null && !relay.endedInsideEvent()) {
            cache.complete();
        }
        UpstreamConnection c = upstreamConn;
        upstreamConn = null;
        if (c != null) {
            // Reusable only if both messages ended cleanly: a half-sent request would corrupt the next exchange.
            c.release(upstreamKeepAlive && requestSent, now);
        }
        end(now);
        connection.exchangeEnded(this, clientKeepAlive, lastWrite);
    }

    /** Charges what was used (or the estimate of it) against the token budgets, and records it. */
    private void settleTokens() {
        long charge = usage == null ? 0 : usage.settle(record, gateway.meters(), route.name());
        if (cache != null && cache.status() == CacheUse.Status.HIT) {
            charge = 0; // answered without a GPU
        }
        if (admission != null) {
            admission.close(charge);
        }
    }

    private void closeUpstream() {
        UpstreamConnection c = upstreamConn;
        upstreamConn = null;
        if (c != null) {
            c.abandon();
        }
    }

    /** Ends the exchange at {@code now} (System.nanoTime()): its duration, and where the client's idle time starts. */
    private void end(long now) {
        done = true;
        lease.end(); // no longer in flight for balancing, max_in_flight and the queue
        if (pendingAcquire != null) {
            // Gives a place in the pool's wait list back at once. A connect already under way still completes: its
            // connection goes to the next waiter or idles (bounded by max_connections, closed after idle_timeout).
            pendingAcquire.cancel(false);
        }
        if (cache != null) {
            cache.abandon(); // no-op after complete(); otherwise frees those waiting on this exchange
            record.cacheStatus = cache.status().name();
            gateway.meters().cacheResult(route.name(), cache.status().label());
        }
        settleTokens();
        heldBody.release();
        endNanos = now;
        record.durationNanos = now - startNanos;
        if (relay.eventStream()) {
            gateway.streamEnded();
        }
        gateway.exchangeEnded();
        gateway.meters().exchangeEnded(record);
        AccessLog.log(record);
    }
}
