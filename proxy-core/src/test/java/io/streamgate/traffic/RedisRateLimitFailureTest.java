package io.streamgate.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.ChatCompletionsResponder;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RedisServer;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shared Redis store through a real gateway and a real redis-server, in the situations where it fails or changes
 * under requests in flight. Skipped where redis-server is not installed, except on CI.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisRateLimitFailureTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String CHAT = "/v1/chat/completions";
    private static final String BODY = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    /** One token of 1000/h, in milliseconds. */
    private static final long TOKEN_MILLIS = 3_600;

    private RedisServer redis;
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void startRedis() throws Exception {
        RedisServer.assumeInstalled();
        redis = RedisServer.start();
    }

    @AfterEach
    void stopAll() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
        if (redis != null) {
            redis.stop();
        }
    }

    private final ManualClock clock = new ManualClock();

    private String config(String timeout, String onFailure) {
        return config(timeout, onFailure, "budget: { key: api_key, tokens: 1000/h, store: redis }", "budget");
    }

    private String config(String timeout, String onFailure, String rule, String name) {
        return """
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                redis:
                  url: "%s"
                  timeout: %s
                  on_failure: %s
                rate_limits:
                  %s
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: llm
                    auth: required
                    rate_limits: [%s]
                """.formatted(ALICE, redis.url(), timeout, onFailure, rule, backend.url(), name);
    }

    private RawResponse post(String target, String body) {
        try (RawHttpClient client = proxy.connect()) {
            return client.post(target, body, "Authorization: Bearer " + ALICE, "Content-Type: application/json").readResponse();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private long pttl(String key) {
        try {
            return redis.pttl(key);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A reload that changes the {@code redis} section (here only its timeout) builds a new Redis client and retires the
     * old one. A request admitted on the old one and still in flight must still be settled against the usage its
     * backend reported: 500 tokens, not the few of the admission estimate.
     */
    @Test
    void aReloadOfTheRedisSectionStillSettlesTheRequestsInFlight() throws Exception {
        HeldResponder held = new HeldResponder(new ChatCompletionsResponder(5, 495, 1));
        backend = TestBackend.builder().respond(held).start();
        proxy = RunningProxy.start(config("200ms", "closed"), new Streamgate.Options(new SimpleMeterRegistry(), clock));
        CompletableFuture<RawResponse> inFlight = CompletableFuture.supplyAsync(() -> post(CHAT, BODY));
        held.awaitArrived(1, 10_000);
        long estimated = pttl("streamgate:budget:alice");
        assertTrue(estimated > 0 && estimated < 100 * TOKEN_MILLIS, "charged the estimate at admission: " + estimated);

        proxy.gateway().reload(ConfigLoader.parse(config("300ms", "closed"), "reloaded.yaml"));
        held.releaseAll();
        RawResponse response = inFlight.get(10, TimeUnit.SECONDS);
        assertEquals(200, response.status(), response::toString);
        Poll.until(() -> proxy.gateway().activeRequests() == 0, 5_000, () -> "exchanges still in flight");
        Poll.until(() -> pttl("streamgate:budget:alice") > 490 * TOKEN_MILLIS, 5_000,
                () -> "the usage reported (500 tokens) was not settled in Redis: PTTL " + pttl("streamgate:budget:alice"));

        assertEquals(200, post(CHAT, BODY).status(), "the new client answers");
    }

    /** Sends one command to Redis and returns the first line of its reply. */
    private String command(String... args) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", redis.port())) {
            socket.setSoTimeout(5_000);
            StringBuilder request = new StringBuilder("*" + args.length + "\r\n");
            for (String a : args) {
                request.append('$').append(a.length()).append("\r\n").append(a).append("\r\n");
            }
            OutputStream out = socket.getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder line = new StringBuilder();
            for (int c = in.read(); c != '\r' && c >= 0; c = in.read()) {
                line.append((char) c);
            }
            return line.toString();
        }
    }

    private long redisPid() throws IOException {
        Process p = new ProcessBuilder("redis-cli", "-p", Integer.toString(redis.port()), "info", "server").start();
        String info = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("process_id:")) {
                return Long.parseLong(line.substring("process_id:".length()).trim());
            }
        }
        throw new IOException("no process_id in " + info);
    }

    private static void signal(long pid, String signal) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor());
    }

    private RawResponse get(String target) {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, "Authorization: Bearer " + ALICE).readResponse();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aFlushedScriptCacheAndARestartedRedisAreUsedAgain() throws Exception {
        backend = TestBackend.builder().respond(io.streamgate.testing.Responders.requestLine()).start();
        proxy = RunningProxy.start(config("200ms", "closed", "fleet: { key: api_key, requests: 100/h, store: redis }", "fleet"),
                new Streamgate.Options(new SimpleMeterRegistry(), clock));
        // The first request waits for the first connection, within the connect timeout: on a loaded machine, retry.
        Poll.until(() -> get("/v1/a").status() == 200, 10_000, () -> "Redis answers");
        clock.advance(Duration.ofSeconds(1));
        RawResponse first = get("/v1/a");
        assertEquals(200, first.status(), first::toString);
        long remaining = Long.parseLong(first.header("ratelimit-remaining"));
        assertEquals("+OK", command("SCRIPT", "FLUSH"));
        RawResponse afterFlush = get("/v1/b");
        assertEquals(200, afterFlush.status(), afterFlush::toString);
        assertEquals(Long.toString(remaining - 1), afterFlush.header("ratelimit-remaining"), "counted in Redis");
        assertEquals(Long.toString(remaining - 2), get("/v1/c").header("ratelimit-remaining"));

        redis.stop();
        assertEquals(503, get("/v1/d").status());
        redis.restart();
        clock.advance(Duration.ofSeconds(1));
        RawResponse afterRestart = get("/v1/e");
        assertEquals(200, afterRestart.status(), afterRestart::toString);
        assertEquals("99", afterRestart.header("ratelimit-remaining"), "the restarted (empty) Redis answered");
    }

    @Test
    void aStalledRedisIsGivenUpOnAfterTheTimeout() throws Exception {
        backend = TestBackend.builder().respond(io.streamgate.testing.Responders.requestLine()).start();
        proxy = RunningProxy.start(config("200ms", "closed", "fleet: { key: api_key, requests: 100/h, store: redis }", "fleet"),
                new Streamgate.Options(new SimpleMeterRegistry(), clock));
        assertEquals(200, get("/v1/a").status());
        long pid = redisPid();
        signal(pid, "STOP");
        try {
            long start = System.nanoTime();
            assertEquals(503, get("/v1/b").status());
            long first = System.nanoTime() - start;
            assertTrue(first < TimeUnit.MILLISECONDS.toNanos(1_000), "refused after about the timeout: " + first / 1_000_000 + " ms");
            start = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                assertEquals(503, get("/v1/c" + i).status());
            }
            long rest = System.nanoTime() - start;
            assertTrue(rest < TimeUnit.MILLISECONDS.toNanos(2_000), "then refused at once: " + rest / 1_000_000 + " ms");
        } finally {
            signal(pid, "CONT");
        }
        clock.advance(Duration.ofSeconds(1));
        Poll.until(() -> get("/v1/d").status() == 200, 5_000, () -> "Redis is used again");
    }

    /**
     * Fail-open: a request admitted by the local buckets while Redis failed is settled there, even when Redis answers
     * again by the time it ends. Its estimate (about 155 tokens) was never taken from Redis, so the refund of what it
     * did not use must not come off the key's debt in Redis (800 tokens, 48 minutes of refill).
     */
    @Test
    void aChargeTakenLocallyWhileRedisFailedIsNotRefundedInRedis() throws Exception {
        ChatCompletionsResponder big = new ChatCompletionsResponder(5, 795, 1);
        ChatCompletionsResponder small = new ChatCompletionsResponder(5, 5, 1);
        HeldResponder held = new HeldResponder(exchange -> (exchange.uri().contains("spend") ? big : small).respond(exchange));
        backend = TestBackend.builder().respond(held).start();
        proxy = RunningProxy.start(config("200ms", "open"), new Streamgate.Options(new SimpleMeterRegistry(), clock));
        String key = "streamgate:budget:alice";
        held.release(CHAT + "?spend");
        assertEquals(200, post(CHAT + "?spend", withMaxTokens(100)).status());
        Poll.until(() -> pttl(key) > 790 * TOKEN_MILLIS, 5_000, () -> "800 tokens settled in Redis: PTTL " + pttl(key));

        assertEquals("+OK", command("CONFIG", "SET", "maxmemory", "1")); // the script now fails (OOM), Redis keeps its data
        CompletableFuture<RawResponse> inFlight = CompletableFuture.supplyAsync(() -> post(CHAT + "?held", withMaxTokens(150)));
        held.awaitArrived(2, 10_000); // admitted by the local bucket
        assertEquals("+OK", command("CONFIG", "SET", "maxmemory", "0"));
        clock.advance(Duration.ofSeconds(1)); // the back-off is over: the next acquire asks Redis again
        held.release(CHAT + "?probe");
        assertEquals(200, post(CHAT + "?probe", withMaxTokens(0)).status());
        Poll.until(() -> proxy.gateway().activeRequests() == 1, 5_000, () -> "the probe is still in flight");

        long debt = pttl(key);
        held.release(CHAT + "?held");
        assertEquals(200, inFlight.get(10, TimeUnit.SECONDS).status());
        Poll.until(() -> proxy.gateway().activeRequests() == 0, 5_000, () -> "exchanges still in flight");
        Thread.sleep(300); // a refund to Redis would be on its way
        long after = pttl(key);
        assertTrue(after > debt - 30_000, "Redis was refunded a charge it never took: PTTL " + debt + " -> " + after);
    }

    private static String withMaxTokens(int maxTokens) {
        return BODY.replace("}]}", "}],\"max_tokens\":" + maxTokens + "}");
    }
}
