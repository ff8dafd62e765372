package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * On SIGTERM with {@code shutdown_delay}, readiness fails first while traffic is still served, so a load balancer
 * moves away before the listener closes; then the process drains and exits.
 */
@Timeout(60)
class ShutdownDelayIT {
    private static final Path LOGS = Path.of("target", "it-logs");

    @TempDir
    Path dir;

    @Test
    void readinessFailsBeforeTheListenerCloses() throws Exception {
        int port = FreePort.find();
        int admin = FreePort.find();
        int demo = FreePort.find();
        Path config = Files.writeString(dir.resolve("shutdown-delay.yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "  shutdown_delay: 3s",
                "  drain_timeout: 2s",
                "admin:",
                "  listen: \"127.0.0.1:" + admin + "\"",
                "upstreams:",
                "  demo:",
                "    endpoints: [\"http://127.0.0.1:" + demo + "\"]",
                "routes:",
                "  - path_prefix: /",
                "    upstream: demo",
                ""));
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (JarProcess gateway = JarProcess.start(LOGS.resolve("gateway-shutdown-delay.log"),
                "--config", config.toString(), "--demo-backend", "127.0.0.1:" + demo)) {
            gateway.awaitReady(URI.create("http://127.0.0.1:" + admin + "/readyz"), Duration.ofSeconds(60));
            long signalled = System.nanoTime();
            gateway.terminate();

            int readiness = 200;
            while (readiness == 200 && System.nanoTime() - signalled < Duration.ofSeconds(2).toNanos()) {
                readiness = status(client, "http://127.0.0.1:" + admin + "/readyz");
            }
            assertEquals(503, readiness, "readiness did not fail after SIGTERM");
            // Still inside the delay: the public listener keeps serving.
            assertEquals(200, status(client, "http://127.0.0.1:" + port + "/v1/models"));
            assertTrue(System.nanoTime() - signalled < Duration.ofSeconds(3).toNanos(),
                    "the checks took longer than the delay; the test proves nothing");

            gateway.assertCleanExit(Duration.ofSeconds(20));
            assertTrue(System.nanoTime() - signalled >= Duration.ofSeconds(3).toNanos(), "exited before the delay ended");
        }
    }

    private static int status(HttpClient client, String url) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }
}
