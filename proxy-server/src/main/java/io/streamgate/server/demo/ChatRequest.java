package io.streamgate.server.demo;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The few fields of a chat completion request that the demo backend looks at.
 *
 * <p>There is deliberately no JSON library on the server's classpath, so the fields are found with patterns.
 * That is good enough for a demo and safe: the patterns only ever match a top-level-looking {@code "key": value}
 * (a key inside a JSON string has escaped quotes and cannot match), the model name is only accepted from a
 * small character set before it is echoed back, and a misread field can only change which canned answer is sent.
 *
 * @param model        the requested model name, echoed in the answer
 * @param stream       whether to answer with server-sent events
 * @param includeUsage {@code stream_options.include_usage}: send a last chunk with token counts
 * @param maxTokens    at most this many words are generated
 * @param promptTokens a rough estimate (request bytes / 4), for the usage figures
 */
record ChatRequest(String model, boolean stream, boolean includeUsage, int maxTokens, int promptTokens) {
    static final String DEFAULT_MODEL = "demo-model";

    private static final Pattern MESSAGES = Pattern.compile("\"messages\"\\s*:\\s*\\[");
    private static final Pattern MODEL = Pattern.compile("\"model\"\\s*:\\s*\"([A-Za-z0-9._:/@+-]{1,128})\"");
    private static final Pattern STREAM = Pattern.compile("\"stream\"\\s*:\\s*true\\b");
    private static final Pattern INCLUDE_USAGE = Pattern.compile("\"include_usage\"\\s*:\\s*true\\b");
    private static final Pattern MAX_TOKENS = Pattern.compile("\"max_(?:completion_)?tokens\"\\s*:\\s*(\\d{1,9})\\b");

    /** Reads the fields, or throws IllegalArgumentException with a message for the client if the body is unusable. */
    static ChatRequest parse(String body) {
        String json = body.trim();
        if (!json.startsWith("{") || !json.endsWith("}")) {
            throw new IllegalArgumentException("the request body must be a JSON object");
        }
        if (!MESSAGES.matcher(json).find()) {
            throw new IllegalArgumentException("'messages' is required and must be a list");
        }
        Matcher model = MODEL.matcher(json);
        Matcher maxTokens = MAX_TOKENS.matcher(json);
        return new ChatRequest(
                model.find() ? model.group(1) : DEFAULT_MODEL,
                STREAM.matcher(json).find(),
                INCLUDE_USAGE.matcher(json).find(),
                maxTokens.find() ? Math.max(1, Integer.parseInt(maxTokens.group(1))) : Integer.MAX_VALUE,
                Math.max(1, json.length() / 4));
    }
}
