package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code balance: least_loaded}: the gateway scrapes each endpoint's vLLM-style Prometheus {@code /metrics} and sends
 * each request to the less loaded of two endpoints picked at random. With exactly two endpoints the two picks are
 * always both, so every request must go to the one whose figures say it is less loaded. Also
 * {@code hash_key: prompt_prefix}, which keeps conversations sharing a prompt prefix on one replica.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LoadAwareBalancingTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /**
     * A vLLM-like backend: /metrics reports {@code waiting} requests waiting (split over two label sets, which the
     * gateway must sum), none running and a cool KV cache; other requests get "NAME URI".
     */
    private TestBackend backend(String name, AtomicInteger waiting) {
        return closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/metrics")) {
                int w = waiting.get();
                exchange.respond(200, "text/plain; version=0.0.4", """
                        # HELP vllm:num_requests_running Number of requests currently running on GPU.
                        # TYPE vllm:num_requests_running gauge
                        vllm:num_requests_running{model_name="m"} 0.0
                        # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
                        # TYPE vllm:num_requests_waiting gauge
                        vllm:num_requests_waiting{model_name="m",replica="0"} %d.0
                        vllm:num_requests_waiting{model_name="m",replica="1"} %d.0
                        # HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
                        # TYPE vllm:gpu_cache_usage_perc gauge
                        vllm:gpu_cache_usage_perc{model_name="m"} 0.1
                        """.formatted(w / 2, w - w / 2));
            } else {
                exchange.respond(200, "text/plain", name + " " + exchange.uri());
            }
        }).start());
    }

    private static long scrapes(TestBackend backend) {
        return backend.received().stream().filter(e -> e.uri().equals("/metrics") && e.method().equals("GET")).count();
    }

    /** Waits for two more scrapes of each backend: figures set before this call have then been read. */
    private static void awaitFreshFigures(TestBackend... backends) throws InterruptedException {
        for (TestBackend backend : backends) {
            long seen = scrapes(backend);
            Poll.until(() -> scrapes(backend) >= seen + 2, 10_000, () -> backend.url() + " was not scraped for /metrics");
        }
    }

    private static String servedBy(RawHttpClient client, String target) throws Exception {
        RawResponse response = client.get(target).readResponse();
        assertEquals(200, response.status(), response::toString);
        String body = response.bodyText();
        assertTrue(body.endsWith(" " + target), () -> target + " answered " + body);
        return body.substring(0, body.indexOf(' '));
    }

    @Test
    void requestsGoToTheEndpointWhoseMetricsShowLessLoadAndMoveWhenTheFiguresSwap() throws Exception {
        AtomicInteger waitingA = new AtomicInteger(50);
        AtomicInteger waitingB = new AtomicInteger(0);
        TestBackend a = backend("a", waitingA);
        TestBackend b = backend("b", waitingB);
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["%s", "%s"]
                    balance: least_loaded
                    load_metrics: {interval: 200ms}
                routes:
                  - path_prefix: /
                    upstream: vllm
                """.formatted(a.url(), b.url())));
        awaitFreshFigures(a, b);
        RawHttpClient client = closer.add(proxy.connect());

        for (int i = 0; i < 20; i++) {
            String target = "/first/" + i;
            assertEquals("b", servedBy(client, target), () -> target + " went to a, which reports 50 waiting");
        }

        waitingA.set(0);
        waitingB.set(50);
        awaitFreshFigures(a, b);
        for (int i = 0; i < 20; i++) {
            String target = "/swapped/" + i;
            assertEquals("a", servedBy(client, target), () -> target + " went to b, which now reports 50 waiting");
        }
    }

    @Test
    void promptPrefixHashingKeepsEachConversationOnOneEndpoint() throws Exception {
        TestBackend a = backend("a", new AtomicInteger());
        TestBackend b = backend("b", new AtomicInteger());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["%s", "%s"]
                    balance: consistent_hash
                    hash_key: prompt_prefix
                routes:
                  - path_prefix: /
                    upstream: vllm
                """.formatted(a.url(), b.url())));
        Map<Integer, Set<String>> endpointsByConversation = new LinkedHashMap<>();
        List<String> servedBy = new ArrayList<>();
        try (RawHttpClient client = proxy.connect()) {
            for (int turn = 0; turn < 3; turn++) {
                for (int c = 0; c < 20; c++) {
                    // Each conversation: its own system prompt, longer than the 256 hashed bytes, then a new turn.
                    String system = "You are assistant number " + c + ". " + "Answer briefly and politely. ".repeat(12);
                    String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"" + system
                            + "\"},{\"role\":\"user\",\"content\":\"question " + turn + "\"}]}";
                    String target = "/v1/chat/completions?c=" + c + "&turn=" + turn;
                    RawResponse response = client.post(target, body, "Content-Type: application/json").readResponse();
                    assertEquals(200, response.status(), response::toString);
                    String endpoint = response.bodyText().substring(0, 1);
                    servedBy.add(endpoint);
                    endpointsByConversation.computeIfAbsent(c, k -> new HashSet<>()).add(endpoint);
                }
            }
        }
        endpointsByConversation.forEach((c, endpoints) -> assertEquals(1, endpoints.size(),
                () -> "conversation " + c + " moved between " + endpoints + ": " + endpointsByConversation));
        assertTrue(servedBy.contains("a") && servedBy.contains("b"),
                () -> "20 conversations should spread over both endpoints: " + endpointsByConversation);
    }

    /**
     * Members before the conversation that spell "messages" (a string value, a nested key, a tool's parameter) differ
     * from turn to turn; the conversation's own root member is what is hashed, so each conversation stays put.
     */
    @Test
    void promptPrefixHashingIgnoresLookalikesBeforeTheRootMember() throws Exception {
        TestBackend a = backend("a", new AtomicInteger());
        TestBackend b = backend("b", new AtomicInteger());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["%s", "%s"]
                    balance: consistent_hash
                    hash_key: prompt_prefix
                routes:
                  - path_prefix: /
                    upstream: vllm
                """.formatted(a.url(), b.url())));
        List<String> before = List.of("", "\"user\":\"messages\",", "\"metadata\":{\"messages\":\"turn 2\"},",
                "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
                        + "\"properties\":{\"messages\":{\"type\":\"array\"}}}}}],");
        Map<Integer, Set<String>> endpointsByConversation = new LinkedHashMap<>();
        try (RawHttpClient client = proxy.connect()) {
            for (int turn = 0; turn < before.size(); turn++) {
                for (int c = 0; c < 10; c++) {
                    String body = "{\"model\":\"m\"," + before.get(turn) + "\"messages\":[{\"role\":\"system\",\"content\":"
                            + "\"You are assistant number " + c + ".\"},{\"role\":\"user\",\"content\":\"Hi\"}]}";
                    String target = "/v1/chat/completions?c=" + c + "&turn=" + turn;
                    RawResponse response = client.post(target, body, "Content-Type: application/json").readResponse();
                    assertEquals(200, response.status(), response::toString);
                    endpointsByConversation.computeIfAbsent(c, k -> new HashSet<>()).add(response.bodyText().substring(0, 1));
                }
            }
        }
        endpointsByConversation.forEach((c, endpoints) -> assertEquals(1, endpoints.size(),
                () -> "conversation " + c + " moved between " + endpoints + ": " + endpointsByConversation));
    }
}
