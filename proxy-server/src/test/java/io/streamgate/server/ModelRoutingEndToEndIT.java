package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged gateway routing by the {@code model} field of the JSON body, in front of two vLLM stand-ins (FastAPI on
 * uvicorn) that each serve one model, driven by curl: each model and an alias reach the backend that serves them, an
 * unknown model is refused by the gateway, {@code GET /v1/models} is the union of both backends' models plus the
 * alias, and a backend that dies is found by the active health check and answered for with a 503 instead of a hang.
 *
 * <p>A stand-in answers a model it does not serve with vLLM's own 404 ({@code "object":"error"}), so a request routed
 * to the wrong backend fails visibly, and it names its served model in every response. Every wait on the gateway's
 * view of the backends is a bounded poll: model lists are discovered and health is checked in the background.
 */
@Timeout(180)
class ModelRoutingEndToEndIT {
    private static final Path LOGS = Path.of("target", "it-logs");
    /** The drain timeout of the config plus time for a JVM to stop. */
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(25);
    /**
     * Bound of every wait for the gateway's background work: discovering the models (refresh 1 s) and health checks
     * (every 1 s, default thresholds 2 to come in and 3 to go out). Generous, as a loaded CI machine is slow.
     */
    private static final Duration BACKGROUND_WAIT = Duration.ofSeconds(45);
    private static final String ADMIN_TOKEN = "model-routing-it-token-0123456789";
    private static final String LLAMA = "llama-3-8b";
    private static final String QWEN = "qwen-2-7b";
    /** The route's alias for QWEN. */
    private static final String ALIAS = "gpt-4o-mini";
    private static final Pattern CONTENT = Pattern.compile("\"delta\":\\{(?:\"role\":\"assistant\",)?\"content\":\"([^\"]*)\"}");
    private static final int WORDS = FakeVllm.REPLY.split(" ").length;
    private static final JsonFactory JSON = new JsonFactory();

    @TempDir
    Path configDir;
    private String testName;
    private FakeVllm llama;
    private FakeVllm qwen;
    private JarProcess gateway;
    private int port;
    private int adminPort;

    @BeforeEach
    void start(TestInfo test) throws Exception {
        String missingTools = FakeVllm.missingTools();
        // Skipping here rather than in @BeforeAll makes each skipped test, and why, show in the report.
        assumeTrue(missingTools == null, missingTools);
        testName = test.getTestMethod().orElseThrow().getName();
        llama = FakeVllm.start(LOGS.resolve("fake-vllm-" + LLAMA + "-" + testName + ".log"), LLAMA);
        qwen = FakeVllm.start(LOGS.resolve("fake-vllm-" + QWEN + "-" + testName + ".log"), QWEN);

        port = FreePort.find();
        adminPort = FreePort.find();
        Files.createDirectories(configDir);
        Path config = Files.writeString(configDir.resolve("streamgate-" + port + ".yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "  drain_timeout: " + GatewayConfigs.DRAIN_TIMEOUT,
                "admin:",
                "  listen: \"127.0.0.1:" + adminPort + "\"",
                "  token: \"" + ADMIN_TOKEN + "\"",
                "upstreams:",
                "  llama:",
                "    endpoints: [\"" + llama.url() + "\"]",
                "    health_check: {path: /health, interval: 1s}",
                // Discovered from the backend's /v1/models; refreshed often, so that the test also sees a refresh
                // that fails once the backend is gone.
                "    models_refresh: 1s",
                "  qwen:",
                "    endpoints: [\"" + qwen.url() + "\"]",
                "    health_check: {path: /health, interval: 1s}",
                "    models_refresh: 1s",
                "routes:",
                "  - name: openai",
                "    path_prefix: /v1/",
                "    upstream: llama",
                "    models:",
                "      upstreams: [llama, qwen]",
                "      aliases:",
                "        " + ALIAS + ": " + QWEN,
                ""));
        gateway = JarProcess.start(LOGS.resolve("gateway-model-routing-" + testName + ".log"),
                "--config", config.toString());
        // The admin listener starts after the public one: once it answers, both do.
        gateway.awaitReady(URI.create(admin("/healthz")), Duration.ofSeconds(60));

        // Both backends' models discovered and both endpoints checked healthy: before that a request could be
        // refused for reasons this test is not about.
        awaitCondition("the model list to name both backends' models and the alias", () -> {
            CurlReply models = CurlReply.of(url("/v1/models"));
            if (models.status() != 200) {
                return models.toString();
            }
            Set<String> ids = modelIds(models);
            return ids.equals(Set.of(LLAMA, QWEN, ALIAS)) ? null : "ids " + ids + " in\n" + models;
        });
        awaitCondition("both endpoints to be healthy", () -> {
            CurlReply upstreams = adminGet("/admin/upstreams");
            if (upstreams.status() != 200) {
                return upstreams.toString();
            }
            Object tree = json(upstreams.body());
            return isAvailable(endpointEntry(tree, llama.url()), "healthy")
                    && isAvailable(endpointEntry(tree, qwen.url()), "healthy") ? null : upstreams.body();
        });
    }

    @AfterEach
    void stop() throws Exception {
        if (gateway != null) {
            gateway.close();
        }
        if (llama != null) {
            llama.close();
        }
        if (qwen != null) {
            qwen.close();
        }
    }

    @Test
    void eachModelAndAliasReachesTheBackendThatServesItAndAnUnknownModelIsRefused() throws Exception {
        // The gateway's own catalog: both served models and the alias, one OpenAI model list.
        CurlReply models = CurlReply.of(url("/v1/models"));
        assertEquals(200, models.status(), models::toString);
        assertJson(models);
        Map<String, Object> list = object(json(models.body()), models.body());
        assertEquals("list", list.get("object"), models::toString);
        assertEquals(Set.of(LLAMA, QWEN, ALIAS), modelIds(models));

        // Non-streamed, by the model field: each backend answers in its own name (the wrong one would have said 404).
        assertCompletion(chat(LLAMA), LLAMA);
        assertCompletion(chat(QWEN), QWEN);
        // The alias is rewritten to the name qwen serves on the way in.
        assertCompletion(chat(ALIAS), QWEN);
        // No model field: the route's own upstream.
        String noModel = "{\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
        assertCompletion(CurlReply.of("-H", "Content-Type: application/json", "--data-binary", noModel,
                url("/v1/chat/completions")), LLAMA);

        // Streamed, relayed event by event (curl -N), every chunk from the backend that serves the model.
        assertStream(LLAMA, LLAMA);
        assertStream(QWEN, QWEN);
        assertStream(ALIAS, QWEN);

        // A model nobody serves, and no fallback: the gateway refuses it in the OpenAI error shape.
        CurlReply unknown = chat("mistral-7b-instruct");
        assertEquals(404, unknown.status(), unknown::toString);
        assertJson(unknown);
        assertNotNull(unknown.header("x-request-id"), unknown::toString);
        Map<String, Object> body = object(json(unknown.body()), unknown.body());
        assertNull(body.get("object"), () -> "a backend's 404 was relayed instead of the gateway's own:\n" + unknown);
        assertEquals("model_not_found", object(body.get("error"), unknown.body()).get("code"), unknown::toString);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void aBackendThatDiesIsReportedUnhealthyAndItsModelGets503WhileTheOtherModelIsServed() throws Exception {
        CurlReply ready = CurlReply.of(admin("/readyz"));
        assertEquals(200, ready.status(), ready::toString);
        Map<String, Object> readyBody = object(json(ready.body()), ready.body());
        assertEquals(Boolean.TRUE, readyBody.get("ready"), ready::toString);
        assertEquals("healthy", state(endpointEntry(readyBody, llama.url())), ready::toString);
        assertEquals("healthy", state(endpointEntry(readyBody, qwen.url())), ready::toString);
        assertCompletion(chat(QWEN), QWEN);

        qwen.kill();

        // The active check finds it: no request has to fail first.
        awaitCondition("the dead endpoint to be reported unhealthy", () -> {
            CurlReply upstreams = adminGet("/admin/upstreams");
            if (upstreams.status() != 200) {
                return upstreams.toString();
            }
            Object tree = json(upstreams.body());
            Object dead = endpointEntry(tree, qwen.url());
            if (!"unhealthy".equals(state(dead)) || !Boolean.FALSE.equals(available(dead))) {
                return upstreams.body();
            }
            assertTrue(isAvailable(endpointEntry(tree, llama.url()), "healthy"),
                    () -> "the live endpoint is reported unavailable:\n" + upstreams.body());
            return null;
        });
        // /readyz agrees: qwen has no endpoint left, so the gateway is not ready.
        CurlReply notReady = CurlReply.of(admin("/readyz"));
        assertEquals(503, notReady.status(), notReady::toString);
        Map<String, Object> notReadyBody = object(json(notReady.body()), notReady.body());
        assertEquals(Boolean.FALSE, notReadyBody.get("ready"), notReady::toString);
        assertEquals("unhealthy", state(endpointEntry(notReadyBody, qwen.url())), notReady::toString);
        assertEquals("healthy", state(endpointEntry(notReadyBody, llama.url())), notReady::toString);

        // The model is still known (its last discovered list stays, though refreshing it now fails), and with no
        // healthy endpoint it is refused at once: a 503 the client can retry, not a connect attempt or a hang.
        // curl's --max-time bounds the wait; it ending the request would fail CurlReply.of.
        for (String model : List.of(QWEN, ALIAS)) {
            CurlReply refused = CurlReply.of("--max-time", "15", "-H", "Content-Type: application/json",
                    "--data-binary", request(model, false), url("/v1/chat/completions"));
            assertEquals(503, refused.status(), refused::toString);
            assertJson(refused);
            assertNotNull(refused.header("retry-after"), refused::toString);
            Map<String, Object> body = object(json(refused.body()), refused.body());
            Map<String, Object> error = object(body.get("error"), refused.body());
            assertEquals("no_healthy_upstream", error.get("code"), refused::toString);
        }
        try (Curl curl = Curl.postJson(url("/v1/chat/completions"), request(QWEN, true), "--max-time", "15", "-i")) {
            List<String> lines = curl.remainingLines().stream().map(Curl.Line::text).toList();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + String.join("\n", lines));
            assertTrue(!lines.isEmpty() && lines.get(0).startsWith("HTTP/1.1 503"),
                    () -> "a stream for the dead backend's model:\n" + String.join("\n", lines));
        }

        // The other backend is untouched.
        assertCompletion(chat(LLAMA), LLAMA);
        assertStream(LLAMA, LLAMA);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    /** A non-streamed chat completion for {@code model} through the gateway. */
    private CurlReply chat(String model) throws IOException, InterruptedException {
        return CurlReply.of("-H", "Content-Type: application/json", "--data-binary", request(model, false),
                url("/v1/chat/completions"));
    }

    private static String request(String model, boolean stream) {
        return "{\"model\":\"" + model + "\"," + (stream ? "\"stream\":true," : "")
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
    }

    /** A 200 chat completion that {@code servedModel}'s backend produced. */
    private static void assertCompletion(CurlReply reply, String servedModel) throws IOException {
        assertEquals(200, reply.status(), reply::toString);
        Map<String, Object> body = object(json(reply.body()), reply.body());
        assertEquals("chat.completion", body.get("object"), reply::toString);
        assertEquals(servedModel, body.get("model"), reply::toString);
        assertTrue(reply.body().contains("\"content\":\"" + FakeVllm.REPLY + "\""), reply::toString);
    }

    /** A streamed chat completion for {@code model}, every chunk from {@code servedModel}'s backend. */
    private void assertStream(String model, String servedModel) throws IOException, InterruptedException {
        List<String> events;
        try (Curl curl = Curl.postJson(url("/v1/chat/completions"), request(model, true))) {
            List<Curl.Line> lines = curl.remainingLines();
            events = lines.stream().map(Curl.Line::text).filter(line -> !line.isEmpty()).toList();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + String.join("\n", events));
        }
        String all = String.join("\n", events);
        assertEquals(WORDS + 3, events.size(), () -> "role chunk, a chunk per word, finish chunk, [DONE] for " + model
                + ":\n" + all);
        for (String event : events.subList(0, events.size() - 1)) {
            assertTrue(event.startsWith("data: {\"id\":\"chatcmpl-"), () -> model + ":\n" + all);
            assertTrue(event.contains("\"model\":\"" + servedModel + "\""), () -> model + ":\n" + all);
        }
        assertEquals("data: [DONE]", events.get(events.size() - 1), () -> model + ":\n" + all);
        StringBuilder text = new StringBuilder();
        for (String event : events) {
            Matcher m = CONTENT.matcher(event);
            if (m.find()) {
                text.append(m.group(1));
            }
        }
        assertEquals(FakeVllm.REPLY, text.toString(), () -> model + ":\n" + all);
    }

    private static void assertJson(CurlReply reply) {
        String type = reply.header("content-type");
        assertTrue(type != null && type.startsWith("application/json"), reply::toString);
    }

    /** The ids of an OpenAI model list. */
    private static Set<String> modelIds(CurlReply reply) throws IOException {
        Object data = object(json(reply.body()), reply.body()).get("data");
        assertInstanceOf(List.class, data, reply::toString);
        Set<String> ids = new TreeSet<>();
        for (Object model : (List<?>) data) {
            Object id = object(model, reply.body()).get("id");
            assertInstanceOf(String.class, id, reply::toString);
            assertTrue(ids.add((String) id), () -> "model " + id + " listed twice:\n" + reply);
        }
        return ids;
    }

    private CurlReply adminGet(String path) throws IOException, InterruptedException {
        return CurlReply.of("-H", "Authorization: Bearer " + ADMIN_TOKEN, admin(path));
    }

    /**
     * Where an endpoint appears in an admin answer: the value under its URL ({@code http://127.0.0.1:PORT}), wherever
     * it is nested (by upstream or not). Either an object with {@code state} and {@code available}, or the state
     * itself as a string. Fails when the endpoint is not listed.
     */
    private static Object endpointEntry(Object tree, String endpointUrl) {
        Object found = find(tree, endpointUrl);
        if (found == null) {
            fail("endpoint " + endpointUrl + " is not listed in " + tree);
        }
        return found;
    }

    private static Object find(Object tree, String key) {
        if (tree instanceof Map<?, ?> map) {
            if (map.containsKey(key)) {
                return map.get(key);
            }
            for (Object value : map.values()) {
                Object found = find(value, key);
                if (found != null) {
                    return found;
                }
            }
        } else if (tree instanceof List<?> list) {
            for (Object value : list) {
                Object found = find(value, key);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    private static String state(Object entry) {
        if (entry instanceof String s) {
            return s;
        }
        return entry instanceof Map<?, ?> map && map.get("state") instanceof String s ? s : null;
    }

    private static Boolean available(Object entry) {
        return entry instanceof Map<?, ?> map && map.get("available") instanceof Boolean b ? b : null;
    }

    /** In {@code state} and taking requests (the {@code available} flag). */
    private static boolean isAvailable(Object entry, String state) {
        return state.equals(state(entry)) && Boolean.TRUE.equals(available(entry));
    }

    /** A check that returns null once satisfied, else what it saw (for the failure message). */
    private interface Condition {
        String unmet() throws Exception;
    }

    /** Polls {@code condition} until it holds, for at most BACKGROUND_WAIT; the gateway dying ends the wait. */
    private void awaitCondition(String what, Condition condition) throws Exception {
        long deadline = System.nanoTime() + BACKGROUND_WAIT.toNanos();
        while (true) {
            assertTrue(gateway.isAlive(), () -> "streamgate exited while waiting for " + what + ":\n" + gateway.log());
            String unmet = condition.unmet();
            if (unmet == null) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("waited " + BACKGROUND_WAIT + " for " + what + "; last seen:\n" + unmet + "\n\ngateway log:\n"
                        + gateway.log());
            }
            Thread.sleep(200);
        }
    }

    private String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    private String admin(String path) {
        return "http://127.0.0.1:" + adminPort + path;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object value, String context) {
        assertInstanceOf(Map.class, value, () -> "not a JSON object where one was expected in:\n" + context);
        return (Map<String, Object>) value;
    }

    /** Any JSON value: objects (in order), arrays, strings, numbers, booleans and null. */
    private static Object json(String text) throws IOException {
        try (JsonParser parser = JSON.createParser(text)) {
            JsonToken first = parser.nextToken();
            assertNotNull(first, () -> "no JSON in: " + text);
            Object value = value(parser, first, text);
            assertNull(parser.nextToken(), () -> "trailing content: " + text);
            return value;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }

    private static Object value(JsonParser parser, JsonToken token, String text) throws IOException {
        return switch (token) {
            case START_OBJECT -> {
                Map<String, Object> object = new LinkedHashMap<>();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    object.put(name, value(parser, parser.nextToken(), text));
                }
                yield object;
            }
            case START_ARRAY -> {
                List<Object> array = new ArrayList<>();
                JsonToken next;
                while ((next = parser.nextToken()) != JsonToken.END_ARRAY) {
                    array.add(value(parser, next, text));
                }
                yield array;
            }
            case VALUE_STRING -> parser.getText();
            case VALUE_NUMBER_INT -> parser.getLongValue();
            case VALUE_NUMBER_FLOAT -> parser.getDoubleValue();
            case VALUE_TRUE, VALUE_FALSE -> parser.getBooleanValue();
            case VALUE_NULL -> null;
            default -> throw new AssertionError("unexpected " + token + " in " + text);
        };
    }
}
