package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class BodyDigestTest {

    private static String digest(String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return BodyDigest.of(b, b.length);
    }

    private static String rawSha256(String prefix, String body) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(prefix.getBytes(StandardCharsets.US_ASCII));
        sha.update(body.getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(sha.digest());
    }

    @Test
    void isLowercaseHexSha256() {
        String d = digest("{\"model\":\"m\"}");
        assertEquals(64, d.length());
        assertTrue(d.matches("[0-9a-f]{64}"), d);
    }

    static Stream<Arguments> equivalentBodies() {
        return Stream.of(
                Arguments.of("{\"b\":1, \"a\":2}", "{\"a\":2,\"b\":1}"),
                Arguments.of("{ \"a\" : [1, 2] ,\n\t\"b\":{\"y\":true,\"x\":null} }",
                        "{\"a\":[1,2],\"b\":{\"x\":null,\"y\":true}}"),
                Arguments.of("  {\"a\":1}\r\n", "{\"a\":1}"),
                Arguments.of("[{\"b\":1,\"a\":2},{\"d\":3,\"c\":4}]", "[ {\"a\":2,\"b\":1} , {\"c\":4,\"d\":3} ]"),
                Arguments.of("{\"s\":\"\\u0041\\n\"}", "{\"s\":\"A\\u000a\"}"));
    }

    @ParameterizedTest
    @MethodSource("equivalentBodies")
    void memberOrderWhitespaceAndEscapesDoNotMatter(String one, String other) {
        assertEquals(digest(other), digest(one));
    }

    @Test
    void chatRequestsWithReorderedFieldsShareADigest() {
        String a = "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi there\"}],"
                + "\"temperature\":0,\"max_tokens\":16}";
        String b = "{\n  \"max_tokens\": 16,\n  \"temperature\": 0,\n  \"messages\": [\n    {\"content\": \"Hi there\","
                + " \"role\": \"user\"}\n  ],\n  \"model\": \"llama\"\n}";
        assertEquals(digest(a), digest(b));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"a\":1}           | {\"a\":2}",
            "{\"a\":1}           | {\"b\":1}",
            "{\"a\":1}           | {\"a\":1.0}",
            "{\"a\":1}           | {\"a\":\"1\"}",
            "{\"a\":1e2}         | {\"a\":100}",
            "{\"a\":true}        | {\"a\":\"true\"}",
            "{\"a\":null}        | {}",
            "{\"a\":[]}          | {\"a\":{}}",
            "{\"a\":\"x y\"}     | {\"a\":\"x  y\"}",
            "{\"a\":[1,2]}       | {\"a\":[2,1]}",
            "[[1,2],[3]]         | [[1],[2,3]]",
            "[[1,2],[3]]         | [[3],[1,2]]",
            "{\"a\":1,\"a\":2}   | {\"a\":2,\"a\":1}",
            "{\"ab\":\"c\"}      | {\"a\":\"bc\"}",
            "[\"a\",\"b\"]       | [\"ab\"]",
            "{\"t\":\"é\"}       | {\"t\":\"e\"}"})
    void differentContentGivesDifferentDigests(String one, String other) {
        assertNotEquals(digest(one), digest(other));
    }

    @Test
    void nonJsonBodiesAreDigestedRaw() throws Exception {
        String form = "b=1&a=2";
        assertEquals(rawSha256("r", form), digest(form));
        assertNotEquals(digest("a=2&b=1"), digest(form), "raw bodies are not reordered");
        assertEquals(rawSha256("r", ""), BodyDigest.of(new byte[0], 0));
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"a\":1", "{\"a\":1}}", "{\"a\":1} {\"b\":2}", "{\"a\":01}", "[1,]", "{'a':1}",
            "{\"a\":NaN}", "{\"a\":1} x", "[1, 2", "\"just a string\"", "42", "null"})
    void invalidOrScalarJsonIsDigestedRaw(String body) throws Exception {
        assertEquals(rawSha256("r", body), digest(body), body);
    }

    @Test
    void invalidJsonStillDependsOnEveryByte() {
        assertNotEquals(digest("{\"b\":1, \"a\":2"), digest("{\"a\":2, \"b\":1"));
    }

    @Test
    void aRawBodyCannotImitateTheCanonicalFormOfAnother() {
        // The canonical encoding of {"a":1}: object, member "a" (tag, 4-byte length, chars), number "1", end.
        byte[] imitation = {'{', ':', 0, 0, 0, 1, 'a', 'n', 0, 0, 0, 1, '1', '}'};
        assertNotEquals(digest("{\"a\":1}"), BodyDigest.of(imitation, imitation.length));
    }

    @Test
    void nestingIsBounded() throws Exception {
        String deepest = "[".repeat(BodyDigest.MAX_DEPTH) + "]".repeat(BodyDigest.MAX_DEPTH);
        assertNotEquals(rawSha256("r", deepest), digest(deepest), "the maximum depth is still normalised");
        String tooDeep = "[".repeat(BodyDigest.MAX_DEPTH + 1) + "]".repeat(BodyDigest.MAX_DEPTH + 1);
        assertEquals(rawSha256("r", tooDeep), digest(tooDeep));
        String hostile = "[".repeat(100_000);
        assertEquals(rawSha256("r", hostile), digest(hostile), "no stack overflow on hostile nesting");
    }

    @Test
    void onlyTheGivenLengthCounts() {
        byte[] buffer = "{\"a\":1}GARBAGE".getBytes(StandardCharsets.UTF_8);
        assertEquals(digest("{\"a\":1}"), BodyDigest.of(buffer, 7));
        assertThrows(IndexOutOfBoundsException.class, () -> BodyDigest.of(buffer, buffer.length + 1));
    }

    @Test
    void nonAsciiTextIsKept() {
        assertEquals(digest("{\"b\":\"日本\",\"a\":\"😀\"}"), digest("{\"a\":\"\\ud83d\\ude00\",\"b\":\"日本\"}"));
        assertNotEquals(digest("{\"a\":\"日本\"}"), digest("{\"a\":\"日本語\"}"));
    }

    @Test
    void bodiesWhoseCanonicalFormOutgrowsTheInputAreStillExact() {
        String emoji = "😀".repeat(2_000);
        String escaped = "\\ud83d\\ude00".repeat(2_000);
        assertEquals(digest("{\"b\":1,\"a\":\"" + emoji + "\"}"), digest("{\"a\":\"" + escaped + "\",\"b\":1}"));
        assertNotEquals(digest("{\"a\":\"" + emoji + "\"}"), digest("{\"a\":\"" + emoji.substring(2) + "😁\"}"));

        String numbers = "[" + "1,".repeat(5_000) + "1]";
        assertEquals(digest(numbers), digest(numbers.replace(",", " , ")));
        assertNotEquals(digest(numbers), digest(numbers.substring(0, numbers.length() - 2) + "2]"));
    }
}
