package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.streamgate.testing.EncodedWrites;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The encoder must put exactly Netty's bytes on the wire, in one buffer per small chunk. */
class ClientResponseEncoderTest {

    @Test
    void smallChunksLeaveAsOneBufferWithNettysBytes() {
        Supplier<List<Object>> stream = () -> List.of(
                chunkedHead(HttpResponseStatus.OK),
                content("data: {\"token\":\"Hello\"}\n\n"),
                content("x"),
                content("y".repeat(15)),
                content("z".repeat(16)),
                content("w".repeat(ClientResponseEncoder.COPY_LIMIT)),
                content("v".repeat(ClientResponseEncoder.COPY_LIMIT + 1)),
                content(""),
                new DefaultLastHttpContent(Unpooled.copiedBuffer("tail", StandardCharsets.US_ASCII)));
        EncodedWrites ours = EncodedWrites.of(new ClientResponseEncoder(), stream.get());
        EncodedWrites netty = EncodedWrites.of(new HttpResponseEncoder(), stream.get());
        assertEquals(netty.text(), ours.text());
        // One buffer per small chunk (5 of them), Netty's three for the one above the limit.
        assertEquals(List.of(1, 1, 1, 1, 1), ours.buffersPerMessage().subList(1, 6));
        assertEquals(3, ours.buffersPerMessage().get(6));
    }

    @Test
    void lengthFramedAndBodilessResponsesAndTheNextMessageAreUntouched() {
        Supplier<List<Object>> messages = () -> List.of(
                chunkedHead(HttpResponseStatus.OK),
                content("first"),
                LastHttpContent.EMPTY_LAST_CONTENT,
                lengthHead(5),
                content("hel"),
                new DefaultLastHttpContent(Unpooled.copiedBuffer("lo", StandardCharsets.US_ASCII)),
                chunkedHead(HttpResponseStatus.NOT_MODIFIED), // never has a body, whatever its headers say
                LastHttpContent.EMPTY_LAST_CONTENT,
                new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE),
                chunkedHead(HttpResponseStatus.OK),
                content("second"),
                LastHttpContent.EMPTY_LAST_CONTENT);
        EncodedWrites ours = EncodedWrites.of(new ClientResponseEncoder(), messages.get());
        EncodedWrites netty = EncodedWrites.of(new HttpResponseEncoder(), messages.get());
        assertEquals(netty.text(), ours.text());
        assertEquals(1, ours.buffersPerMessage().get(1));
        assertEquals(netty.buffersPerMessage().subList(3, 9), ours.buffersPerMessage().subList(3, 9), "length-framed and bodiless");
        assertEquals(1, ours.buffersPerMessage().get(10));
    }

    private static DefaultHttpResponse chunkedHead(HttpResponseStatus status) {
        DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        return head;
    }

    private static DefaultHttpResponse lengthHead(int length) {
        DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, length);
        return head;
    }

    private static DefaultHttpContent content(String text) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }
}
