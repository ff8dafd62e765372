package io.streamgate.config;

import static io.streamgate.config.ConfigLoader.durationOr;
import static io.streamgate.config.ConfigLoader.require;
import static io.streamgate.config.ConfigLoader.sizeOr;

import io.streamgate.config.UpstreamConfig.Balance;
import io.streamgate.config.UpstreamConfig.Endpoint;
import io.streamgate.config.UpstreamConfig.Pool;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Reads the {@code upstreams} section: endpoints, balancing, pools, health, retries, admission, backend TLS. */
final class UpstreamConfigReader {
    /**
     * A request remembers the endpoints it tried as the bits of a long (a retry avoids them): a 65th endpoint would
     * share a bit with the first, so a retry could go back to the endpoint that just failed.
     */
    static final int MAX_ENDPOINTS = 64;

    private UpstreamConfigReader() {
    }

    static Map<String, UpstreamConfig> upstreams(ConfigNode node) throws ConfigException {
        Map<String, UpstreamConfig> result = new LinkedHashMap<>();
        Map<String, ConfigNode> entries = node.entries();
        if (entries.isEmpty()) {
            throw node.error("at least one upstream is required");
        }
        for (Map.Entry<String, ConfigNode> e : entries.entrySet()) {
            if (!e.getKey().matches("[A-Za-z0-9_.-]+")) {
                throw e.getValue().error("upstream names may only contain letters, digits, '_', '.' and '-'");
            }
            result.put(e.getKey(), upstream(e.getKey(), e.getValue()));
        }
        return result;
    }

    private static UpstreamConfig upstream(String name, ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("endpoints", "replay_buffer", "pool", "balance", "hash_key", "load_factor",
                "load_metrics", "health_check", "outlier_detection", "circuit_breaker", "slow_start", "retries",
                "max_in_flight", "queue", "tls", "api_key", "models", "models_refresh");
        ConfigNode eps = require(node, f, "endpoints");
        List<Endpoint> endpoints = new ArrayList<>();
        Map<String, Integer> addresses = new HashMap<>();
        for (ConfigNode ep : eps.list()) {
            Endpoint endpoint = endpoint(ep);
            // A backend listed twice would be half one endpoint and half two: its meters, connect outcomes and what a
            // reload carries over go by address, while balancing, in-flight counts, health and retries count the
            // listings apart (a retry could go back to the backend that just failed). A weight gives a larger share.
            Integer first = addresses.putIfAbsent(address(endpoint), endpoints.size());
            if (first != null) {
                throw ep.error("'" + endpoint + "' is already listed as endpoints[" + first + "] (to give an endpoint"
                        + " a larger share, list it once with a weight)");
            }
            endpoints.add(endpoint);
        }
        if (endpoints.isEmpty()) {
            throw eps.error("at least one endpoint is required");
        }
        if (endpoints.size() > MAX_ENDPOINTS) {
            throw eps.error(endpoints.size() + " endpoints: at most " + MAX_ENDPOINTS + " per upstream (split them into"
                    + " several upstreams, or put a load balancer in front of them)");
        }
        long replay = sizeOr(f, "replay_buffer", 64 * 1024, 0, 64L << 20);
        UpstreamConfig.Health health = new UpstreamConfig.Health(healthCheck(f.get("health_check")),
                outlier(f.get("outlier_detection")), breaker(f.get("circuit_breaker")),
                durationOr(f, "slow_start", Duration.ZERO, true));
        String apiKey = null;
        if (f.containsKey("api_key") && !f.get("api_key").string().isEmpty()) {
            apiKey = token(f.get("api_key")); // empty (an unset "${KEY:-}") means none
        }
        List<String> models = null;
        if (f.containsKey("models")) {
            models = new ArrayList<>();
            for (ConfigNode m : f.get("models").list()) {
                String model = m.string().trim();
                if (model.isEmpty()) {
                    throw m.error("a model name must not be empty");
                }
                models.add(model);
            }
        }
        return new UpstreamConfig(name, endpoints, replay, pool(f.get("pool")), balance(f), health, retries(f.get("retries")),
                admission(f), tls(f.get("tls")), apiKey, models, durationOr(f, "models_refresh", Duration.ofSeconds(30), false));
    }

    /** A credential sent in a header: visible ASCII only, so it cannot split the header. */
    static String token(ConfigNode node) throws ConfigException {
        String key = node.string();
        if (key.isBlank() || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw node.error("must be a non-empty token of visible ASCII characters");
        }
        return key;
    }

    private static Balance balance(Map<String, ConfigNode> f) throws ConfigException {
        Balance.Strategy strategy = f.containsKey("balance")
                ? f.get("balance").enumValue(Balance.Strategy.class) : Balance.Strategy.LEAST_OUTSTANDING;
        boolean hashing = strategy == Balance.Strategy.CONSISTENT_HASH;
        for (String hashOnly : List.of("hash_key", "load_factor")) {
            if (f.containsKey(hashOnly) && !hashing) {
                throw f.get(hashOnly).error(hashOnly + " applies to balance: consistent_hash only");
            }
        }
        if (f.containsKey("load_metrics") && strategy != Balance.Strategy.LEAST_LOADED) {
            throw f.get("load_metrics").error("load_metrics applies to balance: least_loaded only");
        }
        if (strategy == Balance.Strategy.LEAST_LOADED) {
            ConfigNode n = f.get("load_metrics");
            Map<String, ConfigNode> m = n == null ? Map.of() : n.fields("path", "interval");
            return new Balance(strategy, null, null, 0, new UpstreamConfig.LoadMetrics(path(m, "path", "/metrics"),
                    durationOr(m, "interval", Duration.ofSeconds(5), false)));
        }
        if (!hashing) {
            return new Balance(strategy, null, null, 0, null);
        }
        Balance.HashKey key = Balance.HashKey.API_KEY;
        String header = null;
        if (f.containsKey("hash_key")) {
            ConfigNode k = f.get("hash_key");
            String text = k.string().trim();
            if (PolicyConfigReader.isHeaderKey(text)) {
                header = PolicyConfigReader.headerKey(k, text);
                key = Balance.HashKey.HEADER;
            } else {
                key = switch (text.toLowerCase(Locale.ROOT)) {
                    case "api_key" -> Balance.HashKey.API_KEY;
                    case "client_ip" -> Balance.HashKey.CLIENT_IP;
                    case "prompt_prefix" -> Balance.HashKey.PROMPT_PREFIX;
                    default -> throw k.error("'" + text + "' is not one of api_key, client_ip, prompt_prefix, header:<name>");
                };
            }
        }
        double loadFactor = 1.25;
        if (f.containsKey("load_factor")) {
            ConfigNode n = f.get("load_factor");
            loadFactor = number(n);
            if (!(loadFactor >= 1.0 && loadFactor <= 100)) {
                throw n.error(loadFactor + " is out of range (expected 1.0..100; 1.25 lets an endpoint take 25% above average)");
            }
        }
        return new Balance(strategy, key, header, loadFactor, null);
    }

    private static UpstreamConfig.HealthCheck healthCheck(ConfigNode node) throws ConfigException {
        if (node == null) {
            return null;
        }
        Map<String, ConfigNode> f = node.fields("path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold");
        require(node, f, "path");
        Duration interval = durationOr(f, "interval", Duration.ofSeconds(5), false);
        Duration timeout = durationOr(f, "timeout", Duration.ofSeconds(2), false);
        return new UpstreamConfig.HealthCheck(path(f, "path", null), interval, timeout,
                f.containsKey("healthy_threshold") ? f.get("healthy_threshold").integer(1, 100) : 2,
                f.containsKey("unhealthy_threshold") ? f.get("unhealthy_threshold").integer(1, 100) : 3);
    }

    private static UpstreamConfig.Outlier outlier(ConfigNode node) throws ConfigException {
        if (node == null) {
            return UpstreamConfig.Outlier.DEFAULT;
        }
        Map<String, ConfigNode> f = node.fields("consecutive_failures", "base_ejection", "max_ejection");
        int n = f.containsKey("consecutive_failures") ? f.get("consecutive_failures").integer(0, 10_000) : 5;
        Duration base = durationOr(f, "base_ejection", Duration.ofSeconds(10), false);
        Duration max = durationOr(f, "max_ejection", Duration.ofMinutes(5), false);
        if (max.compareTo(base) < 0) {
            throw f.get("max_ejection").error("must not be shorter than base_ejection (" + base.toMillis() + " ms)");
        }
        return n == 0 ? null : new UpstreamConfig.Outlier(n, base, max);
    }

    private static UpstreamConfig.Breaker breaker(ConfigNode node) throws ConfigException {
        if (node == null) {
            return null;
        }
        Map<String, ConfigNode> f = node.fields("failure_rate", "minimum_requests", "window", "open_for", "half_open_requests");
        double rate = fraction(require(node, f, "failure_rate"));
        if (rate <= 0) {
            throw f.get("failure_rate").error("must be greater than 0%");
        }
        return new UpstreamConfig.Breaker(rate,
                f.containsKey("minimum_requests") ? f.get("minimum_requests").integer(1, 1_000_000) : 20,
                durationOr(f, "window", Duration.ofSeconds(10), false),
                durationOr(f, "open_for", Duration.ofSeconds(30), false),
                f.containsKey("half_open_requests") ? f.get("half_open_requests").integer(1, 1000) : 3);
    }

    private static UpstreamConfig.Retries retries(ConfigNode node) throws ConfigException {
        if (node == null) {
            return UpstreamConfig.Retries.DEFAULT;
        }
        UpstreamConfig.Retries d = UpstreamConfig.Retries.DEFAULT;
        Map<String, ConfigNode> f = node.fields("attempts", "on", "budget", "min_retries");
        int attempts = f.containsKey("attempts") ? f.get("attempts").integer(1, 10) : d.attempts();
        boolean connect = d.onConnectFailure();
        boolean reset = d.onReset();
        List<Integer> statuses = d.statuses();
        if (f.containsKey("on")) {
            connect = false;
            reset = false;
            statuses = new ArrayList<>();
            for (ConfigNode c : f.get("on").list()) {
                String text = c.string().trim().toLowerCase(Locale.ROOT);
                switch (text) {
                    case "connect_failure" -> connect = true;
                    case "reset" -> reset = true;
                    default -> {
                        if (!text.matches("5\\d\\d") && !text.equals("429")) {
                            throw c.error("'" + text + "' is not connect_failure, reset, 429 or a 5xx status");
                        }
                        statuses.add(Integer.parseInt(text));
                    }
                }
            }
        }
        double budget = f.containsKey("budget") ? fraction(f.get("budget")) : d.budget();
        int minRetries = f.containsKey("min_retries") ? f.get("min_retries").integer(0, 100_000) : d.minRetries();
        return new UpstreamConfig.Retries(attempts, connect, reset, statuses, budget, minRetries);
    }

    private static UpstreamConfig.Admission admission(Map<String, ConfigNode> f) throws ConfigException {
        UpstreamConfig.Admission d = UpstreamConfig.Admission.UNLIMITED;
        int max = f.containsKey("max_in_flight") ? f.get("max_in_flight").integer(0, 1_000_000) : 0;
        ConfigNode q = f.get("queue");
        if (q == null) {
            return new UpstreamConfig.Admission(max, d.queueSize(), d.queueTimeout(), d.fair());
        }
        if (max == 0) {
            throw q.error("queue applies only with max_in_flight (requests wait when every endpoint has that many in flight)");
        }
        Map<String, ConfigNode> qf = q.fields("size", "timeout", "fairness");
        boolean fair = d.fair();
        if (qf.containsKey("fairness")) {
            ConfigNode n = qf.get("fairness");
            fair = switch (n.string().trim().toLowerCase(Locale.ROOT)) {
                case "api_key" -> true;
                case "fifo" -> false;
                default -> throw n.error("'" + n.string() + "' is not api_key or fifo");
            };
        }
        return new UpstreamConfig.Admission(max, qf.containsKey("size") ? qf.get("size").integer(0, 1_000_000) : d.queueSize(),
                durationOr(qf, "timeout", d.queueTimeout(), false), fair);
    }

    private static UpstreamConfig.BackendTls tls(ConfigNode node) throws ConfigException {
        if (node == null) {
            return UpstreamConfig.BackendTls.DEFAULT;
        }
        Map<String, ConfigNode> f = node.fields("ca", "server_name", "verify");
        Path ca = null;
        if (f.containsKey("ca")) {
            ca = Path.of(f.get("ca").string().trim());
            if (!Files.isReadable(ca)) {
                throw f.get("ca").error("cannot read '" + ca + "'");
            }
        }
        String serverName = f.containsKey("server_name") ? f.get("server_name").string().trim() : null;
        boolean verify = !f.containsKey("verify") || f.get("verify").bool();
        return new UpstreamConfig.BackendTls(ca, serverName, verify);
    }

    /** {@code "http://host:port"}, or {@code {url: "http://host:port", weight: 3}}. */
    private static Endpoint endpoint(ConfigNode node) throws ConfigException {
        int weight = 1;
        ConfigNode urlNode = node;
        if (!node.isScalar()) {
            Map<String, ConfigNode> f = node.fields("url", "weight");
            urlNode = require(node, f, "url");
            if (f.containsKey("weight")) {
                weight = f.get("weight").integer(1, 1000);
            }
        }
        String text = urlNode.string().trim();
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw urlNode.error("'" + text + "' is not a URL (expected http://host:port)");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw urlNode.error("'" + text + "': only http:// and https:// endpoints are supported");
        }
        if (uri.getHost() == null) {
            throw urlNode.error("'" + text + "' has no host (expected http://host:port)");
        }
        if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")
                || uri.getRawQuery() != null || uri.getRawUserInfo() != null) {
            throw urlNode.error("'" + text + "': an endpoint is scheme, host and port only (use a route's rewrite_prefix for paths)");
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        boolean tls = scheme.equals("https");
        int port = uri.getPort() < 0 ? (tls ? 443 : 80) : uri.getPort();
        // URI accepts any digits as a port; one out of range would only fail later, on every request.
        if (port < 1 || port > 65535) {
            throw urlNode.error("'" + text + "': port " + port + " is out of range (1..65535)");
        }
        return new Endpoint(host, port, weight, tls);
    }

    /** What makes two endpoints the same: scheme, port, and the host, whose case does not matter (RFC 3986 §6.2.2.1). */
    private static String address(Endpoint e) {
        return (e.tls() ? "https://" : "http://") + e.host().toLowerCase(Locale.ROOT) + ":" + e.port();
    }

    private static Pool pool(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node == null ? Map.of()
                : node.fields("max_connections", "max_pending", "acquire_timeout", "idle_timeout", "max_requests_per_connection");
        int maxConn = f.containsKey("max_connections") ? f.get("max_connections").integer(1, 1_000_000) : 1024;
        int maxPending = f.containsKey("max_pending") ? f.get("max_pending").integer(0, 1_000_000) : 1024;
        Duration acquire = durationOr(f, "acquire_timeout", Duration.ofSeconds(30), false);
        Duration idle = durationOr(f, "idle_timeout", Duration.ofSeconds(4), false);
        int maxReq = f.containsKey("max_requests_per_connection") ? f.get("max_requests_per_connection").integer(0, Integer.MAX_VALUE) : 0;
        return new Pool(maxConn, maxPending, acquire, idle, maxReq);
    }

    private static String path(Map<String, ConfigNode> f, String key, String dflt) throws ConfigException {
        ConfigNode n = f.get(key);
        if (n == null) {
            return dflt;
        }
        String p = n.string().trim();
        if (!p.startsWith("/") || !p.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw n.error("'" + p + "' is not a path (it must start with '/')");
        }
        return p;
    }

    private static double number(ConfigNode n) throws ConfigException {
        try {
            return Double.parseDouble(n.string().trim());
        } catch (NumberFormatException e) {
            throw n.error("'" + n.string() + "' is not a number");
        }
    }

    /** {@code 20%} or {@code 0.2}; 0..1. */
    static double fraction(ConfigNode n) throws ConfigException {
        String text = n.string().trim();
        double v;
        if (text.endsWith("%")) {
            try {
                v = Double.parseDouble(text.substring(0, text.length() - 1).trim()) / 100;
            } catch (NumberFormatException e) {
                throw n.error("'" + text + "' is not a percentage");
            }
        } else {
            v = number(n);
        }
        if (!(v >= 0 && v <= 1)) {
            throw n.error("'" + text + "' is out of range (0%..100%)");
        }
        return v;
    }
}
