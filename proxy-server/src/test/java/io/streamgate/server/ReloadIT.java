package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.streamgate.testing.Json;
import io.streamgate.testing.Poll;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot reload of the packaged gateway, as an operator drives it: the config file rewritten in place (picked up by the
 * file watch while token streams are open), an invalid file refused by {@code POST /admin/reload} with the old
 * config still serving and the outcome visible in /metrics, and the fixed file applied on SIGHUP. The upstream is the
 * jar's own demo backend, which streams a word every 50 ms (about 1.3 s per answer).
 */
@Timeout(120)
class ReloadIT {
    private static final Path LOGS = Path.of("target", "it-logs");
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(25);
    private static final String STREAM_REQUEST = "{\"model\":\"demo\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    private static final String PLAIN_REQUEST = "{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    private static final Pattern CONTENT = Pattern.compile("\"delta\":\\{(?:\"role\":\"assistant\",)?\"content\":\"([^\"]*)\"}");
    /** The file watch checks every 2 s; a reload must show up in the log well within this. */
    private static final long RELOAD_WAIT_MS = 10_000;
    /** A new stream starts this often while the reload is awaited, so several are always mid-answer. */
    private static final long STREAM_SPACING_MS = 250;
    /** A stream whose [DONE] came this long after the reload was seen was still being relayed, not just buffered. */
    private static final long STILL_STREAMING_MS = 100;

    @TempDir
    Path dir;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();
    private final ExecutorService readers = Executors.newCachedThreadPool();
    private final List<StreamOutput> streams = new ArrayList<>();
    private Path config;
    private int port;
    private int adminPort;
    private int demoPort;
    private JarProcess gateway;

    @BeforeEach
    void start() throws Exception {
        port = FreePort.find();
        adminPort = FreePort.find();
        demoPort = FreePort.find();
        config = dir.resolve("streamgate.yaml");
        replaceConfig(configText(route("/v1", null)));
        gateway = JarProcess.start(LOGS.resolve("gateway-reload.log"), "--config", config.toString(),
                "--demo-backend", "127.0.0.1:" + demoPort);
        gateway.awaitReady(url("/health"), Duration.ofSeconds(60));
        gateway.awaitReady(admin("/healthz"), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() throws Exception {
        for (StreamOutput s : streams) {
            s.curl.close();
        }
        readers.shutdownNow();
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void fileChangeAdminReloadAndSighupApplyGoodConfigsAndRefuseBadOnes() throws Exception {
        // 1. The file is rewritten while streams are open: /v1 goes away, /v2 rewrites to the demo's /v1.
        StreamOutput first = startStream("/v1/chat/completions");
        Poll.until(() -> first.dataLines(Long.MAX_VALUE) > 0, 10_000, () -> "no event from the first stream: " + first);
        String movedText = configText(route("/v2", "/v1"));
        replaceConfig(movedText);
        long seen = awaitReloadWhileStreaming("reload (file change) applied");
        for (StreamOutput s : streams) {
            s.finished.get(40, TimeUnit.SECONDS);
        }
        assertOldStreamsFinishedAndOneSpannedTheReload(seen);

        assertRouteNotFound(post("/v1/chat/completions", PLAIN_REQUEST));
        StreamOutput moved = startStream("/v2/chat/completions");
        moved.finished.get(40, TimeUnit.SECONDS);
        assertEquals("data: [DONE]", moved.lastData(), () -> "a stream on the new route: " + moved);

        // 2. An invalid file: refused with file:line, the running config stays and the counters say so.
        String invalidText = movedText + "  - path_prefix: /broken\n    upstream: nowhere\n";
        replaceConfig(invalidText);
        HttpResponse<String> refused = http.send(HttpRequest.newBuilder(admin("/admin/reload"))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(422, refused.statusCode(), refused::body);
        Map<?, ?> outcome = assertInstanceOf(Map.class, Json.parse(refused.body()), refused.body());
        assertEquals(false, outcome.get("applied"), refused.body());
        assertEquals(sha256(invalidText), outcome.get("sha256"), refused.body());
        String where = config + ":" + lineOf(invalidText, "upstream: nowhere") + ":";
        assertTrue(String.valueOf(outcome.get("error")).startsWith(where), () -> "expected the error at " + where + ": " + refused.body());
        assertEquals(List.of(), outcome.get("restart_needed"), refused.body());

        assertRouteNotFound(post("/v1/chat/completions", PLAIN_REQUEST));
        HttpResponse<String> stillMoved = post("/v2/chat/completions", PLAIN_REQUEST);
        assertEquals(200, stillMoved.statusCode(), stillMoved::body);
        assertTrue(stillMoved.body().contains("\"object\":\"chat.completion\""), stillMoved.body());

        String metrics = get(admin("/metrics")).body();
        assertTrue(counter(metrics, "streamgate_config_reloads_total{result=\"failure\"}") >= 1, metrics);
        assertTrue(counter(metrics, "streamgate_config_reloads_total{result=\"success\"}") >= 1, metrics);
        assertEquals(List.of(sha256(movedText)), configInfoHashes(metrics), metrics);

        // 3. The fixed file (both routes) goes in on SIGHUP.
        String fixedText = configText(route("/v1", null) + route("/v2", "/v1"));
        replaceConfig(fixedText);
        sighup();
        Poll.until(() -> gateway.log().contains("reload (SIGHUP) applied"), RELOAD_WAIT_MS,
                () -> "no SIGHUP reload in the log:\n" + gateway.log());
        HttpResponse<String> back = post("/v1/chat/completions", PLAIN_REQUEST);
        assertEquals(200, back.statusCode(), back::body);
        assertEquals(List.of(sha256(fixedText)), configInfoHashes(get(admin("/metrics")).body()));

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
        assertTrue(gateway.log().contains("reload (admin) rejected, the running configuration stays"), gateway::log);
    }

    /**
     * A file the loader accepts is taken whole by every part of a reload. 3.5 MiB (the loader allows 4 MiB; here mostly
     * comments, as a generated file may carry) is applied by the file watch and by POST /admin/reload, and the file
     * watch still notices the next change.
     */
    @Test
    void aLargeConfigIsAppliedAndTheFileWatchKeepsWatching() throws Exception {
        String largeText = largeComment() + configText(route("/v2", "/v1"));
        replaceConfig(largeText);
        Poll.until(() -> gateway.log().contains("reload (file change) applied"), RELOAD_WAIT_MS,
                () -> "the file watch did not apply the 3.5 MiB file:\n" + gateway.log());
        HttpResponse<String> moved = post("/v2/chat/completions", PLAIN_REQUEST);
        assertEquals(200, moved.statusCode(), moved::body);
        assertEquals(List.of(sha256(largeText)), configInfoHashes(get(admin("/metrics")).body()));

        HttpResponse<String> again = http.send(HttpRequest.newBuilder(admin("/admin/reload"))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, again.statusCode(), again::body);
        assertEquals(true, assertInstanceOf(Map.class, Json.parse(again.body()), again.body()).get("applied"), again.body());

        String smallText = configText(route("/v1", null) + route("/v3", "/v1"));
        replaceConfig(smallText);
        Poll.until(() -> gateway.log().split("reload \\(file change\\) applied", -1).length - 1 == 2, RELOAD_WAIT_MS,
                () -> "the file watch stopped after the large file:\n" + gateway.log());
        HttpResponse<String> added = post("/v3/chat/completions", PLAIN_REQUEST);
        assertEquals(200, added.statusCode(), added::body);
        assertEquals(List.of(sha256(smallText)), configInfoHashes(get(admin("/metrics")).body()));

        gateway.terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    /**
     * 3.5 MiB of comment lines, for the head of a file: below the 4 MiB a config file may have, above SnakeYAML's
     * default limit of 3 MiB (which counts comments before the last token, not after it).
     */
    static String largeComment() {
        return ("# " + "x".repeat(97) + "\n").repeat(36_700);
    }

    /**
     * Starts a stream every {@link #STREAM_SPACING_MS} until the log shows {@code logLine}; returns when the test saw
     * it (System.nanoTime). The file watch may take up to 2 s and an answer lasts ~1.3 s, so overlapping streams
     * make sure some are mid-answer whenever the reload lands.
     */
    private long awaitReloadWhileStreaming(String logLine) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RELOAD_WAIT_MS);
        long nextStart = System.nanoTime();
        while (!gateway.log().contains(logLine)) {
            if (System.nanoTime() > deadline) {
                fail("no '" + logLine + "' within " + RELOAD_WAIT_MS + " ms:\n" + gateway.log());
            }
            if (System.nanoTime() >= nextStart) {
                startStream("/v1/chat/completions");
                nextStart = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STREAM_SPACING_MS);
            }
            Thread.sleep(10);
        }
        return System.nanoTime();
    }

    /**
     * Every stream the old config routed (it got events; the new one answers /v1 with 404) ended with [DONE] and the
     * same whole answer; one of them had events before the reload was seen and its [DONE] well after.
     */
    private void assertOldStreamsFinishedAndOneSpannedTheReload(long reloadSeen) {
        String answer = null;
        boolean spanned = false;
        for (StreamOutput s : streams) {
            if (s.dataLines(Long.MAX_VALUE) == 0) {
                assertTrue(s.text().contains("\"route_not_found\""), () -> "neither a stream nor a 404: " + s);
                continue;
            }
            assertEquals("data: [DONE]", s.lastData(), () -> "a stream was cut by the reload: " + s);
            String content = s.content();
            if (answer == null) {
                answer = content;
            }
            assertFalse(content.isEmpty(), s::toString);
            assertEquals(answer, content, () -> "streams got different answers: " + s);
            spanned |= s.dataLines(reloadSeen) > 0
                    && s.lastLineNanos() - reloadSeen >= TimeUnit.MILLISECONDS.toNanos(STILL_STREAMING_MS);
        }
        assertTrue(spanned, () -> "no stream was mid-answer when the reload happened:\n"
                + streams.stream().map(StreamOutput::toString).collect(Collectors.joining("\n")) + "\n" + gateway.log());
    }

    private StreamOutput startStream(String path) throws IOException {
        StreamOutput s = new StreamOutput(Curl.postJson(url(path).toString(), STREAM_REQUEST));
        s.finished.completeAsync(() -> {
            s.readAll();
            return null;
        }, readers);
        streams.add(s);
        return s;
    }

    /** curl's output of one request, read as it arrives on a reader thread; lines carry when they were read. */
    private static final class StreamOutput {
        final Curl curl;
        final List<Curl.Line> lines = new CopyOnWriteArrayList<>();
        final CompletableFuture<Void> finished = new CompletableFuture<>();

        StreamOutput(Curl curl) {
            this.curl = curl;
        }

        void readAll() {
            try {
                for (Curl.Line line = curl.nextLine(); line != null; line = curl.nextLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** How many "data:" lines were read by {@code nanos}. */
        long dataLines(long nanos) {
            return lines.stream().filter(l -> l.nanos() <= nanos && l.text().startsWith("data: ")).count();
        }

        String lastData() {
            List<String> data = lines.stream().map(Curl.Line::text).filter(t -> t.startsWith("data: ")).toList();
            return data.isEmpty() ? null : data.get(data.size() - 1);
        }

        long lastLineNanos() {
            return lines.get(lines.size() - 1).nanos();
        }

        String content() {
            StringBuilder text = new StringBuilder();
            for (Curl.Line line : lines) {
                Matcher m = CONTENT.matcher(line.text());
                if (m.find()) {
                    text.append(m.group(1));
                }
            }
            return text.toString();
        }

        String text() {
            return lines.stream().map(Curl.Line::text).collect(Collectors.joining("\n"));
        }

        @Override
        public String toString() {
            return lines.size() + " lines, first read at " + (lines.isEmpty() ? "-" : lines.get(0).nanos())
                    + ", last at " + (lines.isEmpty() ? "-" : lastLineNanos()) + ": " + text();
        }
    }

    /**
     * A JVM keeps a signal its parent ignored and installs no handler for it, so a gateway started with nohup cannot
     * reload on SIGHUP; it says so at start instead of ignoring the operator's SIGHUP without a word.
     */
    @Test
    void aGatewayStartedWithSighupIgnoredSaysItWillNotReloadOnIt() throws Exception {
        int otherAdmin = FreePort.find();
        Path otherConfig = dir.resolve("nohup.yaml");
        Files.writeString(otherConfig, configText("").replace(":" + port + "\"", ":" + FreePort.find() + "\"")
                .replace(":" + adminPort + "\"", ":" + otherAdmin + "\""));
        try (JarProcess nohup = JarProcess.startIgnoringHangup(LOGS.resolve("gateway-nohup.log"), "--config",
                otherConfig.toString())) {
            nohup.awaitReady(URI.create("http://127.0.0.1:" + otherAdmin + "/healthz"), Duration.ofSeconds(60));
            assertTrue(nohup.log().contains("SIGHUP is ignored by this process"), nohup::log);
        }
        assertFalse(gateway.log().contains("SIGHUP is ignored"), gateway::log);
    }

    /** The config with a /health route to the demo, followed by {@code routes} (from {@link #route}). */
    private String configText(String routes) {
        return String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "  drain_timeout: " + GatewayConfigs.DRAIN_TIMEOUT,
                "admin:",
                "  listen: \"127.0.0.1:" + adminPort + "\"",
                "upstreams:",
                "  demo:",
                "    endpoints: [\"http://127.0.0.1:" + demoPort + "\"]",
                "routes:",
                "  - path_prefix: /health",
                "    upstream: demo",
                "") + routes;
    }

    /** One route item: {@code prefix} to the demo, rewritten to {@code rewrite} unless that is null. */
    private static String route(String prefix, String rewrite) {
        return "  - path_prefix: " + prefix + "\n    upstream: demo\n"
                + (rewrite == null ? "" : "    rewrite_prefix: " + rewrite + "\n");
    }

    /** Writes the whole file at once (as a deploy tool or a ConfigMap update does), so no check sees half of it. */
    private void replaceConfig(String text) throws IOException {
        Path next = Files.writeString(dir.resolve("streamgate.yaml.next"), text);
        Files.move(next, dir.resolve("streamgate.yaml"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** SIGHUP to the jar's JVM, found among this JVM's children by the config file on its command line. */
    private void sighup() throws IOException, InterruptedException {
        String configArg = config.toString();
        ProcessHandle child = ProcessHandle.current().children()
                .filter(p -> p.info().arguments().map(args -> List.of(args).contains(configArg)).orElse(false))
                .findFirst()
                .orElseThrow(() -> new AssertionError("cannot find the gateway's process (started with --config " + configArg + ")"));
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(child.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS), "kill did not finish");
        assertEquals(0, kill.exitValue(), "kill -HUP " + child.pid());
    }

    private static void assertRouteNotFound(HttpResponse<String> response) {
        assertEquals(404, response.statusCode(), response::body);
        Map<?, ?> body = assertInstanceOf(Map.class, Json.parse(response.body()), response.body());
        Map<?, ?> error = assertInstanceOf(Map.class, body.get("error"), response.body());
        assertEquals("route_not_found", error.get("code"), response.body());
    }

    private HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(url(path)).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of the sample named exactly {@code series} (name and labels) in Prometheus text, or 0 if absent. */
    private static double counter(String metrics, String series) {
        return metrics.lines().filter(l -> l.startsWith(series + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1).trim())).findFirst().orElse(0);
    }

    private static List<String> configInfoHashes(String metrics) {
        Matcher m = Pattern.compile("(?m)^streamgate_config_info\\{sha256=\"([0-9a-f]+|unknown)\"}").matcher(metrics);
        List<String> hashes = new ArrayList<>();
        while (m.find()) {
            hashes.add(m.group(1));
        }
        return hashes;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** 1-based number of the first line of {@code text} that contains {@code fragment}. */
    private static int lineOf(String text, String fragment) {
        List<String> lines = text.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(fragment)) {
                return i + 1;
            }
        }
        throw new IllegalArgumentException(fragment + " is not in the text");
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private URI admin(String path) {
        return URI.create("http://127.0.0.1:" + adminPort + path);
    }
}
