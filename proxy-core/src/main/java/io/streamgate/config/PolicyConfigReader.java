package io.streamgate.config;

import io.streamgate.config.RateLimitConfig.KeySource;
import io.streamgate.config.RateLimitConfig.Kind;
import io.streamgate.config.RateLimitConfig.Store;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the traffic-policy sections of the config: named rate limits, the Redis store, the response cache, and a
 * route's use of them. Every problem names the key it was found at.
 */
final class PolicyConfigReader {
    private static final Pattern RATE = Pattern.compile("(\\d{1,12})\\s*/\\s*(s|m|h|d)");
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    static final CacheConfig DEFAULT_CACHE = new CacheConfig(256L << 20, 1L << 20);
    static final TokenAccountingConfig DEFAULT_TOKENS = new TokenAccountingConfig(false, true, 64 * 1024);

    private PolicyConfigReader() {
    }

    /** The top-level {@code rate_limits} map, by name; empty when {@code node} is null. */
    static Map<String, RateLimitConfig> rateLimits(ConfigNode node) throws ConfigException {
        Map<String, RateLimitConfig> out = new LinkedHashMap<>();
        if (node == null) {
            return out;
        }
        for (Map.Entry<String, ConfigNode> e : node.entries().entrySet()) {
            if (!e.getKey().matches("[A-Za-z0-9_.-]+")) {
                throw e.getValue().error("rate limit names may only contain letters, digits, '_', '.' and '-'");
            }
            out.put(e.getKey(), rateLimit(e.getKey(), e.getValue()));
        }
        return out;
    }

    private static RateLimitConfig rateLimit(String name, ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("key", "requests", "tokens", "concurrent", "burst", "queue", "queue_timeout", "store");
        List<String> kinds = new ArrayList<>();
        for (String k : List.of("requests", "tokens", "concurrent")) {
            if (f.containsKey(k)) {
                kinds.add(k);
            }
        }
        if (kinds.size() != 1) {
            throw node.error(kinds.isEmpty() ? "a rate limit needs one of requests (e.g. 10/s), tokens (e.g. 60000/m) or concurrent (e.g. 4)"
                    : "a rate limit has exactly one of requests, tokens or concurrent, found " + String.join(" and ", kinds));
        }
        ConfigNode keyNode = f.get("key");
        if (keyNode == null) {
            throw node.missing("key");
        }
        String keyText = keyNode.string().trim();
        KeySource key;
        String header = null;
        if (isHeaderKey(keyText)) {
            header = headerKey(keyNode, keyText);
            key = KeySource.HEADER;
        } else {
            key = switch (keyText.toLowerCase(Locale.ROOT)) {
                case "client_ip" -> KeySource.CLIENT_IP;
                case "api_key" -> KeySource.API_KEY;
                case "route" -> KeySource.ROUTE;
                default -> throw keyNode.error("'" + keyText + "' is not one of client_ip, api_key, route, header:<name>");
            };
        }
        String kindKey = kinds.get(0);
        if (kindKey.equals("concurrent")) {
            for (String bucketOnly : List.of("burst", "store")) {
                if (f.containsKey(bucketOnly)) {
                    throw f.get(bucketOnly).error(bucketOnly + " applies to requests and tokens limits, not to concurrent");
                }
            }
            int concurrent = f.get("concurrent").integer(1, 1_000_000);
            int queue = f.containsKey("queue") ? f.get("queue").integer(0, 1_000_000) : 0;
            Duration queueTimeout = f.containsKey("queue_timeout") ? f.get("queue_timeout").duration() : Duration.ofSeconds(5);
            if (queueTimeout.isZero()) {
                throw f.get("queue_timeout").error("must be greater than zero");
            }
            return new RateLimitConfig(name, key, header, Kind.CONCURRENCY, 0, Duration.ofSeconds(1), 0, concurrent, queue,
                    queueTimeout, Store.LOCAL);
        }
        for (String queueOnly : List.of("queue", "queue_timeout")) {
            if (f.containsKey(queueOnly)) {
                throw f.get(queueOnly).error(queueOnly + " applies to concurrent limits only");
            }
        }
        ConfigNode rateNode = f.get(kindKey);
        String rateText = rateNode.string().trim();
        Matcher m = RATE.matcher(rateText);
        if (!m.matches()) {
            throw rateNode.error("'" + rateText + "' is not a rate (expected e.g. 10/s, 600/m, 100000/h)");
        }
        long amount = Long.parseLong(m.group(1));
        if (amount < 1) {
            throw rateNode.error("the rate must be at least 1 per " + m.group(2));
        }
        Duration per = switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(1);
            case "m" -> Duration.ofMinutes(1);
            case "h" -> Duration.ofHours(1);
            default -> Duration.ofDays(1);
        };
        // A full period's worth by default: "60000/m" reads as a budget per minute that may be spent at once.
        long burst = amount;
        if (f.containsKey("burst")) {
            burst = f.get("burst").integer(1, Integer.MAX_VALUE);
        }
        Store store = f.containsKey("store") ? f.get("store").enumValue(Store.class) : Store.LOCAL;
        Kind kind = kindKey.equals("requests") ? Kind.REQUESTS : Kind.TOKENS;
        return new RateLimitConfig(name, key, header, kind, amount, per, burst, 0, 0, Duration.ZERO, store);
    }

    /** Whether a key setting names a request header ({@code header:<name>}), as rate limits and hashing allow. */
    static boolean isHeaderKey(String text) {
        return text.regionMatches(true, 0, "header:", 0, 7);
    }

    /** The lower-case header name of a {@code header:<name>} setting, or an error naming the key. */
    static String headerKey(ConfigNode node, String text) throws ConfigException {
        String header = text.substring(7).trim().toLowerCase(Locale.ROOT);
        if (!HEADER_NAME.matcher(header).matches()) {
            throw node.error("'" + text + "' does not name a header (expected e.g. header:x-tenant)");
        }
        return header;
    }

    /** The top-level {@code redis} section, or null. */
    static RedisConfig redis(ConfigNode node) throws ConfigException {
        if (node == null) {
            return null;
        }
        Map<String, ConfigNode> f = node.fields("url", "timeout", "on_failure", "key_prefix");
        ConfigNode url = f.get("url");
        if (url == null) {
            throw node.missing("url");
        }
        String uri = url.string().trim();
        if (!uri.startsWith("redis://") && !uri.startsWith("rediss://")) {
            throw url.error("expected a redis:// or rediss:// URL"); // never echo it: it may hold a password
        }
        Duration timeout = f.containsKey("timeout") ? f.get("timeout").duration() : Duration.ofMillis(100);
        if (timeout.isZero()) {
            throw f.get("timeout").error("must be greater than zero");
        }
        RedisConfig.FailureMode mode = f.containsKey("on_failure") ? f.get("on_failure").enumValue(RedisConfig.FailureMode.class)
                : RedisConfig.FailureMode.OPEN;
        String prefix = f.containsKey("key_prefix") ? f.get("key_prefix").string() : "streamgate:";
        return new RedisConfig(uri, timeout, mode, prefix);
    }

    /** The top-level {@code cache} section; defaults when {@code node} is null. */
    static CacheConfig cache(ConfigNode node) throws ConfigException {
        if (node == null) {
            return DEFAULT_CACHE;
        }
        Map<String, ConfigNode> f = node.fields("max_size", "max_entry_size");
        long max = f.containsKey("max_size") ? f.get("max_size").size() : DEFAULT_CACHE.maxSize();
        long entry = f.containsKey("max_entry_size") ? f.get("max_entry_size").size() : DEFAULT_CACHE.maxEntrySize();
        if (max < 1024) {
            throw f.get("max_size").error("must be at least 1KiB");
        }
        if (entry < 1 || entry > max || entry > Integer.MAX_VALUE - 1024) {
            throw (f.containsKey("max_entry_size") ? f.get("max_entry_size") : node)
                    .error("max_entry_size must be between 1 byte and max_size (" + max + " bytes) and below 2GiB");
        }
        return new CacheConfig(max, entry);
    }

    /** A route's {@code cache}; null when the route does not cache. {@code cache: true} takes every default. */
    static RouteCacheConfig routeCache(ConfigNode node) throws ConfigException {
        if (node == null) {
            return null;
        }
        if (node.isScalar()) {
            return node.bool() ? new RouteCacheConfig(Duration.ofMinutes(5), RouteCacheConfig.PostMode.NEVER, false, false) : null;
        }
        Map<String, ConfigNode> f = node.fields("ttl", "post", "streamed", "shared");
        Duration ttl = f.containsKey("ttl") ? f.get("ttl").duration() : Duration.ofMinutes(5);
        if (ttl.isZero()) {
            throw f.get("ttl").error("must be greater than zero");
        }
        RouteCacheConfig.PostMode post = f.containsKey("post") ? f.get("post").enumValue(RouteCacheConfig.PostMode.class)
                : RouteCacheConfig.PostMode.NEVER;
        boolean streamed = f.containsKey("streamed") && f.get("streamed").bool();
        boolean shared = f.containsKey("shared") && f.get("shared").bool();
        return new RouteCacheConfig(ttl, post, streamed, shared);
    }

    /** A route's {@code tokens} section; defaults when {@code node} is null. */
    static TokenAccountingConfig tokens(ConfigNode node) throws ConfigException {
        if (node == null) {
            return DEFAULT_TOKENS;
        }
        Map<String, ConfigNode> f = node.fields("meter", "inject_usage", "peek_limit");
        boolean meter = f.containsKey("meter") ? f.get("meter").bool() : DEFAULT_TOKENS.meter();
        boolean inject = f.containsKey("inject_usage") ? f.get("inject_usage").bool() : DEFAULT_TOKENS.injectUsage();
        long peek = f.containsKey("peek_limit") ? f.get("peek_limit").size() : DEFAULT_TOKENS.peekLimit();
        if (peek < 1024 || peek > 16L << 20) {
            throw f.get("peek_limit").error(peek + " bytes is out of range (expected 1KiB..16MiB)");
        }
        return new TokenAccountingConfig(meter, inject, (int) peek);
    }

    /** A route's {@code rate_limits}: names of top-level rules, each used once. */
    static List<String> routeRateLimits(ConfigNode node, Map<String, RateLimitConfig> rules, RedisConfig redis) throws ConfigException {
        if (node == null) {
            return List.of();
        }
        Set<String> names = new LinkedHashSet<>();
        for (ConfigNode item : node.list()) {
            String name = item.string().trim();
            RateLimitConfig rule = rules.get(name);
            if (rule == null) {
                throw item.error("unknown rate limit '" + name + "'" + (rules.isEmpty() ? " (no rate_limits are defined)"
                        : " (known: " + String.join(", ", rules.keySet()) + ")"));
            }
            if (rule.store() == Store.REDIS && redis == null) {
                throw item.error("rate limit '" + name + "' uses store: redis but there is no top-level redis section");
            }
            if (!names.add(name)) {
                throw item.error("rate limit '" + name + "' is listed twice");
            }
        }
        return List.copyOf(names);
    }
}
