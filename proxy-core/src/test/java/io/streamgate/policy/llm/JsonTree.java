package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Test-only tree of a JSON document that keeps what a byte comparison would: member order and the exact text of
 * numbers. Objects are {@link Obj}, arrays {@link List}, numbers {@link Num}, strings {@link String}, booleans
 * {@link Boolean}, null {@link #NULL}.
 */
final class JsonTree {
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };
    private static final JsonFactory FACTORY = new JsonFactory();

    record Member(String name, Object value) {
    }

    record Obj(List<Member> members) {
        Object get(String name) {
            return members.stream().filter(m -> m.name.equals(name)).map(Member::value).findFirst().orElse(null);
        }
    }

    record Num(String text) {
    }

    private JsonTree() {
    }

    static Object parse(byte[] json) {
        try (JsonParser parser = FACTORY.createParser(json)) {
            Object value = value(parser, parser.nextToken());
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("trailing content");
            }
            return value;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Object value(JsonParser parser, JsonToken token) throws IOException {
        return switch (token) {
            case START_OBJECT -> {
                List<Member> members = new ArrayList<>();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    members.add(new Member(name, value(parser, parser.nextToken())));
                }
                yield new Obj(members);
            }
            case START_ARRAY -> {
                List<Object> items = new ArrayList<>();
                JsonToken t;
                while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
                    items.add(value(parser, t));
                }
                yield items;
            }
            case VALUE_STRING -> parser.getText();
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> new Num(parser.getText());
            case VALUE_TRUE -> Boolean.TRUE;
            case VALUE_FALSE -> Boolean.FALSE;
            case VALUE_NULL -> NULL;
            default -> throw new IllegalArgumentException("unexpected " + token);
        };
    }
}
