package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The packaged jar's command line, as scripts and operators use it: exit codes and what goes to which stream. */
@Timeout(120)
class CommandLineIT {
    @TempDir
    Path dir;

    @Test
    void checkAcceptsTheExampleConfig() throws Exception {
        Path example = repositoryRoot().resolve("config").resolve("streamgate.yaml");
        JarProcess.Result result = JarProcess.run(dir, "--check", "--config", example.toString());

        assertEquals(0, result.exitCode(), result.stderr());
        assertEquals("configuration file " + example + " is valid\n", result.stdout());
        assertEquals("", result.stderr());
    }

    @Test
    void checkRejectsABadConfigNamingLineColumnAndKey() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:8080\"",
                "upstreams:",
                "  vllm:",
                "    endpoints: [\"http://127.0.0.1:8000\"]",
                "routes:",
                "  - path_prefix: /",
                "    upstream: vlm",
                ""));
        JarProcess.Result result = JarProcess.run(dir, "--check", "--config", bad.toString());

        assertEquals(1, result.exitCode(), result.stdout() + result.stderr());
        assertEquals("", result.stdout());
        assertTrue(result.stderr().startsWith(bad + ":8:15: routes[0].upstream: unknown upstream 'vlm'"), result.stderr());
    }

    @Test
    void checkReportsAMissingFile() throws Exception {
        Path missing = dir.resolve("missing.yaml");
        JarProcess.Result result = JarProcess.run(dir, "--check", "--config", missing.toString());

        assertEquals(1, result.exitCode(), result.stderr());
        assertTrue(result.stderr().startsWith(missing.toString()), result.stderr());
    }

    @Test
    void runRefusesAnInvalidConfigWithoutStarting() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad-duration.yaml"), String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:0\"",
                "  drain_timeout: 30 seconds",
                "upstreams:",
                "  vllm:",
                "    endpoints: [\"http://127.0.0.1:8000\"]",
                "routes:",
                "  - path_prefix: /",
                "    upstream: vllm",
                ""));
        JarProcess.Result result = JarProcess.run(dir, "--config", bad.toString());

        assertEquals(1, result.exitCode(), result.stdout() + result.stderr());
        assertTrue(result.stderr().startsWith(bad + ":3:18: server.drain_timeout: "), result.stderr());
    }

    @Test
    void runFailsClearlyWhenThePortIsTaken() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path config = GatewayConfigs.write(dir, taken.getLocalPort(), 9);
            JarProcess.Result result = JarProcess.run(dir, "--config", config.toString());

            assertEquals(1, result.exitCode(), result.stdout() + result.stderr());
            assertTrue(result.stderr().startsWith("streamgate: cannot start: "), result.stderr());
        }
    }

    /** What --check accepts, the gateway runs: a file of 3.5 MiB (the loader allows 4 MiB), mostly comments. */
    @Test
    void aLargeFileThatCheckAcceptsAlsoStarts() throws Exception {
        int port = FreePort.find();
        int adminPort = FreePort.find();
        Path large = Files.writeString(dir.resolve("large.yaml"), ReloadIT.largeComment() + String.join("\n",
                "server:",
                "  listen: \"127.0.0.1:" + port + "\"",
                "admin:",
                "  listen: \"127.0.0.1:" + adminPort + "\"",
                "upstreams:",
                "  vllm:",
                "    endpoints: [\"http://127.0.0.1:9\"]",
                "routes:",
                "  - path_prefix: /",
                "    upstream: vllm",
                ""));
        JarProcess.Result check = JarProcess.run(dir, "--check", "--config", large.toString());
        assertEquals(0, check.exitCode(), check.stderr());

        try (JarProcess gateway = JarProcess.start(dir.resolve("large.log"), "--config", large.toString())) {
            gateway.awaitReady(URI.create("http://127.0.0.1:" + adminPort + "/healthz"), Duration.ofSeconds(60));
            gateway.terminateAndAssertCleanExit(Duration.ofSeconds(25));
        }
    }

    @Test
    void helpPrintsUsage() throws Exception {
        JarProcess.Result result = JarProcess.run(dir, "--help");

        assertEquals(0, result.exitCode(), result.stderr());
        assertEquals(CommandLine.USAGE, result.stdout());
        assertEquals("", result.stderr());
    }

    @Test
    void versionPrintsTheBuildVersion() throws Exception {
        JarProcess.Result result = JarProcess.run(dir, "--version");

        assertEquals(0, result.exitCode(), result.stderr());
        assertTrue(result.stdout().matches("streamgate \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n"), result.stdout());
    }

    @Test
    void unknownOptionPrintsUsageToStderrAndExits2() throws Exception {
        JarProcess.Result result = JarProcess.run(dir, "--confg", "x.yaml");

        assertEquals(2, result.exitCode());
        assertEquals("", result.stdout());
        assertEquals("streamgate: unknown option --confg\n" + CommandLine.USAGE, result.stderr());
    }

    private static Path repositoryRoot() {
        // failsafe passes the reactor root; running from the module directory, it is the parent.
        String root = System.getProperty("streamgate.root");
        return root != null ? Path.of(root) : Path.of("..").toAbsolutePath().normalize();
    }
}
