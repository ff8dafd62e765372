package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.server.CommandLine.Action;
import io.streamgate.server.CommandLine.UsageException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CommandLineTest {

    @Test
    void runNeedsOnlyAConfigFile() throws Exception {
        CommandLine cl = CommandLine.parse("--config", "gw.yaml");
        assertEquals(Action.RUN, cl.action());
        assertEquals(Path.of("gw.yaml"), cl.configFile());
        assertNull(cl.demoBackend());
    }

    @Test
    void optionValuesMayBeAttachedWithEquals() throws Exception {
        CommandLine cl = CommandLine.parse("--config=gw.yaml", "--demo-backend=127.0.0.1:9001");
        assertEquals(Path.of("gw.yaml"), cl.configFile());
        assertEquals(new InetSocketAddress("127.0.0.1", 9001), cl.demoBackend());
    }

    @Test
    void shortOptionsWork() throws Exception {
        CommandLine cl = CommandLine.parse("-t", "-c", "gw.yaml");
        assertEquals(Action.CHECK, cl.action());
        assertEquals(Path.of("gw.yaml"), cl.configFile());
    }

    @Test
    void checkIsIndependentOfOrder() throws Exception {
        assertEquals(Action.CHECK, CommandLine.parse("--config", "a.yaml", "--check").action());
        assertEquals(Action.CHECK, CommandLine.parse("--check", "--config", "a.yaml").action());
    }

    @Test
    void demoBackendValueIsOptional() throws Exception {
        assertEquals(new InetSocketAddress("127.0.0.1", 8000),
                CommandLine.parse("--demo-backend", "--config", "a.yaml").demoBackend());
        assertEquals(new InetSocketAddress("127.0.0.1", 8000),
                CommandLine.parse("--config", "a.yaml", "--demo-backend").demoBackend());
        assertEquals(new InetSocketAddress("127.0.0.1", 8123),
                CommandLine.parse("--config", "a.yaml", "--demo-backend", "127.0.0.1:8123").demoBackend());
    }

    @Test
    void demoBackendAcceptsBracketedIpv6() throws Exception {
        InetSocketAddress address = CommandLine.hostAndPort("[::1]:8000");
        assertEquals(8000, address.getPort());
        assertTrue(address.getAddress().isLoopbackAddress());
    }

    @Test
    void helpAndVersionNeedNoConfig() throws Exception {
        assertEquals(Action.HELP, CommandLine.parse("--help").action());
        assertEquals(Action.HELP, CommandLine.parse("-h").action());
        assertEquals(Action.VERSION, CommandLine.parse("--version").action());
        assertEquals(Action.VERSION, CommandLine.parse("-v").action());
        assertEquals(Action.HELP, CommandLine.parse("--config", "a.yaml", "--help").action());
    }

    @Test
    void rejectsWhatItDoesNotKnow() {
        assertUsageError("unknown option --confg", "--confg", "a.yaml");
        assertUsageError("unknown option -x", "-x");
        assertUsageError("unexpected argument 'a.yaml'", "a.yaml");
        assertUsageError("unknown option --check-all", "--check-all");
    }

    @Test
    void rejectsIncompleteOrContradictoryCommands() {
        assertUsageError("missing --config FILE");
        assertUsageError("missing --config FILE", "--check");
        assertUsageError("--config needs a value", "--config");
        assertUsageError("--config needs a value", "--config", "--check");
        assertUsageError("--config needs a file name", "--config=");
        assertUsageError("--config given twice", "-c", "a.yaml", "--config", "b.yaml");
        assertUsageError("--check takes no value", "--check=yes", "--config", "a.yaml");
        assertUsageError("--demo-backend cannot be combined with --check", "--check", "--config", "a.yaml", "--demo-backend");
    }

    @Test
    void rejectsMalformedDemoAddresses() {
        assertUsageError("'8000' is not HOST:PORT", "--config", "a.yaml", "--demo-backend", "8000");
        assertUsageError("'127.0.0.1:' is not HOST:PORT", "--config", "a.yaml", "--demo-backend=127.0.0.1:");
        assertUsageError("'127.0.0.1:http': port is not a number", "--config", "a.yaml", "--demo-backend", "127.0.0.1:http");
        assertUsageError("'127.0.0.1:70000': port out of range (0..65535)", "--config", "a.yaml", "--demo-backend", "127.0.0.1:70000");
        assertUsageError("'::1:8000': write an IPv6 address in brackets, e.g. [::1]:8000", "--config", "a.yaml",
                "--demo-backend", "::1:8000");
    }

    @Test
    void usageNamesEveryOption() {
        for (String option : new String[] {"--config", "--check", "--demo-backend", "--help", "--version"}) {
            assertTrue(CommandLine.USAGE.contains(option), option);
        }
    }

    private static void assertUsageError(String expectedMessage, String... args) {
        UsageException e = assertThrows(UsageException.class, () -> CommandLine.parse(args));
        assertEquals(expectedMessage, e.getMessage());
    }
}
