package io.streamgate.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigLoader;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.server.ConfigFile;
import io.streamgate.server.ConfigReloader;
import io.streamgate.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The config file rewritten just after the gateway read it, as the launcher wires things: the admin view, the
 * published hash and the file watch must all start from the bytes the running configuration was made from, so the
 * view never shows a file that is not running and the watch applies the rewrite. The rewrite happens between the read
 * and the rest of the start, deterministically.
 */
@Timeout(30)
class LoadedConfigTest {
    @TempDir
    Path dir;

    @Test
    void aFileRewrittenRightAfterTheStartIsShownAsLoadedAndThenApplied() throws Exception {
        Path file = dir.resolve("streamgate.yaml");
        Files.writeString(file, config("61s"));
        ConfigFile loaded = ConfigFile.read(file);
        Streamgate gateway = Streamgate.start(ConfigLoader.parse(loaded.text(), file.toString()),
                new Streamgate.Options(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), NanoClock.SYSTEM));
        Files.writeString(file, config("62s")); // an operator's edit, or a config management run, right now
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        AdminEndpoints endpoints = new AdminEndpoints(gateway, registry, loaded, 0);
        try (ConfigReloader reloader = new ConfigReloader(loaded, gateway, registry, endpoints::configReloaded)) {
            ConfigView view = endpoints.config();
            assertEquals(loaded.sha256(), view.sha256(), "the view names the file that runs");
            assertTrue(view.text().contains("61s"), view.text());
            assertEquals(loaded.sha256(), publishedHash(registry));

            reloader.watch(Duration.ofMillis(50));
            String rewritten = ConfigFile.read(file).sha256();
            Poll.until(() -> gateway.config().server().clientIdleTimeout().equals(Duration.ofSeconds(62)), 10_000,
                    () -> "the rewrite was not applied; running " + gateway.config().server().clientIdleTimeout());
            Poll.until(() -> rewritten.equals(endpoints.config().sha256()), 5_000, () -> "view of " + endpoints.config());
            assertTrue(endpoints.config().text().contains("62s"), endpoints.config().text());
            assertEquals(rewritten, publishedHash(registry));
        } finally {
            gateway.close(Duration.ZERO);
            gateway.closeFuture().get(15, TimeUnit.SECONDS);
        }
    }

    private static String publishedHash(PrometheusMeterRegistry registry) {
        return registry.get("streamgate.config.info").gauge().getId().getTag("sha256");
    }

    private static String config(String idle) {
        return """
                server:
                  listen: "127.0.0.1:0"
                  client_idle_timeout: %s
                admin: off
                upstreams:
                  backend:
                    endpoints: ["http://127.0.0.1:9"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(idle);
    }
}
