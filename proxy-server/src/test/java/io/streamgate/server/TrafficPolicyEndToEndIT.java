package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged gateway's traffic policies in front of the vLLM stand-in (FastAPI on uvicorn), driven by curl: usage
 * injected into streams and hidden from clients that did not ask for it, a token budget settled from the usage the
 * backend reported, and the response cache. Each test starts its own gateway with the config below and ends it with
 * SIGTERM, checking the graceful exit.
 *
 * <p>The numbers follow fake_vllm.py: it reports {@code prompt_tokens = len(body it received) // 4} and one completion
 * token per word of {@link FakeVllm#REPLY}. The gateway's own admission estimate is about 4 characters per token of
 * message content plus 4 per message (plus {@code max_tokens}, which these requests do not send).
 */
@Timeout(120)
class TrafficPolicyEndToEndIT {
    private static final Path LOGS = Path.of("target", "it-logs");
    /** The drain timeout of the config plus time for a JVM to stop. */
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(25);
    /** Access lines are written in batches: a line shows up within about a second of its exchange ending. */
    private static final Duration ACCESS_LOG_WAIT = Duration.ofSeconds(10);
    private static final String ALICE_KEY = "sk-e2e-alice-0123456789";
    private static final Pattern CONTENT = Pattern.compile("\"delta\":\\{(?:\"role\":\"assistant\",)?\"content\":\"([^\"]*)\"}");
    private static final int WORDS = FakeVllm.REPLY.split(" ").length;

    private static final String USER_TEXT = "Say something";
    private static final String STREAM_REQUEST = "{\"model\":\"fake-model\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"" + USER_TEXT + "\"}]}";
    /** What the backend receives for STREAM_REQUEST: the gateway appends stream_options to the root object. */
    private static final String STREAM_REQUEST_AS_FORWARDED = STREAM_REQUEST.substring(0, STREAM_REQUEST.length() - 1)
            + ",\"stream_options\":{\"include_usage\":true}}";
    private static final String STREAM_REQUEST_WITH_USAGE = "{\"model\":\"fake-model\",\"stream\":true,"
            + "\"stream_options\":{\"include_usage\":true},"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"" + USER_TEXT + "\"}]}";
    private static final String PLAIN_REQUEST = "{\"model\":\"fake-model\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"" + USER_TEXT + "\"}]}";

    /** Gateway's admission estimate of PLAIN_REQUEST: ceil(13 chars / 4) + 4 for the one message = 8; no max_tokens. */
    private static final long PLAIN_ESTIMATE = (USER_TEXT.length() + 3) / 4 + 4;
    /** What fake_vllm.py reports for PLAIN_REQUEST (forwarded unchanged: it is not streamed). */
    private static final long PLAIN_PROMPT = PLAIN_REQUEST.length() / 4;
    private static final long PLAIN_TOTAL = PLAIN_PROMPT + WORDS;
    /** Requests the budget admits when charged the reported usage. */
    private static final int ADMITTED = 3;
    /**
     * One token short of ADMITTED requests' reported usage: the first ADMITTED requests each find at least their
     * estimate left, after them the bucket is in debt and refuses. Charged only the estimates, the same bucket would
     * still have room for many more (checked in the test).
     */
    private static final long BUDGET_BURST = ADMITTED * PLAIN_TOTAL - 1;
    /** Refills about one token per 36 s: nothing that matters within the test. */
    private static final String BUDGET_RATE = BUDGET_BURST + "/h";

    private static String missingTools;
    private static FakeVllm vllm;

    @TempDir
    Path configDir;
    private String testName;
    private JarProcess gateway;
    private int port;

    @BeforeAll
    static void startBackend() throws Exception {
        missingTools = FakeVllm.missingTools();
        if (missingTools == null) {
            vllm = FakeVllm.start(LOGS.resolve("fake-vllm-traffic-policy.log"));
        }
    }

    @AfterAll
    static void stopBackend() throws Exception {
        if (vllm != null) {
            vllm.close();
        }
    }

    @BeforeEach
    void checkTools(TestInfo test) {
        // Skipping here rather than in @BeforeAll makes each skipped test, and why, show in the report.
        assumeTrue(missingTools == null, missingTools);
        testName = test.getTestMethod().orElseThrow().getName();
    }

    @AfterEach
    void stopGateway() throws Exception {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void usageChunkTheGatewayAskedForIsCountedButOnlyClientsThatAskedReceiveIt() throws Exception {
        startGateway("1000000/h", 1_000_000);

        // A client that did not ask for usage: the gateway asks for it on the client's behalf and hides the answer.
        List<Curl.Line> lines;
        try (Curl curl = Curl.postJson(url("/v1/chat/completions"), STREAM_REQUEST,
                "-H", "Authorization: Bearer " + ALICE_KEY, "-H", "X-Request-Id: e2e-usage-hidden")) {
            lines = curl.remainingLines();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + text(lines));
        }
        List<String> events = events(lines);
        assertEquals(WORDS + 3, events.size(), () -> "role chunk, a chunk per word, finish chunk, [DONE]:\n" + text(lines));
        assertEquals(FakeVllm.REPLY, content(events));
        assertEquals("data: [DONE]", events.get(events.size() - 1));
        for (String event : events) {
            assertFalse(event.contains("\"usage\"") || event.contains("\"choices\":[]"),
                    () -> "the client did not ask for usage but received it:\n" + text(lines));
        }
        // The backend did report usage: the access log has it, computed from the body the backend received.
        long hiddenPrompt = STREAM_REQUEST_AS_FORWARDED.length() / 4;
        String hidden = accessLine("e2e-usage-hidden");
        assertTrue(hidden.contains(" identity=alice "), hidden);
        assertTrue(hidden.contains(" tokens_in=" + hiddenPrompt + " tokens_out=" + WORDS), hidden);
        assertFalse(hidden.contains("tokens_estimated=1"), "the usage was estimated, not reported:\n" + hidden);

        // A client that asked for usage keeps the usage-only chunk, right before [DONE].
        List<Curl.Line> asked;
        try (Curl curl = Curl.postJson(url("/v1/chat/completions"), STREAM_REQUEST_WITH_USAGE,
                "-H", "Authorization: Bearer " + ALICE_KEY, "-H", "X-Request-Id: e2e-usage-asked")) {
            asked = curl.remainingLines();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + text(asked));
        }
        List<String> askedEvents = events(asked);
        assertEquals(WORDS + 4, askedEvents.size(),
                () -> "role chunk, a chunk per word, finish chunk, usage chunk, [DONE]:\n" + text(asked));
        assertEquals(FakeVllm.REPLY, content(askedEvents));
        assertEquals("data: [DONE]", askedEvents.get(askedEvents.size() - 1));
        long askedPrompt = STREAM_REQUEST_WITH_USAGE.length() / 4;
        String usageChunk = askedEvents.get(askedEvents.size() - 2);
        assertTrue(usageChunk.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":" + askedPrompt
                + ",\"total_tokens\":" + (askedPrompt + WORDS) + ",\"completion_tokens\":" + WORDS + "}"), usageChunk);
        String askedLine = accessLine("e2e-usage-asked");
        assertTrue(askedLine.contains(" tokens_in=" + askedPrompt + " tokens_out=" + WORDS), askedLine);
        assertFalse(askedLine.contains("tokens_estimated=1"), askedLine);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void tokenBudgetIsSettledFromReportedUsage() throws Exception {
        // The premise: charged only its estimate, each request would leave room for the next long after ADMITTED.
        assertTrue(BUDGET_BURST - ADMITTED * PLAIN_ESTIMATE >= PLAIN_ESTIMATE, "the estimate alone must not refuse");
        assertTrue(PLAIN_TOTAL > 2 * PLAIN_ESTIMATE, "the reported usage must be well above the estimate");
        assertTrue(BUDGET_BURST - (ADMITTED - 1) * PLAIN_TOTAL >= PLAIN_ESTIMATE, "the last admitted request must fit");
        startGateway(BUDGET_RATE, BUDGET_BURST);

        for (int i = 0; i < ADMITTED; i++) {
            String rid = "e2e-budget-" + i;
            CurlReply reply = exchange("-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + ALICE_KEY,
                    "-H", "X-Request-Id: " + rid, "--data-binary", PLAIN_REQUEST, url("/v1/chat/completions"));
            assertEquals(200, reply.status(), reply::toString);
            assertTrue(reply.body().contains("\"usage\":{\"prompt_tokens\":" + PLAIN_PROMPT + ",\"total_tokens\":"
                    + PLAIN_TOTAL + ",\"completion_tokens\":" + WORDS + "}"), reply::toString);
            // Admission charged the estimate on top of the earlier requests, each settled to its reported total.
            assertEquals(Long.toString(BUDGET_BURST - i * PLAIN_TOTAL - PLAIN_ESTIMATE), reply.header("ratelimit-remaining"),
                    reply::toString);
            // The exchange is settled before its access log line is written; wait for it so the next request
            // meets the corrected bucket.
            String line = accessLine(rid);
            assertTrue(line.contains(" tokens_in=" + PLAIN_PROMPT + " tokens_out=" + WORDS), line);
            assertFalse(line.contains("tokens_estimated=1"), line);
        }

        CurlReply refused = exchange("-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + ALICE_KEY,
                "-H", "X-Request-Id: e2e-budget-refused", "--data-binary", PLAIN_REQUEST, url("/v1/chat/completions"));
        assertEquals(429, refused.status(), refused::toString);
        assertTrue(refused.header("content-type") != null && refused.header("content-type").startsWith("application/json"),
                refused::toString);
        assertTrue(refused.body().startsWith("{\"error\":{"), refused::toString);
        assertTrue(refused.body().contains("\"type\":\"rate_limit_error\""), refused::toString);
        assertTrue(refused.body().contains("\"code\":\"rate_limit_exceeded\""), refused::toString);
        String retryAfter = refused.header("retry-after");
        assertNotNull(retryAfter, refused::toString);
        assertTrue(Long.parseLong(retryAfter) >= 1, refused::toString);
        assertEquals("0", refused.header("ratelimit-remaining"), refused::toString);
        assertEquals(Long.toString(BUDGET_BURST), refused.header("ratelimit-limit"), refused::toString);
        String line = accessLine("e2e-budget-refused");
        assertTrue(line.contains("\" 429 ") && line.contains("note=rate_limited"), line);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void modelListIsServedFromTheCacheTheSecondTime() throws Exception {
        startGateway("1000000/h", 1_000_000);

        CurlReply first = exchange("-H", "X-Request-Id: e2e-models-1", url("/v1/models"));
        assertEquals(200, first.status(), first::toString);
        assertEquals("MISS", first.header("x-cache"), first::toString);
        assertTrue(first.body().contains("\"id\":\"fake-model\""), first::toString);

        // fake_vllm.py stamps the list with the current second: a second fetch from the backend would differ.
        Thread.sleep(1_100);

        CurlReply second = exchange("-H", "X-Request-Id: e2e-models-2", url("/v1/models"));
        assertEquals(200, second.status(), second::toString);
        assertEquals("HIT", second.header("x-cache"), second::toString);
        String age = second.header("age");
        assertNotNull(age, second::toString);
        assertTrue(Long.parseLong(age) >= 1, second::toString);
        assertEquals(first.body(), second.body());
        String missLine = accessLine("e2e-models-1");
        assertTrue(missLine.contains(" cache=MISS"), missLine);
        String hitLine = accessLine("e2e-models-2");
        assertTrue(hitLine.contains(" cache=HIT"), hitLine);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    private void startGateway(String tokenRate, long tokenBurst) throws Exception {
        port = FreePort.find();
        Files.createDirectories(configDir);
        Path config = Files.writeString(configDir.resolve("streamgate-" + port + ".yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "  drain_timeout: " + GatewayConfigs.DRAIN_TIMEOUT,
                "admin:",
                "  listen: \"127.0.0.1:0\"",
                "api_keys:",
                "  - name: alice",
                "    key: \"" + ALICE_KEY + "\"",
                "upstreams:",
                "  vllm:",
                "    endpoints: [\"http://127.0.0.1:" + vllm.port() + "\"]",
                "rate_limits:",
                "  alice_tokens: { key: api_key, tokens: " + tokenRate + ", burst: " + tokenBurst + " }",
                "routes:",
                "  - name: health", // the gateway answers nothing itself: readiness is polled through to the backend
                "    path_prefix: /health",
                "    upstream: vllm",
                "  - name: models",
                "    path_prefix: /v1/models",
                "    upstream: vllm",
                "    cache: true",
                "  - name: llm",
                "    path_prefix: /v1",
                "    upstream: vllm",
                "    auth: required",
                "    rate_limits: [alice_tokens]",
                ""));
        gateway = JarProcess.start(LOGS.resolve("gateway-traffic-policy-" + testName + ".log"),
                "--config", config.toString());
        gateway.awaitReady(URI.create(url("/health")), Duration.ofSeconds(60));
    }

    private String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    /** The access log line of the request with this X-Request-Id, waiting for its batch to be written. */
    private String accessLine(String requestId) throws InterruptedException {
        String marker = " rid=" + requestId + " ";
        long deadline = System.nanoTime() + ACCESS_LOG_WAIT.toNanos();
        while (true) {
            String log = gateway.log();
            for (String line : log.split("\n")) {
                if (line.contains(marker)) {
                    return line;
                }
            }
            if (System.nanoTime() > deadline) {
                fail("no access log line for " + requestId + " within " + ACCESS_LOG_WAIT + ":\n" + log);
            }
            Thread.sleep(50);
        }
    }

    /** The non-empty lines of an event stream. */
    private static List<String> events(List<Curl.Line> lines) {
        return lines.stream().map(Curl.Line::text).filter(line -> !line.isEmpty()).toList();
    }

    private static String content(List<String> events) {
        StringBuilder text = new StringBuilder();
        for (String event : events) {
            Matcher m = CONTENT.matcher(event);
            if (m.find()) {
                text.append(m.group(1));
            }
        }
        return text.toString();
    }

    private static String text(List<Curl.Line> lines) {
        return lines.stream().map(Curl.Line::text).collect(Collectors.joining("\n"));
    }

    private static CurlReply exchange(String... curlArgs) throws IOException, InterruptedException {
        return CurlReply.of(curlArgs);
    }
}
