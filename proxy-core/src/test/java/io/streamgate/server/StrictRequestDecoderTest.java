package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The folding scan must give the same answer however a head is cut into reads: it keeps its state across reads and
 * jumps between line feeds, so every cut point (inside a line, just before or after a line feed, inside the blank
 * line) is tried, as well as one byte per read.
 */
class StrictRequestDecoderTest {
    private static final String FOLDED = "POST /v1/completions HTTP/1.1\r\nHost: a\r\nX-Folded: first\r\n second\r\n"
            + "Content-Length: 5\r\n\r\nhello";
    private static final String TAB_FOLDED = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tmore\r\n\r\n";
    /** Whitespace after line feeds in the body and a tab inside a value are no folding. */
    private static final String CLEAN = "\r\n\r\nPOST /v1/completions HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\n"
            + "Content-Length: 11\r\n\r\n a\r\n b\n\t c\n";
    private static final String PIPELINED = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /two HTTP/1.1\r\nHost: a\r\nX-Folded: x\r\n y\r\n\r\n";

    @Test
    void foldingIsFoundAtEveryCutPoint() {
        for (String head : List.of(FOLDED, TAB_FOLDED)) {
            for (int cut = 0; cut <= head.length(); cut++) {
                Decoded d = decode(head.substring(0, cut), head.substring(cut));
                assertEquals(0, d.requests, "cut at " + cut + " of " + head);
                assertTrue(d.refused, "cut at " + cut + " of " + head);
            }
            Decoded d = decode(head.split("(?<=.)", -1));
            assertTrue(d.refused, "one byte per read: " + head);
        }
    }

    @Test
    void cleanRequestPassesAtEveryCutPoint() {
        for (int cut = 0; cut <= CLEAN.length(); cut++) {
            Decoded d = decode(CLEAN.substring(0, cut), CLEAN.substring(cut));
            assertEquals(1, d.requests, "cut at " + cut);
            assertEquals(" a\r\n b\n\t c\n", d.body.toString(), "cut at " + cut);
            assertTrue(!d.refused && d.ended, "cut at " + cut);
        }
        Decoded d = decode(CLEAN.split("(?<=.)", -1));
        assertTrue(d.requests == 1 && !d.refused && d.ended, "one byte per read");
    }

    @Test
    void secondPipelinedRequestIsScannedAfterTheFirstEnds() {
        for (int cut = 0; cut <= PIPELINED.length(); cut++) {
            Decoded d = decode(PIPELINED.substring(0, cut), PIPELINED.substring(cut));
            assertEquals(1, d.requests, "cut at " + cut);
            assertTrue(d.refused, "cut at " + cut);
        }
    }

    private static Decoded decode(String... reads) {
        EmbeddedChannel ch = new EmbeddedChannel(new StrictRequestDecoder(new HttpDecoderConfig()));
        Decoded d = new Decoded();
        for (String read : reads) {
            if (!read.isEmpty()) {
                ch.writeInbound(Unpooled.copiedBuffer(read, StandardCharsets.ISO_8859_1));
            }
            Object msg;
            while ((msg = ch.readInbound()) != null) {
                d.take(msg);
            }
        }
        ch.finishAndReleaseAll();
        return d;
    }

    private static final class Decoded {
        int requests;
        boolean refused;
        boolean ended;
        final StringBuilder body = new StringBuilder();

        void take(Object msg) {
            if (msg instanceof RejectedRequest) {
                refused = true;
            }
            if (msg instanceof HttpRequest) {
                requests++;
            }
            if (msg instanceof HttpContent) {
                body.append(((HttpContent) msg).content().toString(StandardCharsets.ISO_8859_1));
                ended |= msg instanceof LastHttpContent;
            }
            ReferenceCountUtil.release(msg);
        }
    }
}
