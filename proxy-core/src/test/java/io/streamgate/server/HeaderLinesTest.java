package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.netty.util.internal.PlatformDependent;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Header lines must be byte for byte what Netty's encoders write, into direct (memory address) and heap buffers. */
class HeaderLinesTest {
    private static HttpHeaders headers() {
        HttpHeaders h = new DefaultHttpHeaders(false); // no validation: the odd values below are the point
        h.add(HttpHeaderNames.CONTENT_TYPE, "application/json");
        h.add(new AsciiString("X-Stainless-Lang"), "python");
        h.add("x-string-name", "caf\u00e9 \u00ff"); // Latin-1 characters: one byte each
        h.add(RequestIds.HEADER, "");
        h.add("x-wide", "snow \u2603 and \ud83d\ude00"); // above U+00FF: '?' per character, as Netty writes it
        h.add(new AsciiString("x-sliced-name-part".getBytes(), 2, 6, false), new StringBuilder("built"));
        h.add("x-long", "v".repeat(5_000));
        return h;
    }

    @Test
    void linesAreNettysIntoDirectAndHeapBuffers() {
        byte[] netty = viaNetty();
        for (Function<Integer, ByteBuf> alloc : java.util.List.<Function<Integer, ByteBuf>>of(
                n -> ByteBufAllocator.DEFAULT.directBuffer(n), n -> Unpooled.buffer(n), n -> Unpooled.directBuffer(n))) {
            ByteBuf buf = alloc.apply(16); // small: the lines must grow it
            try {
                HeaderLines.write(headers(), buf);
                assertArrayEquals(netty, ByteBufUtil.getBytes(buf), buf.getClass().getName());
            } finally {
                buf.release();
            }
        }
        // The address path needs Unsafe, which Netty has up to Java 23; NewerJavaIT runs the jar on 24+ without it.
        ByteBuf direct = ByteBufAllocator.DEFAULT.directBuffer(16);
        if (Runtime.version().feature() < 24) {
            assertTrue(PlatformDependent.hasUnsafe() && direct.hasMemoryAddress(), "the address path is tested");
        }
        direct.release();
    }

    /** The header lines Netty's own request encoder writes for the same headers. */
    private static byte[] viaNetty() {
        EmbeddedChannel ch = new EmbeddedChannel(new HttpRequestEncoder());
        DefaultHttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", headers());
        ch.writeOutbound(request);
        ByteBuf out = ch.readOutbound();
        String all = out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        out.release();
        ch.finishAndReleaseAll();
        int start = all.indexOf("\r\n") + 2;
        int end = all.length() - 2; // the blank line
        return all.substring(start, end).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
