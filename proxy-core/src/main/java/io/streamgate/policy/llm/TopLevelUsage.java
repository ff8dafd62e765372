package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * Follows the tokens of one JSON document, pushed one at a time from either a blocking or a non-blocking parser, and
 * keeps what usage accounting needs from its root object: the {@code usage} member (an object; {@code null} or
 * anything else counts as absent) and whether {@code choices} holds any element. Members of the same name deeper in
 * the document are ignored: a {@code usage} inside a choice is not the response's usage.
 *
 * <p>Not thread-safe: one per document, fed from one thread.
 */
final class TopLevelUsage {
    private enum Pending { NONE, USAGE, CHOICES, PROMPT_TOKENS, COMPLETION_TOKENS }

    private int depth;
    private boolean rootSeen;
    private Pending pending = Pending.NONE;
    private boolean inUsage;
    private boolean inChoices;
    private long prompt;
    private long completion;
    private boolean anyCount;
    private Usage usage;
    private boolean usageObject;
    private boolean choicesNonEmpty;

    /**
     * Takes the token the parser just returned.
     *
     * @return false when the document is not a single JSON object, after which nothing more should be fed
     */
    boolean accept(JsonToken token, JsonParser parser) throws IOException {
        if (depth == 0) {
            if (rootSeen || token != JsonToken.START_OBJECT) {
                return false;
            }
            rootSeen = true;
            depth = 1;
            return true;
        }
        switch (token) {
            case FIELD_NAME -> onName(parser.currentName());
            case END_OBJECT, END_ARRAY -> onEnd();
            default -> onValue(token, parser);
        }
        return true;
    }

    private void onName(String name) {
        if (depth == 1) {
            pending = switch (name) {
                case "usage" -> Pending.USAGE;
                case "choices" -> Pending.CHOICES;
                default -> Pending.NONE;
            };
        } else if (inUsage && depth == 2) {
            pending = switch (name) {
                case "prompt_tokens" -> Pending.PROMPT_TOKENS;
                case "completion_tokens" -> Pending.COMPLETION_TOKENS;
                default -> Pending.NONE;
            };
        }
    }

    private void onValue(JsonToken token, JsonParser parser) throws IOException {
        if (inChoices && depth == 2) {
            choicesNonEmpty = true;
        }
        Pending member = pending;
        pending = Pending.NONE;
        switch (member) {
            case USAGE -> {
                usageObject = token == JsonToken.START_OBJECT;
                if (usageObject) {
                    inUsage = true;
                    prompt = 0;
                    completion = 0;
                    anyCount = false;
                }
            }
            case CHOICES -> inChoices = token == JsonToken.START_ARRAY;
            case PROMPT_TOKENS -> prompt = count(token, parser, prompt);
            case COMPLETION_TOKENS -> completion = count(token, parser, completion);
            case NONE -> { }
        }
        if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
            depth++;
        }
    }

    /** A usable count is a non-negative integer that fits a long; anything else leaves the previous value. */
    private long count(JsonToken token, JsonParser parser, long previous) throws IOException {
        if (token != JsonToken.VALUE_NUMBER_INT) {
            return previous;
        }
        JsonParser.NumberType type = parser.getNumberType();
        if (type != JsonParser.NumberType.INT && type != JsonParser.NumberType.LONG) {
            return previous;
        }
        long value = parser.getLongValue();
        if (value < 0) {
            return previous;
        }
        anyCount = true;
        return value;
    }

    private void onEnd() {
        depth--;
        if (depth == 1 && inUsage) {
            inUsage = false;
            usage = anyCount ? new Usage(prompt, completion) : null;
        } else if (depth == 1 && inChoices) {
            inChoices = false;
        }
    }

    /** The last root-level usage object read to its end that carried a count, or null. */
    Usage usage() {
        return usage;
    }

    /** Whether the root object's last {@code usage} member is an object, whatever it holds. */
    boolean hasUsageObject() {
        return usageObject;
    }

    /** Whether the root object's {@code choices} array held at least one element so far. */
    boolean choicesNonEmpty() {
        return choicesNonEmpty;
    }

    /** Whether the root object has been closed. */
    boolean complete() {
        return rootSeen && depth == 0;
    }
}
