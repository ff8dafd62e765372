package io.streamgate.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the unit-bearing values of the config: durations ({@code 300ms}, {@code 5m}) and sizes ({@code 16KiB}). */
final class Units {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");
    /** Longer than any timeout, interval or TTL has a use for, and far inside what a timer's nanoseconds hold. */
    private static final Duration MAX_DURATION = Duration.ofDays(365);
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|KB|MB|GB)?");

    private Units() {
    }

    /** Returns the duration, or throws IllegalArgumentException with a message fit for the operator. */
    static Duration duration(String text) {
        String t = text.trim();
        if (t.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = DURATION.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (expected e.g. 300ms, 30s, 5m, 1h)");
        }
        Duration d;
        try {
            long n = Long.parseLong(m.group(1));
            switch (m.group(2)) {
                case "ms": d = Duration.ofMillis(n); break;
                case "s": d = Duration.ofSeconds(n); break;
                case "m": d = Duration.ofMinutes(n); break;
                default: d = Duration.ofHours(n);
            }
        } catch (ArithmeticException | NumberFormatException e) {
            d = null; // beyond what a Duration (or a long) holds
        }
        // Timers take nanoseconds: an unbounded value would overflow there, on every connection or request.
        if (d == null || d.compareTo(MAX_DURATION) > 0) {
            throw new IllegalArgumentException("'" + text + "' is too long (at most 8760h, a year)");
        }
        return d;
    }

    static long size(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size (expected e.g. 512B, 16KiB, 10MiB, 1GiB)");
        }
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        String unit = m.group(2) == null ? "B" : m.group(2);
        long factor;
        switch (unit) {
            case "KiB": factor = 1L << 10; break;
            case "MiB": factor = 1L << 20; break;
            case "GiB": factor = 1L << 30; break;
            case "KB": factor = 1_000L; break;
            case "MB": factor = 1_000_000L; break;
            case "GB": factor = 1_000_000_000L; break;
            default: factor = 1L;
        }
        if (n > Long.MAX_VALUE / factor) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        return n * factor;
    }
}
