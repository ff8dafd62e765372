package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.fail;

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
import org.junit.jupiter.api.Assumptions;

/**
 * A throw-away {@code redis-server} on a free local port, without persistence. Tests are skipped when the binary
 * is missing, except on CI (env CI=true), where that is a failure.
 */
final class RedisServerProcess implements AutoCloseable {
    private static final Path BINARY = Path.of("/usr/bin/redis-server");
    private static final long START_TIMEOUT_SECONDS = 10;

    private final int port;
    private Process process;

    private RedisServerProcess(int port) {
        this.port = port;
    }

    static RedisServerProcess start() throws IOException, InterruptedException {
        if (!Files.isExecutable(BINARY)) {
            if ("true".equals(System.getenv("CI"))) {
                fail(BINARY + " is required on CI");
            }
            Assumptions.abort(BINARY + " not installed");
        }
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        RedisServerProcess server = new RedisServerProcess(port);
        server.restart();
        return server;
    }

    int port() {
        return port;
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    /** Starts the server (again, on the same port) and waits until it answers PING. */
    void restart() throws IOException, InterruptedException {
        process = new ProcessBuilder(BINARY.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_TIMEOUT_SECONDS);
        while (!answersPing()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                stop();
                fail("redis-server did not start on port " + port);
            }
            Thread.sleep(20);
        }
    }

    private boolean answersPing() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
            socket.setSoTimeout(1_000);
            OutputStream out = socket.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] reply = in.readNBytes(7);
            return new String(reply, StandardCharsets.US_ASCII).equals("+PONG\r\n");
        } catch (IOException e) {
            return false;
        }
    }

    /** PTTL of {@code key}: milliseconds to live, -2 when the key does not exist. */
    long pttl(String key) throws IOException {
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
            if (line.charAt(0) != ':') {
                throw new IOException("unexpected reply " + line);
            }
            return Long.parseLong(line.substring(1));
        }
    }

    /** Kills the server and waits until it has exited. */
    void stop() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            process = null;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
