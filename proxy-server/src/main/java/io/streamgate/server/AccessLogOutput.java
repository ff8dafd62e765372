package io.streamgate.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.spi.ContextAware;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.util.FileSize;
import io.streamgate.config.AccessLogConfig;
import io.streamgate.observe.AccessLog;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Points the {@code streamgate.access} logger where the {@code access_log} config says: standard output or a file
 * rolled daily (UTC) and by size. Everything else keeps logback.xml's setup.
 *
 * <p>Either way the lines pass through a {@link BatchedLineAppender}: event loops only add a line to a batch of their
 * own, and the appender's thread writes full batches and, once a second, what has collected (nginx's
 * {@code buffer=}/{@code flush=}). A full queue of batches (the disk or the reader of stdout cannot keep up) drops
 * lines instead of stalling the event loops that relay traffic.
 *
 * <p>The config's output becomes the only output of that logger (appenders a logback file attached to it are
 * replaced). Calling again, e.g. on a reload, swaps the output: a different file or stdout is attached before the
 * old output is detached and stopped (stopping flushes its queue), so no line is lost and at worst one is written to
 * both. The same file with new limits is closed before it is opened again, as two writers must never roll one file;
 * lines logged in between are dropped. The same output as before is left alone.
 *
 * <p>Thread-safe: calls are serialised.
 */
final class AccessLogOutput {
    static final String LOGGER = "streamgate.access";
    /** Where the current output is remembered, in the logger context it belongs to. */
    private static final String INSTALLED = AccessLogOutput.class.getName() + ".installed";

    private AccessLogOutput() {
    }

    /**
     * Makes {@code config} the output of the access log.
     *
     * @throws IllegalStateException if the file cannot be opened, or if SLF4J is not bound to Logback. The previous
     *                               output then stays in place, except when it was the same file (closed first)
     */
    static void configure(AccessLogConfig config) {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (!(factory instanceof LoggerContext context)) {
            throw new IllegalStateException("the access log output needs Logback behind SLF4J, found "
                    + factory.getClass().getName());
        }
        install(context, config, true);
    }

    /**
     * {@link #configure(AccessLogConfig)} on a given context (tests use a context of their own); the gateway's
     * access lines keep going where they went.
     */
    static void configure(LoggerContext context, AccessLogConfig config) {
        install(context, config, false);
    }

    /** With {@code takeLines}, the gateway's access lines go straight to the new output's batches. */
    private static synchronized void install(LoggerContext context, AccessLogConfig config, boolean takeLines) {
        Destination destination = Destination.of(config);
        Logger logger = context.getLogger(LOGGER);
        Installed current = context.getObject(INSTALLED) instanceof Installed installed
                && logger.isAttached(installed.appender()) ? installed : null;
        if (current != null && current.destination().equals(destination)) {
            return;
        }
        List<Appender<ILoggingEvent>> previous = new ArrayList<>();
        logger.iteratorForAppenders().forEachRemaining(previous::add);
        boolean reopensSameFile = current != null && destination.file() != null
                && destination.file().equals(current.destination().file());
        if (reopensSameFile) {
            retire(logger, previous);
        }
        BatchedLineAppender batched = start(context, destination, logger);
        logger.addAppender(batched);
        logger.setAdditive(false);
        if (logger.getLevel() == null) {
            logger.setLevel(Level.INFO); // an explicit level from a logback file (e.g. OFF) wins
        }
        context.putObject(INSTALLED, new Installed(destination, batched));
        if (takeLines) {
            AccessLog.sendLinesTo(batched); // before the old output stops, which then drops what still reaches it
        }
        if (!reopensSameFile) {
            retire(logger, previous);
        }
    }

    private static void retire(Logger logger, List<Appender<ILoggingEvent>> appenders) {
        for (Appender<ILoggingEvent> appender : appenders) {
            logger.detachAppender(appender);
            appender.stop();
        }
    }

    private static BatchedLineAppender start(LoggerContext context, Destination destination, Logger logger) {
        OutputStreamAppender<ILoggingEvent> output = destination.file() == null
                ? console(context)
                : rollingFile(context, destination);
        BatchedLineAppender batched = new BatchedLineAppender(output, logger);
        batched.setContext(context);
        batched.setName("ACCESS");
        batched.start();
        return batched;
    }

    private static OutputStreamAppender<ILoggingEvent> console(LoggerContext context) {
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("ACCESS_CONSOLE");
        console.setTarget("System.out");
        console.setEncoder(messageOnly(context));
        console.start();
        return console;
    }

    private static OutputStreamAppender<ILoggingEvent> rollingFile(LoggerContext context, Destination destination) {
        String file = destination.file();
        if (file.indexOf('%') >= 0) {
            // The rolled files' names are a Logback pattern made from this path, where % starts a conversion.
            throw new IllegalStateException("access log file " + file + ": the path must not contain '%'");
        }
        RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
        appender.setContext(context);
        appender.setName("ACCESS_FILE");
        appender.setFile(file);
        appender.setEncoder(messageOnly(context));

        SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
        policy.setContext(context);
        policy.setParent(appender);
        policy.setFileNamePattern(file + ".%d{yyyy-MM-dd,UTC}.%i");
        policy.setMaxFileSize(new FileSize(destination.maxSize()));
        // Logback keeps rolled files by age (days) and total size, not by count: max_files days at most, and at
        // most max_files files' worth of bytes. A rolled file is max_size plus at most one batch of lines (16 KiB),
        // so the cap allows one extra max_size of slack, which max_files full files fit into and max_files + 1 do
        // not.
        policy.setMaxHistory(destination.maxFiles());
        policy.setTotalSizeCap(new FileSize(saturatedMultiply(destination.maxSize(), destination.maxFiles() + 1L)));
        policy.start();
        appender.setRollingPolicy(policy);
        appender.start();
        if (!policy.isStarted() || !appender.isStarted()) {
            String why = lastError(context, policy, appender);
            policy.stop();
            appender.stop();
            throw new IllegalStateException("cannot write the access log to " + file + ": " + why);
        }
        return appender;
    }

    private static BatchedLineAppender.LineEncoder messageOnly(LoggerContext context) {
        BatchedLineAppender.LineEncoder encoder = new BatchedLineAppender.LineEncoder(); // AccessLog formats the line
        encoder.setContext(context);
        encoder.start();
        return encoder;
    }

    /** Logback reports why a component did not start only as a status message. */
    private static String lastError(LoggerContext context, ContextAware... origins) {
        List<Object> from = List.of((Object[]) origins);
        String why = "see Logback's status messages";
        for (Status status : context.getStatusManager().getCopyOfStatusList()) {
            if (status.getLevel() == Status.ERROR && from.contains(status.getOrigin())) {
                Throwable cause = status.getThrowable();
                why = status.getMessage() + (cause == null ? "" : " (" + cause + ")");
            }
        }
        return why;
    }

    private static long saturatedMultiply(long a, long b) {
        return a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
    }

    /** What decides the output; the format is AccessLog's business. A file path is absolute and normalised. */
    private record Destination(String file, long maxSize, int maxFiles) {
        static Destination of(AccessLogConfig config) {
            Objects.requireNonNull(config, "config");
            if (config.file() == null) {
                return new Destination(null, 0, 0);
            }
            String file = Path.of(config.file()).toAbsolutePath().normalize().toString();
            return new Destination(file, config.maxSize(), config.maxFiles());
        }
    }

    private record Installed(Destination destination, BatchedLineAppender appender) {
    }
}
