package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.read.ListAppender;
import io.streamgate.config.AccessLogConfig;
import io.streamgate.config.AccessLogConfig.Format;
import io.streamgate.testing.Poll;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each test configures a Logback context of its own, so the JVM's logging is left alone. */
class AccessLogOutputTest {
    private static final Pattern ROLLED = Pattern.compile("access\\.log\\.\\d{4}-\\d{2}-\\d{2}\\.(\\d+)");

    @TempDir
    Path dir;

    private final LoggerContext context = new LoggerContext();
    private final Logger access = context.getLogger(AccessLogOutput.LOGGER);

    AccessLogOutputTest() {
        context.setMDCAdapter(new LogbackMDCAdapter()); // what SLF4J's initialisation gives the real context
    }

    @AfterEach
    void stopContext() {
        context.stop();
    }

    @Test
    void linesGoToTheFileAndNowhereElse() throws Exception {
        ListAppender<ILoggingEvent> root = listAppender();
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(root);
        Path file = dir.resolve("logs/access.log"); // the directory is created

        AccessLogOutput.configure(context, config(file, 1 << 20, 10));
        access.info("first line");
        access.info("second \"line\"");
        context.getLogger("io.streamgate.other").info("application message");

        awaitLines(file, List.of("first line", "second \"line\""));
        assertEquals(List.of("application message"), root.list.stream().map(ILoggingEvent::getFormattedMessage).toList(),
                "access lines must not reach the root logger's appenders");
    }

    @Test
    void theFileRollsBySizeAndKeepsMaxFilesOfRolledFiles() throws Exception {
        Path file = dir.resolve("access.log");
        int maxSize = 64 * 1024;
        int maxFiles = 3;
        AccessLogOutput.configure(context, config(file, maxSize, maxFiles));
        int count = 4000;
        for (int i = 1; i <= count; i++) {
            access.info(String.format("line %04d %s", i, "x".repeat(90)));
        }
        context.stop(); // flushes the queue and waits for the removal of old files

        // Logback deletes surplus rolled files on a background task after each roll-over; give the last one a moment.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (rolledFiles().size() > maxFiles && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        List<Path> rolled = rolledFiles();
        // Logback's cleanup runs on a background task per roll-over; when two overlap under load it can take one
        // file more than needed. Never more than max_files, though, and never a gap in what is kept.
        assertTrue(rolled.size() == maxFiles || rolled.size() == maxFiles - 1, () -> "rolled files: " + rolled);
        List<String> kept = new ArrayList<>();
        for (Path p : rolled) {
            long size = Files.size(p);
            // The file is checked for size before each batch of lines is written: at most one batch more.
            assertTrue(size >= maxSize && size < maxSize + BatchedLineAppender.BATCH_BYTES + 200,
                    () -> p + " has " + size + " bytes");
            kept.addAll(Files.readAllLines(p));
        }
        kept.addAll(Files.readAllLines(file));
        // What is kept is the newest lines, in order, with none missing.
        int first = count - kept.size() + 1;
        for (int i = 0; i < kept.size(); i++) {
            assertTrue(kept.get(i).startsWith(String.format("line %04d ", first + i)), kept.get(i));
        }
        assertTrue(kept.size() > (maxFiles - 1) * (maxSize / 100), () -> "kept only " + kept.size() + " lines");
    }

    @Test
    void configuringAgainSwitchesToTheNewFile() throws Exception {
        Path a = dir.resolve("a.log");
        Path b = dir.resolve("b.log");
        AccessLogOutput.configure(context, config(a, 1 << 20, 10));
        access.info("to a");

        AccessLogOutput.configure(context, config(b, 1 << 20, 10));
        assertEquals(List.of("to a"), Files.readAllLines(a), "the old output is flushed when it is replaced");
        access.info("to b");

        awaitLines(b, List.of("to b"));
        assertEquals(List.of("to a"), Files.readAllLines(a));
        assertEquals(1, appenders().size());
    }

    @Test
    void theSameOutputAgainIsLeftAlone() throws Exception {
        Path file = dir.resolve("access.log");
        AccessLogOutput.configure(context, new AccessLogConfig(Format.COMBINED, file.toString(), 1 << 20, 10));
        Appender<ILoggingEvent> installed = appenders().get(0);

        // The format is AccessLog's business; the same file, written differently, is the same output.
        AccessLogOutput.configure(context, new AccessLogConfig(Format.JSON, dir.resolve("./access.log").toString(), 1 << 20, 10));
        assertEquals(List.of(installed), appenders());
        assertTrue(installed.isStarted());
    }

    @Test
    void theSameFileWithOtherLimitsIsReopened() throws Exception {
        Path file = dir.resolve("access.log");
        AccessLogOutput.configure(context, config(file, 1 << 20, 10));
        Appender<ILoggingEvent> before = appenders().get(0);
        access.info("before");

        AccessLogOutput.configure(context, config(file, 2 << 20, 5));
        assertFalse(before.isStarted());
        access.info("after");

        awaitLines(file, List.of("before", "after"));
        assertEquals(1, appenders().size());
    }

    @Test
    void stdoutGoesThroughBatchesAndReplacesWhatWasThere() {
        ListAppender<ILoggingEvent> fromLogbackXml = listAppender();
        access.addAppender(fromLogbackXml);

        AccessLogOutput.configure(context, AccessLogConfig.DEFAULT);

        assertFalse(fromLogbackXml.isStarted());
        List<Appender<ILoggingEvent>> appenders = appenders();
        assertEquals(1, appenders.size(), appenders::toString);
        BatchedLineAppender batched = assertInstanceOf(BatchedLineAppender.class, appenders.get(0));
        assertTrue(batched.isStarted());
        ConsoleAppender<ILoggingEvent> console = assertInstanceOf(ConsoleAppender.class, batched.output());
        assertEquals("System.out", console.getTarget());
        assertFalse(access.isAdditive());
        assertEquals(Level.INFO, access.getLevel());
    }

    @Test
    void aFileThatCannotBeOpenedFailsAndKeepsThePreviousOutput() throws Exception {
        Path good = dir.resolve("good.log");
        AccessLogOutput.configure(context, config(good, 1 << 20, 10));
        Appender<ILoggingEvent> installed = appenders().get(0);
        Path blocker = Files.writeString(dir.resolve("not-a-directory"), "");
        Path bad = blocker.resolve("access.log");

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> AccessLogOutput.configure(context, config(bad, 1 << 20, 10)));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());

        assertSame(installed, appenders().get(0));
        access.info("still here");
        awaitLines(good, List.of("still here"));
    }

    @Test
    void aPercentSignInThePathIsRefused() {
        Path odd = dir.resolve("access-%d.log");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> AccessLogOutput.configure(context, config(odd, 1 << 20, 10)));
        assertTrue(e.getMessage().contains("'%'"), e.getMessage());
        assertTrue(appenders().isEmpty());
    }

    private static AccessLogConfig config(Path file, long maxSize, int maxFiles) {
        return new AccessLogConfig(Format.COMBINED, file.toString(), maxSize, maxFiles);
    }

    private ListAppender<ILoggingEvent> listAppender() {
        ListAppender<ILoggingEvent> list = new ListAppender<>();
        list.setContext(context);
        list.start();
        return list;
    }

    private List<Appender<ILoggingEvent>> appenders() {
        List<Appender<ILoggingEvent>> appenders = new ArrayList<>();
        access.iteratorForAppenders().forEachRemaining(appenders::add);
        return appenders;
    }

    /** Rolled files, oldest first: within a day by index (the date cannot change within a test that matters). */
    private List<Path> rolledFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> ROLLED.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString().substring(0, "access.log.yyyy-MM-dd".length()))
                            .thenComparingInt(AccessLogOutputTest::rollIndex))
                    .toList();
        }
    }

    private static int rollIndex(Path p) {
        Matcher m = ROLLED.matcher(p.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException(p.toString());
        }
        return Integer.parseInt(m.group(1));
    }

    /** The file is written on the batching appender's thread, within a second. */
    private static void awaitLines(Path file, List<String> expected) throws InterruptedException {
        Poll.until(() -> expected.equals(readLines(file)), 5_000, () -> file + " holds " + readLines(file));
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
