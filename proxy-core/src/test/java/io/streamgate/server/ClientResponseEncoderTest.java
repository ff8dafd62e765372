package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
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
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The encoder must put exactly Netty's bytes on the wire, in one buffer per small chunk and per small response. */
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

    @Test
    void aSmallBodyFramedByItsLengthLeavesInTheBufferOfItsHead() {
        EmbeddedChannel ch = new EmbeddedChannel(new ClientResponseEncoder());
        ch.write(lengthHead(5), ch.voidPromise());
        ChannelFuture end = ch.write(new DefaultLastHttpContent(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII)));
        ch.flush();
        assertEquals(List.of(nettys(lengthHead(5), "hello")), buffers(ch));
        assertTrue(end.isSuccess());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aHeldHeadLeavesAtTheNextFlushOrBeforeTheBodysFirstPart() {
        EmbeddedChannel ch = new EmbeddedChannel(new ClientResponseEncoder());
        ch.write(lengthHead(5), ch.voidPromise());
        assertEquals(List.of(), buffers(ch), "held");
        ch.flush(); // the body did not come in the same read: the head waits no longer than the flush
        assertEquals(List.of(nettys(lengthHead(5), "")), buffers(ch));
        ch.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII)));
        assertEquals(List.of("hello"), buffers(ch));

        ch.write(lengthHead(5), ch.voidPromise());
        ch.write(content("hel"));
        ch.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("lo", StandardCharsets.US_ASCII)));
        assertEquals(List.of(nettys(lengthHead(5), ""), "hel", "lo"), buffers(ch), "a body in parts is Netty's");

        ch.write(lengthHead(5), ch.voidPromise()); // a HEAD request's answer: the length, no body
        ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        assertEquals(List.of(nettys(lengthHead(5), "")), buffers(ch));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void headsThatAreWaitedOnOrWhoseBodyIsLargeAreNotHeld() {
        EmbeddedChannel ch = new EmbeddedChannel(new ClientResponseEncoder());
        ChannelFuture head = ch.write(lengthHead(5));
        ch.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII)));
        assertTrue(head.isSuccess());
        assertEquals(List.of(nettys(lengthHead(5), ""), "hello"), buffers(ch));

        String large = "x".repeat(ClientResponseEncoder.COPY_LIMIT);
        ch.write(lengthHead(large.length()), ch.voidPromise());
        ch.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer(large, StandardCharsets.US_ASCII)));
        assertEquals(List.of(nettys(lengthHead(large.length()), ""), large), buffers(ch));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aHeadHeldWhenTheConnectionClosesIsReleased() {
        EmbeddedChannel ch = new EmbeddedChannel(new ClientResponseEncoder());
        ch.write(lengthHead(5), ch.voidPromise());
        ch.close(); // the class's leak check fails if the held buffer is not released
        assertFalse(ch.finishAndReleaseAll());
    }

    /** Netty's bytes for {@code head} followed by a last part holding {@code body}. */
    private static String nettys(DefaultHttpResponse head, String body) {
        return EncodedWrites.of(new HttpResponseEncoder(), List.of(head)).text() + body;
    }

    private static List<String> buffers(EmbeddedChannel ch) {
        List<String> out = new ArrayList<>();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.add(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
        return out;
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
