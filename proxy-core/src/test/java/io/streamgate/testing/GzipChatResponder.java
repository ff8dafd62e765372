package io.streamgate.testing;

import io.streamgate.testing.TestBackend.Responder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * Answers {@code /v1/chat/completions} as {@link ChatCompletionsResponder} does (usage in the JSON body, or in a
 * usage-only event when the request asked for it), compressed the way FastAPI's {@code GZipMiddleware} compresses:
 * gzip when the request's {@code Accept-Encoding} names it and a JSON body is over 500 bytes (this one always is), an
 * event stream compressed as it goes, each event flushed (as a compressing proxy in front of vLLM does). Made with
 * {@link #always}, it compresses whatever the request accepts, as a backend that ignores {@code Accept-Encoding}
 * does. Stateless and thread-safe.
 */
public final class GzipChatResponder implements Responder {
    /** GZipMiddleware's default {@code minimum_size}: smaller bodies are sent as they are. */
    private static final int MINIMUM_SIZE = 500;
    private static final int CONTENT_EVENTS = 3;

    private final boolean always;
    private final long promptTokens;
    private final long completionTokens;

    private GzipChatResponder(boolean always, long promptTokens, long completionTokens) {
        this.always = always;
        this.promptTokens = promptTokens;
        this.completionTokens = completionTokens;
    }

    /** Compresses when the request accepts gzip. */
    public static GzipChatResponder whenAccepted(long promptTokens, long completionTokens) {
        return new GzipChatResponder(false, promptTokens, completionTokens);
    }

    /** Compresses every answer, whatever the request accepts. */
    public static GzipChatResponder always(long promptTokens, long completionTokens) {
        return new GzipChatResponder(true, promptTokens, completionTokens);
    }

    /** The usage-only event this backend sends for its usage. */
    public String usageEvent() {
        return ChatCompletionsResponder.usageEvent(promptTokens, completionTokens);
    }

    @Override
    public void respond(BackendExchange exchange) throws Exception {
        Map<?, ?> request = (Map<?, ?>) Json.parse(exchange.awaitBody(30).text());
        String accepted = exchange.headers().get("accept-encoding");
        boolean gzip = always || accepted != null && accepted.toLowerCase(Locale.ROOT).contains("gzip");
        if (!Boolean.TRUE.equals(request.get("stream"))) {
            byte[] json = ("{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                    + "\"assistant\",\"content\":\"" + "hi ".repeat(200) + "\"},\"finish_reason\":\"stop\"}],\"usage\":"
                    + ChatCompletionsResponder.usageJson(promptTokens, completionTokens) + "}").getBytes(StandardCharsets.UTF_8);
            if (gzip && json.length > MINIMUM_SIZE) {
                exchange.respond(200, "application/json", gzip(json), "Content-Encoding", "gzip", "Vary", "Accept-Encoding");
            } else {
                exchange.respond(200, "application/json", json);
            }
            return;
        }
        StringBuilder events = new StringBuilder();
        for (int i = 0; i < CONTENT_EVENTS; i++) {
            events.append(ChatCompletionsResponder.CONTENT_EVENT).append("\n\n");
        }
        if (ChatCompletionsResponder.includeUsage(request)) {
            events.append(usageEvent()).append("\n\n");
        }
        events.append("data: [DONE]\n\n");
        if (!gzip) {
            exchange.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
            for (String event : events.toString().split("(?<=\n\n)")) {
                exchange.write(event);
            }
            exchange.end();
            return;
        }
        exchange.startChunked(200, "text/event-stream", "Cache-Control", "no-cache", "Content-Encoding", "gzip",
                "Vary", "Accept-Encoding");
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(pending, true)) {
            for (String event : events.toString().split("(?<=\n\n)")) {
                out.write(event.getBytes(StandardCharsets.UTF_8));
                out.flush(); // a sync flush: the event leaves now, decodable by itself
                writePending(exchange, pending);
            }
        }
        writePending(exchange, pending); // the gzip trailer
        exchange.end();
    }

    private static void writePending(BackendExchange exchange, ByteArrayOutputStream pending) throws IOException, InterruptedException {
        byte[] bytes = pending.toByteArray();
        pending.reset();
        if (bytes.length > 0) {
            exchange.write(bytes, 0, bytes.length);
        }
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(data);
        }
        return bytes.toByteArray();
    }
}
