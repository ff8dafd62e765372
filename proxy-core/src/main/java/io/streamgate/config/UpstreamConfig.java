package io.streamgate.config;

import java.time.Duration;
import java.util.List;

/** A named group of backend endpoints that routes forward to. */
public record UpstreamConfig(String name, List<Endpoint> endpoints, long replayBuffer, Pool pool) {
    public UpstreamConfig {
        endpoints = List.copyOf(endpoints);
    }

    /** One backend address; {@code authority} is what a rewritten Host header carries. */
    public record Endpoint(String host, int port) {
        public String authority() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public String toString() {
            return "http://" + authority();
        }
    }

    /** Connection pool limits; every figure is per endpoint and per event loop. */
    public record Pool(int maxConnections, int maxPending, Duration acquireTimeout, Duration idleTimeout,
                       int maxRequestsPerConnection) {
    }
}
