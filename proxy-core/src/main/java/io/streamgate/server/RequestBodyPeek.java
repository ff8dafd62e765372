package io.streamgate.server;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.streamgate.config.RouteCacheConfig;
import io.streamgate.config.RouteConfig;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.policy.ResponseHeader;
import io.streamgate.policy.cache.BodyDigest;
import io.streamgate.policy.llm.IncludeUsageRewriter;
import io.streamgate.policy.llm.LlmRequest;
import io.streamgate.policy.llm.ModelFieldRewriter;
import io.streamgate.policy.llm.PromptPrefix;
import io.streamgate.upstream.HopByHopHeaders;
import io.streamgate.upstream.Upstream;
import java.util.List;

/**
 * The start of a POST body (bounded by tokens.peek_limit), or all of it, read as an LLM request before anything goes
 * to the backend: the model that routes it (rewritten for an alias), the prompt prefix a consistent hash is keyed by,
 * the digest the cache keys it by, and the {@code stream_options.include_usage} the gateway adds for metering. The
 * held parts are swapped for the rewritten body, whose Content-Length is corrected.
 *
 * <p>Made only for a request whose body is read (see {@link #readsBody}), and confined to the exchange's event loop.
 */
final class RequestBodyPeek {
    private final Exchange exchange;
    private final RouteConfig route;
    private final Snapshot snapshot;
    private final HttpRequest request;
    private final HeldRequestBody heldBody;
    private final ByteBufAllocator alloc;
    private final boolean metered;
    /** Set while the start of the body is held to read its JSON before anything goes to the backend. */
    private boolean peeking;
    /** The consistent-hash key of hash_key: prompt_prefix, or null. */
    private String promptPrefix;
    private LlmRequest llm;
    private String digest;
    private boolean usageInjected;

    RequestBodyPeek(Exchange exchange, RouteConfig route, Snapshot snapshot, HttpRequest request, HeldRequestBody heldBody,
                    ByteBufAllocator alloc, boolean metered) {
        this.exchange = exchange;
        this.route = route;
        this.snapshot = snapshot;
        this.request = request;
        this.heldBody = heldBody;
        this.alloc = alloc;
        this.metered = metered;
    }

    /** Whether the body's JSON is read before the request goes on: metering, model routing, prompt hashing, caching. */
    static boolean readsBody(HttpRequest request, RouteConfig route, boolean metered, Upstream upstream) {
        return request.method().equals(HttpMethod.POST) && (metered || route.models() != null || hashesPrompt(upstream)
                || route.cache() != null && route.cache().post() != RouteCacheConfig.PostMode.NEVER);
    }

    static boolean hashesPrompt(Upstream upstream) {
        return upstream.config().balance().key() == UpstreamConfig.Balance.HashKey.PROMPT_PREFIX;
    }

    /**
     * Whether to hold the body's start before reading it: it is not all here and its held part is within the peek
     * limit. When so, the body is held from now until {@link #collected} says it is enough.
     */
    boolean holdsStart(boolean requestComplete) {
        peeking = !requestComplete && heldBody.parkedBytes() <= route.tokens().peekLimit();
        return peeking;
    }

    /** Whether the body's start is being held (and so read from the client). */
    boolean peeking() {
        return peeking;
    }

    /** Called while peeking, after each body part arrived: whether what is held is now enough to be read. */
    boolean collected(boolean requestComplete) {
        if (peeking && (requestComplete || heldBody.parkedBytes() > route.tokens().peekLimit())) {
            peeking = false;
            return true;
        }
        return false;
    }

    /**
     * Reads what is held: estimate, maybe route by model and rewrite. All of it may have arrived before peeking began
     * (while a rate limit kept the request waiting), so what counts is what is held. Returns false when the exchange
     * ended here (a refused body, a model no upstream serves).
     */
    boolean read(boolean requestComplete) {
        int peekLimit = route.tokens().peekLimit();
        boolean whole = requestComplete && heldBody.parkedBytes() <= peekLimit;
        byte[] body = heldBody.copyParked(peekLimit);
        byte[] asSent = body;
        llm = LlmRequest.peek(body, body.length, !whole);
        String duplicate = llm == null ? null : llm.duplicateMember();
        if (duplicate != null) {
            // Refused like a duplicate Content-Length: whichever one we routed, rewrote or limited by, the backend
            // (Python's json keeps the last) could act on the other.
            exchange.refuseBody(ProxyError.BAD_REQUEST, "the request body has more than one \"" + duplicate + "\" member",
                    "duplicate_member", null);
            return false;
        }
        Upstream upstream = exchange.upstream();
        if (route.models() != null && llm != null && llm.model() != null) {
            ModelRouter.Choice c = ModelRouter.choose(route.models(), snapshot.upstreams(), llm.model());
            if (c.upstream() == null) {
                refuseModel(c, llm.model());
                return false;
            }
            upstream = exchange.reroute(c.upstream());
            byte[] rewritten = c.served() == null ? null : rewriteModel(c.served(), requestComplete);
            if (rewritten != null && whole) {
                body = rewritten;
            }
        }
        if (hashesPrompt(upstream)) {
            // From the client's bytes, as read, whether or not a model rewrite follows: one key per conversation.
            promptPrefix = PromptPrefix.of(asSent, llm);
        }
        if (whole && route.cache() != null) {
            digest = BodyDigest.of(body, body.length);
        }
        if (whole && metered && llm != null && llm.stream() && !llm.clientAskedForUsage() && route.tokens().injectUsage()) {
            byte[] rewritten = IncludeUsageRewriter.rewrite(body, body.length);
            if (rewritten != null) {
                replaceHeld(rewritten, rewritten.length - heldBody.parkedBytes(), requestComplete);
                usageInjected = true;
            }
        }
        return true;
    }

    /** No upstream serves the model: 503 while the route's model lists are not known yet, else 404. */
    private void refuseModel(ModelRouter.Choice c, String model) {
        if (c.pending()) {
            exchange.refuseBody(ProxyError.MODEL_LIST_UNAVAILABLE, "the model list of this route's upstreams is not known yet",
                    "model_list_unavailable", List.of(new ResponseHeader("retry-after", "2")));
        } else {
            exchange.refuseBody(ProxyError.MODEL_NOT_FOUND, "The model `" + model + "` does not exist", "model_not_found", null);
        }
    }

    /** Rewrites an alias to the name the upstream serves; returns the rewritten held bytes, or null when unchanged. */
    private byte[] rewriteModel(String served, boolean requestComplete) {
        byte[] held = heldBody.copyParked(Integer.MAX_VALUE); // not cut at the peek limit: all of it is sent
        byte[] rewritten = ModelFieldRewriter.rewrite(held, held.length, served);
        if (rewritten != null) {
            replaceHeld(rewritten, rewritten.length - held.length, requestComplete);
        }
        return rewritten;
    }

    /**
     * Swaps every held body part for {@code body} (the whole body when the request is complete, else its start), and
     * corrects a Content-Length by {@code delta}.
     */
    private void replaceHeld(byte[] body, long delta, boolean requestComplete) {
        heldBody.replaceParked(alloc.buffer(body.length).writeBytes(body), requestComplete);
        if (HttpUtil.isContentLengthSet(request) && !HopByHopHeaders.chunked(request)) {
            HttpUtil.setContentLength(request, HttpUtil.getContentLength(request, 0L) + delta);
        }
    }

    /** The parsed request, or null when the body is not JSON. */
    LlmRequest llm() {
        return llm;
    }

    /** The digest of the whole body for the cache key, or null when it was not all held or the route does not cache. */
    String digest() {
        return digest;
    }

    /** The consistent-hash key of hash_key: prompt_prefix, or null. */
    String promptPrefix() {
        return promptPrefix;
    }

    /** Whether {@code stream_options.include_usage} was added to the body for the gateway's own metering. */
    boolean usageInjected() {
        return usageInjected;
    }
}
