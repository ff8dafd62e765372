package io.streamgate.testing;

import io.streamgate.testing.TestBackend.Responder;
import java.util.Map;

/**
 * Answers {@code /v1/chat/completions} the way vLLM does, with fixed token usage: a JSON completion carrying
 * {@code usage} for a plain request; for {@code "stream": true} an event stream of content chunks, then the usage-only
 * chunk ({@code "choices": []}) <em>only if</em> the request it received asked for
 * {@code stream_options.include_usage}, then {@code data: [DONE]}. So a test sees what the gateway really sent the
 * backend. Stateless and thread-safe.
 */
public final class ChatCompletionsResponder implements Responder {
    /** One content event, as vLLM sends it. */
    public static final String CONTENT_EVENT =
            "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}";

    private final long promptTokens;
    private final long completionTokens;
    private final int contentEvents;

    public ChatCompletionsResponder(long promptTokens, long completionTokens, int contentEvents) {
        this.promptTokens = promptTokens;
        this.completionTokens = completionTokens;
        this.contentEvents = contentEvents;
    }

    /** The usage-only event this backend sends for its usage. */
    public String usageEvent() {
        return usageEvent(promptTokens, completionTokens);
    }

    /** The usage-only event vLLM sends at the end of a stream whose request asked for it. */
    static String usageEvent(long promptTokens, long completionTokens) {
        return "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
                + usageJson(promptTokens, completionTokens) + "}";
    }

    /** A {@code usage} object as vLLM writes it. */
    static String usageJson(long promptTokens, long completionTokens) {
        return "{\"prompt_tokens\":" + promptTokens + ",\"completion_tokens\":" + completionTokens
                + ",\"total_tokens\":" + (promptTokens + completionTokens) + "}";
    }

    @Override
    public void respond(BackendExchange exchange) throws Exception {
        Map<?, ?> request = (Map<?, ?>) Json.parse(exchange.awaitBody(30).text());
        if (!Boolean.TRUE.equals(request.get("stream"))) {
            exchange.respond(200, "application/json", "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                    + "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":"
                    + usageJson(promptTokens, completionTokens) + "}");
            return;
        }
        exchange.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
        for (int i = 0; i < contentEvents; i++) {
            exchange.write(CONTENT_EVENT + "\n\n");
        }
        if (includeUsage(request)) {
            exchange.write(usageEvent() + "\n\n");
        }
        exchange.write("data: [DONE]\n\n");
        exchange.end();
    }

    /** Whether a chat request body asks for usage on its stream, as vLLM decides it. */
    public static boolean includeUsage(Map<?, ?> request) {
        return request.get("stream_options") instanceof Map<?, ?> options && Boolean.TRUE.equals(options.get("include_usage"));
    }
}
