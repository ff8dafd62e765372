package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ModelFieldRewriterTest {
    private static String rewrite(String body, String model) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        byte[] out = ModelFieldRewriter.rewrite(b, b.length, model);
        return out == null ? null : new String(out, StandardCharsets.UTF_8);
    }

    @Test
    void replacesOnlyTheTopLevelValue() {
        assertEquals("{\"messages\":[{\"model\":\"x\"}], \"model\" : \"Qwen/Qwen2.5-7B\",\"stream\":true}",
                rewrite("{\"messages\":[{\"model\":\"x\"}], \"model\" : \"gpt-4o-mini\",\"stream\":true}", "Qwen/Qwen2.5-7B"));
    }

    @Test
    void escapesTheNewNameAndKeepsMultiByteTextAround() {
        assertEquals("{\"p\":\"héllo ✓\",\"model\":\"a\\\"b\"}", rewrite("{\"p\":\"héllo ✓\",\"model\":\"m\"}", "a\"b"));
    }

    @Test
    void worksOnATruncatedPrefixWhenTheFieldIsInIt() {
        assertEquals("{\"model\":\"served\",\"messages\":[{\"role\":\"user\",\"content\":\"lo",
                rewrite("{\"model\":\"alias\",\"messages\":[{\"role\":\"user\",\"content\":\"lo", "served"));
    }

    @Test
    void leavesBodiesWithoutAStringModelAlone() {
        assertNull(rewrite("{\"messages\":[]}", "x"));
        assertNull(rewrite("{\"model\":3}", "x"));
        assertNull(rewrite("[1,2]", "x"));
        assertNull(rewrite("{\"messages\":[{\"content\":\"cut", "x"));
        assertNull(rewrite("not json", "x"));
    }
}
