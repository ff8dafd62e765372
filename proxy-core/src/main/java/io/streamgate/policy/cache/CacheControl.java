package io.streamgate.policy.cache;

import java.util.List;
import java.util.Locale;

/**
 * The Cache-Control directives the gateway acts on (RFC 9111 §5.2), parsed from every field line of the header.
 * Immutable.
 *
 * <p>Parsing is lenient in what it accepts and conservative in what it concludes: names are case-insensitive,
 * arguments may be tokens or quoted strings ({@code max-age="60"}, which RFC 9111 §5.2 asks recipients to accept),
 * unknown directives and malformed numbers are ignored. A qualified {@code private="Set-Cookie"} or
 * {@code no-cache="Set-Cookie"} counts as the plain directive: we cannot store a response minus some fields, so the
 * safe reading is "do not store". When a number directive appears more than once the smallest valid value wins, so a
 * confused backend never gets a longer lifetime than one of its own statements allows.
 *
 * @param maxAgeSeconds  {@code max-age}, or -1 when absent or malformed
 * @param sMaxAgeSeconds {@code s-maxage}, or -1 when absent or malformed
 */
public record CacheControl(boolean noStore, boolean noCache, boolean isPrivate, boolean isPublic, long maxAgeSeconds,
        long sMaxAgeSeconds) {

    /** RFC 9111 §1.2.2: a delta-seconds that does not fit is taken as 2^31. */
    static final long DELTA_SECONDS_CAP = 2_147_483_648L;

    private static final CacheControl NONE = new CacheControl(false, false, false, false, -1, -1);

    /** @param headerValues every Cache-Control field value of one message, in order (empty when there are none) */
    public static CacheControl parse(List<String> headerValues) {
        if (headerValues.isEmpty()) {
            return NONE;
        }
        Directives d = new Directives();
        for (String value : headerValues) {
            d.parseFieldValue(value);
        }
        return new CacheControl(d.noStore, d.noCache, d.isPrivate, d.isPublic, d.maxAge, d.sMaxAge);
    }

    /** Collects directives across field lines; one instance per {@link #parse} call. */
    private static final class Directives {
        boolean noStore;
        boolean noCache;
        boolean isPrivate;
        boolean isPublic;
        long maxAge = -1;
        long sMaxAge = -1;

        void parseFieldValue(String value) {
            int n = value.length();
            int i = 0;
            while (i < n) {
                char c = value.charAt(i);
                if (c == ',' || c == ' ' || c == '\t') {
                    i++;
                    continue;
                }
                int nameStart = i;
                while (i < n && value.charAt(i) != ',' && value.charAt(i) != '=') {
                    i++;
                }
                String name = value.substring(nameStart, i).trim();
                String argument = null;
                if (i < n && value.charAt(i) == '=') {
                    i++;
                    while (i < n && (value.charAt(i) == ' ' || value.charAt(i) == '\t')) {
                        i++;
                    }
                    int argumentStart = i;
                    if (i < n && value.charAt(i) == '"') {
                        StringBuilder quoted = new StringBuilder();
                        i++;
                        while (i < n) {
                            char q = value.charAt(i++);
                            if (q == '"') {
                                break;
                            }
                            if (q == '\\' && i < n) {
                                q = value.charAt(i++);
                            }
                            quoted.append(q);
                        }
                        argument = quoted.toString();
                        // Anything between the closing quote and the next comma is garbage; skip it.
                        while (i < n && value.charAt(i) != ',') {
                            i++;
                        }
                    } else {
                        while (i < n && value.charAt(i) != ',') {
                            i++;
                        }
                        argument = value.substring(argumentStart, i).trim();
                    }
                }
                apply(name.toLowerCase(Locale.ROOT), argument);
            }
        }

        private void apply(String name, String argument) {
            switch (name) {
                case "no-store" -> noStore = true;
                case "no-cache" -> noCache = true;
                case "private" -> isPrivate = true;
                case "public" -> isPublic = true;
                case "max-age" -> maxAge = smallest(maxAge, deltaSeconds(argument));
                case "s-maxage" -> sMaxAge = smallest(sMaxAge, deltaSeconds(argument));
                default -> {
                    // A directive we do not act on (must-revalidate, immutable, extensions...).
                }
            }
        }

        private static long smallest(long current, long parsed) {
            if (parsed < 0) {
                return current;
            }
            return current < 0 ? parsed : Math.min(current, parsed);
        }
    }

    /** RFC 9111 §1.2.2 delta-seconds: digits only; -1 when absent or malformed (signs, decimals, empty). */
    static long deltaSeconds(String argument) {
        if (argument == null || argument.isEmpty()) {
            return -1;
        }
        long value = 0;
        for (int i = 0; i < argument.length(); i++) {
            char c = argument.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            if (value < DELTA_SECONDS_CAP) {
                value = value * 10 + (c - '0');
            }
        }
        return Math.min(value, DELTA_SECONDS_CAP);
    }
}
