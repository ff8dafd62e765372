package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.streamgate.server.CompactTrailers;
import io.streamgate.server.TrustedHeaderNames;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamResponseDecoderTest {
    private static final HttpDecoderConfig CONFIG = new HttpDecoderConfig()
            .setHeadersFactory(TrustedHeaderNames.headersFactory())
            .setTrailersFactory(CompactTrailers.factory());

    @Test
    void knownNamesComeOutAsConstantsAndTrailersSurviveInTheCompactMap() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamResponseDecoder(CONFIG));
        ch.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                + "X-Vllm-Model: qwen\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Tokens: 12\r\nX-Third: 3\r\n\r\n", StandardCharsets.US_ASCII));
        HttpResponse response = ch.readInbound();
        List<CharSequence> names = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> h : (Iterable<Map.Entry<CharSequence, CharSequence>>)
                response.headers()::iteratorCharSequence) {
            names.add(h.getKey());
        }
        assertSame(HttpHeaderNames.CONTENT_TYPE, names.get(0));
        assertEquals("X-Vllm-Model", names.get(1).toString(), "an unknown name keeps its spelling");
        assertSame(HttpHeaderNames.TRANSFER_ENCODING, names.get(2));
        HttpContent chunk = ch.readInbound();
        assertEquals("hello", chunk.content().toString(StandardCharsets.US_ASCII));
        chunk.release();
        LastHttpContent last = ch.readInbound();
        assertEquals(List.of("abc", "12", "3"), List.of(last.trailingHeaders().get("x-checksum"),
                last.trailingHeaders().get("X-Tokens"), last.trailingHeaders().get("x-third")));
        ReferenceCountUtil.release(last);
        ch.finishAndReleaseAll();
    }

    @Test
    void compactTrailersAreCheckedAsNettyChecksTrailers() {
        HttpHeaders ours = CompactTrailers.factory().newHeaders();
        HttpHeaders netty = DefaultHttpHeadersFactory.trailersFactory().newHeaders();
        for (HttpHeaders trailers : List.of(ours, netty)) {
            assertThrows(IllegalArgumentException.class, () -> trailers.add("Content-Length", "1"));
            assertThrows(IllegalArgumentException.class, () -> trailers.add("Transfer-Encoding", "chunked"));
            assertThrows(IllegalArgumentException.class, () -> trailers.add("bad name", "1"));
            assertThrows(IllegalArgumentException.class, () -> trailers.add("X-Ok", "a\r\nInjected: 1"));
        }
        for (int i = 0; i < 40; i++) {
            ours.add("x-trailer-" + i, Integer.toString(i));
        }
        assertEquals(40, ours.size());
        assertEquals("39", ours.get("X-Trailer-39"));
    }
}
