package io.streamgate.server;

import java.util.ArrayList;
import java.util.List;

/**
 * Normalises a request path before routes and policies see it, so {@code /v1/../admin} cannot slip past a rule
 * written for {@code /admin}: dot segments (also percent-encoded) are resolved, duplicate slashes merged. The
 * normalised path is also what the backend receives, so both sides agree on what was asked for.
 */
final class PathNormalizer {
    private PathNormalizer() {
    }

    /**
     * @param path a path starting with '/', without query
     * @return the normalised path; null when it climbs above the root, or when an encoded slash or a backslash would
     *     let a backend that decodes them see a dot segment we did not
     */
    static String normalize(String path) {
        if (!needsWork(path)) {
            return path;
        }
        if (hidesDotSegment(path)) {
            return null;
        }
        List<String> out = new ArrayList<>();
        boolean trailingSlash = false;
        int start = 1;
        while (start <= path.length()) {
            int slash = path.indexOf('/', start);
            int end = slash < 0 ? path.length() : slash;
            int dots = dotSegment(path, start, end);
            trailingSlash = slash >= 0 || dots > 0;
            if (dots == 1 || start == end) {
                // "." and empty segments (from "//") vanish
            } else if (dots == 2) {
                if (out.isEmpty()) {
                    return null;
                }
                out.remove(out.size() - 1);
            } else {
                out.add(path.substring(start, end));
            }
            start = end + 1;
        }
        StringBuilder sb = new StringBuilder(path.length());
        for (String seg : out) {
            sb.append('/').append(seg);
        }
        if (sb.length() == 0 || trailingSlash) {
            sb.append('/');
        }
        return sb.toString();
    }

    /** Most paths have nothing to normalise: no "//", no "." segment start, no "%2e". */
    private static boolean needsWork(String path) {
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '/' && i + 1 < path.length() && (path.charAt(i + 1) == '/' || path.charAt(i + 1) == '.'
                    || path.charAt(i + 1) == '%')) {
                return true;
            }
            if (c == '\\') {
                return true;
            }
        }
        return path.indexOf("%2f") >= 0 || path.indexOf("%2F") >= 0 || path.indexOf("%5c") >= 0 || path.indexOf("%5C") >= 0;
    }

    /** Splitting also on %2F, %5C and '\' must not reveal a dot segment (such a path is refused as ambiguous). */
    private static boolean hidesDotSegment(String path) {
        String alt = path.replace("%2f", "/").replace("%2F", "/").replace("%5c", "/").replace("%5C", "/").replace('\\', '/');
        if (alt.equals(path)) {
            return false;
        }
        int start = 1;
        while (start <= alt.length()) {
            int slash = alt.indexOf('/', start);
            int end = slash < 0 ? alt.length() : slash;
            if (dotSegment(alt, start, end) > 0) {
                return true;
            }
            start = end + 1;
        }
        return false;
    }

    /** 1 for ".", 2 for "..", also spelled with %2e; 0 otherwise. */
    private static int dotSegment(String path, int start, int end) {
        int dots = 0;
        int i = start;
        while (i < end) {
            if (path.charAt(i) == '.') {
                i++;
            } else if (i + 3 <= end && path.charAt(i) == '%' && path.charAt(i + 1) == '2'
                    && (path.charAt(i + 2) == 'e' || path.charAt(i + 2) == 'E')) {
                i += 3;
            } else {
                return 0;
            }
            dots++;
        }
        return dots <= 2 ? dots : 0;
    }
}
