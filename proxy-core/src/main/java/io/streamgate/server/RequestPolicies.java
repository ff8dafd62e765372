package io.streamgate.server;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.streamgate.config.RouteConfig;
import io.streamgate.policy.ApiKeys;
import io.streamgate.policy.CorsPolicy;
import io.streamgate.policy.PreflightDecision;
import io.streamgate.policy.ResponseHeader;
import io.streamgate.policy.cache.CacheKeys;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;

/**
 * The per-request policy chain, in a fixed order: IP rules, then CORS (a preflight is answered here, before
 * authentication, because browsers never send credentials on a preflight), then the API key. The first refusal
 * ends the chain. The classes in {@code io.streamgate.policy} decide; this class applies their decisions to the
 * request and builds the refusals.
 */
final class RequestPolicies {
    static final AsciiString X_API_KEY = AsciiString.cached("x-api-key");
    private static final String ACCESS_CONTROL_REQUEST_METHOD = "access-control-request-method";
    private static final String ACCESS_CONTROL_REQUEST_HEADERS = "access-control-request-headers";

    private RequestPolicies() {
    }

    /**
     * What the chain decided.
     *
     * @param error        a refusal, or null
     * @param preflight    a finished preflight answer, or null
     * @param identity     the API key's name, or null for an anonymous request
     * @param corsHeaders  headers to add to whatever response this request gets
     */
    record Outcome(ProxyError error, String message, FullHttpResponse preflight, String identity, List<ResponseHeader> corsHeaders) {
        /** An anonymous request on a route without CORS headers, the commonest outcome, shared rather than made each time. */
        private static final Outcome PASSED = new Outcome(null, null, null, null, List.of());

        static Outcome passed(String identity, List<ResponseHeader> corsHeaders) {
            return identity == null && corsHeaders.isEmpty() ? PASSED : new Outcome(null, null, null, identity, corsHeaders);
        }
    }

    /**
     * @param client      the client's address as resolved through trusted proxies
     * @param serverRulesPending whether the socket peer is a trusted proxy (the server-level rules were then not applied
     *                           at accept and apply here to the resolved client)
     */
    static Outcome evaluate(Snapshot snapshot, RouteConfig route, HttpRequest req, InetAddress client, boolean serverRulesPending) {
        Snapshot.RoutePolicies policies = snapshot.routePolicies().get(route.name());
        String origin = req.headers().get(HttpHeaderNames.ORIGIN);
        CorsPolicy cors = policies.cors();
        List<ResponseHeader> corsHeaders = cors == null ? List.of() : cors.responseHeaders(origin);
        if (serverRulesPending && !snapshot.serverIp().permits(client) || !policies.ip().permits(client)) {
            return new Outcome(ProxyError.IP_DENIED, "requests from " + io.netty.util.NetUtil.toAddressString(client) + " are not allowed",
                    null, null, corsHeaders);
        }
        HttpHeaders h = req.headers();
        if (cors != null && CorsPolicy.isPreflight(req.method().name(), origin, h.get(ACCESS_CONTROL_REQUEST_METHOD))) {
            PreflightDecision d = cors.preflight(origin, h.get(ACCESS_CONTROL_REQUEST_METHOD), h.get(ACCESS_CONTROL_REQUEST_HEADERS));
            if (!d.allowed()) {
                return new Outcome(ProxyError.CORS_ORIGIN_DENIED, "origin " + origin + " is not allowed", null, null, d.headers());
            }
            FullHttpResponse ok = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT, Unpooled.EMPTY_BUFFER);
            for (ResponseHeader rh : d.headers()) {
                ok.headers().add(rh.name(), rh.value());
            }
            return new Outcome(null, null, ok, null, List.of());
        }
        String identity = null;
        if (route.auth() == RouteConfig.AuthMode.OFF) {
            // Not checked here, but one of our keys must still never travel to a backend: each header is checked on
            // its own (every value of it), and only one that carries our key is removed.
            if (!snapshot.apiKeys().isEmpty()) {
                removeIfOurs(h, HttpHeaderNames.AUTHORIZATION, snapshot.apiKeys());
                removeIfOurs(h, X_API_KEY, snapshot.apiKeys());
            }
        } else {
            String presented = ApiKeys.presentedKey(h.get(HttpHeaderNames.AUTHORIZATION), h.get(X_API_KEY));
            identity = presented == null ? null : snapshot.apiKeys().identify(presented);
            boolean missing = presented == null;
            if (identity == null && (!missing || route.auth() == RouteConfig.AuthMode.REQUIRED)) {
                return new Outcome(ProxyError.INVALID_API_KEY, missing ? "an API key is required" : "invalid API key",
                        null, null, corsHeaders);
            }
            // The client's key is ours to check, never the backend's to see.
            h.remove(HttpHeaderNames.AUTHORIZATION).remove(X_API_KEY);
        }
        if (route.upstreamApiKey() != null) {
            h.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + route.upstreamApiKey());
        }
        return Outcome.passed(identity, corsHeaders);
    }

    /** Removes header {@code name} when any of its values carries one of our keys (Bearer for Authorization). */
    private static void removeIfOurs(HttpHeaders h, CharSequence name, ApiKeys keys) {
        boolean authorization = HttpHeaderNames.AUTHORIZATION.contentEqualsIgnoreCase(name);
        for (String value : h.getAll(name)) {
            String presented = authorization ? ApiKeys.presentedKey(value, null) : ApiKeys.presentedKey(null, value);
            if (presented != null && keys.identify(presented) != null) {
                h.remove(name);
                return;
            }
        }
    }

    /** The CORS response headers a backend may send on its own, which a route's CORS policy replaces. */
    private static final AsciiString[] BACKEND_CORS_HEADERS = {
            HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS,
            HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, HttpHeaderNames.ACCESS_CONTROL_MAX_AGE};

    /**
     * Adds CORS headers to a response; Vary is merged with what the backend sent rather than replaced. On a route with
     * a CORS policy ({@code cors} is never empty there: a refused origin still gets Vary) the gateway owns the
     * answer: the backend's own {@code Access-Control-*} headers are dropped first. vLLM's server sends
     * {@code Access-Control-Allow-Origin: *} by default, which passed through for the very origins the route refuses.
     */
    static void addCorsHeaders(HttpHeaders response, List<ResponseHeader> cors) {
        if (!cors.isEmpty()) {
            for (AsciiString name : BACKEND_CORS_HEADERS) {
                response.remove(name);
            }
        }
        for (ResponseHeader rh : cors) {
            if (rh.name().equalsIgnoreCase("vary")) {
                // Vary may come as several header lines; each is kept, and Origin is added unless a listed name is
                // already exactly it (or "*"): a name that merely contains it, like X-Origin-Hint, does not count.
                List<String> names = CacheKeys.varyNames(response);
                if (!names.contains("*") && !names.contains(rh.value().toLowerCase(Locale.ROOT))) {
                    response.add(HttpHeaderNames.VARY, rh.value());
                }
            } else {
                response.set(rh.name(), rh.value());
            }
        }
    }
}
