package io.streamgate.route;

import io.streamgate.config.RouteConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Picks the route for a request: among routes whose host, methods and path prefix match, the longest prefix wins;
 * on a tie an exact host beats a wildcard host, which beats a route for any host; then the first in the file wins.
 * Prefixes match as plain string prefixes, as in nginx, Envoy and Traefik.
 */
public final class Router {
    private final List<RouteConfig> ordered;

    public Router(List<RouteConfig> routes) {
        List<RouteConfig> sorted = new ArrayList<>(routes);
        // A stable sort keeps file order among equals.
        sorted.sort(Comparator.comparingInt((RouteConfig r) -> r.pathPrefix().length()).reversed()
                .thenComparing(Comparator.comparingInt(Router::hostRank).reversed()));
        this.ordered = List.copyOf(sorted);
    }

    /**
     * @param host the request's host without port, lower-case, or null
     * @param path the request path without query
     * @return the route, or null when nothing matches
     */
    public RouteConfig match(String host, String method, String path) {
        for (RouteConfig r : ordered) {
            if (path.startsWith(r.pathPrefix()) && hostMatches(r.host(), host)
                    && (r.methods().isEmpty() || r.methods().contains(method))) {
                return r;
            }
        }
        return null;
    }

    /** Whether some route names this host explicitly: the only hosts an absolute-form target may name. */
    public boolean servesHost(String host) {
        for (RouteConfig r : ordered) {
            if (r.host() != null && hostMatches(r.host(), host)) {
                return true;
            }
        }
        return false;
    }

    /** The path the backend sees, after strip_prefix or rewrite_prefix. */
    public static String rewrite(RouteConfig route, String path) {
        if (route.rewritePrefix() == null) {
            return path;
        }
        String rest = path.substring(route.pathPrefix().length());
        String rewritten = route.rewritePrefix() + rest;
        if (rewritten.isEmpty() || rewritten.charAt(0) != '/') {
            rewritten = "/" + rewritten;
        }
        return rewritten;
    }

    /** The Host header value without port, lower-cased; IPv6 literals keep their brackets. */
    public static String hostOnly(String hostHeader) {
        if (hostHeader == null || hostHeader.isEmpty()) {
            return null;
        }
        String h = hostHeader.trim();
        int end = h.length();
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            end = close < 0 ? end : close + 1;
        } else {
            int colon = h.indexOf(':');
            if (colon >= 0) {
                end = colon;
            }
        }
        if (end > 0 && h.charAt(end - 1) == '.') {
            end--; // "example.com." names the same host
        }
        return h.substring(0, end).toLowerCase(java.util.Locale.ROOT);
    }

    private static boolean hostMatches(String pattern, String host) {
        if (pattern == null) {
            return true;
        }
        if (host == null) {
            return false;
        }
        if (pattern.startsWith("*.")) {
            String suffix = pattern.substring(1);
            return host.length() > suffix.length() && host.endsWith(suffix);
        }
        return pattern.equals(host);
    }

    private static int hostRank(RouteConfig r) {
        if (r.host() == null) {
            return 0;
        }
        return r.host().startsWith("*.") ? 1 : 2;
    }
}
