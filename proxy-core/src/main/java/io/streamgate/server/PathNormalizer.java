package io.streamgate.server;

import io.streamgate.config.EncodedPathCharacter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Normalises a request path before routes and policies see it, so that neither {@code /v1/../admin} nor
 * {@code /%61dmin} can slip past a rule written for {@code /admin} while the backend, which decodes them, serves
 * {@code /admin}:
 * <ol>
 *   <li>percent-encoding is made canonical (RFC 3986 §6.2.2): escapes of unreserved characters are decoded, the hex
 *       digits of the others upper-cased; a malformed escape, an encoded NUL, and an encoded reserved character
 *       that backends disagree about ({@link EncodedPathCharacter}) unless the configuration allows it, are
 *       refused;</li>
 *   <li>dot segments are resolved and duplicate slashes merged (RFC 3986 §5.2.4).</li>
 * </ol>
 * The normalised path is also what the backend receives, so both sides agree on what was asked for.
 */
final class PathNormalizer {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private PathNormalizer() {
    }

    /**
     * @param path    a path starting with '/', without query
     * @param allowed the reserved characters that may appear percent-encoded
     * @return the normalised path, or null when it is refused ({@link #whyRefused} says why)
     */
    static String normalize(String path, Set<EncodedPathCharacter> allowed) {
        String p = path.indexOf('%') < 0 ? path : canonicalEscapes(path, allowed);
        if (p == null || !needsWork(p)) {
            return p;
        }
        if (hidesDotSegment(p)) {
            return null;
        }
        List<String> out = new ArrayList<>();
        boolean trailingSlash = false;
        int start = 1;
        while (start <= p.length()) {
            int slash = p.indexOf('/', start);
            int end = slash < 0 ? p.length() : slash;
            int dots = dotSegment(p, start, end);
            trailingSlash = slash >= 0 || dots > 0;
            if (dots == 1 || start == end) {
                // "." and empty segments (from "//") vanish
            } else if (dots == 2) {
                if (out.isEmpty()) {
                    return null;
                }
                out.remove(out.size() - 1);
            } else {
                out.add(p.substring(start, end));
            }
            start = end + 1;
        }
        StringBuilder sb = new StringBuilder(p.length());
        for (String seg : out) {
            sb.append('/').append(seg);
        }
        if (sb.length() == 0 || trailingSlash) {
            sb.append('/');
        }
        return sb.toString();
    }

    /** Why {@link #normalize} refused the path (called only for refused paths). */
    static String whyRefused(String path, Set<EncodedPathCharacter> allowed) {
        for (int i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
            String why = refusedEscape(escaped(path, i), allowed);
            if (why != null) {
                return why;
            }
        }
        return "the path climbs above the root or hides a dot segment";
    }

    /** Why an escape of byte {@code c} (-1: malformed) is refused, or null when it may stay. */
    private static String refusedEscape(int c, Set<EncodedPathCharacter> allowed) {
        if (c < 0) {
            return "malformed percent-encoding in the path";
        }
        if (c == 0) {
            return "an encoded NUL (%00) in the path";
        }
        EncodedPathCharacter e = EncodedPathCharacter.of((char) c);
        if (e != null && !allowed.contains(e)) {
            return "an encoded " + e.configName() + " in the path (server.allow_encoded_in_path does not allow it)";
        }
        return null;
    }

    /** The path with unreserved characters decoded and other escapes upper-cased; null when it must be refused. */
    private static String canonicalEscapes(String path, Set<EncodedPathCharacter> allowed) {
        StringBuilder sb = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char ch = path.charAt(i);
            if (ch != '%') {
                sb.append(ch);
                continue;
            }
            int c = escaped(path, i);
            if (refusedEscape(c, allowed) != null) {
                return null;
            }
            if (unreserved(c)) {
                sb.append((char) c);
            } else {
                sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xF]);
            }
            i += 2;
        }
        return sb.toString();
    }

    /** The byte the escape at {@code i} encodes, or -1 when it is not '%' and two hex digits. */
    private static int escaped(String path, int i) {
        if (i + 2 >= path.length()) {
            return -1;
        }
        // The target holds visible ASCII only (RequestTarget.isCleanTarget), where digit() means 0-9, a-f, A-F.
        int hi = Character.digit(path.charAt(i + 1), 16);
        int lo = Character.digit(path.charAt(i + 2), 16);
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }

    /** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
    private static boolean unreserved(int c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
                || c == '~';
    }

    /** Most paths have nothing to normalise: no "//", no segment starting with '.', no (encoded) backslash or slash. */
    private static boolean needsWork(String path) {
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '/' && i + 1 < path.length() && (path.charAt(i + 1) == '/' || path.charAt(i + 1) == '.')) {
                return true;
            }
            if (c == '\\') {
                return true;
            }
        }
        return path.contains("%2F") || path.contains("%5C");
    }

    /**
     * Where encoded slashes or backslashes are allowed, or a raw backslash arrives: splitting on them too must not
     * reveal a dot segment, which a backend that decodes them would resolve (such a path is refused as ambiguous).
     */
    private static boolean hidesDotSegment(String path) {
        String alt = path.replace("%2F", "/").replace("%5C", "/").replace('\\', '/');
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

    /** 1 for ".", 2 for ".."; 0 otherwise (escapes of '.' are decoded by then). */
    private static int dotSegment(String path, int start, int end) {
        int dots = end - start;
        if (dots < 1 || dots > 2) {
            return 0;
        }
        for (int i = start; i < end; i++) {
            if (path.charAt(i) != '.') {
                return 0;
            }
        }
        return dots;
    }
}
