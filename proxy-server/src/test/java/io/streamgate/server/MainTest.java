package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
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

    /** A file that cannot be read is named with the reason in an operator's words, not a Java exception's name. */
    @Test
    void checkSaysWhyAFileCannotBeRead() throws Exception {
        Path missing = dir.resolve("missing.yaml");
        assertEquals(1, execute("--check", "--config", missing.toString()));
        assertEquals("", out());
        assertEquals(missing + ": cannot read file: no such file\n", err());

        err.reset();
        assertEquals(1, execute("--check", "--config", dir.toString()));
        assertEquals(dir + ": cannot read file: it is a directory\n", err());

        err.reset();
        Path underAFile = dir.resolve("missing.yaml.d");
        Files.writeString(underAFile, "");
        assertEquals(1, execute("--check", "--config", underAFile.resolve("streamgate.yaml").toString()));
        // The system's reason ("Not a directory" in English), once, without a Java exception's name.
        String prefix = underAFile.resolve("streamgate.yaml") + ": cannot read file: ";
        assertTrue(err().startsWith(prefix), err());
        assertFalse(err().substring(prefix.length()).contains(underAFile.toString()), err());
        assertFalse(err().contains("Exception"), err());
    }

    @Test
    void checkSaysWhenAFileCannotBeReadForLackOfPermission() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret.yaml"), "server: {}\n");
        Files.setPosixFilePermissions(secret, Set.of());
        assumeFalse(Files.isReadable(secret), "running as root: every file is readable");

        assertEquals(1, execute("--check", "--config", secret.toString()));
        assertEquals(secret + ": cannot read file: permission denied\n", err());
    }

    /** Latin-1 saved by an old editor: the message points at the line and column of the first byte that is not UTF-8. */
    @Test
    void checkLocatesTheFirstByteThatIsNotUtf8() throws Exception {
        Path latin1 = dir.resolve("latin1.yaml");
        Files.write(latin1, "server:\n  listen: \"127.0.0.1:8080\"\n# \u00e9t\u00e9: caf\u00e9\n"
                .getBytes(StandardCharsets.ISO_8859_1));

        assertEquals(1, execute("--check", "--config", latin1.toString()));
        assertEquals("", out());
        assertEquals(latin1 + ":3:3: not UTF-8 text (byte 0xE9); save the file as UTF-8\n", err());

        // Columns count characters: the two bytes of a valid "\u00e9" before the bad byte are one column.
        err.reset();
        Path mixed = dir.resolve("mixed.yaml");
        Files.write(mixed, new byte[] {'s', ':', '\r', '\n', 'a', ':', ' ', (byte) 0xC3, (byte) 0xA9, (byte) 0xFF, '\n'});
        assertEquals(1, execute("--check", "--config", mixed.toString()));
        assertEquals(mixed + ":2:5: not UTF-8 text (byte 0xFF); save the file as UTF-8\n", err());
    }

    @Test
    void checkAcceptsUtf8BeyondAscii() throws Exception {
        Path config = GatewayConfigs.write(dir, 0, 8000);
        Files.writeString(config, "# \u00e9t\u00e9 \u2014 \ud83d\ude80\n" + Files.readString(config));

        assertEquals(0, execute("--check", "--config", config.toString()), err());
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
