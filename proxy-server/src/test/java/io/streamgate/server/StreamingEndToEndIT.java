package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
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
 * The packaged gateway in front of a vLLM stand-in (FastAPI on uvicorn), driven by curl: what an operator
 * would try first. Each test starts its own gateway and ends it with SIGTERM, checking the graceful exit.
 */
@Timeout(180)
class StreamingEndToEndIT {
    private static final Path LOGS = Path.of("target", "it-logs");
    /** The drain timeout of the test config plus time for a JVM to stop. */
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(25);
    private static final Pattern CONTENT = Pattern.compile("\"delta\":\\{(?:\"role\":\"assistant\",)?\"content\":\"([^\"]*)\"}");
    private static final String STREAM_REQUEST = "{\"model\":\"fake-model\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
    private static final String PLAIN_REQUEST = "{\"model\":\"fake-model\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
    private static final int WORDS = FakeVllm.REPLY.split(" ").length;

    private static String missingTools;
    private static FakeVllm vllm;

    @TempDir
    Path configDir;
    private JarProcess gateway;
    private int port;

    @BeforeAll
    static void startBackend() throws Exception {
        missingTools = FakeVllm.missingTools();
        if (missingTools == null) {
            vllm = FakeVllm.start(LOGS.resolve("fake-vllm.log"));
        }
    }

    @AfterAll
    static void stopBackend() throws Exception {
        if (vllm != null) {
            vllm.close();
        }
    }

    @BeforeEach
    void startGateway(TestInfo test) throws Exception {
        // Skipping here rather than in @BeforeAll makes each skipped test, and why, show in the report.
        assumeTrue(missingTools == null, missingTools);
        port = FreePort.find();
        Path config = GatewayConfigs.write(configDir, port, vllm.port());
        gateway = JarProcess.start(LOGS.resolve("gateway-" + test.getTestMethod().orElseThrow().getName() + ".log"),
                "--config", config.toString());
        gateway.awaitReady(url("/health"), Duration.ofSeconds(60));
    }

    @AfterEach
    void stopGateway() throws Exception {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void streamedCompletionArrivesEventByEventAndEndsWithDone() throws Exception {
        List<Curl.Line> lines;
        try (Curl curl = Curl.postJson(url("/v1/chat/completions").toString(), STREAM_REQUEST)) {
            lines = curl.remainingLines();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + text(lines));
        }

        List<Curl.Line> events = lines.stream().filter(line -> !line.text().isEmpty()).toList();
        assertEquals(WORDS + 3, events.size(), () -> "role chunk, a chunk per word, finish chunk, [DONE]:\n" + text(lines));
        for (Curl.Line event : events.subList(0, events.size() - 1)) {
            assertTrue(event.text().startsWith("data: {\"id\":\"chatcmpl-"), event.text());
        }
        assertEquals("data: [DONE]", events.get(events.size() - 1).text());
        assertEquals(FakeVllm.REPLY, content(events));

        // The backend pauses WORD_DELAY before each word. Relayed event by event, the events reach curl spread
        // over about WORDS * WORD_DELAY; a gateway that buffered the response would deliver them in one burst.
        long spreadMs = millis(events.get(events.size() - 1).nanos() - events.get(0).nanos());
        long producedMs = WORDS * FakeVllm.WORD_DELAY.toMillis();
        assertTrue(spreadMs >= producedMs / 2,
                "first and last event arrived " + spreadMs + " ms apart; the backend took ~" + producedMs + " ms");
        long separateArrivals = 1;
        for (int i = 1; i < events.size(); i++) {
            if (millis(events.get(i).nanos() - events.get(i - 1).nanos()) >= FakeVllm.WORD_DELAY.toMillis() / 4) {
                separateArrivals++;
            }
        }
        assertTrue(separateArrivals >= WORDS / 2, "events arrived in only " + separateArrivals + " separate bursts");

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void nonStreamedCompletionComesBackWholeWithItsRequestId() throws Exception {
        List<Curl.Line> lines;
        try (Curl curl = Curl.start("-i", "-H", "Content-Type: application/json", "-H", "X-Request-Id: e2e-request-1",
                "--data-binary", PLAIN_REQUEST, url("/v1/chat/completions").toString())) {
            lines = curl.remainingLines();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + text(lines));
        }

        String response = text(lines);
        List<String> texts = lines.stream().map(Curl.Line::text).toList();
        int blank = texts.indexOf("");
        assertTrue(blank > 0 && texts.get(0).startsWith("HTTP/1.1 200"), response);
        List<String> headers = texts.subList(1, blank).stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
        assertTrue(headers.contains("x-request-id: e2e-request-1"), response);
        assertTrue(headers.stream().anyMatch(h -> h.startsWith("content-type: application/json")), response);
        String body = String.join("\n", texts.subList(blank + 1, texts.size()));
        assertTrue(body.contains("\"object\":\"chat.completion\""), body);
        assertTrue(body.contains("\"content\":\"" + FakeVllm.REPLY + "\""), body);
        assertTrue(body.contains("\"completion_tokens\":" + WORDS + "}"), body);

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void sigtermLetsAStreamInFlightFinishBeforeTheGatewayExits() throws Exception {
        List<Curl.Line> rest;
        try (Curl curl = Curl.postJson(url("/v1/chat/completions").toString(), STREAM_REQUEST)) {
            Curl.Line first = curl.nextLine();
            assertNotNull(first, "no output from curl");
            assertTrue(first.text().startsWith("data: {"), first.text());

            gateway.terminate();

            rest = curl.remainingLines();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + text(rest));
        }
        List<Curl.Line> events = rest.stream().filter(line -> !line.text().isEmpty()).toList();
        assertEquals("data: [DONE]", events.get(events.size() - 1).text(),
                () -> "the stream was cut by the shutdown:\n" + text(rest) + "\n" + gateway.log());
        assertEquals(FakeVllm.REPLY, content(events));

        gateway.assertCleanExit(EXIT_LIMIT);
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static String content(List<Curl.Line> events) {
        StringBuilder text = new StringBuilder();
        for (Curl.Line event : events) {
            Matcher m = CONTENT.matcher(event.text());
            if (m.find()) {
                text.append(m.group(1));
            }
        }
        return text.toString();
    }

    private static String text(List<Curl.Line> lines) {
        return lines.stream().map(Curl.Line::text).collect(Collectors.joining("\n"));
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }
}
