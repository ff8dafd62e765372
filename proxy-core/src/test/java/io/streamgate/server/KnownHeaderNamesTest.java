package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KnownHeaderNamesTest {
    private static AsciiString find(String name) {
        byte[] bytes = ("xx" + name + ":").getBytes(StandardCharsets.US_ASCII);
        return KnownHeaderNames.find(bytes, 2, name.length()); // not at the start of the array, as in the decoder
    }

    @Test
    void aKnownNameIsFoundInAnyCaseAsTheConstantInstance() {
        for (String spelling : List.of("content-length", "Content-Length", "CONTENT-LENGTH", "cOnTeNt-LeNgTh")) {
            assertSame(HttpHeaderNames.CONTENT_LENGTH, find(spelling), spelling);
        }
        assertSame(HttpHeaderNames.HOST, find("Host"));
        assertSame(RequestIds.HEADER, find("X-Request-Id"));
        assertSame(RequestPolicies.X_API_KEY, find("X-Api-Key"));
    }

    @Test
    void otherNamesAreNotMatched() {
        assertNull(find("Content-Lengtx"), "same length, one byte off");
        assertNull(find("Content-Length2"));
        assertNull(find("X-Stainless-Lang"));
        assertNull(find("Content_Length"), "'_' is not '-' in any case");
        assertNull(find("Hoss"));
        assertNull(find("a".repeat(200)), "longer than any known name");
        assertNull(find(""));
    }

    @Test
    void onlyTheConstantInstancesCountAsConstants() {
        assertTrue(KnownHeaderNames.isConstant(HttpHeaderNames.CONTENT_TYPE));
        assertFalse(KnownHeaderNames.isConstant(new AsciiString("content-type")), "equal content, another instance");
        assertFalse(KnownHeaderNames.isConstant("content-type"));
    }

    @Test
    void theRequestDecoderHandsOutConstantsForKnownNamesAndKeepsOtherSpellings() {
        HttpDecoderConfig config = new HttpDecoderConfig()
                .setHeadersFactory(TrustedHeaderNames.headersFactory().withValueValidation(true));
        EmbeddedChannel ch = new EmbeddedChannel(new StrictRequestDecoder(config));
        ch.writeInbound(ascii("POST /v1/chat HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/json\r\n"
                + "X-Stainless-Lang: python\r\nContent-Length: 2\r\n\r\n{}"));
        HttpRequest request = ch.readInbound();
        List<CharSequence> names = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> h : iterable(request.headers())) {
            names.add(h.getKey());
        }
        assertSame(HttpHeaderNames.HOST, names.get(0));
        assertSame(HttpHeaderNames.CONTENT_TYPE, names.get(1));
        assertEquals("X-Stainless-Lang", names.get(2).toString(), "an unknown name keeps its spelling");
        assertSame(HttpHeaderNames.CONTENT_LENGTH, names.get(3));
        assertEquals("application/json", request.headers().get("content-type"));
        LastHttpContent body = ch.readInbound();
        ReferenceCountUtil.release(body);
        ch.finishAndReleaseAll();
    }

    @Test
    void anUnknownNameIsStillValidated() {
        HttpDecoderConfig config = new HttpDecoderConfig()
                .setHeadersFactory(TrustedHeaderNames.headersFactory().withValueValidation(true));
        EmbeddedChannel ch = new EmbeddedChannel(new StrictRequestDecoder(config));
        ch.writeInbound(ascii("GET / HTTP/1.1\r\nHost: a\r\nBad{Name: x\r\n\r\n"));
        HttpRequest request = ch.readInbound();
        assertTrue(request.decoderResult().isFailure(), "a name that is not a token is refused");
        ch.finishAndReleaseAll();
    }

    @Test
    void theConstantsCannotCarryABadValue() {
        HttpHeaders headers = TrustedHeaderNames.headersFactory().withValueValidation(true).newHeaders();
        assertThrows(IllegalArgumentException.class, () -> headers.add(HttpHeaderNames.USER_AGENT, "a\r\nInjected: 1"));
    }

    private static Iterable<Map.Entry<CharSequence, CharSequence>> iterable(HttpHeaders headers) {
        return headers::iteratorCharSequence;
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }
}
