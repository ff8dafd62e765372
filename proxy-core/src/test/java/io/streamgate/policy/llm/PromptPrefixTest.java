package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PromptPrefixTest {
    private static String of(String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return PromptPrefix.of(b, b.length);
    }

    @Test
    void sameConversationStartSameKeyWhateverComesBeforeOrAfter() {
        String system = "{\"role\":\"system\",\"content\":\"" + "You are a helpful assistant. ".repeat(10) + "\"}";
        String a = of("{\"model\":\"m\",\"temperature\":0,\"messages\":[" + system + ",{\"role\":\"user\",\"content\":\"one\"}]}");
        String b = of("{\"model\":\"m\",\"stream\":true,\"messages\":[" + system + ",{\"role\":\"user\",\"content\":\"two\"}]}");
        assertEquals(a, b);
        assertEquals(PromptPrefix.LENGTH, a.length());
        assertNotEquals(a, of("{\"messages\":[{\"role\":\"system\",\"content\":\"other\"}]}"));
    }

    @Test
    void completionsPromptAndNoField() {
        assertEquals("\"prompt\":\"hi\"}", of("{\"model\":\"m\",\"prompt\":\"hi\"}"));
        assertNull(of("{\"input\":\"x\"}"));
    }
}
