package io.streamgate.policy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * A route's CORS rules and the headers they produce. Stateless per request, so pipelined requests cannot see each
 * other's origin (the Netty CorsHandler keeps per-request fields; LESSONS T8) and it needs no Netty types.
 *
 * <p>Origins are exact ({@code https://app.example.com}), a wildcard ({@code https://*.example.com}: any subdomain at
 * any depth, same scheme, same port, not the apex), or {@code *} for any origin. The opaque origin {@code null} (sent
 * from sandboxed frames, {@code file:} pages and some redirects) matches only when listed literally, never through
 * {@code *}: LESSONS T15 shows how easily a "null allowed" switch turns into "everything allowed".
 *
 * <p>CORS only tells browsers what they may read; it is not access control (non-browser clients ignore it). The real
 * guards are the IP rules and API keys.
 */
public final class CorsPolicy {
    static final String ALLOW_ORIGIN = "access-control-allow-origin";
    static final String ALLOW_METHODS = "access-control-allow-methods";
    static final String ALLOW_HEADERS = "access-control-allow-headers";
    static final String ALLOW_CREDENTIALS = "access-control-allow-credentials";
    static final String EXPOSE_HEADERS = "access-control-expose-headers";
    static final String MAX_AGE = "access-control-max-age";
    private static final ResponseHeader VARY_ORIGIN = new ResponseHeader("vary", "Origin");
    private static final List<ResponseHeader> VARY_ONLY = List.of(VARY_ORIGIN);
    private static final PreflightDecision DENIED = new PreflightDecision(false, VARY_ONLY);

    private final boolean anyOrigin;
    private final Set<String> exactOrigins;
    private final List<Wildcard> wildcards;
    private final Set<String> allowedHeaders;
    private final boolean allowCredentials;
    private final String allowMethodsValue;
    private final String exposeHeadersValue;
    private final String maxAgeValue;

    /**
     * @param allowedOrigins  exact origins, {@code scheme://*.domain[:port]} wildcards, {@code *}, or {@code null}
     * @param allowedMethods  methods a preflight may announce (upper-cased here)
     * @param allowedHeaders  request headers a preflight may announce (case-insensitive)
     * @param exposedHeaders  response headers scripts may read
     * @param maxAge          how long browsers may cache a preflight answer
     * @throws IllegalArgumentException when an origin, method or header name is malformed
     */
    public CorsPolicy(List<String> allowedOrigins, List<String> allowedMethods, List<String> allowedHeaders,
            List<String> exposedHeaders, boolean allowCredentials, Duration maxAge) {
        boolean any = false;
        Set<String> exact = new LinkedHashSet<>();
        List<Wildcard> wild = new ArrayList<>();
        for (String configured : allowedOrigins) {
            String origin = normalizeOrigin(configured);
            if (origin.equals("*")) {
                any = true;
            } else if (origin.contains("://*.")) {
                wild.add(Wildcard.of(origin));
            } else {
                exact.add(origin);
            }
        }
        this.anyOrigin = any;
        this.exactOrigins = Set.copyOf(exact);
        this.wildcards = List.copyOf(wild);
        this.allowedHeaders = Set.copyOf(tokens(allowedHeaders, "header name", false));
        this.allowCredentials = allowCredentials;
        this.allowMethodsValue = String.join(", ", tokens(allowedMethods, "method", true));
        this.exposeHeadersValue = String.join(", ", tokens(exposedHeaders, "header name", false));
        if (maxAge.isNegative()) {
            throw new IllegalArgumentException("max_age must not be negative");
        }
        this.maxAgeValue = Long.toString(maxAge.toSeconds());
    }

    /**
     * The canonical form of a configured origin: lower case, default port dropped (browsers never send
     * {@code :443} for https), so it can be compared with the Origin header as a string.
     *
     * @throws IllegalArgumentException with a message fit for an operator
     */
    public static String normalizeOrigin(String configured) {
        String t = Objects.requireNonNull(configured, "origin").trim();
        if (t.equals("*") || t.equals("null")) {
            return t;
        }
        String lower = t.toLowerCase(Locale.ROOT);
        int sep = lower.indexOf("://");
        if (sep <= 0 || !lower.substring(0, sep).matches("[a-z][a-z0-9+.-]*")) {
            throw new IllegalArgumentException("'" + configured
                    + "' is not an origin (expected scheme://host[:port] such as https://app.example.com, https://*.example.com, or *)");
        }
        String scheme = lower.substring(0, sep);
        String rest = lower.substring(sep + 3);
        if (rest.endsWith("/")) {
            throw new IllegalArgumentException("'" + configured + "': an origin has no path; remove the trailing '/'");
        }
        if (rest.matches(".*[/?#@].*")) {
            throw new IllegalArgumentException("'" + configured + "': an origin is scheme://host[:port] only, with no path, query or user");
        }
        String host;
        String port = null;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            byte[] v6 = close < 0 ? null : InetLiterals.parse(rest, 1, close);
            if (v6 == null || v6.length != 16) {
                throw new IllegalArgumentException("'" + configured + "': '" + rest + "' is not a bracketed IPv6 address");
            }
            host = rest.substring(0, close + 1);
            if (close + 1 < rest.length()) {
                if (rest.charAt(close + 1) != ':') {
                    throw new IllegalArgumentException("'" + configured + "': unexpected text after the IPv6 address");
                }
                port = rest.substring(close + 2);
            }
        } else {
            int colon = rest.lastIndexOf(':');
            host = colon < 0 ? rest : rest.substring(0, colon);
            port = colon < 0 ? null : rest.substring(colon + 1);
            String name = host.startsWith("*.") ? host.substring(2) : host;
            if (!name.matches("[a-z0-9-]+(\\.[a-z0-9-]+)*")) {
                throw new IllegalArgumentException("'" + configured + "': '" + host
                        + "' is not a host name (only a leading '*.' wildcard is supported)");
            }
            if (host.startsWith("*.") && name.indexOf('.') < 0) {
                throw new IllegalArgumentException("'" + configured + "': '" + host
                        + "' would match every site under ." + name + "; name a registered domain, e.g. *.example.com");
            }
        }
        if (port != null) {
            if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
                throw new IllegalArgumentException("'" + configured + "': port must be 1..65535");
            }
            port = Integer.toString(Integer.parseInt(port));
            if (scheme.equals("https") && port.equals("443") || scheme.equals("http") && port.equals("80")) {
                port = null;
            }
        }
        return scheme + "://" + host + (port == null ? "" : ":" + port);
    }

    /** An OPTIONS request carrying Origin and Access-Control-Request-Method; any other OPTIONS is an ordinary request. */
    public static boolean isPreflight(String method, String originHeader, String accessControlRequestMethod) {
        return "OPTIONS".equals(method) && originHeader != null && accessControlRequestMethod != null
                && !accessControlRequestMethod.isBlank();
    }

    public boolean allowsOrigin(String origin) {
        if (origin == null || origin.isEmpty()) {
            return false;
        }
        if (origin.equals("null")) {
            return exactOrigins.contains("null");
        }
        if (anyOrigin) {
            return true;
        }
        String lower = origin.toLowerCase(Locale.ROOT);
        if (exactOrigins.contains(lower)) {
            return true;
        }
        for (Wildcard w : wildcards) {
            if (w.matches(lower)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Answers a preflight. Only the origin decides between allowed and denied. An allowed answer lists every configured
     * method and, of the requested headers, those that are allowed: if the browser wanted more, it refuses the actual
     * request itself and names the missing method or header in its console, which helps the developer more than a 403.
     *
     * @param requestMethod  the Access-Control-Request-Method value (the browser enforces it against the list)
     * @param requestHeaders the Access-Control-Request-Headers value, or null
     */
    public PreflightDecision preflight(String origin, String requestMethod, String requestHeaders) {
        if (!allowsOrigin(origin)) {
            return DENIED;
        }
        List<ResponseHeader> headers = new ArrayList<>(6);
        headers.add(allowOrigin(origin));
        headers.add(new ResponseHeader(ALLOW_METHODS, allowMethodsValue));
        String granted = grantedHeaders(requestHeaders);
        if (!granted.isEmpty()) {
            headers.add(new ResponseHeader(ALLOW_HEADERS, granted));
        }
        headers.add(new ResponseHeader(MAX_AGE, maxAgeValue));
        if (allowCredentials) {
            headers.add(new ResponseHeader(ALLOW_CREDENTIALS, "true"));
        }
        headers.add(VARY_ORIGIN);
        return new PreflightDecision(true, headers);
    }

    /**
     * The CORS headers for an actual (non-preflight) response. Always {@code vary: Origin}, because the response
     * differs by origin and a shared cache must not hand one origin's answer to another; the other headers only when the
     * origin is allowed. {@code vary} must be merged with any Vary the backend sent, not replace it.
     */
    public List<ResponseHeader> responseHeaders(String origin) {
        if (!allowsOrigin(origin)) {
            return VARY_ONLY;
        }
        List<ResponseHeader> headers = new ArrayList<>(4);
        headers.add(allowOrigin(origin));
        if (allowCredentials) {
            headers.add(new ResponseHeader(ALLOW_CREDENTIALS, "true"));
        }
        if (!exposeHeadersValue.isEmpty()) {
            headers.add(new ResponseHeader(EXPOSE_HEADERS, exposeHeadersValue));
        }
        headers.add(VARY_ORIGIN);
        return List.copyOf(headers);
    }

    /** "*" only when any origin is allowed without credentials; browsers reject "*" on credentialed requests. */
    private ResponseHeader allowOrigin(String origin) {
        return new ResponseHeader(ALLOW_ORIGIN, anyOrigin && !allowCredentials ? "*" : origin);
    }

    private String grantedHeaders(String requested) {
        if (requested == null || requested.isBlank()) {
            return "";
        }
        Set<String> granted = new LinkedHashSet<>();
        for (String part : requested.split(",")) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if (allowedHeaders.contains(name)) {
                granted.add(name);
            }
        }
        return String.join(", ", granted);
    }

    /** Validates RFC 9110 tokens, normalises case and drops duplicates. */
    private static Set<String> tokens(List<String> values, String what, boolean upper) {
        Set<String> out = new LinkedHashSet<>();
        for (String v : values) {
            String t = v.trim();
            if (!t.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+") || t.equals("*")) {
                throw new IllegalArgumentException("'" + v + "' is not a " + what + ("*".equals(t) ? " ('*' is not supported; list them)" : ""));
            }
            out.add(upper ? t.toUpperCase(Locale.ROOT) : t.toLowerCase(Locale.ROOT));
        }
        return out;
    }

    /** {@code scheme://*.domain[:port]}, pre-split so a match is two string comparisons and a character scan. */
    private record Wildcard(String prefix, String suffix) {
        static Wildcard of(String normalized) {
            int star = normalized.indexOf("*.");
            return new Wildcard(normalized.substring(0, star), normalized.substring(star + 1));
        }

        /** {@code origin} is lower case; the part the star covers must be dot-separated DNS labels and nothing else. */
        boolean matches(String origin) {
            int from = prefix.length();
            int to = origin.length() - suffix.length();
            if (to <= from || !origin.startsWith(prefix) || !origin.endsWith(suffix)) {
                return false;
            }
            boolean labelStart = true;
            for (int i = from; i < to; i++) {
                char c = origin.charAt(i);
                if (c == '.') {
                    if (labelStart) {
                        return false;
                    }
                    labelStart = true;
                } else if (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
                    labelStart = false;
                } else {
                    return false;
                }
            }
            return !labelStart;
        }
    }
}
