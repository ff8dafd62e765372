package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.policy.llm.JsonTree.Member;
import io.streamgate.policy.llm.JsonTree.Obj;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IncludeUsageRewriterTest {
    static final String OPTIONS = "\"stream_options\":{\"include_usage\":true}";

    static String rewrite(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        byte[] out = IncludeUsageRewriter.rewrite(b, b.length);
        return out == null ? null : new String(out, StandardCharsets.UTF_8);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            // absent: appended to the root object, after its last member
            "{\"model\":\"m\",\"stream\":true}   | {\"model\":\"m\",\"stream\":true," + OPTIONS + "}",
            "{}                                  | {" + OPTIONS + "}",
            "`{ }`                               | `{" + OPTIONS + " }`",
            "`{\"a\": 0.70 \n}`                  | `{\"a\": 0.70," + OPTIONS + " \n}`",
            // present: merged
            "{\"stream_options\":{\"include_usage\":false},\"n\":1} | {\"stream_options\":{\"include_usage\":true},\"n\":1}",
            "{\"stream_options\":{\"include_usage\":true}}          | {\"stream_options\":{\"include_usage\":true}}",
            "`{\"stream_options\":{ \"include_usage\" : false }}`   | `{\"stream_options\":{ \"include_usage\" : true }}`",
            "{\"stream_options\":{\"include_usage\":\"no\"}}        | {\"stream_options\":{\"include_usage\":true}}",
            "{\"stream_options\":{\"include_usage\":{\"a\":[1]}}}   | {\"stream_options\":{\"include_usage\":true}}",
            "{\"stream_options\":{\"include_usage\":0}}             | {\"stream_options\":{\"include_usage\":true}}",
            "{\"stream_options\":{\"continuous_usage_stats\":true}} | "
                    + "{\"stream_options\":{\"continuous_usage_stats\":true,\"include_usage\":true}}",
            "{\"stream_options\":{}}                                | {\"stream_options\":{\"include_usage\":true}}",
            // present but not an object: replaced
            "{\"stream_options\":null,\"n\":1}   | {\"stream_options\":{\"include_usage\":true},\"n\":1}",
            "{\"stream_options\":[1,[2]],\"n\":1} | {\"stream_options\":{\"include_usage\":true},\"n\":1}",
            "{\"stream_options\":\"x\"}          | {\"stream_options\":{\"include_usage\":true}}",
            "{\"stream_options\":12.50}          | {\"stream_options\":{\"include_usage\":true}}",
            // a nested stream_options is not the request's
            "{\"metadata\":{\"stream_options\":{}}} | {\"metadata\":{\"stream_options\":{}}," + OPTIONS + "}"})
    void setsIncludeUsage(String in, String expected) {
        assertEquals(expected, rewrite(in));
    }

    @Test
    void keepsEveryOtherByte() {
        String body = """
                {
                  "model": "m",
                  "messages": [{"role": "user", "content": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\n \\u0000 \\ud800 déjà 😀"}],
                  "temperature": 0.70,
                  "top_p": 1E-5,
                  "seed": -0,
                  "logit_bias": {"50256": -100, "big": 123456789012345678901234567890.000},
                  "stream": true,
                  "stream_options": {"continuous_usage_stats": false}
                }
                """;
        String expected = body.replace("{\"continuous_usage_stats\": false}",
                "{\"continuous_usage_stats\": false,\"include_usage\":true}");
        assertEquals(expected, rewrite(body), "the lone surrogate escape and all number forms survive untouched");
    }

    @Test
    void resultIsTheOriginalPlusTheMember() {
        String body = "{\"model\":\"m\",\"temperature\":0.70,\"max_tokens\":1e3,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"\\u00e9\\t\\ud83d\\ude00\"}],\"stream\":true}";
        Obj original = (Obj) JsonTree.parse(body.getBytes(StandardCharsets.UTF_8));
        Obj result = (Obj) JsonTree.parse(rewrite(body).getBytes(StandardCharsets.UTF_8));
        List<Member> expected = new ArrayList<>(original.members());
        expected.add(new Member("stream_options", new Obj(List.of(new Member("include_usage", true)))));
        assertEquals(new Obj(expected), result);
        assertEquals(new JsonTree.Num("0.70"), result.get("temperature"));
        assertEquals(new JsonTree.Num("1e3"), result.get("max_tokens"));
    }

    @Test
    void mergedResultKeepsOtherOptionsInOrder() {
        String body = "{\"stream_options\":{\"a\":1,\"include_usage\":false,\"b\":[true]},\"stream\":true}";
        Obj result = (Obj) JsonTree.parse(rewrite(body).getBytes(StandardCharsets.UTF_8));
        Obj options = (Obj) result.get("stream_options");
        assertEquals(List.of(new Member("a", new JsonTree.Num("1")), new Member("include_usage", true),
                new Member("b", List.of(true))), options.members());
        assertEquals(2, result.members().size());
    }

    @Test
    void everyDuplicateIsSet() {
        assertEquals("{\"stream_options\":{\"include_usage\":true,\"include_usage\":true},\"stream_options\":"
                        + "{\"include_usage\":true}}",
                rewrite("{\"stream_options\":{\"include_usage\":false,\"include_usage\":null},\"stream_options\":null}"));
    }

    @Test
    void isIdempotent() {
        String once = rewrite(LlmRequestTest.CHAT.replace("\"include_usage\": true", "\"include_usage\": false"));
        assertNotNull(once);
        assertEquals(once, rewrite(once));
        LlmRequest r = LlmRequestTest.peek(once);
        assertTrue(r.clientAskedForUsage());
        assertEquals(LlmRequestTest.peek(LlmRequestTest.CHAT).promptTokenEstimate(), r.promptTokenEstimate());
    }

    @Test
    void readsOnlyTheGivenLength() {
        byte[] b = "{\"a\":1}GARBAGE".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(("{\"a\":1," + OPTIONS + "}").getBytes(StandardCharsets.US_ASCII),
                IncludeUsageRewriter.rewrite(b, 7));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  ", "[]", "[{}]", "\"{}\"", "null", "1", "{", "{\"a\":1", "{\"a\":}", "{\"a\" 1}",
            "{\"a\":1}x", "{\"a\":1} {}", "{\"a\":1}]", "{'a':1}", "{\"stream_options\":{\"include_usage\":true}",
            "{\"stream_options\":{\"include_usage\":tru}}", "{\"a\":[1,2}"})
    void notAWellFormedObjectIsNull(String body) {
        assertNull(rewrite(body));
    }

    @Test
    void everyPrefixOfABodyIsNullNeverAnException() {
        byte[] body = LlmRequestTest.CHAT.getBytes(StandardCharsets.UTF_8);
        int last = LlmRequestTest.CHAT.stripTrailing().getBytes(StandardCharsets.UTF_8).length;
        for (int cut = 0; cut < last; cut++) {
            assertNull(IncludeUsageRewriter.rewrite(body, cut), "cut at " + cut);
        }
        assertNotNull(IncludeUsageRewriter.rewrite(body, last));
    }

    @Test
    void anyResultOfAMangledBodyIsValidJsonAskingForUsage() {
        byte[] original = LlmRequestTest.CHAT.getBytes(StandardCharsets.UTF_8);
        byte[] noise = "{}[]\",:0123456789.eE-+tfn\\u \n".getBytes(StandardCharsets.UTF_8);
        Random random = new Random(5);
        int rewritten = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] body = original.clone();
            for (int i = random.nextInt(3); i >= 0; i--) {
                body[random.nextInt(body.length)] = noise[random.nextInt(noise.length)];
            }
            byte[] out = IncludeUsageRewriter.rewrite(body, body.length);
            if (out != null) {
                rewritten++;
                Obj result = (Obj) JsonTree.parse(out);
                Object options = result.get("stream_options");
                assertTrue(options instanceof Obj o && Boolean.TRUE.equals(o.get("include_usage")), () -> new String(out,
                        StandardCharsets.UTF_8));
            }
        }
        assertTrue(rewritten > 100, "enough mangled bodies stayed valid to mean something: " + rewritten);
    }
}
