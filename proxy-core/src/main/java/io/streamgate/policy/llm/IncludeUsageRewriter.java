package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes a streamed request report its usage: sets {@code stream_options.include_usage} to {@code true} in a
 * complete JSON request body, merging into an existing {@code stream_options} object.
 *
 * <p>The body is not re-serialised: jackson's streaming parser locates the few byte ranges that change and the
 * result is the original bytes with those ranges spliced, so every other member keeps its exact bytes (number forms
 * such as {@code 0.70}, escapes, whitespace, member order). Only three edits exist: replace the value of an existing
 * {@code include_usage} with {@code true}; append {@code "include_usage":true} to an existing {@code stream_options}
 * object; append {@code "stream_options":{"include_usage":true}} to the root object, or replace a
 * {@code stream_options} that is not an object with that object.
 *
 * <p>Call it only for streamed requests: OpenAI rejects {@code stream_options} when {@code stream} is not true.
 * Stateless and thread-safe.
 */
public final class IncludeUsageRewriter {
    private static final byte[] TRUE = ascii("true");
    private static final byte[] OPTIONS_OBJECT = ascii("{\"include_usage\":true}");
    private static final byte[] INCLUDE_MEMBER = ascii("\"include_usage\":true");
    private static final byte[] OPTIONS_MEMBER = ascii("\"stream_options\":{\"include_usage\":true}");
    private static final byte COMMA = ',';

    private IncludeUsageRewriter() {
    }

    /**
     * @return a new body with {@code stream_options.include_usage = true}, or null when the first {@code length}
     *         bytes of {@code body} are not exactly one well-formed JSON object
     */
    public static byte[] rewrite(byte[] body, int length) {
        try (JsonParser parser = LlmJson.REQUESTS.createParser(body, 0, length)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            Splice splice = new Splice(body, length);
            boolean hasOptions = false;
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                boolean options = parser.currentName().equals("stream_options");
                token = parser.nextToken();
                if (!options) {
                    parser.skipChildren();
                } else if (token == JsonToken.START_OBJECT) {
                    hasOptions = true;
                    mergeIntoOptions(parser, splice);
                } else {
                    hasOptions = true;
                    int start = tokenStart(parser);
                    splice.replace(start, valueEnd(parser), OPTIONS_OBJECT);
                }
            }
            if (token != JsonToken.END_OBJECT) {
                return null;
            }
            int rootEnd = tokenStart(parser);
            if (parser.nextToken() != null) {
                return null;
            }
            if (!hasOptions) {
                splice.appendMember(rootEnd, OPTIONS_MEMBER);
            }
            return splice.apply();
        } catch (IOException e) {
            return null;
        }
    }

    /** The parser is on the {@code stream_options} object's start; leaves it on that object's end. */
    private static void mergeIntoOptions(JsonParser parser, Splice splice) throws IOException {
        boolean hasInclude = false;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            boolean include = parser.currentName().equals("include_usage");
            parser.nextToken();
            if (include) {
                hasInclude = true;
                int start = tokenStart(parser);
                splice.replace(start, valueEnd(parser), TRUE);
            } else {
                parser.skipChildren();
            }
        }
        if (!hasInclude) {
            splice.appendMember(tokenStart(parser), INCLUDE_MEMBER);
        }
    }

    private static int tokenStart(JsonParser parser) {
        return (int) parser.currentTokenLocation().getByteOffset();
    }

    /** The offset just past the value the parser is on, which it reads to its end first. */
    private static int valueEnd(JsonParser parser) throws IOException {
        parser.skipChildren();
        // Scalars, strings especially, are read lazily; the end is only known once the token is complete.
        parser.finishToken();
        return (int) parser.currentLocation().getByteOffset();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Byte-range edits of the original body, recorded in ascending order and applied in one copy. */
    private static final class Splice {
        private final byte[] body;
        private final int length;
        private final List<Edit> edits = new ArrayList<>(2);

        Splice(byte[] body, int length) {
            this.body = body;
            this.length = length;
        }

        void replace(int start, int end, byte[] with) {
            edits.add(new Edit(start, end, with, false));
        }

        /**
         * Adds a member to the object whose closing brace is at {@code closeBrace}, right after its last value (so
         * whitespace before the brace stays where it was), with a comma unless the object is empty.
         */
        void appendMember(int closeBrace, byte[] member) {
            int at = closeBrace;
            while (at > 0 && isWhitespace(body[at - 1])) {
                at--;
            }
            edits.add(new Edit(at, at, member, body[at - 1] != '{'));
        }

        byte[] apply() {
            int size = length;
            for (Edit e : edits) {
                size += e.bytes.length + (e.comma ? 1 : 0) - (e.end - e.start);
            }
            byte[] out = new byte[size];
            int from = 0;
            int to = 0;
            for (Edit e : edits) {
                System.arraycopy(body, from, out, to, e.start - from);
                to += e.start - from;
                if (e.comma) {
                    out[to++] = COMMA;
                }
                System.arraycopy(e.bytes, 0, out, to, e.bytes.length);
                to += e.bytes.length;
                from = e.end;
            }
            System.arraycopy(body, from, out, to, length - from);
            return out;
        }

        private static boolean isWhitespace(byte b) {
            return b == ' ' || b == '\t' || b == '\n' || b == '\r';
        }
    }

    private record Edit(int start, int end, byte[] bytes, boolean comma) {
    }
}
