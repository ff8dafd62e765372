package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.netty.util.internal.PlatformDependent;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes a message's header lines for our HTTP/1.1 encoders: the bytes Netty's encoders write, with fewer steps.
 * Netty copies each name into a pooled direct buffer through a fresh NIO view of it and each {@code String} value one
 * character at a time through the buffer's checks; when Netty may use Unsafe and the buffer has a memory address, the
 * line is written to that memory directly, after one capacity check.
 */
public final class HeaderLines {
    private static final short COLON_SPACE = (':' << 8) | ' ';
    private static final short CRLF = ('\r' << 8) | '\n';
    /**
     * Writing to an address needs Unsafe. A buffer's address alone does not say so: on Java 22+ Netty finds direct
     * buffers' addresses without Unsafe (for its native transports), and on Java 24+ it leaves Unsafe alone unless the
     * JVM is started with {@code --sun-misc-unsafe-memory-access=allow}.
     */
    private static final boolean UNSAFE = PlatformDependent.hasUnsafe();

    private HeaderLines() {
    }

    /** {@code name: value CRLF} for each header, in order; no blank line. */
    public static void write(HttpHeaders headers, ByteBuf buf) {
        Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> header = it.next();
            CharSequence name = header.getKey();
            CharSequence value = header.getValue();
            int nameLength = name.length();
            int valueLength = value.length();
            buf.ensureWritable(nameLength + valueLength + 4);
            if (UNSAFE && buf.hasMemoryAddress()) {
                long at = buf.memoryAddress() + buf.writerIndex();
                at = put(at, name, nameLength);
                PlatformDependent.putByte(at, (byte) ':');
                PlatformDependent.putByte(at + 1, (byte) ' ');
                at = put(at + 2, value, valueLength);
                PlatformDependent.putByte(at, (byte) '\r');
                PlatformDependent.putByte(at + 1, (byte) '\n');
                buf.writerIndex(buf.writerIndex() + nameLength + valueLength + 4);
            } else {
                buf.writeCharSequence(name, StandardCharsets.US_ASCII);
                buf.writeShort(COLON_SPACE);
                buf.writeCharSequence(value, StandardCharsets.US_ASCII);
                buf.writeShort(CRLF);
            }
        }
    }

    /** Writes {@code text} as Netty's ASCII encoding does (a character above U+00FF becomes '?'); returns the end. */
    private static long put(long at, CharSequence text, int length) {
        if (text instanceof AsciiString) {
            AsciiString ascii = (AsciiString) text;
            PlatformDependent.copyMemory(ascii.array(), ascii.arrayOffset(), at, length);
            return at + length;
        }
        for (int i = 0; i < length; i++) {
            char c = text.charAt(i);
            PlatformDependent.putByte(at + i, c > 0xff ? (byte) '?' : (byte) c);
        }
        return at + length;
    }
}
