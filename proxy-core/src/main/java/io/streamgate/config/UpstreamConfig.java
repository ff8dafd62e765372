package io.streamgate.config;

import java.time.Duration;
import java.util.List;

/** A named group of backend endpoints that routes forward to, and how requests are spread over them. */
public record UpstreamConfig(String name, List<Endpoint> endpoints, long replayBuffer, Pool pool, Balance balance) {
    public UpstreamConfig {
        endpoints = List.copyOf(endpoints);
    }

    /**
     * One backend address; {@code authority} is what a rewritten Host header carries.
     *
     * @param weight its share of requests relative to the upstream's other endpoints
     */
    public record Endpoint(String host, int port, int weight) {
        public String authority() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public String toString() {
            return "http://" + authority();
        }
    }

    /**
     * How an endpoint is chosen for each request.
     *
     * @param header     the header whose value is the hash key, when {@code key} is HEADER (lower case), else null
     * @param loadFactor CONSISTENT_HASH: no endpoint takes more than this times the average requests in flight
     */
    public record Balance(Strategy strategy, HashKey key, String header, double loadFactor) {
        public static final Balance DEFAULT = new Balance(Strategy.LEAST_OUTSTANDING, null, null, 0);

        /** LEAST_OUTSTANDING suits LLM replicas: one busy with long generations gets fewer new requests. */
        public enum Strategy { ROUND_ROBIN, LEAST_OUTSTANDING, CONSISTENT_HASH }

        /** What a consistent hash is computed over; API_KEY falls back to the client address for anonymous requests. */
        public enum HashKey { API_KEY, CLIENT_IP, HEADER }
    }

    /** Connection pool limits; every figure is per endpoint and per event loop. */
    public record Pool(int maxConnections, int maxPending, Duration acquireTimeout, Duration idleTimeout,
                       int maxRequestsPerConnection) {
    }
}
