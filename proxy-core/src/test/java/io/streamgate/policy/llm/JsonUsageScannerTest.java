package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonUsageScannerTest {
    /** A vLLM chat completion with decoys: a usage inside a choice and the word usage inside strings. */
    static final String CHAT_RESPONSE = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1730000000,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"The \\"usage\\": {\\"prompt_tokens\\": 999} \
            of \\u00e9 and 😀","tool_calls":[]},"logprobs":null,"finish_reason":"stop",
             "usage":{"prompt_tokens":1000,"completion_tokens":1000}}],
             "usage":{"prompt_tokens":21,"total_tokens":30,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":0}},
             "prompt_logprobs":null,"kv_transfer_params":null,"note":"usage"}
            """;

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Feeds {@code body} in pieces of the given sizes (cycled), checking each buffer is left as it was. */
    static Usage scan(byte[] body, int... pieceSizes) {
        JsonUsageScanner scanner = new JsonUsageScanner();
        int pos = 0;
        for (int i = 0; pos < body.length; i++) {
            int n = Math.min(pieceSizes[i % pieceSizes.length], body.length - pos);
            ByteBuf piece = (i % 2 == 0 ? PooledByteBufAllocator.DEFAULT.directBuffer(n + 8) : Unpooled.buffer(n + 8));
            piece.writeBytes(new byte[] {'x', 'x'});
            piece.writeBytes(body, pos, n);
            piece.writeBytes(new byte[] {'y'});
            piece.readerIndex(2);
            piece.writerIndex(2 + n);
            try {
                scanner.feed(piece);
                assertEquals(2, piece.readerIndex(), "the reader index is not moved");
                assertEquals(2 + n, piece.writerIndex());
                assertEquals(1, piece.refCnt(), "the buffer is not retained or released");
            } finally {
                piece.release();
            }
            pos += n;
        }
        scanner.end();
        return scanner.usage();
    }

    @Test
    void readsTheRootUsageOnly() {
        byte[] body = bytes(CHAT_RESPONSE);
        assertEquals(new Usage(21, 9), scan(body, body.length));
    }

    @Test
    void readsItWhateverTheSplit() {
        byte[] body = bytes(CHAT_RESPONSE);
        assertEquals(new Usage(21, 9), scan(body, 1), "byte by byte");
        for (int size = 2; size < 40; size++) {
            assertEquals(new Usage(21, 9), scan(body, size), "pieces of " + size);
        }
        Random random = new Random(7);
        for (int round = 0; round < 50; round++) {
            int[] sizes = random.ints(20, 1, 300).toArray();
            assertEquals(new Usage(21, 9), scan(body, sizes));
        }
    }

    @Test
    void readsACompositeBuffer() {
        byte[] body = bytes(CHAT_RESPONSE);
        CompositeByteBuf composite = Unpooled.compositeBuffer();
        int half = body.length / 2;
        composite.addComponent(true, Unpooled.wrappedBuffer(body, 0, half));
        composite.addComponent(true, PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes(body, half, body.length - half));
        JsonUsageScanner scanner = new JsonUsageScanner();
        try {
            scanner.feed(composite);
            assertEquals(0, composite.readerIndex());
        } finally {
            composite.release();
        }
        assertNull(scanner.usage(), "not before the end");
        scanner.end();
        assertEquals(new Usage(21, 9), scanner.usage());
    }

    @Test
    void usageFirstAndEmbeddingsShapes() {
        assertEquals(new Usage(3, 4), scan(bytes("{\"usage\":{\"completion_tokens\":4,\"prompt_tokens\":3},\"choices\":[]}"), 5));
        byte[] embeddings = bytes("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                + "\"embedding\":[0.0023064255,-0.009327292,1e-7]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":8,"
                + "\"total_tokens\":8}}");
        assertEquals(new Usage(8, 0), scan(embeddings, 3), "embeddings report no completion tokens");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"id\":\"x\",\"choices\":[]}",
            "{\"usage\":null}",
            "{\"usage\":{}}",
            "{\"usage\":{\"total_tokens\":9}}",
            "{\"usage\":[{\"prompt_tokens\":1}]}",
            "{\"choices\":[{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}]}",
            "{\"data\":{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}}",
            "[{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}]",
            "\"usage\"",
            ""})
    void noRootUsageIsNull(String body) {
        assertNull(scan(bytes(body), 4));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}",
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}, oops}",
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}}",
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}} {}",
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}trailing",
            "<html>{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}"})
    void invalidJsonIsNull(String body) {
        assertNull(scan(bytes(body), 1));
        assertNull(scan(bytes(body), 1000));
    }

    @Test
    void ignoresCountsThatAreNotCounts() {
        assertEquals(new Usage(0, 2), scan(bytes("{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":2}}"), 7));
        assertEquals(new Usage(5, 0), scan(bytes("{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2.5}}"), 7));
        assertEquals(new Usage(5, 0),
                scan(bytes("{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":99999999999999999999999}}"), 7));
        assertEquals(new Usage(0, 6), scan(bytes("{\"usage\":{\"prompt_tokens\":\"5\",\"completion_tokens\":6}}"), 7));
    }

    @Test
    void aLongStringWithinTheCapIsFineBeyondItTheScanStops() {
        String usage = "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}";
        String longContent = "a".repeat(LlmJson.MAX_RESPONSE_STRING_CHARS - 10);
        assertEquals(new Usage(1, 2), scan(bytes("{\"c\":\"" + longContent + "\"," + usage + "}"), 65536));
        // jackson checks the cap as its buffer grows by segments, so only a clear excess is sure to stop the scan.
        String tooLong = "a".repeat(LlmJson.MAX_RESPONSE_STRING_CHARS * 2);
        assertNull(scan(bytes("{\"c\":\"" + tooLong + "\"," + usage + "}"), 65536));
    }

    @Test
    void feedAfterEndIsIgnoredAndEndIsIdempotent() {
        JsonUsageScanner scanner = new JsonUsageScanner();
        ByteBuf body = Unpooled.copiedBuffer("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", StandardCharsets.UTF_8);
        ByteBuf junk = Unpooled.copiedBuffer("junk", StandardCharsets.UTF_8);
        try {
            scanner.feed(body);
            scanner.end();
            scanner.feed(junk);
            scanner.end();
        } finally {
            body.release();
            junk.release();
        }
        assertEquals(new Usage(1, 2), scanner.usage());
    }

    @Test
    void endWithoutAnyBodyIsNull() {
        JsonUsageScanner scanner = new JsonUsageScanner();
        scanner.end();
        assertNull(scanner.usage());
    }

    @Test
    void usageTotalsAndRejectsNegatives() {
        assertEquals(30, new Usage(21, 9).total());
        assertThrows(IllegalArgumentException.class, () -> new Usage(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Usage(0, -1));
    }
}
