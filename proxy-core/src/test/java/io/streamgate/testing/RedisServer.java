package io.streamgate.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real redis-server process on 127.0.0.1 and a free port, without persistence, for tests of the shared rate-limit
 * store. {@link #stop()} kills it (the gateway then sees a store that went away) and is idempotent; {@link #restart()}
 * brings it back on the same port. Thread-safe.
 */
public final class RedisServer implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/redis-server");
    private static final long START_TIMEOUT_MILLIS = 10_000;

    private final int port;
    private volatile Process process;

    private RedisServer(int port) {
        this.port = port;
    }

    public static boolean isInstalled() {
        return Files.isExecutable(BINARY);
    }

    /** Skips the calling test when redis-server is missing, except on CI (env CI=true), where that fails it. */
    public static void assumeInstalled() {
        if (!isInstalled()) {
            if ("true".equals(System.getenv("CI"))) {
                Assertions.fail(BINARY + " is required on CI (apt-get install redis-server)");
            }
            Assumptions.abort(BINARY + " is not installed");
        }
    }

    /** Starts the server and returns once it answers PING. */
    public static RedisServer start() throws IOException, InterruptedException {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        RedisServer server = new RedisServer(port);
        server.restart();
        return server;
    }

    /** Starts the server (again, on the same port, empty) and returns once it answers PING. */
    public void restart() throws IOException, InterruptedException {
        Process started = new ProcessBuilder(BINARY.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        process = started;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MILLIS);
        while (!answersPing()) {
            if (!started.isAlive() || System.nanoTime() > deadline) {
                stop();
                throw new IOException("redis-server did not start on port " + port);
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    public int port() {
        return port;
    }

    public String url() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    /** Whether the server answers PING right now. */
    public boolean answersPing() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
            socket.setSoTimeout(500);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            byte[] reply = in.readNBytes(7);
            return new String(reply, StandardCharsets.US_ASCII).equals("+PONG\r\n");
        } catch (IOException e) {
            return false;
        }
    }

    /** PTTL of {@code key}: milliseconds to live, -1 without expiry, -2 when the key does not exist. */
    public long pttl(String key) throws IOException {
        byte[] name = key.getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write(("*2\r\n$4\r\nPTTL\r\n$" + name.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(name);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            StringBuilder line = new StringBuilder();
            InputStream in = socket.getInputStream();
            for (int c = in.read(); c != '\r'; c = in.read()) {
                if (c < 0) {
                    throw new IOException("connection closed before the reply ended");
                }
                line.append((char) c);
            }
            if (line.length() == 0 || line.charAt(0) != ':') {
                throw new IOException("unexpected reply " + line);
            }
            return Long.parseLong(line.substring(1));
        }
    }

    /** Kills the server and waits for it to exit; does nothing when it is not running. */
    public void stop() throws InterruptedException {
        Process p = process;
        if (p == null) {
            return;
        }
        process = null;
        p.destroyForcibly();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("redis-server on port " + port + " did not exit");
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
