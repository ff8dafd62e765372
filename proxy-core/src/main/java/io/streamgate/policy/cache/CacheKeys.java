package io.streamgate.policy.cache;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Builds {@link CacheKey}s. Stateless.
 *
 * <p>The text is meant to be read and purged by prefix, so it stays close to the request:
 * {@code "GET api.example.com/v1/models?limit=5 @team-a |accept-encoding=gzip"}. Distinct requests must never share
 * a key (one caller would be served another's response), so the encoding is injective: after escaping, no part
 * contains a space, the first two space-separated parts are the method and host+target, and every later part starts
 * with its marker ({@code #} body digest, {@code @} identity, {@code |} Vary-selected header) in that fixed order.
 * Identities and header values, the parts a client can shape freely, escape {@code %} as {@code %25} and space as
 * {@code %20}; the host and target (which cannot contain spaces on the wire) only have a stray space escaped.
 */
public final class CacheKeys {
    private CacheKeys() {
    }

    /**
     * The primary key of a request. HEAD looks up and stores under GET: a GET entry answers a HEAD (the relay sends
     * only its head) and a HEAD response has no body worth storing. The host is lower-cased (host names are
     * case-insensitive); the target is kept as the router saw it.
     *
     * @param pathAndQuery origin-form target, starting with {@code /}
     * @param bodyDigest   {@link BodyDigest} of the body for cached POSTs, else null
     * @param identity     the caller's identity (API key name) when the route is not shared; null on shared routes
     *                     or for anonymous callers, which then all share entries
     */
    public static CacheKey of(String route, String method, String host, String pathAndQuery, String bodyDigest,
            String identity) {
        Objects.requireNonNull(method, "method");
        StringBuilder text = new StringBuilder(24 + host.length() + pathAndQuery.length()
                + (bodyDigest == null ? 0 : bodyDigest.length() + 2) + (identity == null ? 0 : identity.length() + 2));
        text.append(method.equals("HEAD") ? "GET" : method).append(' ');
        appendSpaceEscaped(text, host.toLowerCase(Locale.ROOT));
        appendSpaceEscaped(text, pathAndQuery);
        if (bodyDigest != null) {
            text.append(" #").append(bodyDigest);
        }
        if (identity != null) {
            text.append(" @");
            appendEscaped(text, identity);
        }
        return new CacheKey(route, text.toString());
    }

    /**
     * The primary key extended with this request's values of the headers the stored response varied on, so callers
     * who negotiated different representations get different entries. A header the request lacks ({@code |name})
     * differs from one it sends empty ({@code |name=}); several field lines are joined with a comma.
     *
     * @param varyNames the Vary names remembered for the primary key (any case, any order, duplicates allowed)
     */
    public static CacheKey withVary(CacheKey primary, List<String> varyNames, HttpHeaders request) {
        if (varyNames.isEmpty()) {
            return primary;
        }
        StringBuilder text = new StringBuilder(primary.text().length() + 32 * varyNames.size());
        text.append(primary.text());
        for (String name : normalized(varyNames)) {
            text.append(" |").append(name);
            List<String> values = request.getAll(name);
            if (values.isEmpty()) {
                continue;
            }
            text.append('=');
            for (int i = 0; i < values.size(); i++) {
                if (i > 0) {
                    text.append(',');
                }
                appendEscaped(text, values.get(i));
            }
        }
        return new CacheKey(primary.route(), text.toString());
    }

    /**
     * The header names a response's Vary lists: lower case, sorted, without duplicates, empty items or items that
     * cannot be header names (not RFC 9110 tokens; they would also make key texts ambiguous). Contains {@code "*"}
     * when the response varies on something outside the request ({@link Freshness} refuses those).
     */
    public static List<String> varyNames(HttpHeaders responseHeaders) {
        List<String> values = responseHeaders.getAll(HttpHeaderNames.VARY);
        if (values.isEmpty()) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        for (String value : values) {
            for (String item : value.split(",")) {
                String name = item.trim();
                if (isToken(name)) {
                    names.add(name);
                }
            }
        }
        return normalized(names);
    }

    private static List<String> normalized(List<String> names) {
        if (names.size() == 1) {
            return List.of(names.get(0).toLowerCase(Locale.ROOT));
        }
        return names.stream().map(n -> n.toLowerCase(Locale.ROOT)).distinct().sorted().toList();
    }

    /** RFC 9110 §5.6.2 token: one or more tchar. */
    private static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return false;
            }
        }
        return true;
    }

    private static void appendSpaceEscaped(StringBuilder text, String part) {
        if (part.indexOf(' ') < 0) {
            text.append(part);
            return;
        }
        for (int i = 0; i < part.length(); i++) {
            char c = part.charAt(i);
            if (c == ' ') {
                text.append("%20");
            } else {
                text.append(c);
            }
        }
    }

    private static void appendEscaped(StringBuilder text, String part) {
        for (int i = 0; i < part.length(); i++) {
            char c = part.charAt(i);
            if (c == '%') {
                text.append("%25");
            } else if (c == ' ') {
                text.append("%20");
            } else {
                text.append(c);
            }
        }
    }
}
