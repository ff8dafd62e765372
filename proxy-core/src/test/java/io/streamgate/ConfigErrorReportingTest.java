package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Configuration mistakes are reported as "file:line:column: key.path: problem" so an operator can go straight
 * to the line; the valid configurations of the documentation load.
 */
@Timeout(10)
class ConfigErrorReportingTest {

    private static ConfigException rejected(String yaml) {
        return assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "test.yaml"),
                "this configuration must be rejected:\n" + yaml);
    }

    /** Checks source, line, key path, and the message layout; returns the exception for further checks. */
    private static ConfigException assertLocated(ConfigException e, int line, String keyPath) {
        String message = e.getMessage();
        assertEquals("test.yaml", e.source(), message);
        assertEquals(line, e.line(), () -> "line in: " + message);
        assertEquals(keyPath, e.keyPath(), () -> "key path in: " + message);
        assertTrue(e.column() > 0, () -> "column in: " + message);
        String prefix = "test.yaml:" + line + ":" + e.column() + ": " + keyPath + ": ";
        assertTrue(message.startsWith(prefix) && message.length() > prefix.length(),
                () -> "message should start with '" + prefix + "' and say what is wrong: " + message);
        return e;
    }

    @Test
    void unknownKey() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  io_thread: 2
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 3, "server.io_thread");
    }

    @Test
    void unknownKeyInsideARoute() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                    timeouts:
                      firstbyte: 10s
                """);
        assertLocated(e, 10, "routes[0].timeouts.firstbyte");
    }

    @Test
    void wrongTypeForAnInteger() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: many
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 3, "server.io_threads");
    }

    @Test
    void wrongTypeForABoolean() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                    strip_prefix: perhaps
                """);
        assertLocated(e, 9, "routes[0].strip_prefix");
    }

    @Test
    void unknownEncodedPathCharacter() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  allow_encoded_in_path: [slash, colon]
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 3, "server.allow_encoded_in_path[1]");
        assertTrue(e.getMessage().contains("'colon' is not one of slash, backslash, semicolon, percent, question_mark, hash"),
                e::getMessage);
    }

    @Test
    void badDurationUnit() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  drain_timeout: 30 fortnights
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 3, "server.drain_timeout");
    }

    @Test
    void badSizeUnit() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  limits:
                    max_body_size: 10MeB
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 4, "server.limits.max_body_size");
    }

    @Test
    void unknownUpstreamPointsAtTheValue() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vlm
                """);
        assertLocated(e, 8, "routes[0].upstream");
        assertEquals(15, e.column(), e.getMessage());
        assertTrue(e.getMessage().contains("vlm") && e.getMessage().contains("vllm"),
                "the message should name the unknown upstream and the known ones: " + e.getMessage());
    }

    @Test
    void missingRequiredKey() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    name: chat
                """);
        assertEquals("routes[0].upstream", e.keyPath(), e.getMessage());
        assertTrue(e.line() == 7 || e.line() == 8, "the line should be in the route missing the key: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("test.yaml:" + e.line() + ":" + e.column() + ": routes[0].upstream: "),
                e.getMessage());
    }

    @Test
    void missingListen() {
        ConfigException e = rejected("""
                server:
                  io_threads: 1
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertEquals("server.listen", e.keyPath(), e.getMessage());
        assertTrue(e.line() >= 1 && e.line() <= 2, e.getMessage());
    }

    @Test
    void unsetEnvironmentVariableWithoutDefault() {
        ConfigException e = rejected("""
                server:
                  listen: "${STREAMGATE_TEST_SURELY_UNSET_7F3A}"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 2, "server.listen");
        assertTrue(e.getMessage().contains("STREAMGATE_TEST_SURELY_UNSET_7F3A"), e.getMessage());
    }

    @Test
    void malformedEnvironmentReference() {
        ConfigException e = rejected("""
                server:
                  listen: "${STREAMGATE_TEST_UNCLOSED"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 2, "server.listen");
    }

    @Test
    void duplicateKey() {
        ConfigException e = rejected("""
                server:
                  listen: "127.0.0.1:0"
                  listen: "127.0.0.1:1"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """);
        assertLocated(e, 3, "server.listen");
    }

    @Test
    void minimalConfigurationLoads() {
        ProxyConfig config = assertDoesNotThrow(() -> ConfigLoader.parse("""
                server:
                  listen: "127.0.0.1:8080"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """, "test.yaml"));
        assertNotNull(config);
    }

    @Test
    void environmentDefaultIsUsedWhenTheVariableIsUnset() {
        assertDoesNotThrow(() -> ConfigLoader.parse("""
                server:
                  listen: "${STREAMGATE_TEST_SURELY_UNSET_7F3A:-127.0.0.1:8080}"
                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:${STREAMGATE_TEST_SURELY_UNSET_PORT:-8000}"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """, "test.yaml"));
    }

    /** The full example of docs/configuration.md, every documented key set. */
    @Test
    void documentedExampleLoads() {
        assertDoesNotThrow(() -> ConfigLoader.parse("""
                server:
                  listen: "127.0.0.1:8080"
                  io_threads: 0
                  transport: auto
                  client_idle_timeout: 5m
                  drain_timeout: 30s
                  limits:
                    max_request_line: 8KiB
                    max_header_size: 16KiB
                    max_headers: 100
                    max_body_size: 100MiB

                upstreams:
                  vllm:
                    endpoints: ["http://127.0.0.1:8000"]
                    replay_buffer: 64KiB
                    pool:
                      max_connections: 1024
                      max_pending: 1024
                      acquire_timeout: 30s
                      idle_timeout: 4s
                      max_requests_per_connection: 0

                routes:
                  - name: chat
                    host: "api.example.com"
                    path_prefix: /v1
                    methods: [GET, POST]
                    upstream: vllm
                    strip_prefix: false
                    rewrite_prefix: /api
                    host_header: preserve
                    max_body_size: 10MiB
                    sse_heartbeat: 0s
                    timeouts:
                      connect: 5s
                      first_byte: 10m
                      idle: 5m
                      total: 0s
                """, "test.yaml"));
    }
}
