package io.streamgate.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Config files for a gateway started by a test: one route to one local backend. */
final class GatewayConfigs {
    static final String DRAIN_TIMEOUT = "10s";

    private GatewayConfigs() {
    }

    static Path write(Path dir, int listenPort, int backendPort) throws IOException {
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve("streamgate-" + listenPort + ".yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + listenPort + "\"",
                "  drain_timeout: " + DRAIN_TIMEOUT,
                "admin:",
                "  listen: \"127.0.0.1:0\"", // a free port: tests run side by side with whatever holds 9901
                "upstreams:",
                "  vllm:",
                "    endpoints: [\"http://127.0.0.1:" + backendPort + "\"]",
                "routes:",
                "  - path_prefix: /",
                "    upstream: vllm",
                ""));
    }
}
