package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The README's first run: the gateway with its built-in demo backend, needing nothing but a JDK. */
@Timeout(120)
class DemoModeIT {
    @TempDir
    Path dir;

    @Test
    void demoBackendStreamsTokensThroughTheGateway() throws Exception {
        int gatewayPort = FreePort.find();
        int demoPort = FreePort.find();
        Path config = GatewayConfigs.write(dir, gatewayPort, demoPort);
        try (JarProcess gateway = JarProcess.start(Path.of("target", "it-logs", "gateway-demo-mode.log"),
                "--config", config.toString(), "--demo-backend", "127.0.0.1:" + demoPort)) {
            URI base = URI.create("http://127.0.0.1:" + gatewayPort);
            gateway.awaitReady(base.resolve("/health"), Duration.ofSeconds(60));

            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> response = DemoChat.streamed(client, base);

            assertEquals(200, response.statusCode(), response.body());
            assertTrue(response.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
            List<String> events = response.body().lines().filter(line -> !line.isEmpty()).toList();
            assertTrue(events.size() > 10, response.body());
            assertTrue(events.get(0).contains("\"object\":\"chat.completion.chunk\""), events.get(0));
            assertEquals("data: [DONE]", events.get(events.size() - 1));

            gateway.terminateAndAssertCleanExit(Duration.ofSeconds(25));
            String log = gateway.log();
            assertTrue(log.contains("Demo backend (fake OpenAI API, not a model) listening on http://127.0.0.1:" + demoPort), log);
            assertTrue(log.contains("listening on http://127.0.0.1:" + gatewayPort), log);
            // The access log line (batched on its way to stdout) made it out before exit.
            assertTrue(log.lines().anyMatch(line -> line.contains("POST") && line.contains("/v1/chat/completions")), log);
        }
    }
}
