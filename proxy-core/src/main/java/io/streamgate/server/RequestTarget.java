package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.streamgate.route.Router;

/**
 * The routing view of a request target: host (lower-case, no port), path and query. Absolute-form targets
 * ({@code GET http://host/path}) are reduced to origin form, as RFC 9112 §3.2.2 asks of servers. Targets a
 * backend could resolve differently from us (dot segments, missing leading slash) are refused.
 *
 * @param error why the target is refused, or null
 */
record RequestTarget(String host, String path, String query, String error) {

    static RequestTarget parse(HttpRequest req) {
        String uri = req.uri();
        String hostHeader = req.headers().get(HttpHeaderNames.HOST);
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            int authorityStart = uri.indexOf("//") + 2;
            int slash = uri.indexOf('/', authorityStart);
            int q = uri.indexOf('?', authorityStart);
            int end = slash >= 0 ? slash : q >= 0 ? q : uri.length();
            hostHeader = uri.substring(authorityStart, end);
            uri = slash >= 0 ? uri.substring(slash) : "/" + uri.substring(end);
        }
        if (!uri.startsWith("/")) {
            return refused("request target must start with '/'");
        }
        if (hostHeader == null && req.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
            return refused("missing Host header");
        }
        if (req.headers().getAll(HttpHeaderNames.HOST).size() > 1) {
            return refused("more than one Host header");
        }
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        String query = q < 0 ? null : uri.substring(q + 1);
        if (hasDotSegment(path)) {
            return refused("path contains '.' or '..' segments");
        }
        return new RequestTarget(Router.hostOnly(hostHeader), path, query, null);
    }

    /** The target to send upstream after a path rewrite. */
    String withPath(String newPath) {
        return query == null ? newPath : newPath + "?" + query;
    }

    private static RequestTarget refused(String why) {
        return new RequestTarget(null, null, null, why);
    }

    private static boolean hasDotSegment(String path) {
        int i = 0;
        while (i < path.length()) {
            int next = path.indexOf('/', i + 1);
            int end = next < 0 ? path.length() : next;
            String seg = path.substring(i + 1, end);
            if (seg.equals(".") || seg.equals("..") || seg.equalsIgnoreCase("%2e") || seg.equalsIgnoreCase("%2e%2e")
                    || seg.equalsIgnoreCase(".%2e") || seg.equalsIgnoreCase("%2e.")) {
                return true;
            }
            i = end;
        }
        return false;
    }
}
