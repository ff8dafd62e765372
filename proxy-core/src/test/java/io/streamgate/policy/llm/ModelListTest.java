package io.streamgate.policy.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.streamgate.policy.llm.ModelList.Model;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reading backends' model lists and writing the merged list with aliases. */
class ModelListTest {
    private static final String LLAMA = "{\"id\":\"meta-llama/Llama-3.1-8B-Instruct\",\"object\":\"model\","
            + "\"created\":1732000000,\"owned_by\":\"vllm\",\"root\":\"meta-llama/Llama-3.1-8B-Instruct\","
            + "\"parent\":null,\"max_model_len\":8192,"
            + "\"permission\":[{\"id\":\"modelperm-1\",\"object\":\"model_permission\",\"allow_sampling\":true}]}";

    @Test
    void parsesVllmOutputKeepingEachEntryWhole() throws IOException {
        List<Model> models = parse("{\"object\":\"list\",\"data\":[" + LLAMA + "]}");
        assertEquals(List.of(new Model("meta-llama/Llama-3.1-8B-Instruct", LLAMA)), models);
    }

    @Test
    void entriesAreReSerialisedCompactlyAndUnknownFieldsIgnored() throws IOException {
        List<Model> models = parse("""
                {
                  "extra": {"data": "not this one", "nested": [1, {"id": 2}]},
                  "data": [
                    { "created": 1, "id": "a", "meta": {"id": "inner"}, "tags": [ "x", null, 1.5 ] },
                    {"id": "b\\u00e9"}
                  ],
                  "object": "list"
                }
                """);
        assertEquals(List.of(
                new Model("a", "{\"created\":1,\"id\":\"a\",\"meta\":{\"id\":\"inner\"},\"tags\":[\"x\",null,1.5]}"),
                new Model("b\u00e9", "{\"id\":\"b\u00e9\"}")), models);
        assertEquals(List.of(), parse("{\"data\":[]}"));
    }

    @Test
    void anythingElseIsAnError() {
        for (String bad : List.of("", "[]", "\"list\"", "{}", "{\"object\":\"list\"}", "{\"data\":{}}",
                "{\"data\":[\"a\"]}", "{\"data\":[{\"object\":\"model\"}]}", "{\"data\":[{\"id\":7}]}",
                "{\"data\":[{\"id\":null}]}", "{\"data\":[{\"id\":\"a\"}]", "{\"data\":[{\"id\":\"a\"}]} {}",
                "{\"data\":[{\"id\":\"a\",}]}", "not json")) {
            assertThrows(IOException.class, () -> parse(bad), bad);
        }
    }

    @Test
    void writtenListsParseBackToTheSameModels() throws IOException {
        List<Model> models = List.of(parse("{\"data\":[" + LLAMA + "]}").get(0), new Model("b", "{\"id\":\"b\"}"));
        byte[] written = ModelList.write(models, Map.of());
        assertEquals("{\"object\":\"list\",\"data\":[" + LLAMA + ",{\"id\":\"b\"}]}",
                new String(written, StandardCharsets.UTF_8));
        assertEquals(models, ModelList.parse(written));
    }

    @Test
    void aliasesFollowTheModelsInMapOrderWhenTheirTargetIsThere() throws IOException {
        Map<String, String> aliases = new LinkedHashMap<>();
        aliases.put("smart", "meta-llama/Llama-3.1-8B-Instruct");
        aliases.put("gone", "no-such-model");
        aliases.put("cheap", "b");
        List<Model> models =
                List.of(new Model("meta-llama/Llama-3.1-8B-Instruct", LLAMA), new Model("b", "{\"id\":\"b\"}"));
        String written = new String(ModelList.write(models, aliases), StandardCharsets.UTF_8);
        assertEquals("{\"object\":\"list\",\"data\":[" + LLAMA + ",{\"id\":\"b\"},"
                + "{\"id\":\"smart\",\"object\":\"model\",\"created\":1732000000,\"owned_by\":\"streamgate\","
                + "\"root\":\"meta-llama/Llama-3.1-8B-Instruct\",\"parent\":null},"
                + "{\"id\":\"cheap\",\"object\":\"model\",\"created\":0,\"owned_by\":\"streamgate\","
                + "\"root\":\"b\",\"parent\":null}]}", written);
        assertEquals(List.of("meta-llama/Llama-3.1-8B-Instruct", "b", "smart", "cheap"),
                ModelList.parse(written.getBytes(StandardCharsets.UTF_8)).stream().map(Model::id).toList());
    }

    @Test
    void anIdIsWrittenOnceAndTheFirstWins() throws IOException {
        List<Model> models = List.of(
                new Model("m", "{\"id\":\"m\",\"owned_by\":\"first\"}"),
                new Model("n", "{\"id\":\"n\"}"),
                new Model("m", "{\"id\":\"m\",\"owned_by\":\"second\"}"));
        Map<String, String> aliases = new LinkedHashMap<>();
        aliases.put("n", "m"); // an alias never hides a real model
        aliases.put("a", "m");
        aliases.put("b", "a"); // nor is an alias a target
        String written = new String(ModelList.write(models, aliases), StandardCharsets.UTF_8);
        assertEquals("{\"object\":\"list\",\"data\":[{\"id\":\"m\",\"owned_by\":\"first\"},{\"id\":\"n\"},"
                + "{\"id\":\"a\",\"object\":\"model\",\"created\":0,\"owned_by\":\"streamgate\",\"root\":\"m\","
                + "\"parent\":null}]}", written);
    }

    private static List<Model> parse(String json) throws IOException {
        return ModelList.parse(json.getBytes(StandardCharsets.UTF_8));
    }
}
