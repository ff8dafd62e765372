package io.streamgate.observe;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An ASCII line assembled straight into a reused byte array: what the access log hands to its output is these bytes,
 * so a line is neither built as characters nor copied a character at a time into the output's batch. Callers write
 * only ASCII into it. Not thread-safe.
 */
final class LineBytes {
    private byte[] bytes;
    private int length;

    LineBytes(int capacity) {
        bytes = new byte[capacity];
    }

    void clear() {
        length = 0;
    }

    byte[] array() {
        return bytes;
    }

    int length() {
        return length;
    }

    LineBytes append(char c) {
        ensure(1);
        bytes[length++] = (byte) c;
        return this;
    }

    /** Bytes known to be ASCII, such as a field name encoded once. */
    LineBytes append(byte[] ascii) {
        return append(ascii, 0, ascii.length);
    }

    /** {@code length} bytes of {@code ascii} from {@code offset}. */
    LineBytes append(byte[] ascii, int offset, int length) {
        ensure(length);
        System.arraycopy(ascii, offset, bytes, this.length, length);
        this.length += length;
        return this;
    }

    /** Text known to be ASCII (such as a formatted time); each character becomes one byte. */
    LineBytes appendAscii(CharSequence text) {
        int n = text.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            bytes[length++] = (byte) text.charAt(i);
        }
        return this;
    }

    LineBytes append(long value) {
        if (value < 0) {
            if (value == Long.MIN_VALUE) {
                return appendAscii(Long.toString(value));
            }
            append('-');
            value = -value;
        }
        int digits = 1;
        for (long v = value; v >= 10; v /= 10) {
            digits++;
        }
        ensure(digits);
        int end = length + digits;
        for (int i = end - 1; i >= length; i--) {
            bytes[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        length = end;
        return this;
    }

    /** Makes room for {@code more} bytes, to be written with {@link #put}. */
    void ensure(int more) {
        if (length + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
        }
    }

    /** One byte, in room made by {@link #ensure}. */
    void put(byte b) {
        bytes[length++] = b;
    }

    @Override
    public String toString() {
        return new String(bytes, 0, length, StandardCharsets.US_ASCII);
    }
}
