package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SseUsageFilterTest {
    static final String PREFIX = "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,"
            + "\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",";
    static final String USAGE_ONLY = "data: " + PREFIX
            + "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"total_tokens\":17,\"completion_tokens\":5}}\n\n";

    /** A vLLM stream with include_usage: role chunk, content chunks, finish chunk, usage-only chunk, [DONE]. */
    static final List<String> VLLM = List.of(
            "data: " + PREFIX + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                    + "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            "data: " + PREFIX + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
                    + "\"finish_reason\":null}]}\n\n",
            "data: " + PREFIX + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the \\\"usage\\\": {} w\\u00f6rld 👋\"},"
                    + "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            "data: " + PREFIX + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\"},\"logprobs\":null,"
                    + "\"finish_reason\":null}]}\n\n",
            "data: " + PREFIX + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\","
                    + "\"stop_reason\":null}]}\n\n",
            USAGE_ONLY,
            "data: [DONE]\n\n");
    static final int VLLM_CONTENT_EVENTS = 5;

    enum LineEnd {
        LF("\n"), CRLF("\r\n"), CR("\r");

        final String text;

        LineEnd(String text) {
            this.text = text;
        }

        String apply(String lfEvent) {
            return lfEvent.replace("\n", text);
        }
    }

    /** What a filter produced for one stream. */
    record Result(byte[] bytes, Usage usage, long contentEvents, int buffers) {
        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String join(List<String> events, LineEnd lineEnd) {
        return events.stream().map(lineEnd::apply).collect(Collectors.joining());
    }

    static String without(List<String> events, String removed, LineEnd lineEnd) {
        return join(events.stream().filter(e -> !e.equals(removed)).toList(), lineEnd);
    }

    /**
     * Feeds {@code input} cut at {@code cuts} (ascending, may repeat: empty buffers), alternating heap and pooled
     * direct buffers, then finishes; releases every output buffer after copying it.
     */
    static Result run(SseUsageFilter filter, byte[] input, int... cuts) {
        ByteArrayOutputStream relayed = new ByteArrayOutputStream();
        List<ByteBuf> out = new ArrayList<>();
        int buffers = 0;
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : input.length;
            ByteBufAllocator alloc = i % 2 == 0 ? UnpooledByteBufAllocator.DEFAULT : PooledByteBufAllocator.DEFAULT;
            ByteBuf chunk = i % 2 == 0 ? alloc.heapBuffer(to - from) : alloc.directBuffer(to - from);
            chunk.writeBytes(input, from, to - from);
            filter.feed(chunk, out);
            buffers += drain(out, relayed);
            from = to;
        }
        filter.finish(out);
        buffers += drain(out, relayed);
        return new Result(relayed.toByteArray(), filter.usage(), filter.contentEvents(), buffers);
    }

    static int drain(List<ByteBuf> out, ByteArrayOutputStream into) {
        int n = out.size();
        try {
            for (ByteBuf b : out) {
                assertTrue(b.isReadable(), "no empty buffer is relayed");
                byte[] copy = new byte[b.readableBytes()];
                b.getBytes(b.readerIndex(), copy);
                into.writeBytes(copy);
            }
        } finally {
            out.forEach(ByteBuf::release);
            out.clear();
        }
        return n;
    }

    static void assertResult(String expected, Usage usage, long contentEvents, Result actual, String context) {
        assertEquals(expected, actual.text(), context);
        assertEquals(usage, actual.usage(), context);
        assertEquals(contentEvents, actual.contentEvents(), context);
    }

    @ParameterizedTest
    @EnumSource(LineEnd.class)
    void stripsTheUsageOnlyEventInOnePiece(LineEnd lineEnd) {
        byte[] input = bytes(join(VLLM, lineEnd));
        Result r = run(new SseUsageFilter(true, 1 << 16), input);
        assertResult(without(VLLM, USAGE_ONLY, lineEnd), new Usage(12, 5), VLLM_CONTENT_EVENTS, r, "one piece");
    }

    @ParameterizedTest
    @EnumSource(LineEnd.class)
    void relaysEverythingWhenNotStripping(LineEnd lineEnd) {
        String input = join(VLLM, lineEnd);
        Result r = run(new SseUsageFilter(false, 1 << 16), bytes(input));
        assertResult(input, new Usage(12, 5), VLLM_CONTENT_EVENTS, r, "one piece");
        assertEquals(1, r.buffers(), "a buffer of complete events is relayed as it is");
    }

    @ParameterizedTest
    @EnumSource(LineEnd.class)
    void sameResultSplitAtEveryByte(LineEnd lineEnd) {
        byte[] input = bytes(join(VLLM, lineEnd));
        String stripped = without(VLLM, USAGE_ONLY, lineEnd);
        String whole = join(VLLM, lineEnd);
        for (int cut = 0; cut <= input.length; cut++) {
            assertResult(stripped, new Usage(12, 5), VLLM_CONTENT_EVENTS,
                    run(new SseUsageFilter(true, 1 << 16), input, cut), "strip, cut at " + cut);
            assertResult(whole, new Usage(12, 5), VLLM_CONTENT_EVENTS,
                    run(new SseUsageFilter(false, 1 << 16), input, cut), "keep, cut at " + cut);
        }
    }

    @ParameterizedTest
    @EnumSource(LineEnd.class)
    void sameResultByteByByteAndInRandomPieces(LineEnd lineEnd) {
        byte[] input = bytes(join(VLLM, lineEnd));
        String stripped = without(VLLM, USAGE_ONLY, lineEnd);
        int[] everyByte = IntStream.range(1, input.length).toArray();
        assertResult(stripped, new Usage(12, 5), VLLM_CONTENT_EVENTS,
                run(new SseUsageFilter(true, 1 << 16), input, everyByte), "byte by byte");
        Random random = new Random(42);
        for (int round = 0; round < 300; round++) {
            // Repeated cuts make empty buffers, which must change nothing.
            int[] cuts = random.ints(random.nextInt(30), 0, input.length + 1).sorted().toArray();
            boolean strip = round % 2 == 0;
            assertResult(strip ? stripped : join(VLLM, lineEnd), new Usage(12, 5), VLLM_CONTENT_EVENTS,
                    run(new SseUsageFilter(strip, 1 << 16), input, cuts), "round " + round);
        }
    }

    @Test
    void mixedLineEndsAndAnLfArrivingAloneAfterTheFinalCr() {
        // An event ending in a CR blank line followed by an LF: the LF belongs to it, whatever the split.
        String usageEvent = USAGE_ONLY.replace("\n\n", "\n\r\n");
        String input = VLLM.get(1).replace("\n\n", "\r\n\n") + usageEvent + "data: [DONE]\r\r";
        String expected = VLLM.get(1).replace("\n\n", "\r\n\n") + "data: [DONE]\r\r";
        byte[] in = bytes(input);
        int lf = input.indexOf(usageEvent) + usageEvent.length() - 1;
        for (int[] cuts : new int[][] {{}, {lf}, {lf, lf}, {lf, lf + 1}, {lf - 1, lf}, {lf - 1, lf + 1}}) {
            assertResult(expected, new Usage(12, 5), 1, run(new SseUsageFilter(true, 1 << 16), in, cuts),
                    "cuts " + Arrays.toString(cuts));
        }
        for (int cut = 0; cut <= in.length; cut++) {
            assertResult(expected, new Usage(12, 5), 1, run(new SseUsageFilter(true, 1 << 16), in, cut), "cut " + cut);
        }
    }

    @Test
    void openAiStreamWithNullUsageOnEveryChunk() {
        List<String> events = List.of(
                "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
                        + "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"finish_reason\":null}],"
                        + "\"usage\":null,\"obfuscation\":\"ab\"}\n\n",
                "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
                        + "{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\" : null}\n\n",
                "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
                        + "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
                "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
                        + "\"completion_tokens\":2,\"total_tokens\":11,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                        + "\"completion_tokens_details\":{\"reasoning_tokens\":0}},\"obfuscation\":\"xyz\"}\n\n",
                "data: [DONE]\n\n");
        byte[] input = bytes(join(events, LineEnd.LF));
        assertResult(without(events, events.get(3), LineEnd.LF), new Usage(9, 2), 3,
                run(new SseUsageFilter(true, 4096), input), "strip");
        assertResult(join(events, LineEnd.LF), new Usage(9, 2), 3, run(new SseUsageFilter(false, 4096), input),
                "the client asked: relayed, still not content");
    }

    @Test
    void continuousUsageKeepsTheLastAndStripsOnlyTheUsageOnlyEvent() {
        List<String> events = List.of(
                "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
                "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
                "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
                "data: [DONE]\n\n");
        Result r = run(new SseUsageFilter(true, 4096), bytes(join(events, LineEnd.LF)));
        assertResult(without(events, events.get(2), LineEnd.LF), new Usage(3, 2), 2, r, "choices absent = usage-only");
    }

    @Test
    void readsOnlyTheRootUsageAndChoices() {
        List<String> events = List.of(
                "data: {\"choices\":[{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":100}}]}\n\n",
                "data: {\"choices\":[],\"meta\":{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":100}}}\n\n",
                "data: {\"choices\":[],\"usage\":[1]}\n\n",
                "data: {\"choices\":[],\"usage\":\"usage\"}\n\n",
                "data: {\"choices\":[],\"usage\":{}}\n\n");
        Result r = run(new SseUsageFilter(true, 4096), bytes(join(events, LineEnd.LF)));
        assertResult(join(events.subList(0, 4), LineEnd.LF), null, 4, r, "only the empty usage object is usage-only");
    }

    @Test
    void otherFieldsCommentsAndMultiLineData() {
        List<String> events = List.of(
                ": ping\n\n",
                "retry: 1000\n\n",
                "event: message\nid: 1\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
                "event: usage\n: a comment with \"usage\" in it\ndata:{\"choices\":[],\n"
                        + "data: \"usage\"\ndata: :{\"prompt_tokens\":4,\"completion_tokens\":6}}\n\n",
                "data: not json \"usage\": 5\n\n",
                "data\n\n",
                "data: [DONE]\n\n");
        Result r = run(new SseUsageFilter(true, 4096), bytes(join(events, LineEnd.LF)));
        assertResult(without(events, events.get(3), LineEnd.LF), new Usage(4, 6), 3, r,
                "data lines are joined with LF before parsing; comments and fields without data are not content");
    }

    @Test
    void doneIsNeverStrippedOrCounted() {
        String input = "data: [DONE]\n\ndata:[DONE]\n\ndata: [DONE] \n\n";
        Result r = run(new SseUsageFilter(true, 4096), bytes(input));
        assertResult(input, null, 1, r, "only the exact [DONE] is the end marker");
    }

    @Test
    void emitsEachCompleteEventAtOnceAndHoldsOnlyTheUnfinishedOne() {
        SseUsageFilter filter = new SseUsageFilter(true, 4096);
        List<ByteBuf> out = new ArrayList<>();
        String first = VLLM.get(1);
        String second = VLLM.get(2);
        ByteBuf chunk = Unpooled.copiedBuffer(first + second.substring(0, 10), StandardCharsets.UTF_8);
        filter.feed(chunk, out);
        ByteArrayOutputStream relayed = new ByteArrayOutputStream();
        assertEquals(1, drain(out, relayed));
        assertEquals(first, relayed.toString(StandardCharsets.UTF_8));
        assertEquals(1, filter.contentEvents());
        filter.feed(Unpooled.copiedBuffer(second.substring(10), StandardCharsets.UTF_8), out);
        drain(out, relayed);
        assertEquals(first + second, relayed.toString(StandardCharsets.UTF_8));
        filter.finish(out);
        assertTrue(out.isEmpty());
    }

    @Test
    void relaysTheBufferItselfOrSlicesOfIt() {
        SseUsageFilter filter = new SseUsageFilter(true, 4096);
        List<ByteBuf> out = new ArrayList<>();
        ByteBuf chunk = Unpooled.copiedBuffer(VLLM.get(0) + VLLM.get(1), StandardCharsets.UTF_8);
        filter.feed(chunk, out);
        assertEquals(1, out.size());
        assertSame(chunk, out.get(0), "complete events kept whole: the buffer itself, not a copy");
        drain(out, new ByteArrayOutputStream());
        ByteBuf mixed = Unpooled.copiedBuffer(VLLM.get(1) + USAGE_ONLY + "data: [DONE]\n\n", StandardCharsets.UTF_8);
        filter.feed(mixed, out);
        assertEquals(2, out.size());
        for (ByteBuf b : out) {
            assertSame(mixed, b.unwrap(), "slices of the incoming buffer around the removed event");
        }
        drain(out, new ByteArrayOutputStream());
        assertEquals(0, mixed.refCnt(), "the filter gave up its reference");
    }

    @Test
    void unterminatedLastEventGoesOutAtFinish() {
        String input = VLLM.get(1) + "data: " + PREFIX + "\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}";
        Result r = run(new SseUsageFilter(true, 4096), bytes(input), 3, VLLM.get(1).length() + 5);
        assertResult(input, new Usage(1, 1), 1, r, "relayed as it is, its usage still read, not counted");
    }

    @ParameterizedTest
    @EnumSource(LineEnd.class)
    void oversizedEventsPassThroughUnparsedAtEverySplit(LineEnd lineEnd) {
        String big = "data: {\"choices\":[{\"delta\":{\"content\":\"" + "z".repeat(150) + "\"}}]}\n\n";
        String bigUsage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":50},\"pad\":\""
                + "p".repeat(100) + "\"}\n\n";
        String small = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
        List<String> events = List.of(big, bigUsage, small, VLLM.get(1), big, "data: [DONE]\n\n");
        int max = 120;
        assertTrue(lineEnd.apply(small).length() <= max && lineEnd.apply(VLLM.get(1)).length() > max);
        byte[] input = bytes(join(events, lineEnd));
        String expected = without(events, small, lineEnd);
        // Four events are too long to look into: relayed and counted as content; the small usage-only one is read.
        for (int cut = 0; cut <= input.length; cut++) {
            assertResult(expected, new Usage(1, 2), 4, run(new SseUsageFilter(true, max), input, cut), "cut " + cut);
        }
        Random random = new Random(3);
        for (int round = 0; round < 200; round++) {
            int[] cuts = random.ints(random.nextInt(40), 0, input.length + 1).sorted().toArray();
            assertResult(expected, new Usage(1, 2), 4, run(new SseUsageFilter(true, max), input, cuts), "round " + round);
        }
    }

    @Test
    void anEventOfExactlyTheLimitIsStillRead() {
        String small = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\r\n\r\n";
        // The LF completing the final CRLF does not count: the verdict must not depend on whether it came along.
        int limit = small.length() - 1;
        byte[] input = bytes(small + "data: [DONE]\r\n\r\n");
        for (int cut = 0; cut <= input.length; cut++) {
            assertResult("data: [DONE]\r\n\r\n", new Usage(1, 2), 0, run(new SseUsageFilter(true, limit), input, cut),
                    "cut " + cut);
            assertResult(small + "data: [DONE]\r\n\r\n", null, 1, run(new SseUsageFilter(true, limit - 1), input, cut),
                    "one byte over, cut " + cut);
        }
    }

    @Test
    void discardReleasesWhatIsHeld() {
        UnpooledByteBufAllocator alloc = new UnpooledByteBufAllocator(false);
        SseUsageFilter filter = new SseUsageFilter(true, 4096);
        List<ByteBuf> out = new ArrayList<>();
        ByteBuf chunk = alloc.heapBuffer();
        chunk.writeBytes(bytes(VLLM.get(0) + VLLM.get(1).substring(0, 30)));
        filter.feed(chunk, out);
        drain(out, new ByteArrayOutputStream());
        assertEquals(0, chunk.refCnt());
        assertTrue(alloc.metric().usedHeapMemory() > 0, "the unfinished event is held");
        filter.discard();
        assertEquals(0, alloc.metric().usedHeapMemory());
        filter.discard();
        assertEquals(1, filter.contentEvents(), "what was relayed before the abort is still counted");
        ByteBuf late = alloc.heapBuffer().writeBytes(bytes(VLLM.get(1)));
        filter.feed(late, out);
        assertTrue(out.isEmpty());
        assertEquals(0, late.refCnt(), "a buffer arriving after the end is released");
        filter.finish(out);
        assertTrue(out.isEmpty());
    }

    @Test
    void finishHandsOverTheHeldBytesAndDiscardAfterwardsIsHarmless() {
        SseUsageFilter filter = new SseUsageFilter(false, 4096);
        List<ByteBuf> out = new ArrayList<>();
        filter.feed(Unpooled.copiedBuffer("data: {\"partial", StandardCharsets.UTF_8), out);
        assertTrue(out.isEmpty());
        filter.finish(out);
        ByteArrayOutputStream relayed = new ByteArrayOutputStream();
        drain(out, relayed);
        assertEquals("data: {\"partial", relayed.toString(StandardCharsets.UTF_8));
        filter.discard();
        assertNull(filter.usage());
        assertEquals(0, filter.contentEvents());
    }

    @Test
    void rejectsANonPositiveLimit() {
        assertThrows(IllegalArgumentException.class, () -> new SseUsageFilter(true, 0));
    }
}
