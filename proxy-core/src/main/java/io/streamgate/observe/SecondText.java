package io.streamgate.observe;

import java.time.Instant;
import java.time.format.DateTimeFormatter;

/**
 * The text of the current UTC second in one pattern, formatted again only when the second changes: an access log
 * line needs the time on every request, and a busy event loop sees many requests per second.
 * Not thread-safe: each thread keeps its own (see {@link AccessLog}).
 */
final class SecondText {
    private final DateTimeFormatter formatter;
    private long second = Long.MIN_VALUE;
    private String text;

    SecondText(DateTimeFormatter formatter) {
        this.formatter = formatter;
    }

    /** The second of {@code epochMillis}, formatted. */
    String of(long epochMillis) {
        long s = Math.floorDiv(epochMillis, 1000);
        if (s != second) {
            text = formatter.format(Instant.ofEpochSecond(s));
            second = s;
        }
        return text;
    }
}
