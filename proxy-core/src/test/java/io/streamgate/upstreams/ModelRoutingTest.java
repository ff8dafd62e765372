package io.streamgate.upstreams;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.Json;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestBackend.Responder;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Model routing: a route picks the upstream by the {@code model} field of an OpenAI-style body, from the models each
 * upstream serves (its static {@code models} list, or discovered from its endpoints' {@code GET /v1/models}), with
 * aliases rewritten in the body, an optional fallback, and the gateway's own merged {@code /v1/models} catalog.
 *
 * <p>Two vLLM-like backends: "llama" serves {@code llama-8b}, "qwen" serves {@code qwen-7b}. Each lists its model
 * at {@code GET /v1/models} and answers {@code POST /v1/chat/completions} with
 * {@code {"backend": NAME, "model": <the model field it received>}} (as one SSE event when the body asks to
 * stream), so every assertion is about where a request went and what body it arrived with.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ModelRoutingTest {
    private static final String MODELS_ROUTE = """
            models:
              upstreams: [llama, qwen]
              aliases: {gpt-4o-mini: qwen-7b}
            """;

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** A vLLM-like backend serving {@code model}; its /v1/models answers {@code modelsStatus}. */
    private TestBackend backend(String name, String model, int modelsStatus) {
        Responder responder = exchange -> {
            byte[] body = exchange.awaitBody(30).head();
            String uri = exchange.uri();
            if (exchange.method().equals("GET") && uri.equals("/v1/models")) {
                exchange.respond(modelsStatus, "application/json", modelsStatus != 200 ? "{\"error\":{}}"
                        : "{\"object\":\"list\",\"data\":[{\"id\":\"" + model
                        + "\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"vllm\",\"root\":\"" + model + "\"}]}");
                return;
            }
            if (exchange.method().equals("POST") && uri.equals("/v1/chat/completions")) {
                Map<?, ?> request = (Map<?, ?>) Json.parse(new String(body, StandardCharsets.UTF_8));
                String answer = "{\"backend\":\"" + name + "\",\"model\":\"" + request.get("model") + "\"}";
                if (Boolean.TRUE.equals(request.get("stream"))) {
                    exchange.startChunked(200, "text/event-stream");
                    exchange.write("data: " + answer + "\n\n");
                    exchange.write("data: [DONE]\n\n");
                    exchange.end();
                } else {
                    exchange.respond(200, "application/json", answer);
                }
                return;
            }
            exchange.respond(200, "text/plain", name + " " + exchange.method() + " " + uri);
        };
        return closer.add(TestBackend.builder().respond(responder).start());
    }

    private RunningProxy proxy(TestBackend llama, TestBackend qwen, String llamaExtra, String qwenExtra, String route)
            throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llama:
                    endpoints: ["%s"]
                %s
                  qwen:
                    endpoints: ["%s"]
                %s
                routes:
                  - path_prefix: /v1/
                    upstream: llama
                %s
                """.formatted(llama.url(), llamaExtra.indent(4).stripTrailing(), qwen.url(),
                qwenExtra.indent(4).stripTrailing(), route.indent(4).stripTrailing())));
    }

    private static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}],\"max_tokens\":8}";
    }

    private static RawResponse post(RunningProxy proxy, String body) {
        try (RawHttpClient client = proxy.connect()) {
            return client.post("/v1/chat/completions", body, "Content-Type: application/json").readResponse();
        } catch (Exception e) {
            throw new AssertionError("POST failed", e);
        }
    }

    /** Sends a chat for {@code model}, asserts 200 and returns {backend, model} as the backend reported them. */
    private static Map<?, ?> routed(RunningProxy proxy, String body) {
        RawResponse response = post(proxy, body);
        assertEquals(200, response.status(), () -> "chat answered " + response);
        return (Map<?, ?>) Json.parse(response.bodyText());
    }

    private static List<BackendExchange> chats(TestBackend backend) {
        return backend.received().stream().filter(e -> e.uri().equals("/v1/chat/completions")).toList();
    }

    private static long modelListRequests(TestBackend backend) {
        return backend.received().stream().filter(e -> e.uri().equals("/v1/models")).count();
    }

    /**
     * Waits until the gateway discovered both backends' models: each got a {@code GET /v1/models}, and a chat for
     * each model is routed (discovery may finish a moment after the gateway starts).
     */
    private static void awaitDiscovery(RunningProxy proxy, TestBackend llama, TestBackend qwen) throws InterruptedException {
        Poll.until(() -> modelListRequests(llama) > 0 && modelListRequests(qwen) > 0, 10_000,
                () -> "the gateway never asked the backends for /v1/models");
        Poll.until(() -> post(proxy, chat("llama-8b")).status() == 200 && post(proxy, chat("qwen-7b")).status() == 200,
                10_000, () -> "discovered models are not routed: " + post(proxy, chat("qwen-7b")));
    }

    @Test
    void eachModelGoesToTheUpstreamThatServesIt() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);
        int llamaBefore = chats(llama).size();
        int qwenBefore = chats(qwen).size();

        for (int i = 0; i < 3; i++) {
            assertEquals(Map.of("backend", "llama", "model", "llama-8b"), routed(proxy, chat("llama-8b")));
            assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, chat("qwen-7b")));
        }
        assertEquals(llamaBefore + 3, chats(llama).size());
        assertEquals(qwenBefore + 3, chats(qwen).size());

        // Requests without a model field, and GETs other than the catalog, go to the route's own upstream.
        assertEquals("llama", routed(proxy, "{\"messages\":[]}").get("backend"), "a body without a model field");
        try (RawHttpClient client = proxy.connect()) {
            assertEquals("llama GET /v1/other", client.get("/v1/other").readResponse().bodyText());
        }
    }

    @Test
    void anAliasReachesItsUpstreamWithTheModelFieldRewritten() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);

        String sent = chat("gpt-4o-mini");
        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, sent));
        BackendExchange arrived = chats(qwen).get(chats(qwen).size() - 1);
        assertRewritten(sent, arrived, "qwen-7b");
    }

    /**
     * Two model members: the gateway routed by the last and rewrote the first, so the alias's upstream got a body whose
     * last (and, to Python's json, only) model was the alias. Ambiguous input is refused before any backend sees it.
     */
    @Test
    void aBodyNamingTheModelTwiceIsRefusedWith400() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);
        int before = chats(llama).size() + chats(qwen).size();

        for (String body : List.of(
                "{\"model\":\"llama-8b\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"model\":\"gpt-4o-mini\"}",
                "{\"model\":\"gpt-4o-mini\",\"model\":\"llama-8b\",\"messages\":[]}",
                "{\"model\":null,\"model\":\"qwen-7b\"}")) {
            RawResponse response = post(proxy, body);
            assertError(response, 400, "bad_request");
            Map<?, ?> error = (Map<?, ?>) ((Map<?, ?>) Json.parse(response.bodyText())).get("error");
            assertTrue(((String) error.get("message")).contains("\"model\""), () -> "the message should name the key: " + error);
        }
        assertEquals(before, chats(llama).size() + chats(qwen).size(), "an ambiguous body reached a backend");
    }

    @Test
    void aModelFieldAfterALongMessagesArrayIsStillFound() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);

        // About 40KiB of conversation before the model field: within the default peek_limit of 64KiB.
        StringBuilder body = new StringBuilder("{\"messages\":[");
        for (int i = 0; i < 200; i++) {
            body.append(i == 0 ? "" : ",").append("{\"role\":\"").append(i % 2 == 0 ? "user" : "assistant")
                    .append("\",\"content\":\"turn ").append(i).append(' ').append("lorem ipsum ".repeat(15)).append("\"}");
        }
        String direct = body + "],\"model\":\"qwen-7b\"}";
        String aliased = body + "],\"model\":\"gpt-4o-mini\"}";
        assertTrue(direct.length() > 32 * 1024 && direct.length() < 60 * 1024, "the body should be ~40KiB: " + direct.length());

        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, direct));
        BackendExchange directArrival = chats(qwen).get(chats(qwen).size() - 1);
        assertEquals(direct.length(), directArrival.awaitBody(5).length(), "the body must arrive whole");

        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, aliased));
        assertRewritten(aliased, chats(qwen).get(chats(qwen).size() - 1), "qwen-7b");
    }

    @Test
    void anUnknownModelGets404ModelNotFound() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);
        int before = chats(llama).size() + chats(qwen).size();

        assertError(post(proxy, chat("gpt-5-ultra")), 404, "model_not_found");
        assertEquals(before, chats(llama).size() + chats(qwen).size(), "an unknown model must reach no backend");
    }

    @Test
    void anUnknownModelGoesToTheFallbackWithItsBodyUnchanged() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE + "  fallback: llama\n");
        awaitDiscovery(proxy, llama, qwen);

        String sent = chat("mystery-1");
        assertEquals(Map.of("backend", "llama", "model", "mystery-1"), routed(proxy, sent));
        assertEquals(sent, chats(llama).get(chats(llama).size() - 1).awaitBody(5).text());
        // Known models still go to their own upstream.
        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, chat("qwen-7b")));
    }

    @Test
    void theGatewayAnswersTheModelCatalogItselfWithEveryModelAndAlias() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);
        long llamaLists = modelListRequests(llama);
        long qwenLists = modelListRequests(qwen);

        for (int i = 0; i < 3; i++) {
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.get("/v1/models").readResponse();
                assertEquals(200, response.status(), response::toString);
                assertEquals(Set.of("llama-8b", "qwen-7b", "gpt-4o-mini"), catalogIds(response));
            }
        }
        // The backends' own lists are asked for by discovery only (models_refresh is 30s), never per client request.
        assertEquals(llamaLists, modelListRequests(llama), "a client's GET /v1/models reached llama");
        assertEquals(qwenLists, modelListRequests(qwen), "a client's GET /v1/models reached qwen");
    }

    @Test
    void aStaticModelListRoutesAtOnceWithoutDiscovery() throws Exception {
        // The backends' /v1/models fail: only the configured lists can route here.
        TestBackend llama = backend("llama", "llama-8b", 500);
        TestBackend qwen = backend("qwen", "qwen-7b", 500);
        RunningProxy proxy = proxy(llama, qwen, "models: [llama-8b]", "models: [qwen-7b]", MODELS_ROUTE);

        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, chat("qwen-7b")));
        assertEquals(Map.of("backend", "llama", "model", "llama-8b"), routed(proxy, chat("llama-8b")));
        assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), routed(proxy, chat("gpt-4o-mini")));
        try (RawHttpClient client = proxy.connect()) {
            assertEquals(Set.of("llama-8b", "qwen-7b", "gpt-4o-mini"), catalogIds(client.get("/v1/models").readResponse()));
        }
        assertEquals(0, modelListRequests(llama) + modelListRequests(qwen), "static lists need no /v1/models");
    }

    @Test
    void aStreamingChatIsRoutedAndItsEventsRelayed() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);

        RawResponse response = post(proxy, "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(200, response.status(), response::toString);
        assertTrue(response.header("content-type").startsWith("text/event-stream"), response::toString);
        assertTrue(response.complete(), "the stream must end properly");
        assertEquals("data: {\"backend\":\"qwen\",\"model\":\"qwen-7b\"}\n\ndata: [DONE]\n\n", response.bodyText());
    }

    @Test
    void aChunkedRequestBodyIsRoutedByTheModelInItsLaterChunk() throws Exception {
        TestBackend llama = backend("llama", "llama-8b", 200);
        TestBackend qwen = backend("qwen", "qwen-7b", 200);
        RunningProxy proxy = proxy(llama, qwen, "", "", MODELS_ROUTE);
        awaitDiscovery(proxy, llama, qwen);

        String part1 = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false,";
        String part2 = "\"model\":\"qwen-7b\"}";
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(part1.length()) + "\r\n" + part1 + "\r\n");
            client.send(Integer.toHexString(part2.length()) + "\r\n" + part2 + "\r\n0\r\n\r\n");
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals(Map.of("backend", "qwen", "model", "qwen-7b"), Json.parse(response.bodyText()));
        }
        assertEquals(part1 + part2, chats(qwen).get(chats(qwen).size() - 1).awaitBody(5).text());
    }

    /** The body that arrived is the one sent with only its model replaced, and its framing is right. */
    private static void assertRewritten(String sent, BackendExchange arrived, String servedName) throws Exception {
        var body = arrived.awaitBody(5);
        String contentLength = arrived.headers().get("content-length");
        if (contentLength != null) {
            assertEquals(body.length(), Long.parseLong(contentLength), "Content-Length must match the rewritten body");
        }
        Map<String, Object> expected = new LinkedHashMap<>(asMap(Json.parse(sent)));
        expected.put("model", servedName);
        assertEquals(expected, Json.parse(body.text()), "only the model field may change");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object json) {
        return (Map<String, Object>) json;
    }

    private static Set<String> catalogIds(RawResponse response) {
        assertEquals(200, response.status(), response::toString);
        Map<?, ?> list = assertInstanceOf(Map.class, Json.parse(response.bodyText()));
        assertEquals("list", list.get("object"), response::toString);
        Set<String> ids = new HashSet<>();
        for (Object entry : assertInstanceOf(List.class, list.get("data"), response::toString)) {
            Map<?, ?> model = assertInstanceOf(Map.class, entry);
            assertEquals("model", model.get("object"), () -> "catalog entry " + model);
            ids.add((String) model.get("id"));
        }
        return ids;
    }
}
