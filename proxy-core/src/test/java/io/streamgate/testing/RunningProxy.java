package io.streamgate.testing;

import io.streamgate.Streamgate;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A Streamgate started from a YAML string on 127.0.0.1 and a free port, closed by {@link #close()}. */
public final class RunningProxy implements AutoCloseable {
    private final Streamgate gateway;

    private RunningProxy(Streamgate gateway) {
        this.gateway = gateway;
    }

    /** Parses {@code yaml} (as "test.yaml") and starts it; the YAML should listen on "127.0.0.1:0". */
    public static RunningProxy start(String yaml) throws ConfigException {
        return new RunningProxy(Streamgate.start(ConfigLoader.parse(yaml, "test.yaml")));
    }

    /** As {@link #start(String)}, with a meter registry and clock of the test's choosing. */
    public static RunningProxy start(String yaml, Streamgate.Options options) throws ConfigException {
        return new RunningProxy(Streamgate.start(ConfigLoader.parse(yaml, "test.yaml"), options));
    }

    /** A gateway with one upstream {@code name} (the given YAML under it) behind route "/". */
    public static RunningProxy withUpstream(String name, String upstreamYaml) throws ConfigException {
        return start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  %s:
                %s
                routes:
                  - path_prefix: /
                    upstream: %s
                """.formatted(name, upstreamYaml.stripTrailing().indent(4).stripTrailing(), name));
    }

    /** The simplest gateway: every path to one backend, with optional extra YAML under the route (indented 4). */
    public static RunningProxy forwardingTo(TestBackend backend, String... routeLines) throws ConfigException {
        StringBuilder yaml = new StringBuilder("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
        for (String line : routeLines) {
            yaml.append("    ").append(line).append('\n');
        }
        return start(yaml.toString());
    }

    public int port() {
        return gateway.port();
    }

    public Streamgate gateway() {
        return gateway;
    }

    /** A new raw client connection to the gateway. */
    public RawHttpClient connect() throws IOException {
        return RawHttpClient.connect(port());
    }

    /** Closes with a short drain, so a test that left a stream open still finishes quickly. */
    @Override
    public void close() throws Exception {
        gateway.close(Duration.ofSeconds(1));
        gateway.closeFuture().get(15, TimeUnit.SECONDS);
    }
}
