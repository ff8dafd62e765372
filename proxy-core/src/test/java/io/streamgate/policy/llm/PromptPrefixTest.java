package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PromptPrefixTest {
    /** A chat conversation as a root member, from its name on. */
    private static final String CONVERSATION = "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            + "{\"role\":\"user\",\"content\":\"Hi\"}]";

    private static String of(String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return PromptPrefix.of(b, LlmRequest.peek(b, b.length, true));
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

    /**
     * Text that spells the member's name before the root's own member: a string value, a nested object's key, a
     * tool's parameter. The key is the root member's, whatever comes before it.
     */
    @ParameterizedTest
    @ValueSource(strings = {
            "\"user\":\"messages\",",
            "\"metadata\":{\"messages\":\"kept for audit\"},",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"summarise\",\"parameters\":{\"type\":\"object\","
                    + "\"properties\":{\"messages\":{\"type\":\"array\"},\"prompt\":{\"type\":\"string\"}}}}}],",
            "\"note\":\"a \\\"messages\\\" member follows\", \"n\" : [\"messages\", {\"prompt\":1}],",
    })
    void theRootMemberIsTheKeyWhateverSpellsItsNameBefore(String before) {
        assertEquals(CONVERSATION + "}", of("{\"model\":\"m\"," + before + CONVERSATION + "}"));
    }

    /** Only the root object's members count, and the key starts at the name's quote wherever the member is. */
    @Test
    void onlyTheRootObjectsMembersCount() {
        assertNull(of("{\"metadata\":{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}}"));
        assertNull(of("{\"model\":\"messages\",\"input\":\"prompt\"}"));
        assertNull(of("[{\"messages\":[]}]"), "not an object");
        assertEquals("\"prompt\":\"hi\"}", of("{\"model\":\"m\",\"extra\":{\"prompt\":\"template\"},\"prompt\":\"hi\"}"));
        assertEquals(CONVERSATION + "}", of("{\"prompt\":\"p\"," + CONVERSATION + "}"), "messages before prompt");
        assertEquals(CONVERSATION + "\n}", of("{\n  \"model\": \"m\" ,\n  " + CONVERSATION + "\n}"));
        String cut = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a long question that was cut";
        assertEquals(cut.substring(cut.indexOf("\"messages\"")), of(cut));
    }
}
