package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.streamgate.config.EncodedPathCharacter;
import io.streamgate.route.Router;
import java.util.List;
import java.util.Set;

/**
 * The routing view of a request target: host (lower-case, no port), the authority to forward, the normalised path
 * and the query. Anything a backend could read differently from us is refused here, before routing: control
 * characters or spaces in the target, a missing, repeated or malformed Host, CONNECT (we are not a tunnel), an
 * absolute-form target naming a host no route serves (we are not an open forward proxy), a path above the root or
 * with percent-encoding that backends read differently ({@link PathNormalizer}).
 *
 * @param authority the host[:port] the request names: an absolute-form target's, else the Host header; may be null
 * @param error     why the request is refused (null when it is not), answered with {@code errorKind}
 */
record RequestTarget(String host, String authority, String path, String query, ProxyError errorKind, String error) {

    /**
     * @param previous       the connection's previous target, or null: its host is reused when the authority is the same
     * @param encodedAllowed the reserved characters the path may carry percent-encoded
     */
    static RequestTarget parse(HttpRequest req, Router router, RequestTarget previous,
                               Set<EncodedPathCharacter> encodedAllowed) {
        if (req.method().equals(HttpMethod.CONNECT)) {
            return refused(ProxyError.METHOD_NOT_ALLOWED, "CONNECT is not supported: this is a reverse proxy");
        }
        String uri = req.uri();
        if (!isCleanTarget(uri)) {
            return refused(ProxyError.BAD_REQUEST, "the request target contains spaces, control or non-ASCII characters");
        }
        List<String> hosts = req.headers().getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            return refused(ProxyError.BAD_REQUEST, "more than one Host header");
        }
        String authority = hosts.isEmpty() ? null : hosts.get(0).trim();
        if (authority != null && !isValidHost(authority)) {
            return refused(ProxyError.BAD_REQUEST, "invalid Host header");
        }
        if (authority == null && req.protocolVersion().equals(HttpVersion.HTTP_1_1) && !isAbsolute(uri)) {
            return refused(ProxyError.BAD_REQUEST, "missing Host header");
        }
        if (isAbsolute(uri)) {
            int authorityStart = uri.indexOf("//") + 2;
            int slash = uri.indexOf('/', authorityStart);
            int q = uri.indexOf('?', authorityStart);
            int end = slash >= 0 ? slash : q >= 0 ? q : uri.length();
            authority = uri.substring(authorityStart, end);
            if (!isValidHost(authority) || authority.isEmpty()) {
                return refused(ProxyError.BAD_REQUEST, "invalid host in the request target");
            }
            if (!router.servesHost(Router.hostOnly(authority))) {
                return refused(ProxyError.BAD_REQUEST, "absolute-form target for a host this gateway does not serve");
            }
            uri = slash >= 0 ? uri.substring(slash) : "/" + uri.substring(end);
        }
        if (!uri.startsWith("/")) {
            return refused(ProxyError.BAD_REQUEST, "request target must start with '/'");
        }
        int q = uri.indexOf('?');
        String rawPath = q < 0 ? uri : uri.substring(0, q);
        String path = PathNormalizer.normalize(rawPath, encodedAllowed);
        if (path == null) {
            return refused(ProxyError.BAD_REQUEST, PathNormalizer.whyRefused(rawPath, encodedAllowed));
        }
        String query = q < 0 ? null : uri.substring(q + 1);
        return new RequestTarget(hostOf(authority, previous), authority, path, query, null, null);
    }

    /** A connection's requests almost always name one authority; its host is cut from it once, not per request. */
    private static String hostOf(String authority, RequestTarget previous) {
        return previous != null && authority != null && authority.equals(previous.authority)
                ? previous.host : Router.hostOnly(authority);
    }

    /** The target to send upstream after a path rewrite. */
    String withPath(String newPath) {
        return query == null ? newPath : newPath + "?" + query;
    }

    /** Visible ASCII only: no space, control character, DEL or raw non-ASCII byte. */
    static boolean isCleanTarget(String uri) {
        if (uri.isEmpty()) {
            return false;
        }
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    /** host[:port] where host is a registered name or a bracketed IPv6 literal (RFC 3986 §3.2.2, minus user info). */
    static boolean isValidHost(String value) {
        String v = value.trim();
        if (v.isEmpty()) {
            return false;
        }
        int i = 0;
        if (v.charAt(0) == '[') {
            int close = v.indexOf(']');
            if (close < 0) {
                return false;
            }
            for (int j = 1; j < close; j++) {
                char c = v.charAt(j);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
                    return false;
                }
            }
            i = close + 1;
        } else {
            while (i < v.length() && v.charAt(i) != ':') {
                char c = v.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
                        || c == '~' || c == '%')) {
                    return false;
                }
                i++;
            }
        }
        if (i == v.length()) {
            return true;
        }
        if (v.charAt(i) != ':' || i + 1 == v.length() || v.length() - i - 1 > 5) {
            return false;
        }
        for (int j = i + 1; j < v.length(); j++) {
            if (v.charAt(j) < '0' || v.charAt(j) > '9') {
                return false;
            }
        }
        return true;
    }

    private static boolean isAbsolute(String uri) {
        return uri.regionMatches(true, 0, "http://", 0, 7) || uri.regionMatches(true, 0, "https://", 0, 8);
    }

    private static RequestTarget refused(ProxyError kind, String why) {
        return new RequestTarget(null, null, null, null, kind, why);
    }
}
