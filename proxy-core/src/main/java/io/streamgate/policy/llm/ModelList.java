package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * OpenAI's {@code GET /v1/models} list, read from backends and written to clients. Each model's object is kept as
 * the backend sent it (fields like vLLM's {@code max_model_len} matter to clients), so the gateway only needs to
 * understand the {@code id}: enough to merge the lists of several backends and to add its own aliases.
 */
public final class ModelList {
    /** One model: its id and the raw JSON object text as the backend sent it (compact, re-serialised). */
    public record Model(String id, String json) {
    }

    private ModelList() {
    }

    /**
     * Parses {@code {"object":"list","data":[{..., "id":"x", ...}, ...]}} into its models, in order. Fields other
     * than {@code data} and {@code id} are not interpreted, wherever they are.
     *
     * @throws IOException if the body is not a JSON object with a {@code data} array of objects each with a string
     *                     {@code id}, or has anything after that object
     */
    public static List<Model> parse(byte[] body) throws IOException {
        try (JsonParser p = LlmJson.RESPONSES.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("a model list must be a JSON object");
            }
            List<Model> models = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("data")) {
                    models = data(p);
                } else {
                    p.skipChildren();
                }
            }
            if (models == null) {
                throw new IOException("a model list needs a \"data\" array");
            }
            if (p.nextToken() != null) {
                throw new IOException("unexpected content after the model list");
            }
            return models;
        }
    }

    private static List<Model> data(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new IOException("\"data\" of a model list must be an array");
        }
        List<Model> models = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            models.add(model(p));
        }
        return models;
    }

    /** Copies one entry field by field, so its id is picked up on the way without a second parse. */
    private static Model model(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new IOException("a model list entry must be an object");
        }
        String id = null;
        StringWriter json = new StringWriter();
        try (JsonGenerator g = LlmJson.RESPONSES.createGenerator(json)) {
            g.writeStartObject();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("id") && value == JsonToken.VALUE_STRING) {
                    id = p.getText();
                }
                g.writeFieldName(field);
                g.copyCurrentStructure(p);
            }
            g.writeEndObject();
        }
        if (id == null) {
            throw new IOException("a model list entry has no string \"id\"");
        }
        return new Model(id, json.toString());
    }

    /**
     * Writes {@code {"object":"list","data":[...]}}: each model's JSON as given, then an entry for each alias
     * (public name to target id, in map order) whose target is among the models. An id already written is not
     * written again (the first model with an id wins, and an alias never hides a real model).
     */
    public static byte[] write(List<Model> models, Map<String, String> aliases) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Map<String, Model> byId = new HashMap<>();
        Set<String> written = new HashSet<>();
        try (JsonGenerator g = LlmJson.RESPONSES.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("object", "list");
            g.writeArrayFieldStart("data");
            for (Model m : models) {
                if (written.add(m.id())) {
                    byId.put(m.id(), m);
                    g.writeRawValue(m.json());
                }
            }
            for (Map.Entry<String, String> alias : aliases.entrySet()) {
                Model target = byId.get(alias.getValue());
                if (target != null && written.add(alias.getKey())) {
                    g.writeStartObject();
                    g.writeStringField("id", alias.getKey());
                    g.writeStringField("object", "model");
                    g.writeNumberField("created", created(target));
                    g.writeStringField("owned_by", "streamgate");
                    g.writeStringField("root", target.id());
                    g.writeNullField("parent");
                    g.writeEndObject();
                }
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("a model's json is not valid JSON: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /** The target's top-level {@code created} if it is an integer that fits a long, else 0. */
    private static long created(Model m) throws IOException {
        try (JsonParser p = LlmJson.RESPONSES.createParser(m.json())) {
            p.nextToken();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("created") && value == JsonToken.VALUE_NUMBER_INT
                        && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
                    return p.getLongValue();
                }
                p.skipChildren();
            }
            return 0;
        }
    }
}
