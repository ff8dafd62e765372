package io.streamgate.testing;

import java.util.Random;

/**
 * A deterministic, non-repeating-looking byte stream for large bodies: a seeded random block whose length is not
 * a power of two is cycled, so a reordered, lost or duplicated buffer changes the SHA-256 of the whole.
 */
public final class PatternBytes {
    private static final byte[] BLOCK = new byte[(1 << 20) + 7];

    static {
        new Random(20240607L).nextBytes(BLOCK);
    }

    private PatternBytes() {
    }

    /** Fills {@code dst[off, off+len)} with the stream's bytes starting at {@code position}. */
    public static void fill(byte[] dst, int off, int len, long position) {
        int from = (int) (position % BLOCK.length);
        while (len > 0) {
            int n = Math.min(len, BLOCK.length - from);
            System.arraycopy(BLOCK, from, dst, off, n);
            off += n;
            len -= n;
            from = 0;
        }
    }
}
