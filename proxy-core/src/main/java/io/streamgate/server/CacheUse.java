package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.EventExecutor;
import io.streamgate.config.RouteCacheConfig;
import io.streamgate.config.RouteConfig;
import io.streamgate.policy.cache.CacheControl;
import io.streamgate.policy.cache.CacheKey;
import io.streamgate.policy.cache.CacheKeys;
import io.streamgate.policy.cache.CachedResponse;
import io.streamgate.policy.cache.Freshness;
import io.streamgate.policy.cache.MissCoalescer;
import io.streamgate.policy.cache.ResponseCache;
import io.streamgate.policy.llm.LlmRequest;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * One exchange's use of the response cache: whether the request may be answered from it, the lookup, the wait
 * behind an identical request already on its way to the backend, and the copy of the response that becomes the new
 * entry. Confined to the exchange's event loop.
 */
final class CacheUse {
    enum Status {
        HIT, MISS, BYPASS;

        private final String label = name().toLowerCase(java.util.Locale.ROOT);

        /** The metrics label, made once rather than per request. */
        String label() {
            return label;
        }
    }

    private final ResponseCache cache;
    private final MissCoalescer coalescer;
    private final RouteCacheConfig config;
    private final long maxEntrySize;
    private final java.util.function.LongSupplier clock;
    private final boolean head;
    private final boolean storable;
    /** The request's headers as forwarded, for the Vary-selected part of the key when storing. */
    private final HttpHeaders requestHeaders;
    private CacheKey primary;
    private CacheKey key;
    private Status status;
    private boolean leader;
    private MissCoalescer.Waiter waiter;
    /** The response being copied for the cache, or null when it will not be stored. */
    private byte[] fill;
    private int fillLength;
    private int fillStatus;
    private HttpHeaders fillHeaders;
    private long lifetimeNanos;
    /** The cache clock when the response head arrived: its age and lifetime count from then, not from its end. */
    private long fillStartNanos;
    private boolean fillEventStream;
    /** Where the route's current settings are looked up before storing, and the settings this exchange began with. */
    private Gateway gateway;
    private RouteConfig route;

    private CacheUse(ResponseCache cache, MissCoalescer coalescer, RouteCacheConfig config, long maxEntrySize,
                     java.util.function.LongSupplier clock, boolean head, boolean storable, CacheKey primary, Status status,
                     HttpHeaders requestHeaders) {
        this.requestHeaders = requestHeaders;
        this.cache = cache;
        this.coalescer = coalescer;
        this.config = config;
        this.maxEntrySize = maxEntrySize;
        this.clock = clock;
        this.head = head;
        this.storable = storable;
        this.primary = primary;
        this.status = status;
    }

    /**
     * Decides how a request on a caching route uses the cache.
     *
     * @param bodyDigest the digest of the whole request body, or null when there is none or it was too big to hold
     * @param llm        the parsed JSON body, or null
     */
    static CacheUse of(Gateway gateway, RouteConfig route, HttpRequest req, String host, String pathAndQuery, String identity,
                       boolean hasBody, String bodyDigest, LlmRequest llm) {
        RouteCacheConfig config = route.cache();
        HttpMethod method = req.method();
        HttpHeaders h = req.headers();
        boolean head = method.equals(HttpMethod.HEAD);
        boolean eligible;
        if (method.equals(HttpMethod.GET) || head) {
            eligible = !hasBody;
        } else if (method.equals(HttpMethod.POST)) {
            eligible = bodyDigest != null && switch (config.post()) {
                case NEVER -> false;
                case ALWAYS -> true;
                case DETERMINISTIC -> llm != null && llm.temperature() == 0.0;
            };
            eligible = eligible && (config.streamed() || llm == null || !llm.stream());
        } else {
            eligible = false;
        }
        // Credentials we did not consume belong to the backend's own scheme: a per-user answer we cannot key.
        boolean foreignCredentials = route.upstreamApiKey() == null && h.contains(HttpHeaderNames.AUTHORIZATION)
                || h.contains("x-api-key") || h.contains(HttpHeaderNames.COOKIE);
        if (!eligible || foreignCredentials && !config.shared()) {
            return new CacheUse(gateway.cache(), gateway.coalescer(), config, 0, gateway.clock()::nanoTime, head, false, null,
                    Status.BYPASS, h);
        }
        CacheControl cc = CacheControl.parse(h.getAll(HttpHeaderNames.CACHE_CONTROL));
        boolean pragmaNoCache = h.containsValue(HttpHeaderNames.PRAGMA, "no-cache", true);
        CacheKey primary = CacheKeys.of(route.name(), method.name(), host == null ? "" : host, pathAndQuery, bodyDigest,
                config.shared() ? null : identity);
        long maxEntry = gateway.snapshot().config().cache().maxEntrySize();
        if (cc.noStore()) {
            return new CacheUse(gateway.cache(), gateway.coalescer(), config, maxEntry, gateway.clock()::nanoTime, head, false,
                    primary, Status.BYPASS, h);
        }
        // no-cache (or max-age=0) asks for a fresh answer: skip the lookup, but the fresh answer refreshes the entry.
        boolean revalidate = cc.noCache() || cc.maxAgeSeconds() == 0 || pragmaNoCache;
        CacheUse use = new CacheUse(gateway.cache(), gateway.coalescer(), config, maxEntry, gateway.clock()::nanoTime, head,
                !head, primary, revalidate ? Status.BYPASS : Status.MISS, h);
        use.key = CacheKeys.withVary(primary, gateway.cache().varyNames(primary), h);
        use.gateway = gateway;
        use.route = route;
        return use;
    }

    Status status() {
        return status;
    }

    /** The fresh entry for this request, or null (the status then stays MISS or BYPASS). */
    CachedResponse lookup() {
        if (status != Status.MISS) {
            return null;
        }
        CachedResponse hit = cache.lookup(key);
        if (hit != null) {
            status = Status.HIT;
        }
        return hit;
    }

    /**
     * Joins an identical request already fetching this entry. Returns true when this exchange should go to the backend
     * now (it leads, or cannot wait); false when {@code onShared} will be called on {@code loop} with the entry the
     * leader stored, or with null when there is none and this exchange must fetch after all.
     */
    boolean lead(EventExecutor loop, Consumer<CachedResponse> onShared) {
        if (status != Status.MISS || head) {
            return true;
        }
        waiter = coalescer.join(key, loop, entry -> {
            waiter = null;
            // The two requests met before the response said what it varies on: this one takes the entry only through
            // the cache's lookup of its own variant, and fetches for itself when the leader's is another.
            CachedResponse mine = entry == null ? null
                    : cache.lookup(CacheKeys.withVary(primary, cache.varyNames(primary), requestHeaders));
            if (mine != null) {
                status = Status.HIT;
            }
            onShared.accept(mine);
        });
        leader = waiter == null;
        return leader;
    }

    /**
     * For a leader: the entry an identical request stored between our lookup and our joining, or null. A flight ends
     * when its leader completes, so a request joining just after becomes a leader for an entry that now exists.
     */
    CachedResponse lookupAgain() {
        if (!leader) {
            return null;
        }
        CachedResponse late = cache.lookup(key);
        if (late != null) {
            status = Status.HIT;
            leader = false;
            coalescer.complete(key, late);
        }
        return late;
    }

    /** The backend's response head arrived: decide whether it will be stored, and mark it. */
    void onResponseHead(HttpResponse response, boolean eventStream) {
        if (storable && (!eventStream || config.streamed())) {
            startFill(response, eventStream);
        }
        response.headers().set("x-cache", status.name());
    }

    private void startFill(HttpResponse response, boolean eventStream) {
        Duration lifetime = Freshness.lifetime(response.status().code(), response.headers(), config.ttl(), System.currentTimeMillis());
        long declared = HttpUtil.getContentLength(response, -1L);
        if (lifetime == null || declared > maxEntrySize) {
            return;
        }
        lifetimeNanos = lifetime.toNanos();
        fillStartNanos = clock.getAsLong();
        fillStatus = response.status().code();
        fillHeaders = response.headers().copy(); // as the backend sent them, before the gateway adds its own
        fillEventStream = eventStream;
        fill = new byte[(int) Math.max(256, Math.min(declared >= 0 ? declared : 4096, maxEntrySize))];
    }

    /** A piece of the response body as relayed to the client. */
    void tee(ByteBuf content) {
        if (fill == null) {
            return;
        }
        int n = content.readableBytes();
        if ((long) fillLength + n > maxEntrySize) {
            fill = null; // too big to cache: passed through only
            return;
        }
        if (fillLength + n > fill.length) {
            fill = Arrays.copyOf(fill, (int) Math.min(maxEntrySize, Math.max((long) fill.length * 2, fillLength + n)));
        }
        content.getBytes(content.readerIndex(), fill, fillLength, n);
        fillLength += n;
    }

    /** The whole response was relayed: store it and hand it to those waiting for it. */
    void complete() {
        CachedResponse stored = null;
        if (fill != null && routeUnchanged()) {
            // Received when its head arrived (RFC 9111 §4.2.3 response_time): a long stream has aged meanwhile.
            stored = CachedResponse.of(fillStatus, fillHeaders, Arrays.copyOf(fill, fillLength), fillEventStream,
                    fillStartNanos, fillStartNanos + lifetimeNanos);
            List<String> vary = CacheKeys.varyNames(fillHeaders);
            cache.store(primary, vary, CacheKeys.withVary(primary, vary, requestHeaders), stored);
        }
        fill = null;
        release(stored);
    }

    /**
     * Whether the route still has the settings this exchange started with. A reload that changed it dropped its
     * entries ({@code Streamgate.reload}); a response fetched under the old settings (shared, say) must not come back.
     */
    private boolean routeUnchanged() {
        for (RouteConfig current : gateway.snapshot().config().routes()) {
            if (current.name().equals(route.name())) {
                return current == route || current.equals(route);
            }
        }
        return false;
    }

    /** The exchange ended without a storable response (error, abort, client gone). */
    void abandon() {
        fill = null;
        release(null);
    }

    private void release(CachedResponse stored) {
        if (waiter != null) {
            waiter.cancel();
            waiter = null;
        }
        if (leader) {
            leader = false;
            coalescer.complete(key, stored);
        }
    }
}
