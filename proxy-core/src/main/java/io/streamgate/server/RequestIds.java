package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/** Propagates a sane client-supplied X-Request-Id, or makes a new one. */
public final class RequestIds {
    public static final AsciiString HEADER = AsciiString.cached("x-request-id");
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_LENGTH = 128;

    private RequestIds() {
    }

    public static String fromOrNew(HttpHeaders headers) {
        String given = headers.get(HEADER);
        return given != null && acceptable(given) ? given : generate();
    }

    /** Only visible ASCII without separators: the id ends up in logs and in headers we send on. */
    static boolean acceptable(String id) {
        if (id.isEmpty() || id.length() > MAX_LENGTH) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                return false;
            }
        }
        return true;
    }

    static String generate() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        byte[] out = new byte[32]; // Latin-1 bytes make the String's own array directly, without a char[] to compress
        long hi = r.nextLong();
        long lo = r.nextLong();
        for (int i = 0; i < 16; i++) {
            out[i] = HEX[(int) (hi >>> (60 - 4 * i)) & 0xf];
            out[16 + i] = HEX[(int) (lo >>> (60 - 4 * i)) & 0xf];
        }
        return new String(out, StandardCharsets.ISO_8859_1);
    }
}
