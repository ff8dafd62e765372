package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands that end by themselves, run in-process; CommandLineIT runs the same through the packaged jar. */
class MainTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void checkPrintsThatAValidFileIsValid() throws Exception {
        Path config = GatewayConfigs.write(dir, 0, 8000);

        assertEquals(0, execute("--check", "--config", config.toString()));
        assertEquals("configuration file " + config + " is valid\n", out());
        assertEquals("", err());
    }

    @Test
    void checkPrintsTheProblemOfAnInvalidFile() throws Exception {
        Path config = Files.writeString(dir.resolve("typo.yaml"), "server:\n  listn: \"127.0.0.1:8080\"\n");

        assertEquals(1, execute("-t", "-c", config.toString()));
        assertEquals("", out());
        assertTrue(err().startsWith(config + ":2:"), err());
        assertTrue(err().contains(": server.listn: unknown key"), err());
    }

    @Test
    void badCommandLineExitsWith2AndUsage() {
        assertEquals(2, execute("--demo-backend", "nowhere"));
        assertEquals("", out());
        assertTrue(err().startsWith("streamgate: "), err());
        assertTrue(err().endsWith(CommandLine.USAGE), err());
    }

    @Test
    void versionComesFromTheFilteredResource() {
        assertEquals(0, execute("--version"));
        assertTrue(out().matches("streamgate \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n"), out());
    }

    @Test
    void addressesAndDurationsAreLoggedTheWayOperatorsWriteThem() {
        assertEquals("127.0.0.1:8080", GatewayLauncher.authority(new InetSocketAddress("127.0.0.1", 8080)));
        assertEquals("[0:0:0:0:0:0:0:1]:8080", GatewayLauncher.authority(new InetSocketAddress("::1", 8080)));
        assertEquals("30s", GatewayLauncher.format(Duration.ofSeconds(30)));
        assertEquals("1500ms", GatewayLauncher.format(Duration.ofMillis(1500)));
    }

    private int execute(String... args) {
        return Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }
}
