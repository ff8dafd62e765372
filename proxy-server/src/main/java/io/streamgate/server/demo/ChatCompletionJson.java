package io.streamgate.server.demo;

/**
 * Writes the demo backend's answers in the exact shapes of OpenAI's (and vLLM's) chat completion API:
 * {@code chat.completion}, {@code chat.completion.chunk}, the model list and the error object.
 */
final class ChatCompletionJson {
    private ChatCompletionJson() {
    }

    /** The first chunk of a stream: it names the role and carries no text yet. */
    static String roleChunk(String id, long created, String model) {
        return chunk(id, created, model, "{\"role\":\"assistant\",\"content\":\"\"}", null);
    }

    static String contentChunk(String id, long created, String model, String text) {
        return chunk(id, created, model, "{\"content\":" + quote(text) + "}", null);
    }

    static String finishChunk(String id, long created, String model, String finishReason) {
        return chunk(id, created, model, "{}", finishReason);
    }

    /** With {@code stream_options.include_usage}, the usage comes last in a chunk with no choices. */
    static String usageChunk(String id, long created, String model, int promptTokens, int completionTokens) {
        return "{\"id\":" + quote(id) + ",\"object\":\"chat.completion.chunk\",\"created\":" + created
                + ",\"model\":" + quote(model) + ",\"choices\":[]," + usage(promptTokens, completionTokens) + "}";
    }

    static String completion(String id, long created, String model, String text, String finishReason,
                             int promptTokens, int completionTokens) {
        return "{\"id\":" + quote(id) + ",\"object\":\"chat.completion\",\"created\":" + created
                + ",\"model\":" + quote(model)
                + ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" + quote(text)
                + "},\"logprobs\":null,\"finish_reason\":" + quote(finishReason) + "}],"
                + usage(promptTokens, completionTokens) + "}";
    }

    static String models(String model, long created) {
        return "{\"object\":\"list\",\"data\":[{\"id\":" + quote(model) + ",\"object\":\"model\",\"created\":" + created
                + ",\"owned_by\":\"streamgate-demo\",\"root\":" + quote(model) + ",\"parent\":null,\"max_model_len\":4096}]}";
    }

    static String error(String message, String type, int code) {
        return "{\"error\":{\"message\":" + quote(message) + ",\"type\":" + quote(type) + ",\"param\":null,\"code\":" + code + "}}";
    }

    /** FastAPI's answer for an unknown path or a wrong method, as vLLM gives it. */
    static String detail(String message) {
        return "{\"detail\":" + quote(message) + "}";
    }

    private static String chunk(String id, long created, String model, String delta, String finishReason) {
        return "{\"id\":" + quote(id) + ",\"object\":\"chat.completion.chunk\",\"created\":" + created
                + ",\"model\":" + quote(model) + ",\"choices\":[{\"index\":0,\"delta\":" + delta
                + ",\"logprobs\":null,\"finish_reason\":" + (finishReason == null ? "null" : quote(finishReason)) + "}]}";
    }

    private static String usage(int promptTokens, int completionTokens) {
        return "\"usage\":{\"prompt_tokens\":" + promptTokens + ",\"total_tokens\":" + (promptTokens + completionTokens)
                + ",\"completion_tokens\":" + completionTokens + "}";
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
