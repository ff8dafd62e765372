package io.streamgate.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.LoggerFactory;

/** Captures the lines of the "streamgate.access" logger while open. */
public final class AccessLogCapture implements AutoCloseable {
    private final Queue<String> lines = new ConcurrentLinkedQueue<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger("streamgate.access");
    private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent event) {
            lines.add(event.getFormattedMessage());
        }
    };

    private AccessLogCapture() {
        appender.setName("access-log-capture");
        appender.setContext(logger.getLoggerContext());
        appender.start();
        logger.addAppender(appender);
    }

    public static AccessLogCapture capture() {
        return new AccessLogCapture();
    }

    public List<String> lines() {
        return List.copyOf(lines);
    }

    /** The first line matching {@code wanted}, waiting up to {@code timeoutMillis} for it; null if none came. */
    public String awaitLine(Predicate<String> wanted, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        do {
            for (String line : lines) {
                if (wanted.test(line)) {
                    return line;
                }
            }
            // The access line is written when the exchange ends, on the proxy's event loop: poll briefly.
            TimeUnit.MILLISECONDS.sleep(10);
        } while (System.nanoTime() < deadline);
        return null;
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        appender.stop();
    }
}
