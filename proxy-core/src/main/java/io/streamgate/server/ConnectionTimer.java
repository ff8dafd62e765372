package io.streamgate.server;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The one timer of a client connection, for its idle timeout and its exchanges' deadlines. It is moved earlier
 * when asked but never later: when it fires early, the owner re-checks and asks again. So a keep-alive connection
 * serving thousands of short requests schedules a task about once per timeout, not once per request.
 */
final class ConnectionTimer {
    private final EventExecutor executor;
    private final Runnable onFire;
    private ScheduledFuture<?> task;
    private long at = Long.MAX_VALUE;

    ConnectionTimer(EventExecutor executor, Runnable onFire) {
        this.executor = executor;
        this.onFire = onFire;
    }

    /** Makes sure the owner is called back no later than {@code deadline} (a System.nanoTime() value). */
    void wakeAt(long deadline) {
        if (deadline >= at) {
            return;
        }
        if (task != null) {
            task.cancel(false);
        }
        at = deadline;
        task = executor.schedule(this::fire, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    void cancel() {
        if (task != null) {
            task.cancel(false);
            task = null;
        }
        at = Long.MAX_VALUE;
    }

    private void fire() {
        task = null;
        at = Long.MAX_VALUE;
        onFire.run();
    }
}
