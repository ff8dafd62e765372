package io.streamgate.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * curl as an independent HTTP client. Its output is read line by line as it arrives, each line stamped with
 * the time it was read, so a test can tell a stream that trickles from one that was buffered and sent at once.
 */
final class Curl implements AutoCloseable {
    /** One line of curl's output and when the test read it. */
    record Line(long nanos, String text) {
    }

    /** Every curl run ends by itself within this many seconds, even if the gateway hangs. */
    private static final int MAX_TIME_SECONDS = 30;

    private final Process process;
    private final BufferedReader reader;

    private Curl(Process process) {
        this.process = process;
        this.reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Starts {@code curl -sS --max-time 30 <args>}; curl's errors are mixed into the output so assertions show them. */
    static Curl start(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--max-time", Integer.toString(MAX_TIME_SECONDS)));
        command.addAll(List.of(args));
        return new Curl(new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /** POSTs a JSON body; {@code -N} turns off curl's own output buffering. */
    static Curl postJson(String url, String json, String... extraArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of("-N", "-H", "Content-Type: application/json", "--data-binary", json));
        args.addAll(List.of(extraArgs));
        args.add(url);
        return start(args.toArray(String[]::new));
    }

    /** The next line, or null at the end of the output. Bounded by curl's --max-time. */
    Line nextLine() throws IOException {
        String text = reader.readLine();
        return text == null ? null : new Line(System.nanoTime(), text);
    }

    List<Line> remainingLines() throws IOException {
        List<Line> lines = new ArrayList<>();
        Line line;
        while ((line = nextLine()) != null) {
            lines.add(line);
        }
        return lines;
    }

    int exitCode() throws InterruptedException {
        if (!process.waitFor(MAX_TIME_SECONDS + 5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return -1;
        }
        return process.exitValue();
    }

    @Override
    public void close() throws IOException {
        process.destroyForcibly();
        reader.close();
    }
}
