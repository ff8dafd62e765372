package io.streamgate.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/** SIGHUP reloads the configuration, as it does for nginx and HAProxy. */
final class ReloadSignal {
    private static final Logger LOG = LoggerFactory.getLogger(ReloadSignal.class);

    private ReloadSignal() {
    }

    static void install(ConfigReloader reloader) {
        try {
            SignalHandler previous = Signal.handle(new Signal("HUP"), s -> reloader.reload("SIGHUP"));
            if (previous == SignalHandler.SIG_IGN) {
                // The JVM keeps a signal its parent ignored (nohup does that) and installs no handler for it.
                LOG.warn("SIGHUP is ignored by this process (started with nohup?), so it will not reload the config;"
                        + " the file watch and POST /admin/reload still do");
            }
        } catch (IllegalArgumentException e) {
            // Not every platform has SIGHUP (or lets a JVM take it); the file watch and POST /admin/reload remain.
            LOG.warn("cannot listen for SIGHUP: {}", e.getMessage());
        }
    }
}
