package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Upstream connection reuse, and the race with a backend that closes idle keep-alive connections. */
class KeepAliveTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void sequentialRequestsOnOneClientConnectionReuseUpstreamConnections() throws Exception {
        try (TestBackend backend = TestBackend.builder().respond(Responders.requestLine()).start();
             RunningProxy proxy = RunningProxy.forwardingTo(backend);
             RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 1000; i++) {
                RawResponse response = client.get("/ping/" + i).readResponse();
                assertEquals(200, response.status(), response::toString);
                assertEquals("GET /ping/" + i, response.bodyText());
            }
            assertTrue(backend.acceptedConnections() <= 4,
                    "1000 sequential requests opened " + backend.acceptedConnections() + " upstream connections");
        }
    }

    /**
     * The backend closes a connection that stayed idle for 1 s; requests come about 1 s apart, so the proxy keeps
     * meeting connections that are closed or being closed just as it reuses them. It must retry or reconnect: the
     * client never sees an error. Runs with a pool idle_timeout above the backend's (5s, the risky setting) and
     * with the default one, side by side to keep the test short.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void backendClosingIdleConnectionsCausesNoClientError() throws Exception {
        long[] gapsMillis = {1050, 1050, 1050, 1050, 1050, 1050, 960, 980, 990, 1000, 1000, 1010, 1020, 1040};
        ExecutorService runners = Executors.newFixedThreadPool(2);
        try (TestBackend backend = TestBackend.builder()
                     .respond(Responders.requestLine())
                     .closeIdleConnectionsAfter(Duration.ofSeconds(1)).start();
             RunningProxy longerPoolIdle = RunningProxy.start(yaml(backend, "pool: {idle_timeout: 5s}"));
             RunningProxy defaultPool = RunningProxy.start(yaml(backend, ""))) {
            CompletableFuture<List<String>> risky = CompletableFuture.supplyAsync(() -> spacedRequests(longerPoolIdle, gapsMillis), runners);
            CompletableFuture<List<String>> standard = CompletableFuture.supplyAsync(() -> spacedRequests(defaultPool, gapsMillis), runners);
            List<String> riskyErrors = risky.get(50, TimeUnit.SECONDS);
            List<String> standardErrors = standard.get(50, TimeUnit.SECONDS);
            assertTrue(riskyErrors.isEmpty(), () -> "pool idle_timeout 5s: " + riskyErrors);
            assertTrue(standardErrors.isEmpty(), () -> "default pool idle_timeout: " + standardErrors);
            assertTrue(backend.acceptedConnections() > 2, "the backend never closed an idle connection: the test proved nothing");
        } finally {
            runners.shutdownNow();
        }
    }

    private static String yaml(TestBackend backend, String upstreamSetting) {
        return """
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                    %s
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url(), upstreamSetting);
    }

    /** Alternates GET and POST (a POST must be replayed from the replay buffer); returns every problem seen. */
    private static List<String> spacedRequests(RunningProxy proxy, long[] gapsMillis) {
        List<String> errors = new ArrayList<>();
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i <= gapsMillis.length; i++) {
                if (i > 0) {
                    // The spacing is the condition under test, not a synchronisation.
                    Thread.sleep(gapsMillis[i - 1]);
                }
                boolean post = i % 2 == 1;
                RawResponse response = post
                        ? client.post("/idle/" + i, "{\"prompt\":\"hello " + i + "\"}", "Content-Type: application/json").readResponse()
                        : client.get("/idle/" + i).readResponse();
                String expected = (post ? "POST" : "GET") + " /idle/" + i;
                if (response.status() != 200 || !response.bodyText().equals(expected)) {
                    errors.add("request " + i + " after " + (i > 0 ? gapsMillis[i - 1] : 0) + " ms: " + response);
                }
            }
        } catch (Exception e) {
            errors.add("client connection failed: " + e);
        }
        return errors;
    }
}
