package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.TestCertificates;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every example configuration we ship (config/*.yaml and the Docker image's) loads, with the environment variables
 * their headers tell operators to set, so an example can never rot into something --check rejects.
 */
class ExampleConfigsTest {
    private static TestCertificates certificates;

    @BeforeAll
    static void makeCertificates() throws Exception {
        certificates = TestCertificates.create();
    }

    @AfterAll
    static void removeCertificates() {
        certificates.close();
    }

    /** Stand-ins for the secrets, addresses and files the examples take from the environment. */
    private static Map<String, String> env() throws Exception {
        TestCertificates.ServerCert cert = certificates.rsa("localhost");
        return Map.ofEntries(
                Map.entry("ADMIN_TOKEN", "admin-token-0123456789abcdef"),
                Map.entry("TEAM_A_KEY", "sk-team-a-0123456789"),
                Map.entry("TEAM_B_KEY", "sk-team-b-9876543210"),
                Map.entry("VLLM_API_KEY", "vllm-key-0123456789"),
                Map.entry("REDIS_PASSWORD", "redis-password"),
                Map.entry("TLS_CERT_FILE", cert.certFile().toString()),
                Map.entry("TLS_KEY_FILE", cert.keyFile().toString()));
    }

    private static Path root() {
        return Path.of("..").toAbsolutePath().normalize();
    }

    static Stream<Path> examples() throws IOException {
        Path root = root();
        List<Path> files;
        try (Stream<Path> s = Files.list(root.resolve("config"))) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no example configs found under " + root.resolve("config"));
        return Stream.concat(files.stream(), Stream.of(root.resolve("docker").resolve("streamgate.docker.yaml")));
    }

    @ParameterizedTest
    @MethodSource("examples")
    void loads(Path file) throws Exception {
        String yaml = Files.readString(file, StandardCharsets.UTF_8);
        Map<String, String> env = env();
        assertDoesNotThrow(() -> ConfigLoader.parse(yaml, file.toString(), env::get), file.toString());
    }

    /** The migration guide shows config/from-nginx.yaml from its first key on, so the guide cannot drift from the file loaded above. */
    @Test
    void nginxGuideQuotesItsExample() throws IOException {
        String example = Files.readString(root().resolve("config").resolve("from-nginx.yaml"), StandardCharsets.UTF_8);
        String quoted = example.substring(example.indexOf("\nserver:\n") + 1);
        String guide = Files.readString(root().resolve("docs").resolve("from-nginx.md"), StandardCharsets.UTF_8);
        assertTrue(guide.contains("```yaml\n" + quoted + "```\n"),
                "docs/from-nginx.md must quote config/from-nginx.yaml from 'server:' to its end, unchanged");
    }
}
