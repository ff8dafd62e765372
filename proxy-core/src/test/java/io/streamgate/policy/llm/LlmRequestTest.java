package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LlmRequestTest {
    static final String MODEL = "meta-llama/Llama-3.1-8B-Instruct";

    /** A chat request with every shape the estimate cares about, pretty-printed and with escapes. */
    static final String CHAT = """
            {
              "model": "meta-llama/Llama-3.1-8B-Instruct",
              "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "name": "zo\\u00eb", "content": [
                  {"type": "text", "text": "What is in this image? Привет 👋"},
                  {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                  {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\\"x\\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "42"}
              ],
              "stream": true,
              "stream_options": {"include_usage": true},
              "max_tokens": 256,
              "max_completion_tokens": 128,
              "temperature": 0.70,
              "metadata": {"model": "not-this-one", "stream": false}
            }
            """;

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static LlmRequest peek(String json) {
        byte[] b = bytes(json);
        return LlmRequest.peek(b, b.length, false);
    }

    /** ceil(characters / 4) + 4 per message. */
    static long estimate(int messages, String... texts) {
        long chars = 0;
        for (String t : texts) {
            chars += t.length();
        }
        return (chars + 3) / 4 + (long) LlmRequest.TOKENS_PER_MESSAGE * messages;
    }

    @Test
    void readsAChatRequest() {
        LlmRequest r = peek(CHAT);
        assertNotNull(r);
        assertEquals(MODEL, r.model(), "the root model, not the one nested in metadata");
        assertTrue(r.stream());
        assertTrue(r.clientAskedForUsage());
        assertEquals(128, r.maxTokens(), "max_completion_tokens wins over max_tokens");
        assertEquals(0.70, r.temperature());
        assertFalse(r.truncated());
        // Content strings, the text part (not the image part), the name; the assistant's null content counts nothing.
        long expected = estimate(4, "You are a helpful assistant.", "zoë", "What is in this image? Привет 👋", "42");
        assertEquals(17 + 16, expected, "28 + 3 + 32 (the emoji is two UTF-16 units) + 2 characters, 4 messages");
        assertEquals(expected, r.promptTokenEstimate());
    }

    @Test
    void aSecondRootModelMemberIsNoticedWhateverItsValue() {
        assertNull(peek(CHAT).duplicateMember(), "a model and stream nested in metadata are not the root's");
        assertNull(peek("{\"model\":\"a\"}").duplicateMember());
        assertEquals("model", peek("{\"model\":\"a\",\"model\":\"b\"}").duplicateMember());
        assertEquals("model", peek("{\"model\":{\"x\":1},\"messages\":[],\"model\":\"b\"}").duplicateMember());
        assertEquals("model", peek("{\"model\":null,\"model\":\"b\"}").duplicateMember());
        assertEquals("b", peek("{\"model\":\"a\",\"model\":\"b\"}").model(), "the last one, as Python's json reads it");
    }

    /** Every root member the gateway reads: a duplicate of any of them is named, whatever the values and order. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "stream                | true             | false",
            "stream_options        | {}               | {\"include_usage\":true}",
            "max_tokens            | 1                | 100000",
            "max_completion_tokens | 1                | 100000",
            "temperature           | 0                | 1.5",
            "messages              | []               | [{\"role\":\"user\",\"content\":\"hi\"}]",
            "prompt                | \"a\"            | \"b\"",
            "input                 | [1,2]            | \"b\"",
    })
    void aSecondOccurrenceOfAnyMemberTheGatewayReadsIsNamed(String member, String first, String second) {
        String m = "\"" + member + "\":";
        assertNull(peek("{\"model\":\"a\"," + m + first + "}").duplicateMember());
        assertEquals(member, peek("{" + m + first + ",\"model\":\"a\"," + m + second + "}").duplicateMember());
        assertEquals(member, peek("{" + m + second + "," + m + first + "}").duplicateMember());
        assertEquals(member, peek("{" + m + "null," + m + "null}").duplicateMember(), "whatever the values");
    }

    @Test
    void theFirstDuplicateIsTheOneNamed() {
        assertEquals("max_tokens", peek("{\"max_tokens\":1,\"stream\":true,\"max_tokens\":2,\"stream\":false}")
                .duplicateMember());
    }

    @Test
    void aSecondIncludeUsageInStreamOptionsIsNamed() {
        assertNull(peek("{\"stream_options\":{\"include_usage\":true,\"x\":1}}").duplicateMember());
        assertEquals("stream_options.include_usage",
                peek("{\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}").duplicateMember());
        assertNull(peek("{\"stream_options\":{\"include_usage\":true},\"metadata\":{\"include_usage\":1,\"include_usage\":2}}")
                .duplicateMember(), "include_usage elsewhere is not the gateway's");
    }

    @Test
    void membersTheGatewayDoesNotReadMayRepeat() {
        assertNull(peek("{\"model\":\"a\",\"n\":1,\"user\":\"u\",\"n\":2,\"user\":\"v\",\"tools\":[],\"tools\":[]}")
                .duplicateMember());
        assertNull(peek("{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"model\":1,\"model\":2}]}")
                .duplicateMember(), "only the root's members count");
        assertNull(peek("{\"prompt\":\"a\",\"input\":\"b\"}").duplicateMember(), "two different members");
    }

    @Test
    void aDuplicateBeyondATruncatedPrefixIsNotSeen() {
        byte[] b = bytes("{\"max_tokens\":1,\"messages\":[],\"max_tokens\":100000}");
        assertNull(LlmRequest.peek(b, 30, true).duplicateMember());
        assertEquals("max_tokens", LlmRequest.peek(b, b.length, true).duplicateMember());
    }

    @Test
    void maxCompletionTokensWinsWhicheverComesFirst() {
        assertEquals(7, peek("{\"max_completion_tokens\":7,\"max_tokens\":9}").maxTokens());
        assertEquals(9, peek("{\"max_tokens\":9}").maxTokens());
        assertEquals(-1, peek("{\"max_tokens\":-5}").maxTokens());
        assertEquals(-1, peek("{\"max_tokens\":1.5}").maxTokens());
        assertEquals(-1, peek("{\"max_tokens\":\"10\"}").maxTokens());
        assertEquals(-1, peek("{\"max_tokens\":123456789012345678901234567890}").maxTokens());
        assertEquals(0, peek("{\"max_tokens\":0}").maxTokens());
    }

    @Test
    void absentMembersHaveTheirDefaults() {
        LlmRequest r = peek("{}");
        assertNull(r.model());
        assertFalse(r.stream());
        assertFalse(r.clientAskedForUsage());
        assertEquals(-1, r.maxTokens());
        assertTrue(Double.isNaN(r.temperature()));
        assertEquals(1, r.promptTokenEstimate(), "never less than one token");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"stream\":\"true\"}                                   | false | false",
            "{\"stream\":1}                                          | false | false",
            "{\"stream\":true,\"stream_options\":{\"include_usage\":false}} | true | false",
            "{\"stream\":true,\"stream_options\":null}              | true  | false",
            "{\"stream\":true,\"stream_options\":{\"x\":[1,{\"include_usage\":true}]}} | true | false",
            "{\"stream_options\":{\"continuous_usage_stats\":true,\"include_usage\":true},\"stream\":true} | true | true",
            "{\"stream\":{\"a\":true},\"model\":\"m\"}              | false | false"})
    void readsStreamFlagsStrictly(String json, boolean stream, boolean include) {
        LlmRequest r = peek(json);
        assertEquals(stream, r.stream());
        assertEquals(include, r.clientAskedForUsage());
    }

    @Test
    void skipsStructuredValuesOfMembersItReads() {
        LlmRequest r = peek("{\"stream\":{\"a\":true},\"model\":\"m\",\"temperature\":[0],\"max_tokens\":{},\"n\":1}");
        assertEquals("m", r.model(), "members after a skipped object are still read");
        assertTrue(Double.isNaN(r.temperature()));
        assertEquals(-1, r.maxTokens());
    }

    @Test
    void estimatesCompletionPrompts() {
        assertEquals(4, peek("{\"model\":\"m\",\"prompt\":\"Once upon a time\"}").promptTokenEstimate());
        assertEquals(3, peek("{\"prompt\":[\"abcd\",\"efgh\",\"i\"]}").promptTokenEstimate());
        assertEquals(5, peek("{\"prompt\":[1,2,3,4,5]}").promptTokenEstimate(), "token ids count one each");
        assertEquals(5, peek("{\"prompt\":[[1,2],[3,4,5]]}").promptTokenEstimate());
        assertEquals(1, peek("{\"prompt\":[[[1,2,3,4,5,6]]]}").promptTokenEstimate(), "deeper arrays are not prompts");
    }

    @Test
    void estimatesEmbeddingInputs() {
        assertEquals(3, peek("{\"model\":\"e\",\"input\":\"hello world!\"}").promptTokenEstimate());
        assertEquals(2, peek("{\"input\":[\"abcd\",\"e\"]}").promptTokenEstimate());
        assertEquals(4, peek("{\"input\":[[1,2,3],[4]],\"encoding_format\":\"float\"}").promptTokenEstimate());
        assertEquals(100, peek("{\"input\":\"" + "x".repeat(400) + "\"}").promptTokenEstimate());
    }

    @Test
    void countsContentPartsAndStringsOnly() {
        String json = "{\"messages\":[{\"role\":\"user\",\"content\":[\"abcd\",{\"type\":\"text\",\"text\":\"efgh\"},"
                + "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"" + "A".repeat(4000) + "\"}}]},"
                + "{\"role\":\"user\",\"content\":{\"text\":\"not a valid shape\"}}]}";
        assertEquals(2 + 8, peek(json).promptTokenEstimate(), "8 characters of text, 2 messages, no audio data");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "[]", "[{\"model\":\"m\"}]", "\"{}\"", "42", "null", "true", "}", "x{}"})
    void nonObjectsAreNull(String body) {
        byte[] b = bytes(body);
        assertNull(LlmRequest.peek(b, b.length, false));
        assertNull(LlmRequest.peek(b, b.length, true));
    }

    @Test
    void malformedObjectKeepsWhatCameBefore() {
        LlmRequest r = peek("{\"model\":\"m\",\"stream\":true, oops, \"max_tokens\": 5}");
        assertEquals("m", r.model());
        assertTrue(r.stream());
        assertEquals(-1, r.maxTokens());
    }

    @Test
    void readsOnlyTheGivenLength() {
        byte[] b = bytes("{\"model\":\"m\"}{\"model\":\"other\"}");
        assertEquals("m", LlmRequest.peek(b, 13, false).model());
        byte[] padded = bytes("{\"max_tokens\":12}999");
        assertEquals(12, LlmRequest.peek(padded, 17, false).maxTokens());
    }

    @Test
    void toleratesACutAtEveryByte() {
        byte[] body = bytes(CHAT);
        Set<Long> budgets = Set.of(-1L, 256L, 128L);
        for (int cut = 0; cut <= body.length; cut++) {
            LlmRequest r = LlmRequest.peek(body, cut, true);
            int at = cut;
            if (cut == 0) {
                assertNull(r, "nothing yet that starts an object");
                continue;
            }
            assertNotNull(r, () -> "cut at " + at);
            assertTrue(r.truncated());
            assertTrue(r.model() == null || r.model().equals(MODEL), () -> "a cut model is not read: " + at);
            assertTrue(budgets.contains(r.maxTokens()), () -> "a cut number is not read: " + at + " " + r.maxTokens());
            assertTrue(Double.isNaN(r.temperature()) || r.temperature() == 0.70, () -> "cut at " + at);
            assertTrue(r.promptTokenEstimate() >= 1);
        }
        LlmRequest whole = LlmRequest.peek(body, body.length, true);
        assertEquals(128, whole.maxTokens());
        assertEquals(peek(CHAT).promptTokenEstimate(), whole.promptTokenEstimate());
    }

    @Test
    void aCutIsReadUpToTheCut() {
        byte[] body = bytes(CHAT);
        String untilStream = CHAT.substring(0, CHAT.indexOf("\"stream\": true") + "\"stream\": true,".length());
        LlmRequest r = LlmRequest.peek(body, bytes(untilStream).length, true);
        assertEquals(MODEL, r.model());
        assertTrue(r.stream());
        assertFalse(r.clientAskedForUsage());
        assertEquals(peek(CHAT).promptTokenEstimate(), r.promptTokenEstimate());
        String untilBudget = CHAT.substring(0, CHAT.indexOf("\"max_tokens\": 256") + "\"max_tokens\": 25".length());
        assertEquals(-1, LlmRequest.peek(body, bytes(untilBudget).length, true).maxTokens(),
                "the number might go on: not read");
    }

    @Test
    void aPromptCutInsideItsTextStillCounts() {
        String content = "word ".repeat(8000);
        String json = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]}";
        byte[] body = bytes(json);
        LlmRequest whole = LlmRequest.peek(body, body.length, false);
        assertEquals(10_000 + 4, whole.promptTokenEstimate());
        LlmRequest cut = LlmRequest.peek(body, 10_000, true);
        // About 9960 bytes of the content are in the prefix: ~2490 tokens, plus the message.
        assertTrue(cut.promptTokenEstimate() >= 2480 && cut.promptTokenEstimate() <= 2500,
                () -> "estimate " + cut.promptTokenEstimate());
        LlmRequest completions = LlmRequest.peek(bytes("{\"prompt\":[\"" + content + "\"]}"), 4002, true);
        assertTrue(completions.promptTokenEstimate() >= 995, () -> "estimate " + completions.promptTokenEstimate());
        LlmRequest other = LlmRequest.peek(bytes("{\"model\":\"m\",\"user\":\"" + content + "\"}"), 4000, true);
        assertEquals(1, other.promptTokenEstimate(), "text the model does not read does not count, cut or not");
    }

    @Test
    void deepNestingStopsTheReadWithoutFailing() {
        String deep = "[".repeat(2000) + "]".repeat(2000);
        LlmRequest r = peek("{\"stream\":true,\"tools\":" + deep + ",\"model\":\"m\"}");
        assertNotNull(r);
        assertTrue(r.stream(), "what came before the limit is kept");
        assertNull(r.model(), "nothing after it is read");
        String shallow = "[".repeat(100) + "]".repeat(100);
        assertEquals("m", peek("{\"tools\":" + shallow + ",\"model\":\"m\"}").model());
    }

    @Test
    void lastDuplicateMemberWins() {
        LlmRequest r = peek("{\"model\":\"a\",\"stream\":true,\"model\":\"b\",\"stream\":false}");
        assertEquals("b", r.model());
        assertFalse(r.stream());
    }

    @Test
    void neverThrowsOnMangledBodies() {
        byte[] original = bytes(CHAT);
        byte[] noise = bytes("{}[]\",:0123456789.eE-+tfn\\u \n\u00e9");
        Random random = new Random(11);
        for (int round = 0; round < 3000; round++) {
            byte[] body = original.clone();
            for (int i = random.nextInt(8); i >= 0; i--) {
                body[random.nextInt(body.length)] = noise[random.nextInt(noise.length)];
            }
            int length = random.nextInt(body.length + 1);
            LlmRequest.peek(body, length, true);
            LlmRequest r = LlmRequest.peek(body, length, false);
            assertTrue(r == null || r.promptTokenEstimate() >= 1);
        }
    }
}
