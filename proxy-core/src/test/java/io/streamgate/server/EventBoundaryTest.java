package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Event boundaries over every way a stream's bytes may be cut into pieces ("|" marks a cut; \r and \n spelled out). */
class EventBoundaryTest {
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = ';', value = {
            "'';                              true",
            "data: x\\n\\n;                   true",
            "data: x\\n|\\n;                  true",
            "data: x\\n;                      false",
            "data: x\\r\\n\\r\\n;             true",
            "data: x\\r\\n|\\r\\n;            true",
            "data: x\\r|\\n\\r\\n;            true",
            "data: x\\r\\n|\\r;               true",
            "data: x\\r\\n;                   false",
            "data: x\\r|\\n;                  false",
            "data: x\\r\\r;                   true",
            "data: x\\r|\\r;                  true",
            "data: x\\n\\r\\n;                true",
            "data: x\\n\\n|data: y;           false",
            "data: x\\n\\n|data: y\\n|\\n;    true",
            "data: x\\n\\n|\\n;               true",
            ": comment\\n\\n|data: y\\r\\n;   false",
    })
    void findsTheBoundary(String pieces, boolean atBoundary) {
        EventBoundary boundary = new EventBoundary();
        for (String piece : pieces.replace("\\r", "\r").replace("\\n", "\n").split("\\|")) {
            if (piece.isEmpty()) {
                continue;
            }
            ByteBuf buf = Unpooled.copiedBuffer(piece, StandardCharsets.US_ASCII);
            boundary.feed(buf);
            assertEquals(piece.length(), buf.readableBytes(), "feed must leave the piece as it was");
            buf.release();
        }
        assertEquals(atBoundary, boundary.atBoundary());
    }
}
