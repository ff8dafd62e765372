package io.streamgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Values a YAML file can hold but the gateway cannot use are refused at load, with file, line and key, instead of
 * failing later on every request or escaping the loader as an unlocated exception.
 */
class RangeChecksTest {
    @TempDir
    Path dir;

    private ConfigException rejected(String serverExtra, String endpoint) throws Exception {
        Path file = config(serverExtra, endpoint);
        return assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
    }

    /** A config file with one upstream whose endpoints fill the quotes of {@code endpoints: ["%s"]}. */
    private Path config(String serverExtra, String endpoint) throws Exception {
        return Files.writeString(dir.resolve("streamgate.yaml"), """
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  vllm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                """.formatted(serverExtra, endpoint));
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://127.0.0.1:99999", "http://127.0.0.1:0"})
    void anEndpointPortOutOfRangeIsRefusedAtItsLine(String url) throws Exception {
        ConfigException e = rejected("", url);
        assertEquals(6, e.line(), e.getMessage());
        assertEquals("upstreams.vllm.endpoints[0]", e.keyPath(), e.getMessage());
        assertTrue(e.getMessage().contains("out of range"), e.getMessage());
    }

    @Test
    void moreEndpointsThanARetryCanTellApartAreRefused() throws Exception {
        ConfigException e = rejected("", endpoints(UpstreamConfigReader.MAX_ENDPOINTS + 1));
        assertEquals(6, e.line(), e.getMessage());
        assertEquals("upstreams.vllm.endpoints", e.keyPath(), e.getMessage());
        assertTrue(e.getMessage().contains("at most 64 per upstream"), e.getMessage());
        Path file = config("", endpoints(UpstreamConfigReader.MAX_ENDPOINTS));
        assertEquals(64, ConfigLoader.load(file).upstreams().get("vllm").endpoints().size());
    }

    /** Endpoint URLs joined to fill the quotes of {@code endpoints: ["%s"]}. */
    private static String endpoints(int count) {
        return IntStream.range(0, count).mapToObj(i -> "http://10.0.0." + i + ":8000")
                .collect(Collectors.joining("\", \""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"drain_timeout: 9000000000000000h", "client_idle_timeout: 99999999999999s",
            "drain_timeout: 99999999999999999999999ms"})
    void aDurationTooLongForTheTimersIsRefusedAtItsLine(String line) throws Exception {
        ConfigException e = rejected("  " + line, "http://127.0.0.1:8000");
        assertEquals(3, e.line(), e.getMessage());
        assertEquals("server." + line.substring(0, line.indexOf(':')), e.keyPath(), e.getMessage());
        assertTrue(e.getMessage().contains("too long"), e.getMessage());
    }
}
