package io.streamgate.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A named group of backend endpoints that routes forward to, how requests are spread over them, and how the gateway
 * protects them and itself from their failures.
 *
 * @param apiKey  sent to the backend as {@code Authorization: Bearer}, or null
 * @param tls     how {@code https://} endpoints are verified
 * @param models  model names this upstream serves, or null to discover them from its {@code /v1/models}
 */
public record UpstreamConfig(String name, List<Endpoint> endpoints, long replayBuffer, Pool pool, Balance balance,
                             Health health, Retries retries, Admission admission, BackendTls tls, String apiKey,
                             List<String> models, Duration modelsRefresh) {
    public UpstreamConfig {
        endpoints = List.copyOf(endpoints);
        models = models == null ? null : List.copyOf(models);
    }

    @Override
    public String toString() {
        // Never print the backend's key.
        return "UpstreamConfig[name=" + name + ", endpoints=" + endpoints + "]";
    }

    /**
     * One backend address; {@code authority} is what a rewritten Host header carries.
     *
     * @param weight its share of requests relative to the upstream's other endpoints
     * @param tls    whether it is reached over {@code https://}
     */
    public record Endpoint(String host, int port, int weight, boolean tls) {
        public String authority() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public String toString() {
            return (tls ? "https://" : "http://") + authority();
        }
    }

    /**
     * How an endpoint is chosen for each request.
     *
     * @param header      the header whose value is the hash key, when {@code key} is HEADER (lower case), else null
     * @param loadFactor  CONSISTENT_HASH: no endpoint takes more than this times the average requests in flight
     * @param loadMetrics LEAST_LOADED: where and how often each endpoint's load figures are read, else null
     */
    public record Balance(Strategy strategy, HashKey key, String header, double loadFactor, LoadMetrics loadMetrics) {
        public static final Balance DEFAULT = new Balance(Strategy.LEAST_OUTSTANDING, null, null, 0, null);

        /** LEAST_OUTSTANDING suits LLM replicas: one busy with long generations gets fewer new requests. */
        public enum Strategy { ROUND_ROBIN, LEAST_OUTSTANDING, CONSISTENT_HASH, LEAST_LOADED }

        /**
         * What a consistent hash is computed over; API_KEY falls back to the client address for anonymous requests,
         * PROMPT_PREFIX is the start of a JSON body's top-level messages or prompt member.
         */
        public enum HashKey { API_KEY, CLIENT_IP, HEADER, PROMPT_PREFIX }
    }

    /** A vLLM-style Prometheus endpoint read every {@code interval}. */
    public record LoadMetrics(String path, Duration interval) {
    }

    /** Connection pool limits; every figure is per endpoint and per event loop. */
    public record Pool(int maxConnections, int maxPending, Duration acquireTimeout, Duration idleTimeout,
                       int maxRequestsPerConnection) {
    }

    /**
     * When an endpoint is taken out of rotation and how it comes back.
     *
     * @param check     active health check, or null
     * @param outlier   passive ejection on consecutive failures, or null
     * @param breaker   circuit breaker on a failure rate, or null
     * @param slowStart ramp-up of a returning endpoint's share, zero for none
     */
    public record Health(HealthCheck check, Outlier outlier, Breaker breaker, Duration slowStart) {
        public static final Health DEFAULT = new Health(null, Outlier.DEFAULT, null, Duration.ZERO);
    }

    public record HealthCheck(String path, Duration interval, Duration timeout, int healthyThreshold, int unhealthyThreshold) {
    }

    public record Outlier(int consecutiveFailures, Duration baseEjection, Duration maxEjection) {
        public static final Outlier DEFAULT = new Outlier(5, Duration.ofSeconds(10), Duration.ofMinutes(5));
    }

    /** @param failureRate 0..1 */
    public record Breaker(double failureRate, int minimumRequests, Duration window, Duration openFor, int halfOpenRequests) {
    }

    /**
     * @param attempts  tries per request, the first included
     * @param statuses  response statuses that are retried (before anything reached the client)
     * @param budget    retries in flight at most this share (0..1) of the upstream's requests in flight
     */
    public record Retries(int attempts, boolean onConnectFailure, boolean onReset, List<Integer> statuses, double budget,
                          int minRetries) {
        public static final Retries DEFAULT = new Retries(2, true, true, List.of(), 0.2, 3);

        public Retries {
            statuses = List.copyOf(statuses);
        }

        public boolean onStatus(int status) {
            return statuses.contains(status);
        }
    }

    /**
     * Requests in flight per endpoint and the wait queue when every endpoint is full.
     *
     * @param maxInFlight per endpoint, 0 for unlimited
     * @param fair        serve waiting requests fairly across API-key identities (else in arrival order)
     */
    public record Admission(int maxInFlight, int queueSize, Duration queueTimeout, boolean fair) {
        public static final Admission UNLIMITED = new Admission(0, 128, Duration.ofSeconds(30), true);
    }

    /**
     * @param ca         PEM file of trusted CAs, or null for the system trust store
     * @param serverName SNI and checked name, or null for the endpoint's host
     * @param verify     false skips chain and name checks
     */
    public record BackendTls(Path ca, String serverName, boolean verify) {
        public static final BackendTls DEFAULT = new BackendTls(null, null, true);
    }
}
