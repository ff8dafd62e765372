package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The packaged gateway ({@code java -jar streamgate.jar ...}) running as a child process, as an operator runs it. */
final class JarProcess implements AutoCloseable {
    /** What a finished command printed. */
    record Result(int exitCode, String stdout, String stderr) {
    }

    private final Process process;
    private final Path log;

    private JarProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts the jar with stdout and stderr going to {@code log}, so the child never blocks on a full pipe. */
    static JarProcess start(Path log, String... args) throws IOException {
        return start(log, command(args));
    }

    /** As {@link #start}, on another Java: {@code java} is that JDK's or JRE's {@code bin/java}. */
    static JarProcess startOn(Path java, Path log, String... args) throws IOException {
        return start(log, command(java, args));
    }

    /** As {@link #start}, but under {@code nohup}: the gateway inherits SIGHUP ignored. */
    static JarProcess startIgnoringHangup(Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("nohup"));
        command.addAll(command(args));
        return start(log, command);
    }

    private static JarProcess start(Path log, List<String> command) throws IOException {
        Files.createDirectories(log.toAbsolutePath().getParent());
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        return new JarProcess(process, log);
    }

    /** Runs a command that is expected to end by itself (--check, --help ...) and returns what it printed. */
    static Result run(Path workDir, String... args) throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path out = Files.createTempFile(workDir, "stdout", ".txt");
        Path err = Files.createTempFile(workDir, "stderr", ".txt");
        Process process = new ProcessBuilder(command(args))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                fail("streamgate " + String.join(" ", args) + " did not finish within 60 s");
            }
            return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            process.destroyForcibly();
        }
    }

    private static List<String> command(String... args) {
        return command(Path.of(System.getProperty("java.home"), "bin", "java"), args);
    }

    private static List<String> command(Path java, String... args) {
        String jar = System.getProperty("streamgate.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            fail("system property streamgate.jar must name the packaged jar (failsafe sets it; run `mvn verify`): " + jar);
        }
        List<String> command = new ArrayList<>(List.of(
                java.toString(),
                "-Xmx256m",
                // Leaks in the packaged gateway show up as "LEAK:" lines in its log, which the tests look for.
                "-Dio.netty.leakDetection.level=paranoid",
                "-jar", jar));
        command.addAll(List.of(args));
        return command;
    }

    String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Polls {@code url} until it answers 200. Polling is the only handshake an external process offers;
     * every wait is bounded and a child that died ends the wait at once.
     */
    void awaitReady(URI url, Duration timeout) throws InterruptedException {
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(1))
                .build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("streamgate exited with " + process.exitValue() + " before it was ready:\n" + log());
            }
            try {
                HttpResponse<Void> response = client.send(
                        HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        fail("streamgate did not answer 200 on " + url + " within " + timeout + ":\n" + log());
    }

    /**
     * Sends SIGTERM and asserts a clean, graceful exit within {@code limit}: the shutdown hook ran to its end
     * and the child reported no buffer leak.
     */
    void terminateAndAssertCleanExit(Duration limit) throws InterruptedException {
        terminate();
        assertCleanExit(limit);
    }

    /** SIGTERM, as systemd, Kubernetes or Ctrl-C-less operators send it; returns at once. */
    void terminate() {
        process.destroy();
    }

    void assertCleanExit(Duration limit) throws InterruptedException {
        if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            fail("streamgate did not exit within " + limit + " of SIGTERM:\n" + log());
        }
        int code = process.exitValue();
        // 143 = 128 + SIGTERM is how the JVM reports a signal-initiated exit after its shutdown hooks complete.
        assertTrue(code == 143 || code == 0, "exit code " + code + ":\n" + log());
        String log = log();
        assertTrue(log.contains("Streamgate stopped after"), "the shutdown hook did not finish:\n" + log);
        assertFalse(log.contains("LEAK:"), "Netty reported a buffer leak:\n" + log);
    }

    /** Never leaves a child behind, whatever state the test ended in. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
