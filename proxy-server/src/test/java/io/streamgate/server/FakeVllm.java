package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * src/test/python/fake_vllm.py served by uvicorn, the server vLLM itself runs on. It needs Debian's
 * python3-fastapi and python3-uvicorn for /usr/bin/python3 (the python3 on PATH may be another interpreter).
 * It serves one model ({@link #DEFAULT_MODEL} unless named): a request for another model gets vLLM's 404.
 */
final class FakeVllm implements AutoCloseable {
    static final String PYTHON = "/usr/bin/python3";
    /** The words fake_vllm.py answers with, and the pause it makes before each. */
    static final String REPLY = "The quick brown fox jumps over the lazy dog while the gateway relays every token";
    static final Duration WORD_DELAY = Duration.ofMillis(100);
    /** The model fake_vllm.py serves when none is named. */
    static final String DEFAULT_MODEL = "fake-model";

    private final Process process;
    private final Path log;
    private final int port;
    private final String model;

    private FakeVllm(Process process, Path log, int port, String model) {
        this.process = process;
        this.log = log;
        this.port = port;
        this.model = model;
    }

    /**
     * What is missing to run the end-to-end tests, or null if nothing is. In CI (env CI=true) a missing tool
     * fails the tests, since .ci/run installs them; on a developer machine they are skipped with this message.
     */
    static String missingTools() throws InterruptedException {
        List<String> missing = new ArrayList<>();
        if (!succeeds(PYTHON, "-c", "import fastapi, uvicorn")) {
            missing.add("python3-fastapi python3-uvicorn");
        }
        if (!succeeds("curl", "--version")) {
            missing.add("curl");
        }
        if (missing.isEmpty()) {
            return null;
        }
        String message = "the end-to-end test needs " + PYTHON + " with fastapi and uvicorn, and curl: "
                + "apt-get install " + String.join(" ", missing);
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail(message);
        }
        return message + " (skipped outside CI; with CI=true this fails)";
    }

    static FakeVllm start(Path log) throws IOException, InterruptedException {
        return start(log, DEFAULT_MODEL);
    }

    /** A stand-in serving {@code model}: its name in /v1/models, /metrics and every response. */
    static FakeVllm start(Path log, String model) throws IOException, InterruptedException {
        int port = FreePort.find();
        Files.createDirectories(log.toAbsolutePath().getParent());
        ProcessBuilder builder = new ProcessBuilder(PYTHON, "-m", "uvicorn", "fake_vllm:app",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--log-level", "warning")
                .directory(moduleDir().resolve(Path.of("src", "test", "python")).toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        builder.environment().put("FAKE_VLLM_DELAY", Double.toString(WORD_DELAY.toMillis() / 1000.0));
        builder.environment().put("FAKE_VLLM_MODEL", model);
        FakeVllm fake = new FakeVllm(builder.start(), log, port, model);
        try {
            fake.awaitHealthy(Duration.ofSeconds(30));
        } catch (AssertionError | InterruptedException e) {
            fake.close();
            throw e;
        }
        return fake;
    }

    /** Surefire and failsafe set basedir; elsewhere tests run from the module directory. */
    private static Path moduleDir() {
        return Path.of(System.getProperty("basedir", ""));
    }

    int port() {
        return port;
    }

    String model() {
        return model;
    }

    /** How a gateway config names this backend. */
    String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Bounded poll of /health: uvicorn gives no other sign that it is listening. */
    private void awaitHealthy(Duration timeout) throws InterruptedException {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(1)).build();
        URI health = URI.create("http://127.0.0.1:" + port + "/health");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("fake vLLM exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                if (client.send(HttpRequest.newBuilder(health).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        fail("fake vLLM did not become healthy within " + timeout + ":\n" + log());
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * SIGKILL, as a crashed or OOM-killed vLLM dies: no graceful shutdown, the port stops answering at once. Returns
     * once the process is gone; {@link #close()} afterwards does nothing more.
     */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            fail("fake vLLM did not die within 10 s of SIGKILL");
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static boolean succeeds(String... command) throws InterruptedException {
        try {
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return false;
            }
            return process.exitValue() == 0;
        } catch (IOException notInstalled) {
            return false;
        }
    }
}
