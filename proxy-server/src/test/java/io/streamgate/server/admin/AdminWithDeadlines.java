package io.streamgate.server.admin;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.AdminConfig;
import io.streamgate.config.ConfigLoader;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.server.ConfigFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A gateway and its admin listener, started from a config file with the given {@code client_idle_timeout} and
 * {@code request_header_timeout}, for the tests that talk to the admin listener over raw sockets.
 */
final class AdminWithDeadlines implements AutoCloseable {
    private final Streamgate gateway;
    private final AdminServer admin;

    private AdminWithDeadlines(Streamgate gateway, AdminServer admin) {
        this.gateway = gateway;
        this.admin = admin;
    }

    static AdminWithDeadlines start(Path dir, String idle, String header) throws Exception {
        Path file = Files.writeString(dir.resolve("streamgate.yaml"), """
                server:
                  listen: "127.0.0.1:0"
                  client_idle_timeout: %s
                  limits:
                    request_header_timeout: %s
                upstreams:
                  backend:
                    endpoints: ["http://127.0.0.1:9"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(idle, header));
        ConfigFile loaded = ConfigFile.read(file);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Streamgate gateway = Streamgate.start(ConfigLoader.parse(loaded.text(), file.toString()),
                new Streamgate.Options(registry, NanoClock.SYSTEM));
        try {
            return new AdminWithDeadlines(gateway, AdminServer.start(new AdminConfig("127.0.0.1", 0, null),
                    new AdminEndpoints(gateway, registry, loaded, System.currentTimeMillis())));
        } catch (RuntimeException | Error e) {
            gateway.close(Duration.ZERO);
            throw e;
        }
    }

    /** The admin listener's port. */
    int port() {
        return admin.address().getPort();
    }

    @Override
    public void close() throws Exception {
        admin.close();
        gateway.close(Duration.ZERO);
        gateway.closeFuture().get(15, TimeUnit.SECONDS);
    }
}
