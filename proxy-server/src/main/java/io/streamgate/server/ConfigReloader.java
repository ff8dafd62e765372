package io.streamgate.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the config file on request (SIGHUP, {@code POST /admin/reload}) and when its content changes on disk.
 * The new file is parsed and validated completely before anything changes; an invalid file is logged, counted, and
 * the running configuration stays. Reloads run one at a time on their own thread, never on an event loop.
 */
public final class ConfigReloader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigReloader.class);

    /** What one reload attempt did. */
    public record Outcome(boolean applied, String sha256, String error, List<String> restartNeeded) {
    }

    private final Path file;
    private final Streamgate gateway;
    private final MeterRegistry registry;
    private final Consumer<ConfigFile> onApplied;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "streamgate-reload");
        t.setDaemon(true);
        return t;
    });
    private final Counter succeeded;
    private final Counter failed;
    /** The content last loaded or rejected, so the file watch acts once per change. */
    private String seenHash;
    private Gauge info;

    /**
     * @param loaded    the file as the running configuration was made from it
     * @param onApplied told the file after the configuration made from it took effect (the admin view follows it)
     */
    public ConfigReloader(ConfigFile loaded, Streamgate gateway, MeterRegistry registry, Consumer<ConfigFile> onApplied) {
        this.file = loaded.path();
        this.gateway = gateway;
        this.registry = registry;
        this.onApplied = onApplied;
        this.seenHash = loaded.sha256();
        this.succeeded = Counter.builder("streamgate.config.reloads").tag("result", "success")
                .description("configuration reloads").register(registry);
        this.failed = Counter.builder("streamgate.config.reloads").tag("result", "failure")
                .description("configuration reloads").register(registry);
        publishHash(seenHash);
    }

    /** Also reload whenever the file's content changes, checked every {@code period}. */
    public void watch(Duration period) {
        thread.scheduleWithFixedDelay(() -> {
            try {
                checkFile();
            } catch (RuntimeException e) {
                // An exception ending this task would cancel the periodic watch for good, without a word.
                LOG.error("the config file watch failed on {}; it keeps watching", file, e);
            }
        }, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Reloads on the reload thread; completes with what happened. */
    public CompletableFuture<Outcome> reload(String trigger) {
        return CompletableFuture.supplyAsync(() -> {
            ConfigFile current;
            try {
                current = ConfigFile.read(file);
            } catch (IOException e) {
                return rejected(trigger, null, ConfigLoader.unreadable(file, e).getMessage());
            }
            return apply(trigger, current);
        }, thread);
    }

    private void checkFile() {
        ConfigFile current;
        try {
            current = ConfigFile.read(file);
        } catch (IOException e) {
            return; // being rewritten, or gone for a moment: the next check will see it
        }
        if (!current.sha256().equals(seenHash)) {
            apply("file change", current); // the bytes just compared, not a second read that may differ
        }
    }

    private Outcome apply(String trigger, ConfigFile current) {
        String hash = current.sha256();
        ProxyConfig next;
        try {
            next = current.parse();
        } catch (ConfigException e) {
            return rejected(trigger, hash, e.getMessage());
        } catch (RuntimeException e) {
            // A loader defect must not escape: it would cancel the file watch's periodic task for good.
            LOG.error("reload ({}): the configuration loader failed on {}", trigger, file, e);
            return rejected(trigger, hash, file + ": " + e);
        }
        Streamgate.ReloadResult result;
        try {
            result = gateway.reload(next);
        } catch (IllegalArgumentException e) {
            return rejected(trigger, hash, file + ": " + e.getMessage());
        } catch (IllegalStateException e) {
            // A signal or the file watch after shutdown: nothing runs any more that could take the new file.
            LOG.info("reload ({}) ignored: {}", trigger, e.getMessage());
            return new Outcome(false, hash, e.getMessage(), List.of());
        }
        try {
            AccessLogOutput.configure(next.accessLog());
        } catch (IllegalStateException e) {
            LOG.error("reload ({}): the access log keeps its previous output: {}", trigger, e.getMessage());
        }
        seenHash = hash;
        publishHash(hash);
        succeeded.increment();
        onApplied.accept(current);
        LOG.info("reload ({}) applied {} (sha256 {})", trigger, file, hash);
        return new Outcome(true, hash, null, result.restartNeeded());
    }

    private Outcome rejected(String trigger, String hash, String error) {
        failed.increment();
        // Remember the bad content so the file watch does not retry it every period; a fixed file reloads.
        if (hash != null) {
            seenHash = hash;
        }
        LOG.error("reload ({}) rejected, the running configuration stays: {}", trigger, error);
        return new Outcome(false, hash, error, List.of());
    }

    private void publishHash(String hash) {
        if (info != null) {
            registry.remove(info);
        }
        info = Gauge.builder("streamgate.config.info", () -> 1).tag("sha256", hash == null ? "unknown" : hash)
                .description("the active configuration, by the SHA-256 of its file").register(registry);
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
