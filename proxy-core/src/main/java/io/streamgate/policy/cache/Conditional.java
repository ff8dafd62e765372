package io.streamgate.policy.cache;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * Evaluates a GET or HEAD request's If-None-Match / If-Modified-Since against a stored response, as a cache
 * answering from its store should (RFC 9111 §4.3.2, RFC 9110 §13.1.2, §13.1.3, §13.2.2), and as nginx's proxy_cache
 * does. Stateless.
 */
public final class Conditional {
    /** Longest value {@link DateFormatter#parseHttpDate(CharSequence)} accepts without throwing. */
    private static final int MAX_HTTP_DATE_CHARS = 64;

    private Conditional() {
    }

    /**
     * Whether the stored response answers the request with {@code 304 Not Modified}: only for GET and HEAD and a 2xx
     * entry. If-None-Match, when present, decides alone (weak comparison; {@code *} matches the stored entry);
     * otherwise If-Modified-Since is compared with the entry's Last-Modified (an invalid date, or an entry without
     * Last-Modified, is ignored).
     */
    public static boolean notModified(String method, HttpHeaders request, CachedResponse entry) {
        if (!(method.equals("GET") || method.equals("HEAD")) || entry.status() / 100 != 2) {
            return false;
        }
        List<String> inm = request.getAll(HttpHeaderNames.IF_NONE_MATCH);
        if (!inm.isEmpty()) {
            String etag = header(entry, "etag");
            for (String value : inm) {
                if (matchesAny(value, etag)) {
                    return true;
                }
            }
            return false;
        }
        String ims = request.get(HttpHeaderNames.IF_MODIFIED_SINCE);
        String lastModified = header(entry, "last-modified");
        if (ims == null || lastModified == null) {
            return false;
        }
        Date since = httpDate(ims);
        Date modified = httpDate(lastModified);
        return since != null && modified != null && !modified.after(since);
    }

    /**
     * Whether a stored header belongs in a 304 made from the entry: everything but the representation's framing and
     * content metadata ({@code Content-*} other than {@code Content-Location}), which describe a body not sent.
     */
    public static boolean keptIn304(String name) {
        return !name.regionMatches(true, 0, "content-", 0, 8) || name.equalsIgnoreCase("content-location");
    }

    /** If-None-Match list (RFC 9110 §13.1.2) against {@code etag}, weakly: {@code W/} prefixes do not count. */
    private static boolean matchesAny(String value, String etag) {
        String v = value.trim();
        if (v.equals("*")) {
            return true;
        }
        if (etag == null) {
            return false;
        }
        String stored = opaque(etag.trim());
        if (stored == null) {
            return false;
        }
        int i = 0;
        int n = v.length();
        while (i < n) {
            char c = v.charAt(i);
            if (c == ',' || c == ' ' || c == '\t') {
                i++;
                continue;
            }
            if (v.startsWith("W/", i)) {
                i += 2;
            }
            if (i >= n || v.charAt(i) != '"') {
                return false; // malformed: no match rather than a guess
            }
            int close = v.indexOf('"', i + 1);
            if (close < 0) {
                return false;
            }
            if (v.substring(i, close + 1).equals(stored)) {
                return true;
            }
            i = close + 1;
        }
        return false;
    }

    /** The quoted opaque-tag of an entity-tag, without a weakness prefix; null when malformed. */
    private static String opaque(String etag) {
        String tag = etag.startsWith("W/") ? etag.substring(2) : etag;
        return tag.length() >= 2 && tag.charAt(0) == '"' && tag.indexOf('"', 1) == tag.length() - 1 ? tag : null;
    }

    private static String header(CachedResponse entry, String name) {
        for (Map.Entry<String, String> h : entry.headers()) {
            if (h.getKey().equalsIgnoreCase(name)) {
                return h.getValue();
            }
        }
        return null;
    }

    private static Date httpDate(String value) {
        if (value.length() > MAX_HTTP_DATE_CHARS) {
            return null;
        }
        return DateFormatter.parseHttpDate(value.trim());
    }
}
