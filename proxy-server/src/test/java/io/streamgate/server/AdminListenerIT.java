package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.streamgate.testing.Poll;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged gateway's admin listener, driven from outside: health and readiness, the Prometheus scrape after real
 * traffic through the public listener, the redacted config, the cache purge, and {@code admin: off}. The backend is
 * the jar's own {@code --demo-backend}, so nothing but a JDK and curl is needed. Each test starts its own gateway(s)
 * and ends them with SIGTERM, checking the graceful exit.
 */
@Timeout(60)
class AdminListenerIT {
    private static final Path LOGS = Path.of("target", "it-logs");
    /** The drain timeout of the config plus time for a JVM to stop. */
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(25);
    /** Meters are recorded as an exchange ends, which may be just after the client has read the last byte. */
    private static final Duration METER_WAIT = Duration.ofSeconds(10);
    private static final String ALICE_KEY = "sk-admin-it-alice-0123456789";
    private static final String ADMIN_TOKEN = "admin-it-token-0123456789abcdef";
    /**
     * Public traffic is sent from this loopback address (curl --interface), so that the client address can be looked
     * for in label values without being confused with the upstream endpoint's 127.0.0.1, which is a legitimate label.
     */
    private static final String CLIENT_IP = "127.0.0.3";
    private static final String STREAM_REQUEST = "{\"model\":\"demo\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
    private static final String PLAIN_REQUEST = "{\"model\":\"demo\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say something\"}]}";
    /** RequestMeters.LLM_BUCKETS in seconds, then +Inf. */
    private static final List<Double> LLM_BUCKETS = List.of(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0, 120.0, 300.0, 600.0, 1800.0, Double.POSITIVE_INFINITY);
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @TempDir
    Path configDir;
    private String testName;
    private final List<JarProcess> started = new ArrayList<>();

    @BeforeEach
    void rememberTestName(TestInfo test) {
        testName = test.getTestMethod().orElseThrow().getName();
    }

    @AfterEach
    void stopGateways() throws Exception {
        for (JarProcess process : started) {
            process.close();
        }
    }

    @Test
    void healthzAnswersAndReadyzFollowsWhetherTheUpstreamAcceptsConnections() throws Exception {
        // Both gateways start side by side: the second one's upstream port has nothing listening.
        Gateway live = start("live", true, true);
        Gateway dead = start("dead", true, false);
        awaitAdmin(live);
        awaitAdmin(dead);

        // The probes need no token: orchestrators call them without secrets.
        HttpResponse<String> health = admin(live, "GET", "/healthz", null);
        assertEquals(200, health.statusCode(), health.body());
        assertEquals(Map.of("status", "ok"), json(health.body()));
        HttpResponse<String> ready = admin(live, "GET", "/readyz", null);
        assertEquals(200, ready.statusCode(), ready.body());
        assertEquals(Map.of("ready", true, "upstreams", Map.of("demo", Map.of(live.endpoint(), "healthy"))), json(ready.body()));

        HttpResponse<String> deadHealth = admin(dead, "GET", "/healthz", null);
        assertEquals(200, deadHealth.statusCode(), "liveness does not depend on the backends: " + deadHealth.body());
        HttpResponse<String> notReady = admin(dead, "GET", "/readyz", null);
        assertEquals(503, notReady.statusCode(), notReady.body());
        assertEquals(Map.of("ready", false, "upstreams", Map.of("demo", Map.of(dead.endpoint(), "unreachable"))),
                json(notReady.body()));

        // The line operators look for, and whose absence shows `admin: off` in adminOffOpensNoAdminListener.
        assertTrue(live.process().log().contains("Admin listener on http://127.0.0.1:" + live.adminPort() + " "),
                live.process().log());

        live.process().terminateAndAssertCleanExit(EXIT_LIMIT);
        dead.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void metricsDescribeTheTrafficThatWentThroughThePublicListener() throws Exception {
        Gateway g = start("gateway", true, true);
        awaitAdmin(g);

        List<String> events;
        try (Curl curl = Curl.postJson(g.url("/v1/chat/completions"), STREAM_REQUEST,
                "--interface", CLIENT_IP, "-H", "Authorization: Bearer " + ALICE_KEY)) {
            List<Curl.Line> lines = curl.remainingLines();
            events = lines.stream().map(Curl.Line::text).filter(line -> !line.isEmpty()).toList();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + String.join("\n", events));
        }
        assertTrue(events.size() > 3 && events.get(0).startsWith("data: {"), () -> String.join("\n", events));
        assertEquals("data: [DONE]", events.get(events.size() - 1));
        CurlReply plain = curl("-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + ALICE_KEY,
                "--data-binary", PLAIN_REQUEST, g.url("/v1/chat/completions"));
        assertEquals(200, plain.status(), plain::toString);
        CurlReply noKey = curl("-H", "Content-Type: application/json", "--data-binary", PLAIN_REQUEST,
                g.url("/v1/chat/completions"));
        assertEquals(401, noKey.status(), noKey::toString);
        CurlReply unknown = curl(g.url("/nowhere"));
        assertEquals(404, unknown.status(), unknown::toString);
        CurlReply miss = curl(g.url("/v1/models"));
        assertEquals("MISS", miss.header("x-cache"), miss::toString);
        CurlReply hit = curl(g.url("/v1/models"));
        assertEquals("HIT", hit.header("x-cache"), hit::toString);

        Scrape scrape = scrapeWhen(g, s -> s.sum("streamgate_requests_total") >= 6);
        Files.createDirectories(LOGS);
        Files.writeString(LOGS.resolve("admin-metrics-scrape.prom"), scrape.text()); // for reading after a failure

        // Every sample of ours belongs to a family with a TYPE and a HELP that says something.
        for (Sample s : scrape.samples()) {
            if (s.name().startsWith("streamgate_")) {
                String family = scrape.familyOf(s.name());
                assertNotNull(family, "no # TYPE line for " + s.name());
                assertFalse(scrape.help().getOrDefault(family, "").isEmpty(), "no # HELP text for " + family);
            }
        }
        Map<String, String> expectedTypes = Map.of(
                "streamgate_requests_total", "counter",
                "streamgate_request_duration_seconds", "histogram",
                "streamgate_response_first_byte_seconds", "histogram",
                "streamgate_stream_duration_seconds", "histogram",
                "streamgate_rejections_total", "counter",
                "streamgate_llm_tokens_total", "counter",
                "streamgate_cache_requests_total", "counter",
                "streamgate_upstream_connections", "gauge",
                "streamgate_netty_direct_memory_bytes", "gauge");
        expectedTypes.forEach((family, type) -> assertEquals(type, scrape.types().get(family), family));

        // One series per (route, upstream, method, status) seen, with its count; nothing else was counted.
        Map<Map<String, String>, Double> requests = scrape.samples().stream()
                .filter(s -> s.name().equals("streamgate_requests_total"))
                .collect(Collectors.toMap(Sample::labels, Sample::value));
        assertEquals(Map.of(
                labels("route", "llm", "upstream", "demo", "method", "POST", "status", "200"), 2.0,
                labels("route", "llm", "upstream", "none", "method", "POST", "status", "401"), 1.0,
                labels("route", "none", "upstream", "none", "method", "GET", "status", "404"), 1.0,
                labels("route", "models", "upstream", "demo", "method", "GET", "status", "200"), 2.0), requests);

        // Time to first byte: both completions relayed a body; the buckets are the LLM ones, cumulative, up to +Inf.
        Map<String, String> llm = labels("route", "llm", "upstream", "demo");
        double firstBytes = scrape.value("streamgate_response_first_byte_seconds_count", llm);
        assertEquals(2.0, firstBytes);
        List<Sample> buckets = scrape.samples().stream()
                .filter(s -> s.name().equals("streamgate_response_first_byte_seconds_bucket") && s.labelsWithout("le").equals(llm))
                .toList();
        assertEquals(LLM_BUCKETS, buckets.stream().map(s -> bound(s.labels().get("le"))).toList());
        for (int i = 1; i < buckets.size(); i++) {
            assertTrue(buckets.get(i).value() >= buckets.get(i - 1).value(), "buckets are not cumulative: " + buckets);
        }
        assertEquals(firstBytes, buckets.get(buckets.size() - 1).value(), "the +Inf bucket holds every observation");

        assertEquals(1.0, scrape.value("streamgate_stream_duration_seconds_count", llm), "only one response was a stream");
        assertEquals(0.0, scrape.value("streamgate_stream_duration_seconds_count", labels("route", "models", "upstream", "demo")));
        assertEquals(1.0, scrape.value("streamgate_rejections_total", labels("route", "llm", "reason", "invalid_api_key")));
        for (String type : List.of("prompt", "completion")) {
            double tokens = scrape.value("streamgate_llm_tokens_total", labels("identity", "alice", "route", "llm", "type", type));
            assertTrue(tokens > 0, type + " tokens: " + tokens);
        }
        assertEquals(1.0, scrape.value("streamgate_cache_requests_total", labels("route", "models", "result", "hit")));
        assertEquals(1.0, scrape.value("streamgate_cache_requests_total", labels("route", "models", "result", "miss")));
        assertTrue(scrape.samples().stream().anyMatch(s -> s.name().equals("jvm_memory_used_bytes")), "no jvm_memory_used_bytes");
        // The launcher's one collection at start (start-up objects moved to the old generation at once).
        assertTrue(scrape.samples().stream().anyMatch(s -> s.name().equals("jvm_gc_pause_seconds_count")
                && "System.gc()".equals(s.labels().get("cause")) && s.value() >= 1), "no collection at start");
        assertTrue(scrape.has("streamgate_netty_direct_memory_bytes", Map.of()), "no streamgate_netty_direct_memory_bytes");
        assertTrue(scrape.has("streamgate_upstream_connections", labels("upstream", "demo", "endpoint", g.endpoint())),
                "no streamgate_upstream_connections for " + g.endpoint());

        // Label values come from the config, never from clients. The check is not vacuous: the gateway did see the
        // client address, as its access log shows.
        for (Sample s : scrape.samples()) {
            for (String value : s.labels().values()) {
                assertFalse(value.contains(ALICE_KEY) || value.contains(ADMIN_TOKEN), "a secret in a label of " + s);
                assertFalse(value.contains(CLIENT_IP), "the client address in a label of " + s);
            }
        }
        // Access lines reach stdout in batches, at most about a second after the request: wait for it.
        Poll.until(() -> g.process().log().lines().anyMatch(line -> line.startsWith(CLIENT_IP + " ")), 5_000,
                () -> g.process().log());

        promtoolAccepts(scrape.text());

        g.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void configIsServedWithItsHashOnlyToTheTokenAndWithoutSecrets() throws Exception {
        Instant before = Instant.now();
        Gateway g = start("gateway", true, true);
        awaitAdmin(g);

        HttpResponse<String> anonymous = admin(g, "GET", "/admin/config", null);
        assertEquals(401, anonymous.statusCode(), anonymous.body());
        assertTrue(anonymous.headers().firstValue("www-authenticate").orElse("").startsWith("Bearer "),
                anonymous.headers().toString());
        assertFalse(anonymous.body().contains("api_keys"), anonymous.body());
        HttpResponse<String> wrong = admin(g, "GET", "/admin/config", ADMIN_TOKEN + "x");
        assertEquals(401, wrong.statusCode(), wrong.body());

        HttpResponse<String> response = admin(g, "GET", "/admin/config", ADMIN_TOKEN);
        assertEquals(200, response.statusCode(), response.body());
        Map<String, Object> view = json(response.body());
        assertEquals(g.config().toString(), view.get("source"));
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(g.config())));
        assertEquals(sha256, view.get("sha256"));
        Instant loadedAt = Instant.parse((String) view.get("loaded_at"));
        assertFalse(loadedAt.isBefore(before.minusSeconds(1)) || loadedAt.isAfter(Instant.now()), loadedAt.toString());
        String yaml = (String) view.get("yaml");
        assertFalse(yaml.contains(ALICE_KEY), yaml);
        assertFalse(yaml.contains(ADMIN_TOKEN), yaml);
        assertEquals(2, yaml.split("<redacted>", -1).length - 1, () -> "the API key and the admin token:\n" + yaml);
        // Only the secrets went: "key" is a secret under api_keys but not in a rate limit.
        assertTrue(yaml.contains("127.0.0.1:" + g.port()), yaml);
        assertTrue(yaml.contains("key: api_key"), yaml);
        assertTrue(yaml.contains("name: alice"), yaml);

        g.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void cachePurgeByRouteEmptiesItAndOtherRequestsAreRefused() throws Exception {
        Gateway g = start("gateway", true, true);
        awaitAdmin(g);
        assertEquals("MISS", curl(g.url("/v1/models")).header("x-cache"));
        assertEquals("HIT", curl(g.url("/v1/models")).header("x-cache"));

        HttpResponse<String> anonymous = admin(g, "POST", "/admin/cache/purge?route=models", null);
        assertEquals(401, anonymous.statusCode(), anonymous.body());
        assertEquals("HIT", curl(g.url("/v1/models")).header("x-cache"), "a refused purge purged nothing");
        HttpResponse<String> purged = admin(g, "POST", "/admin/cache/purge?route=models", ADMIN_TOKEN);
        assertEquals(200, purged.statusCode(), purged.body());
        assertEquals("{\"purged\":1}", purged.body());
        assertEquals("MISS", curl(g.url("/v1/models")).header("x-cache"));

        HttpResponse<String> get = admin(g, "GET", "/admin/cache/purge?route=models", ADMIN_TOKEN);
        assertEquals(405, get.statusCode(), get.body());
        assertEquals("POST", get.headers().firstValue("allow").orElse(null));
        HttpResponse<String> unknown = admin(g, "GET", "/admin/nothing-here", ADMIN_TOKEN);
        assertEquals(404, unknown.statusCode(), unknown.body());

        g.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    /**
     * HTTP/1.1 answers pipelined requests in the order they came (RFC 9112 §9.3.2), also when the first one is /readyz,
     * whose answer waits for a connect to the upstream.
     */
    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        Gateway g = start("gateway", true, true);
        awaitAdmin(g);
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), g.adminPort())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /readyz HTTP/1.1\r\nHost: admin\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String replies = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            int ready = replies.indexOf("{\"ready\":true");
            int health = replies.indexOf("{\"status\":\"ok\"}");
            assertTrue(ready >= 0 && health > ready, () -> "expected the /readyz answer, then the /healthz one:\n" + replies);
        }

        g.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    @Test
    void adminOffOpensNoAdminListener() throws Exception {
        Gateway g = start("gateway", false, true);
        // The launcher logs this line after it would have started the admin listener: no race with a late bind.
        String marker = "listening on http://127.0.0.1:" + g.port() + " (transport";
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!g.process().log().contains(marker)) {
            assertTrue(g.process().isAlive(), g.process().log());
            assertTrue(System.nanoTime() < deadline, () -> "no \"" + marker + "\" within 30 s:\n" + g.process().log());
            Thread.sleep(50);
        }
        assertEquals(200, curl(g.url("/v1/models")).status(), "the public listener serves");

        try (Socket socket = new Socket()) {
            assertThrows(ConnectException.class, () -> socket.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), g.adminPort()), 2000));
        }
        assertFalse(g.process().log().contains("Admin listener"), g.process().log());

        g.process().terminateAndAssertCleanExit(EXIT_LIMIT);
    }

    /** A gateway started as a child process, and where it listens. */
    private record Gateway(JarProcess process, int port, int adminPort, int upstreamPort, Path config) {
        String url(String path) {
            return "http://127.0.0.1:" + port + path;
        }

        URI admin(String path) {
            return URI.create("http://127.0.0.1:" + adminPort + path);
        }

        /** How the config (and so every label and readiness report) names the one upstream endpoint. */
        String endpoint() {
            return "http://127.0.0.1:" + upstreamPort;
        }
    }

    /**
     * Starts the jar. With {@code admin} the admin listener gets a port of its own and a token, without it the
     * config says {@code admin: off} and the gateway's admin port is the one it would have had. With {@code demo} the
     * jar's built-in backend serves the one upstream; without it nothing listens on the upstream's port.
     */
    private Gateway start(String label, boolean admin, boolean demo) throws IOException {
        int port = FreePort.find();
        int adminPort = FreePort.find();
        int upstreamPort = FreePort.find();
        List<String> lines = new ArrayList<>(List.of(
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "  drain_timeout: " + GatewayConfigs.DRAIN_TIMEOUT));
        lines.addAll(admin
                ? List.of("admin:", "  listen: \"127.0.0.1:" + adminPort + "\"", "  token: \"" + ADMIN_TOKEN + "\"")
                : List.of("admin: off"));
        lines.addAll(List.of(
                "api_keys:",
                "  - name: alice",
                "    key: \"" + ALICE_KEY + "\"",
                "upstreams:",
                "  demo:",
                "    endpoints: [\"http://127.0.0.1:" + upstreamPort + "\"]",
                "rate_limits:",
                "  alice_tokens:", // a token budget also turns on token metering on the routes that use it
                "    key: api_key",
                "    tokens: 1000000/h",
                "    burst: 1000000",
                "routes:",
                "  - name: models",
                "    path_prefix: /v1/models",
                "    upstream: demo",
                "    cache: true",
                "  - name: llm",
                "    path_prefix: /v1",
                "    upstream: demo",
                "    auth: required",
                "    rate_limits: [alice_tokens]",
                ""));
        Files.createDirectories(configDir);
        Path config = Files.writeString(configDir.resolve("streamgate-" + port + ".yaml"), String.join("\n", lines));
        List<String> args = new ArrayList<>(List.of("--config", config.toString()));
        if (demo) {
            args.addAll(List.of("--demo-backend", "127.0.0.1:" + upstreamPort));
        }
        JarProcess process = JarProcess.start(LOGS.resolve("gateway-admin-" + testName + "-" + label + ".log"),
                args.toArray(String[]::new));
        started.add(process);
        return new Gateway(process, port, adminPort, upstreamPort, config);
    }

    private static void awaitAdmin(Gateway g) throws InterruptedException {
        g.process().awaitReady(g.admin("/healthz"), Duration.ofSeconds(60));
    }

    /** One request to the admin listener, with {@code Authorization: Bearer token} unless the token is null. */
    private static HttpResponse<String> admin(Gateway g, String method, String path, String token)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(g.admin(path)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Scrapes /metrics until {@code ready} holds (the exchanges' meters are all recorded) or METER_WAIT passed. */
    private static Scrape scrapeWhen(Gateway g, Predicate<Scrape> ready) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + METER_WAIT.toNanos();
        while (true) {
            HttpResponse<String> response = admin(g, "GET", "/metrics", null);
            assertEquals(200, response.statusCode(), response.body());
            assertTrue(response.headers().firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"),
                    response.headers().toString());
            Scrape scrape = Scrape.parse(response.body());
            if (ready.test(scrape) || System.nanoTime() > deadline) {
                return scrape;
            }
            Thread.sleep(50);
        }
    }

    /**
     * Runs {@code promtool check metrics} on the scrape when promtool is installed: it must find nothing (it exits 1
     * when it cannot parse the text and 3 on any lint finding).
     */
    private static void promtoolAccepts(String scrape) throws IOException, InterruptedException {
        Path promtool = Path.of("/usr/bin/promtool");
        if (!Files.isExecutable(promtool)) {
            return;
        }
        Process process = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        try (OutputStream in = process.getOutputStream()) {
            in.write(scrape.getBytes(StandardCharsets.UTF_8));
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("promtool did not finish within 30 s:\n" + output);
        }
        int code = process.exitValue();
        assertEquals(0, code, "promtool check metrics exited with " + code + ":\n" + output);
    }

    /** A JSON object of objects, strings, numbers and booleans: all the admin listener answers with. */
    private static Map<String, Object> json(String text) throws IOException {
        try (JsonParser parser = new JsonFactory().createParser(text)) {
            assertEquals(JsonToken.START_OBJECT, parser.nextToken(), text);
            Map<String, Object> object = object(parser, text);
            assertNull(parser.nextToken(), () -> "trailing content: " + text);
            return object;
        }
    }

    private static Map<String, Object> object(JsonParser parser, String text) throws IOException {
        Map<String, Object> object = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            JsonToken token = parser.nextToken();
            object.put(name, switch (token) {
                case START_OBJECT -> object(parser, text);
                case VALUE_STRING -> parser.getText();
                case VALUE_NUMBER_INT -> parser.getLongValue();
                case VALUE_TRUE, VALUE_FALSE -> parser.getBooleanValue();
                default -> fail("unexpected " + token + " in " + text);
            });
        }
        return object;
    }

    /** Label names and values, in pairs. */
    private static Map<String, String> labels(String... pairs) {
        Map<String, String> labels = new TreeMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            labels.put(pairs[i], pairs[i + 1]);
        }
        return labels;
    }

    /** A bucket's {@code le}, or a sample's value: a float, or +Inf, -Inf, NaN. */
    private static double bound(String text) {
        return switch (text) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(text);
        };
    }

    /** One line {@code name{labels} value [timestamp]} of a scrape. */
    private record Sample(String name, Map<String, String> labels, double value) {
        Map<String, String> labelsWithout(String label) {
            Map<String, String> rest = new TreeMap<>(labels);
            rest.remove(label);
            return rest;
        }

        /** Parses a sample line; label values may hold escaped backslashes, quotes and newlines. */
        static Sample parse(String line) {
            try {
                int i = 0;
                while (line.charAt(i) != '{' && line.charAt(i) != ' ') {
                    i++;
                }
                String name = line.substring(0, i);
                Map<String, String> labels = new TreeMap<>();
                if (line.charAt(i) == '{') {
                    i++;
                    while (line.charAt(i) != '}') {
                        int eq = line.indexOf('=', i);
                        String label = line.substring(i, eq);
                        if (line.charAt(eq + 1) != '"') {
                            throw new IllegalArgumentException("unquoted value of " + label);
                        }
                        StringBuilder value = new StringBuilder();
                        int j = eq + 2;
                        for (; line.charAt(j) != '"'; j++) {
                            char c = line.charAt(j);
                            if (c == '\\') {
                                char escaped = line.charAt(++j);
                                value.append(escaped == 'n' ? '\n' : escaped);
                            } else {
                                value.append(c);
                            }
                        }
                        if (labels.put(label, value.toString()) != null) {
                            throw new IllegalArgumentException("label " + label + " twice");
                        }
                        i = j + 1;
                        if (line.charAt(i) == ',') {
                            i++;
                        }
                    }
                    i++;
                }
                String[] rest = line.substring(i).trim().split(" ");
                if (rest.length > 2) {
                    throw new IllegalArgumentException("more than a value and a timestamp");
                }
                return new Sample(name, labels, bound(rest[0]));
            } catch (RuntimeException e) {
                throw new AssertionError("not a Prometheus sample line: " + line, e);
            }
        }
    }

    /** A Prometheus text exposition (format 0.0.4): its samples, and the HELP text and TYPE of each family. */
    private record Scrape(String text, List<Sample> samples, Map<String, String> help, Map<String, String> types) {
        static Scrape parse(String text) {
            List<Sample> samples = new ArrayList<>();
            Map<String, String> help = new TreeMap<>();
            Map<String, String> types = new TreeMap<>();
            for (String line : text.split("\n")) {
                if (line.startsWith("# HELP ")) {
                    String[] parts = line.substring(7).split(" ", 2);
                    help.put(parts[0], parts.length < 2 ? "" : parts[1].trim());
                } else if (line.startsWith("# TYPE ")) {
                    String[] parts = line.substring(7).split(" ");
                    types.put(parts[0], parts[1]);
                } else if (!line.isBlank() && !line.startsWith("#")) {
                    samples.add(Sample.parse(line));
                }
            }
            return new Scrape(text, samples, help, types);
        }

        /** The family a sample belongs to: its own name, or a histogram's or summary's for _bucket, _count, _sum. */
        String familyOf(String sample) {
            if (types.containsKey(sample)) {
                return sample;
            }
            for (String suffix : List.of("_bucket", "_count", "_sum")) {
                if (sample.endsWith(suffix)) {
                    String family = sample.substring(0, sample.length() - suffix.length());
                    String type = types.get(family);
                    if ("histogram".equals(type) || "summary".equals(type)) {
                        return family;
                    }
                }
            }
            return null;
        }

        /** The value of the series with exactly these labels; fails when there is none. */
        double value(String name, Map<String, String> labels) {
            return samples.stream().filter(s -> s.name().equals(name) && s.labels().equals(labels))
                    .findFirst().map(Sample::value)
                    .orElseThrow(() -> new AssertionError("no " + name + labels + " in the scrape:\n" + text));
        }

        boolean has(String name, Map<String, String> labels) {
            return samples.stream().anyMatch(s -> s.name().equals(name) && s.labels().equals(labels));
        }

        double sum(String name) {
            return samples.stream().filter(s -> s.name().equals(name)).mapToDouble(Sample::value).sum();
        }
    }

    /** One request through the public listener, sent from CLIENT_IP. */
    private static CurlReply curl(String... curlArgs) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--interface", CLIENT_IP));
        args.addAll(Arrays.asList(curlArgs));
        return CurlReply.of(args.toArray(String[]::new));
    }
}
