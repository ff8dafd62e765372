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
 * @param authority the host (with port) the request names: an absolute-form target's, else the Host header; may be null
 * @param error     why the target is refused, or null
 */
record RequestTarget(String host, String authority, String path, String query, String error) {

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
        return new RequestTarget(Router.hostOnly(hostHeader), hostHeader, path, query, null);
    }

    /** The target to send upstream after a path rewrite. */
    String withPath(String newPath) {
        return query == null ? newPath : newPath + "?" + query;
    }

    private static RequestTarget refused(String why) {
        return new RequestTarget(null, null, null, null, why);
    }

    private static boolean hasDotSegment(String path) {
        int start = 1;
        while (start <= path.length()) {
            int slash = path.indexOf('/', start);
            int end = slash < 0 ? path.length() : slash;
            if (isDotSegment(path, start, end)) {
                return true;
            }
            start = end + 1;
        }
        return false;
    }

    /** "." or "..", also when percent-encoded ("%2e", ".%2E", ...): each decodes to a dot segment. */
    private static boolean isDotSegment(String path, int start, int end) {
        int dots = 0;
        int i = start;
        while (i < end) {
            if (path.charAt(i) == '.') {
                i++;
            } else if (i + 3 <= end && path.charAt(i) == '%' && path.charAt(i + 1) == '2'
                    && (path.charAt(i + 2) == 'e' || path.charAt(i + 2) == 'E')) {
                i += 3;
            } else {
                return false;
            }
            dots++;
        }
        return dots == 1 || dots == 2;
    }
}
