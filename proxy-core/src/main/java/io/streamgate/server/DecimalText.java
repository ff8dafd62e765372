package io.streamgate.server;

/**
 * Decimal text of a long. Small values, which the RateLimit-Remaining and -Reset headers of most responses carry,
 * come from a table instead of being formatted again for every response.
 */
final class DecimalText {
    private static final String[] SMALL = new String[1024];

    static {
        for (int i = 0; i < SMALL.length; i++) {
            SMALL[i] = Integer.toString(i);
        }
    }

    private DecimalText() {
    }

    static String of(long value) {
        return value >= 0 && value < SMALL.length ? SMALL[(int) value] : Long.toString(value);
    }
}
