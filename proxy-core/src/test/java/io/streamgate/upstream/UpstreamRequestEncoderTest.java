package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.streamgate.testing.EncodedWrites;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The encoder must put exactly Netty's bytes on the wire, a request without a body in one buffer. */
class UpstreamRequestEncoderTest {

    @Test
    void aRequestWithoutABodyLeavesAsOneBufferAndItsEmptyEndAsNone() {
        Supplier<List<Object>> messages = () -> List.of(
                head(HttpMethod.GET, null),
                LastHttpContent.EMPTY_LAST_CONTENT,
                head(HttpMethod.POST, "0"),
                new DefaultLastHttpContent(),
                head(HttpMethod.DELETE, null),
                LastHttpContent.EMPTY_LAST_CONTENT);
        EncodedWrites ours = EncodedWrites.of(new UpstreamRequestEncoder(), messages.get());
        EncodedWrites netty = EncodedWrites.of(new HttpRequestEncoder(), messages.get());
        assertEquals(netty.text(), ours.text());
        assertTrue(ours.text().startsWith("GET /v1/models HTTP/1.1\r\nhost: backend\r\n\r\nPOST "), ours.text());
        assertEquals(List.of(1, 0, 1, 0, 1, 0), ours.buffersPerMessage());
        assertEquals(List.of(1, 1, 1, 1, 1, 1), netty.buffersPerMessage(), "Netty sends each end as an empty buffer");
        ours.writes().forEach(w -> assertTrue(w.isSuccess(), "every write, the ends taken here too, completes"));
    }

    @Test
    void requestsWithABodyOrAlreadyWholeAreNettys() {
        Supplier<List<Object>> messages = () -> List.of(
                head(HttpMethod.POST, "5"),
                content("hel"),
                new DefaultLastHttpContent(Unpooled.copiedBuffer("lo", StandardCharsets.US_ASCII)),
                chunkedHead(),
                content("first"),
                LastHttpContent.EMPTY_LAST_CONTENT,
                head(HttpMethod.GET, null), // a bodiless head between two others: the next one must still be framed
                LastHttpContent.EMPTY_LAST_CONTENT,
                chunkedHead(),
                content("second"),
                new DefaultLastHttpContent(),
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/full",
                        Unpooled.copiedBuffer("{}", StandardCharsets.US_ASCII)));
        EncodedWrites ours = EncodedWrites.of(new UpstreamRequestEncoder(), messages.get());
        EncodedWrites netty = EncodedWrites.of(new HttpRequestEncoder(), messages.get());
        assertEquals(netty.text(), ours.text());
        assertTrue(ours.text().contains("6\r\nsecond\r\n0\r\n\r\n"), ours.text());
        assertEquals(netty.buffersPerMessage().subList(0, 6), ours.buffersPerMessage().subList(0, 6));
        assertEquals(netty.buffersPerMessage().subList(8, 12), ours.buffersPerMessage().subList(8, 12));
    }

    @Test
    void bodyBytesAfterAHeadThatSaidNoneAreRefusedRatherThanSent() {
        // The decoders never produce this; were a bug to, the bytes must not reach the backend as the start of the
        // next request on the connection.
        EncodedWrites ours = EncodedWrites.of(new UpstreamRequestEncoder(), List.of(
                head(HttpMethod.GET, null),
                new DefaultLastHttpContent(Unpooled.copiedBuffer("smuggled", StandardCharsets.US_ASCII))));
        assertFalse(ours.writes().get(1).isSuccess());
        assertFalse(ours.text().contains("smuggled"), ours.text());
    }

    private static DefaultHttpRequest head(HttpMethod method, String contentLength) {
        DefaultHttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, "/v1/models");
        head.headers().set(HttpHeaderNames.HOST, "backend");
        if (contentLength != null) {
            head.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        }
        return head;
    }

    private static DefaultHttpRequest chunkedHead() {
        DefaultHttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions");
        head.headers().set(HttpHeaderNames.HOST, "backend").set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        return head;
    }

    private static DefaultHttpContent content(String text) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }
}
