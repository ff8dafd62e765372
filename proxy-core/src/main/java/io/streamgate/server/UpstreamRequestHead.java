package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.streamgate.config.RouteConfig;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Endpoint;
import io.streamgate.route.Router;
import io.streamgate.upstream.ForwardingHeaders;
import io.streamgate.upstream.HopByHopHeaders;

/**
 * The client's request head made into the one a backend gets: hop-by-hop headers gone, forwarding headers and the
 * request id added, the Host the route asks for, the rewritten path; then, once an endpoint is leased, the upstream's
 * API key and the endpoint's own Host. The request is changed in place, as no other copy of its head is kept.
 */
final class UpstreamRequestHead {
    private UpstreamRequestHead() {
    }

    /**
     * What holds for every endpoint, done once before the request is admitted.
     *
     * @param clientHost the authority the client asked for, or null
     */
    static void prepare(HttpRequest request, RouteConfig route, RequestTarget target, String forwardedFor, String scheme,
                        String clientHost, String requestId) {
        boolean chunked = HopByHopHeaders.chunked(request);
        HttpHeaders h = request.headers();
        HopByHopHeaders.strip(h);
        if (chunked) {
            h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED); // re-framed hop by hop
        }
        ForwardingHeaders.apply(h, route.forwarded(), forwardedFor, scheme, clientHost);
        h.set(RequestIds.HEADER, requestId);
        switch (route.hostHeader().mode()) {
            case LITERAL:
                h.set(HttpHeaderNames.HOST, route.hostHeader().value());
                break;
            case PRESERVE:
                if (clientHost != null) {
                    h.set(HttpHeaderNames.HOST, clientHost); // an absolute-form target's authority wins (RFC 9112 §3.2.2)
                }
                break;
            default:
                break;
        }
        request.setUri(target.withPath(Router.rewrite(route, target.path())));
        request.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /** What depends on the leased endpoint, done before each attempt writes the head. */
    static void forEndpoint(HttpRequest request, RouteConfig route, UpstreamConfig upstream, Endpoint endpoint,
                            String clientHost) {
        if (route.upstreamApiKey() == null && upstream.apiKey() != null) {
            request.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + upstream.apiKey());
        }
        if (route.hostHeader().mode() == RouteConfig.HostHeader.Mode.UPSTREAM
                || route.hostHeader().mode() == RouteConfig.HostHeader.Mode.PRESERVE && clientHost == null) {
            request.headers().set(HttpHeaderNames.HOST, endpoint.authority());
        }
    }
}
