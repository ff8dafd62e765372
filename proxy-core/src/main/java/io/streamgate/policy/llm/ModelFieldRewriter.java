package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Replaces the value of a JSON body's top-level {@code model} field, byte for byte elsewhere, for model aliases. The
 * body may be only a prefix of the whole (a long prompt streams on unread): the field only has to lie within it.
 */
public final class ModelFieldRewriter {
    private static final JsonFactory JSON = new JsonFactory();

    private ModelFieldRewriter() {
    }

    /** The body with {@code model} set to {@code value}, or null when the prefix holds no top-level string model field. */
    public static byte[] rewrite(byte[] body, int length, String value) {
        try (JsonParser p = JSON.createParser(body, 0, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            JsonToken t;
            while ((t = p.nextToken()) != null && t != JsonToken.END_OBJECT) {
                if (t != JsonToken.FIELD_NAME) {
                    return null;
                }
                boolean model = p.currentName().equals("model");
                JsonToken v = p.nextToken();
                if (model && v == JsonToken.VALUE_STRING) {
                    int start = (int) p.currentTokenLocation().getByteOffset();
                    p.finishToken();
                    int end = (int) p.currentLocation().getByteOffset();
                    byte[] quoted = ('"' + new String(JsonStringEncoder.getInstance().quoteAsString(value)) + '"')
                            .getBytes(StandardCharsets.UTF_8);
                    byte[] out = new byte[length - (end - start) + quoted.length];
                    System.arraycopy(body, 0, out, 0, start);
                    System.arraycopy(quoted, 0, out, start, quoted.length);
                    System.arraycopy(body, end, out, start + quoted.length, length - end);
                    return out;
                }
                p.skipChildren();
            }
            return null;
        } catch (IOException e) {
            return null; // the field was not within the prefix, or the body is not JSON: leave it as it is
        }
    }
}
