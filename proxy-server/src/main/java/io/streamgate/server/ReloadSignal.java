package io.streamgate.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/** SIGHUP reloads the configuration, as it does for nginx and HAProxy. */
final class ReloadSignal {
    private static final Logger LOG = LoggerFactory.getLogger(ReloadSignal.class);

    private ReloadSignal() {
    }

    static void install(ConfigReloader reloader) {
        try {
            Signal.handle(new Signal("HUP"), s -> reloader.reload("SIGHUP"));
        } catch (IllegalArgumentException e) {
            // Not every platform has SIGHUP (or lets a JVM take it); the file watch and POST /admin/reload remain.
            LOG.warn("cannot listen for SIGHUP: {}", e.getMessage());
        }
    }
}
