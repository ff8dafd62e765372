package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.OutputStreamAppender;
import io.streamgate.testing.Poll;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The batching in front of the access log's output, fed from several threads like event loops. */
class BatchedLineAppenderTest {
    private final LoggerContext context = new LoggerContext();
    private final Logger logger = context.getLogger(AccessLogOutput.LOGGER);
    private final Output out = new Output();

    BatchedLineAppenderTest() {
        context.setMDCAdapter(new LogbackMDCAdapter());
        logger.setAdditive(false);
    }

    @AfterEach
    void stop() {
        context.stop();
    }

    @Test
    void everyLineOfEveryThreadArrivesInItsThreadsOrder() throws Exception {
        BatchedLineAppender batched = install(output(out), BatchedLineAppender.BATCH_BYTES);
        int threads = 4;
        int perThread = 20_000;
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread writer = new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    logger.info("t" + id + " " + i + " " + "x".repeat(i % 50));
                }
            });
            writer.start();
            writers.add(writer);
        }
        for (Thread w : writers) {
            w.join();
        }
        batched.stop();

        Map<String, Integer> next = new HashMap<>();
        for (String line : out.lines()) {
            String[] parts = line.split(" ");
            int expected = next.getOrDefault(parts[0], 0);
            assertEquals(expected, Integer.parseInt(parts[1]), () -> "out of order or missing before: " + line);
            next.put(parts[0], expected + 1);
        }
        for (int t = 0; t < threads; t++) {
            assertEquals(perThread, next.get("t" + t), "lines of thread " + t);
        }
        assertEquals(0, batched.droppedLines());
        // The point of the batching: far fewer writes than lines.
        assertTrue(out.writes.get() < threads * perThread / 50, () -> out.writes.get() + " writes");
    }

    @Test
    void linesOutsideAsciiAreWrittenAsUtf8() {
        BatchedLineAppender batched = install(output(out), BatchedLineAppender.BATCH_BYTES);
        logger.info("plain");
        logger.info("caf\u00e9 \u2603");
        batched.stop();
        assertEquals(List.of("plain", "caf\u00e9 \u2603"), out.lines());
    }

    @Test
    void linesHandedOverInAReusedBufferAreCopiedAtOnce() {
        BatchedLineAppender batched = install(output(out), BatchedLineAppender.BATCH_BYTES);
        byte[] buffer = new byte[64]; // what AccessLog's formatter hands over, reused per line
        for (String line : List.of("first", "second, longer", "3rd", "caf\u00e9")) {
            byte[] utf8 = line.getBytes(StandardCharsets.UTF_8);
            System.arraycopy(utf8, 0, buffer, 0, utf8.length);
            batched.accept(buffer, utf8.length);
        }
        Arrays.fill(buffer, (byte) 'x'); // changed after the call
        batched.stop();
        assertEquals(List.of("first", "second, longer", "3rd", "caf\u00e9"), out.lines());
        batched.accept(buffer, 5); // after stop
        assertEquals(4, out.lines().size());
    }

    @Test
    void aLoneLineIsWrittenWithinTheFlushIntervalWithoutStopping() throws Exception {
        install(output(out), BatchedLineAppender.BATCH_BYTES);
        long start = System.nanoTime();
        logger.info("only line");

        Poll.until(() -> out.lines().equals(List.of("only line")), 5_000, () -> "output: " + out.lines());
        long tookMillis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(tookMillis < 3 * BatchedLineAppender.FLUSH_INTERVAL_MILLIS, () -> "took " + tookMillis + " ms");
    }

    @Test
    void anOutputThatCannotKeepUpCostsLinesNotAStalledCaller() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Output stuck = new Output() {
            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    release.await(); // a disk that does not answer
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                super.write(b, off, len);
            }
        };
        int batchBytes = 100;
        BatchedLineAppender batched = install(output(stuck), batchBytes);
        int lines = 5_000; // 20 characters each, 5 per batch: far more batches than the queue holds
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            for (int i = 0; i < lines; i++) {
                logger.info(String.format("line %05d %s", i, "y".repeat(8)));
            }
        }, "logging must not wait for the output");
        assertTrue(batched.droppedLines() > 0);

        release.countDown();
        batched.stop();
        List<String> written = stuck.lines();
        assertEquals(lines, written.size() + batched.droppedLines(), "every line is either written or counted");
        // What was written is in order, with gaps only where batches were dropped.
        int previous = -1;
        for (String line : written) {
            int n = Integer.parseInt(line.substring(5, 10));
            assertTrue(n > previous, line);
            previous = n;
        }
    }

    private BatchedLineAppender install(OutputStreamAppender<ILoggingEvent> output, int batchBytes) {
        BatchedLineAppender batched = new BatchedLineAppender(output, logger, batchBytes);
        batched.setContext(context);
        batched.setName("test");
        batched.start();
        logger.addAppender(batched);
        return batched;
    }

    private OutputStreamAppender<ILoggingEvent> output(OutputStream stream) {
        BatchedLineAppender.LineEncoder encoder = new BatchedLineAppender.LineEncoder();
        encoder.setContext(context);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> output = new OutputStreamAppender<>();
        output.setContext(context);
        output.setEncoder(encoder);
        output.setOutputStream(stream);
        output.start();
        return output;
    }

    /** Collects what is written and counts the writes. */
    private static class Output extends OutputStream {
        final AtomicInteger writes = new AtomicInteger();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            writes.incrementAndGet();
            synchronized (bytes) {
                bytes.write(b, off, len);
            }
        }

        List<String> lines() {
            String text;
            synchronized (bytes) {
                text = bytes.toString(StandardCharsets.UTF_8);
            }
            return text.isEmpty() ? List.of() : Arrays.asList(text.split("\n"));
        }
    }
}
