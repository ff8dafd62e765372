package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chunked chat POST whose body arrives partly before and partly after it waited for a concurrency slot: once
 * admitted it is read whole, so it is routed by its model (an alias, rewritten) and gets usage injected for metering.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class QueuedModelRoutingTest {
    private final Closer closer = new Closer();
    private final Map<String, String> bodies = new ConcurrentHashMap<>();

    private HeldResponder responder(String name) {
        return new HeldResponder(ex -> {
            String body = ex.awaitBody(30).text();
            bodies.put(name + " " + ex.uri(), body);
            ex.startChunked(200, "text/event-stream");
            ex.write("data: {\"backend\":\"" + name + "\"}\n\n");
            ex.write("data: [DONE]\n\n");
            ex.end();
        });
    }

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    @Test
    void aQueuedChunkedChatIsRoutedRewrittenAndGetsUsageInjected() throws Exception {
        HeldResponder llamaHeld = responder("llama");
        HeldResponder qwenHeld = responder("qwen");
        TestBackend llama = closer.add(TestBackend.builder().respond(llamaHeld).start());
        TestBackend qwen = closer.add(TestBackend.builder().respond(qwenHeld).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                rate_limits:
                  one: { key: client_ip, concurrent: 1, queue: 1, queue_timeout: 10s }
                upstreams:
                  llama:
                    endpoints: ["%s"]
                    models: [llama-8b]
                  qwen:
                    endpoints: ["%s"]
                    models: [qwen-7b]
                routes:
                  - path_prefix: /v1/
                    upstream: llama
                    rate_limits: [one]
                    tokens: { meter: true }
                    models:
                      upstreams: [llama, qwen]
                      aliases: {gpt-4o-mini: qwen-7b}
                """.formatted(llama.url(), qwen.url())));
        try {
            RawHttpClient holder = closer.add(proxy.connect());
            holder.post("/v1/chat/completions?n=hold", "{\"model\":\"llama-8b\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                    "Content-Type: application/json");
            llamaHeld.awaitArrived(1, 5_000);

            String part1 = "{\"model\":\"gpt-4o-mini\",\"stream\":true,";
            String part2 = "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}";
            RawHttpClient client = closer.add(proxy.connect());
            client.send("POST /v1/chat/completions?n=q HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(part1.length()) + "\r\n" + part1 + "\r\n");
            Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "not active");
            Thread.sleep(200);
            client.send(Integer.toHexString(part2.length()) + "\r\n" + part2 + "\r\n0\r\n\r\n");
            Thread.sleep(200);
            llamaHeld.release("/v1/chat/completions?n=hold");
            assertEquals(200, holder.readResponse().status());
            qwenHeld.release("/v1/chat/completions?n=q");
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
            String seen = bodies.get("qwen /v1/chat/completions?n=q");
            assertTrue(seen != null && seen.contains("\"model\":\"qwen-7b\"") && seen.contains("include_usage"),
                    () -> "qwen saw " + seen + "; all: " + bodies);
        } finally {
            llamaHeld.releaseAll();
            qwenHeld.releaseAll();
        }
    }
}
