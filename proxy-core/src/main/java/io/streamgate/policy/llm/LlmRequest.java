package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import java.io.IOException;

/**
 * What the gateway needs from an OpenAI-style request body (chat/completions, completions, embeddings): the model,
 * whether the answer is streamed and whether the client asked for usage, the completion budget, the temperature,
 * and an estimate of the prompt's size in tokens. Immutable, so thread-safe.
 *
 * <p><b>Prompt estimate.</b> No tokenizer runs here (the gateway does not know the model's vocabulary, and a
 * tokenizer per request would cost more than the relay), so the estimate is the common rule of thumb for
 * English text with BPE tokenizers: <em>one token per four characters</em>, rounded up, over the strings the model
 * reads:
 * <ul>
 *   <li>{@code messages[*].content} when it is a string, or the {@code text} of each part when it is an array of
 *       parts (images and other non-text parts are not counted), and {@code messages[*].name};</li>
 *   <li>{@code prompt} (completions) and {@code input} (embeddings): a string or an array of strings; an array of
 *       integers is already token ids and counts one token per id, as does an array of such arrays;</li>
 * </ul>
 * plus {@value #TOKENS_PER_MESSAGE} tokens per message for the role and the chat template's separators, and at
 * least 1 in all. Characters are UTF-16 units, so text in scripts that tokenize at about one token per character
 * (CJK, for instance) is underestimated; the real count arrives with the response's usage.
 *
 * <p><b>Cost and limits.</b> The body is read once with jackson's streaming parser, never as a tree, and only the
 * root object's members above are interpreted (anything else is skipped); nesting deeper than jackson's configured
 * limit stops the read. A truncated body (only its first bytes were held) is read as far as it goes: a member cut in
 * the middle is ignored, except that the bytes of a cut prompt string still count as characters, so a huge prompt
 * cut at the peek limit is not estimated as almost nothing. The estimate then covers only the bytes seen.
 */
public final class LlmRequest {
    static final int TOKENS_PER_MESSAGE = 4;
    private static final int CHARS_PER_TOKEN = 4;

    private final String model;
    private final String duplicateMember;
    private final int conversationFrom;
    private final boolean stream;
    private final boolean clientAskedForUsage;
    private final long maxTokens;
    private final double temperature;
    private final long promptTokenEstimate;
    private final boolean truncated;

    private LlmRequest(Reader r, boolean truncated) {
        this.model = r.model;
        this.duplicateMember = r.duplicateMember;
        this.conversationFrom = r.messagesFrom >= 0 ? r.messagesFrom : r.promptFrom;
        this.stream = r.stream;
        this.clientAskedForUsage = r.includeUsage;
        this.maxTokens = r.maxCompletionTokens >= 0 ? r.maxCompletionTokens : r.maxTokens;
        this.temperature = r.temperature;
        long fromText = (r.chars + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN;
        this.promptTokenEstimate = Math.max(1, fromText + r.tokenIds + TOKENS_PER_MESSAGE * r.messages);
        this.truncated = truncated;
    }

    /**
     * Parses the first {@code length} bytes of {@code body}. Never throws on malformed or cut input.
     *
     * @param truncated whether {@code body} is only the start of the real body (the peek limit was reached): the cut
     *                  is tolerated wherever it falls
     * @return what could be read, or null when the bytes do not start a JSON object
     */
    public static LlmRequest peek(byte[] body, int length, boolean truncated) {
        try (JsonParser parser = LlmJson.REQUESTS.createNonBlockingByteArrayParser()) {
            feed(parser, body, length, truncated);
            Reader reader = new Reader(parser, length, truncated);
            return reader.readRoot() ? new LlmRequest(reader, truncated) : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Feeds a new parser the first {@code length} bytes of {@code body}, and tells it they are all unless truncated. */
    private static void feed(JsonParser parser, byte[] body, int length, boolean truncated) throws IOException {
        ByteArrayFeeder feeder = (ByteArrayFeeder) parser.getNonBlockingInputFeeder();
        feeder.feedInput(body, 0, length);
        if (!truncated) {
            // Without the end marker the parser would hold back a trailing number as possibly incomplete.
            feeder.endOfInput();
        }
    }

    /** The {@code model} member, or null when absent or not a string. */
    public String model() {
        return model;
    }

    /**
     * The first member the gateway reads or rewrites that occurs more than once (within the bytes read): one of the
     * root members of the class description ({@code model}, {@code stream}, {@code stream_options},
     * {@code max_tokens}, {@code max_completion_tokens}, {@code temperature}, {@code messages}, {@code prompt},
     * {@code input}), or {@code stream_options.include_usage}; null when there is none. Readers of such a body
     * disagree on which one counts: Python's json, and so vLLM, keeps the last, a rewrite that stops at the first
     * match changes the first. The gateway refuses it rather than route, limit or rewrite by one value while the
     * backend acts on another. Other members are the backend's alone and may repeat.
     */
    public String duplicateMember() {
        return duplicateMember;
    }

    /**
     * Where, in the bytes read, the token before the root object's {@code messages} member ended (else its
     * {@code prompt} member's): the member's name starts after at most a comma and white space. -1 when the root has
     * neither. Members of nested objects and text inside strings are not the root's, whatever they spell.
     */
    int conversationFrom() {
        return conversationFrom;
    }

    /** Whether {@code "stream": true}. */
    public boolean stream() {
        return stream;
    }

    /** Whether {@code "stream_options": {"include_usage": true}}: the client wants the usage chunk itself. */
    public boolean clientAskedForUsage() {
        return clientAskedForUsage;
    }

    /**
     * The completion budget: {@code max_completion_tokens} when present (it supersedes the older name), else
     * {@code max_tokens}; -1 when neither is a non-negative integer.
     */
    public long maxTokens() {
        return maxTokens;
    }

    /**
     * What admission charges a token budget: the prompt estimate plus the completion budget when one was given.
     * Saturates at {@link Long#MAX_VALUE}: {@code max_tokens} is the client's to choose, and a sum that wrapped around
     * would turn a request that can never fit into one charged a single token.
     */
    public long admissionEstimate() {
        long max = Math.max(0, maxTokens);
        return max > Long.MAX_VALUE - promptTokenEstimate ? Long.MAX_VALUE : promptTokenEstimate + max;
    }

    /** The {@code temperature} member, or NaN when absent or not a number. */
    public double temperature() {
        return temperature;
    }

    /** The prompt's size in tokens by the heuristic of the class description; at least 1. */
    public long promptTokenEstimate() {
        return promptTokenEstimate;
    }

    /** Whether this was read from a prefix of the body only. */
    public boolean truncated() {
        return truncated;
    }

    /**
     * One pass over the token stream by recursive descent over the few shapes the estimate cares about; the
     * recursion follows the fixed request schema, never the input's nesting, which is skipped by counting.
     * {@link #next()} turns the end of input (or of a prefix), and any malformed input, into null, which every loop
     * treats as the end of the document.
     */
    private static final class Reader {
        private final JsonParser parser;
        private final int length;
        private final boolean truncated;
        private boolean ended;
        /** Whether the value being read is text whose cut-off bytes should still count. */
        private boolean textPending;
        private long lastTokenEnd;

        String model;
        /** Where the token before the root's {@code messages} / {@code prompt} member ended, or -1. */
        int messagesFrom = -1;
        int promptFrom = -1;
        /** The root members read so far, one bit each (see {@link #noteMember}), whatever their values were. */
        private int seenMembers;
        String duplicateMember;
        boolean stream;
        boolean includeUsage;
        long maxTokens = -1;
        long maxCompletionTokens = -1;
        double temperature = Double.NaN;
        long chars;
        long tokenIds;
        long messages;

        Reader(JsonParser parser, int length, boolean truncated) {
            this.parser = parser;
            this.length = length;
            this.truncated = truncated;
        }

        /** @return false when the input does not start a JSON object */
        boolean readRoot() throws IOException {
            if (next() != JsonToken.START_OBJECT) {
                return false;
            }
            JsonToken token;
            while (true) {
                // Where the token before this member ended: its name's opening quote follows, after a comma and space.
                int nameFrom = (int) lastTokenEnd;
                if (next() != JsonToken.FIELD_NAME) {
                    break;
                }
                String name = parser.currentName();
                switch (name) {
                    case "model" -> {
                        noteMember(name, 0);
                        token = next();
                        model = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                        skip(token);
                    }
                    case "stream" -> {
                        noteMember(name, 1);
                        token = next();
                        stream = token == JsonToken.VALUE_TRUE;
                        skip(token);
                    }
                    case "stream_options" -> {
                        noteMember(name, 2);
                        readStreamOptions(next());
                    }
                    case "max_tokens" -> {
                        noteMember(name, 3);
                        maxTokens = nonNegativeLong(next());
                    }
                    case "max_completion_tokens" -> {
                        noteMember(name, 4);
                        maxCompletionTokens = nonNegativeLong(next());
                    }
                    case "temperature" -> {
                        noteMember(name, 5);
                        temperature = number(next());
                    }
                    case "messages" -> {
                        noteMember(name, 6);
                        messagesFrom = nameFrom;
                        readMessages(next());
                    }
                    case "prompt" -> {
                        noteMember(name, 7);
                        promptFrom = nameFrom;
                        readPrompt(nextText());
                    }
                    case "input" -> {
                        noteMember(name, 8);
                        readPrompt(nextText());
                    }
                    default -> skip(next());
                }
            }
            return true;
        }

        /**
         * Notes the root member {@code name}, whose bit is {@code bit}, and remembers it as the duplicate when it was
         * seen before. Keeping the parser's own name string allocates nothing.
         */
        private void noteMember(String name, int bit) {
            if ((seenMembers & 1 << bit) != 0 && duplicateMember == null) {
                duplicateMember = name;
            }
            seenMembers |= 1 << bit;
        }

        private void readStreamOptions(JsonToken token) throws IOException {
            if (token != JsonToken.START_OBJECT) {
                includeUsage = false;
                skip(token);
                return;
            }
            boolean ask = false;
            boolean askSeen = false;
            while ((token = next()) == JsonToken.FIELD_NAME) {
                if (parser.currentName().equals("include_usage")) {
                    // The usage rewrite sets every copy, but whether it runs at all depends on the copy read here.
                    if (askSeen && duplicateMember == null) {
                        duplicateMember = "stream_options.include_usage";
                    }
                    askSeen = true;
                    token = next();
                    ask = token == JsonToken.VALUE_TRUE;
                    skip(token);
                } else {
                    skip(next());
                }
            }
            includeUsage = ask;
        }

        private void readMessages(JsonToken token) throws IOException {
            if (token != JsonToken.START_ARRAY) {
                skip(token);
                return;
            }
            while ((token = next()) != null && token != JsonToken.END_ARRAY) {
                if (token == JsonToken.START_OBJECT) {
                    messages++;
                    readMessage();
                } else {
                    skip(token);
                }
            }
        }

        private void readMessage() throws IOException {
            JsonToken token;
            while ((token = next()) == JsonToken.FIELD_NAME) {
                switch (parser.currentName()) {
                    case "content" -> readContent(nextText());
                    case "name" -> {
                        token = nextText();
                        countText(token);
                        skip(token);
                    }
                    default -> skip(next());
                }
            }
        }

        private void readContent(JsonToken token) throws IOException {
            if (token != JsonToken.START_ARRAY) {
                countText(token);
                skip(token);
                return;
            }
            while ((token = next()) != null && token != JsonToken.END_ARRAY) {
                if (token == JsonToken.START_OBJECT) {
                    readPart();
                } else {
                    countText(token);
                    skip(token);
                }
            }
        }

        private void readPart() throws IOException {
            JsonToken token;
            while ((token = next()) == JsonToken.FIELD_NAME) {
                if (parser.currentName().equals("text")) {
                    token = nextText();
                    countText(token);
                    skip(token);
                } else {
                    skip(next());
                }
            }
        }

        /** A string, an array of strings or token ids, or an array of token-id arrays. */
        private void readPrompt(JsonToken token) throws IOException {
            if (token != JsonToken.START_ARRAY) {
                countText(token);
                skip(token);
                return;
            }
            readPromptArray(true);
        }

        private void readPromptArray(boolean outer) throws IOException {
            JsonToken token;
            while ((token = nextText()) != null && token != JsonToken.END_ARRAY) {
                if (token == JsonToken.VALUE_NUMBER_INT) {
                    tokenIds++;
                } else if (token == JsonToken.START_ARRAY && outer) {
                    readPromptArray(false);
                } else {
                    countText(token);
                    skip(token);
                }
            }
        }

        private void countText(JsonToken token) throws IOException {
            if (token == JsonToken.VALUE_STRING) {
                chars += parser.getTextLength();
            }
        }

        private long nonNegativeLong(JsonToken token) throws IOException {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                skip(token);
                return -1;
            }
            JsonParser.NumberType type = parser.getNumberType();
            if (type != JsonParser.NumberType.INT && type != JsonParser.NumberType.LONG) {
                return -1;
            }
            return Math.max(-1, parser.getLongValue());
        }

        private double number(JsonToken token) throws IOException {
            if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
                return parser.getDoubleValue();
            }
            skip(token);
            return Double.NaN;
        }

        /** Skips the value {@code token} starts: nothing for a scalar, up to the matching end for a container. */
        private void skip(JsonToken token) {
            if (token != JsonToken.START_OBJECT && token != JsonToken.START_ARRAY) {
                return;
            }
            int depth = 1;
            while (depth > 0 && (token = next()) != null) {
                if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
                    depth++;
                } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
                    depth--;
                }
            }
        }

        /** The next token, for a value whose characters count even when the prefix ends inside it. */
        private JsonToken nextText() {
            textPending = true;
            JsonToken token = next();
            textPending = false;
            return token;
        }

        private JsonToken next() {
            if (ended) {
                return null;
            }
            JsonToken token;
            try {
                token = parser.nextToken();
            } catch (IOException e) {
                token = null;
            }
            if (token == null || token == JsonToken.NOT_AVAILABLE) {
                ended = true;
                if (token == JsonToken.NOT_AVAILABLE && truncated && textPending) {
                    // The prefix ends inside this value: its remaining bytes are (mostly) its characters.
                    chars += Math.max(0, length - lastTokenEnd);
                }
                return null;
            }
            lastTokenEnd = parser.currentLocation().getByteOffset();
            return token;
        }
    }
}
