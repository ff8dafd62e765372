package io.streamgate.config;

import io.streamgate.policy.ApiKeys;
import io.streamgate.policy.Cidr;
import io.streamgate.policy.CorsPolicy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads the security sections of the config (IP rules, API keys, CORS) into validated records. Validation goes
 * through the same parsers the policies use ({@link Cidr#parse}, {@link CorsPolicy#normalizeOrigin}), so whatever
 * loads here also builds there. Every method accepts null for an absent section.
 *
 * <p>API key material is read, hashed and dropped here; no error message ever contains it.
 */
final class SecurityConfigReader {
    private static final List<String> DEFAULT_CORS_METHODS = List.of("GET", "HEAD", "POST");
    private static final List<String> DEFAULT_CORS_HEADERS = List.of("authorization", "content-type", "x-api-key", "x-request-id");
    private static final Duration DEFAULT_CORS_MAX_AGE = Duration.ofMinutes(10);
    /** Firefox caps preflight caching at 24h, Chrome at 2h; a longer value only misleads the reader of the config. */
    private static final Duration MAX_CORS_MAX_AGE = Duration.ofHours(24);
    /** A key file is a secret of a few dozen bytes; anything big is the wrong file. */
    private static final long MAX_KEY_FILE_BYTES = 64 * 1024;
    private static final String TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";

    private SecurityConfigReader() {
    }

    /** A list of CIDRs in canonical text, duplicates dropped; empty when {@code node} is null. */
    static List<String> cidrs(ConfigNode node) throws ConfigException {
        if (node == null) {
            return List.of();
        }
        Set<String> out = new LinkedHashSet<>();
        for (ConfigNode item : node.list()) {
            try {
                out.add(Cidr.parse(item.string()).toString());
            } catch (IllegalArgumentException e) {
                throw item.error(e.getMessage());
            }
        }
        return List.copyOf(out);
    }

    /** {@code {allow: [...], deny: [...]}}; {@link IpRulesConfig#NONE} when {@code node} is null. */
    static IpRulesConfig ipRules(ConfigNode node) throws ConfigException {
        if (node == null) {
            return IpRulesConfig.NONE;
        }
        Map<String, ConfigNode> f = node.fields("allow", "deny");
        return new IpRulesConfig(cidrs(f.get("allow")), cidrs(f.get("deny")));
    }

    /** The top-level {@code api_keys} list; empty when {@code node} is null. */
    static List<ApiKeyConfig> apiKeys(ConfigNode node) throws ConfigException {
        if (node == null) {
            return List.of();
        }
        List<ApiKeyConfig> keys = new ArrayList<>();
        for (ConfigNode item : node.list()) {
            ApiKeyConfig key = apiKey(item);
            for (ApiKeyConfig other : keys) {
                if (other.name().equals(key.name())) {
                    throw item.error("api key name '" + key.name() + "' is used twice");
                }
                // Two names for one key would make the identity depend on list order.
                if (MessageDigest.isEqual(other.sha256(), key.sha256())) {
                    throw item.error("api key '" + key.name() + "' is the same key as '" + other.name() + "'");
                }
            }
            keys.add(key);
        }
        return List.copyOf(keys);
    }

    private static ApiKeyConfig apiKey(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("name", "key", "sha256", "key_file", "queue_weight", "priority");
        ConfigNode nameNode = f.get("name");
        if (nameNode == null) {
            throw node.missing("name");
        }
        String name = nameNode.string().trim();
        // The name goes into access logs and metric tags, so keep it to characters that need no escaping.
        if (!name.matches("[A-Za-z0-9_.@-]{1,128}")) {
            throw nameNode.error("'" + name + "' is not a key name (1..128 letters, digits, '_', '.', '@' or '-')");
        }
        List<String> given = new ArrayList<>();
        for (String k : List.of("key", "sha256", "key_file")) {
            if (f.containsKey(k)) {
                given.add(k);
            }
        }
        if (given.size() != 1) {
            throw node.error("give exactly one of key, sha256 or key_file"
                    + (given.isEmpty() ? "" : " (found: " + String.join(", ", given) + ")"));
        }
        byte[] digest;
        switch (given.get(0)) {
            case "key":
                digest = ApiKeys.sha256(checkedKey(f.get("key"), f.get("key").string(), "the key"));
                break;
            case "sha256":
                digest = sha256Hex(f.get("sha256"));
                break;
            default:
                digest = keyFile(f.get("key_file"));
        }
        int weight = f.containsKey("queue_weight") ? f.get("queue_weight").integer(1, 1000) : 1;
        int priority = f.containsKey("priority") ? f.get("priority").integer(0, 9) : 0;
        return new ApiKeyConfig(name, digest, weight, priority);
    }

    private static byte[] sha256Hex(ConfigNode node) throws ConfigException {
        String hex = node.string().trim();
        if (!hex.matches("[0-9a-fA-F]{64}")) {
            throw node.error("expected the SHA-256 of the key as 64 hex digits (e.g. from: printf %s \"$KEY\" | sha256sum)");
        }
        byte[] digest = HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT));
        if (MessageDigest.isEqual(digest, ApiKeys.sha256(""))) {
            throw node.error("this is the SHA-256 of an empty key");
        }
        return digest;
    }

    private static byte[] keyFile(ConfigNode node) throws ConfigException {
        String file = node.string().trim();
        String key;
        try {
            Path path = Path.of(file);
            if (Files.size(path) > MAX_KEY_FILE_BYTES) {
                throw node.error("key file '" + file + "' is larger than 64 KiB; is it the right file?");
            }
            key = Files.readString(path, StandardCharsets.UTF_8);
        } catch (InvalidPathException e) {
            throw node.error("'" + file + "' is not a valid file name");
        } catch (NoSuchFileException e) {
            throw node.error("cannot read key file '" + file + "': no such file");
        } catch (AccessDeniedException e) {
            throw node.error("cannot read key file '" + file + "': permission denied");
        } catch (IOException e) {
            // The message of a decoding error says nothing about the content, so it is safe to show.
            throw node.error("cannot read key file '" + file + "': " + e.getClass().getSimpleName() + " " + e.getMessage());
        }
        // Secrets written by `echo` or editors end with a newline that is not part of the key.
        int end = key.length();
        while (end > 0 && (key.charAt(end - 1) == '\n' || key.charAt(end - 1) == '\r')) {
            end--;
        }
        return ApiKeys.sha256(checkedKey(node, key.substring(0, end), "key file '" + file + "'"));
    }

    /**
     * A key must be presentable in a header: non-empty visible ASCII. Leading or trailing blanks would be trimmed off
     * the request header, so such a key could never match; better to say so at load time.
     */
    private static String checkedKey(ConfigNode node, String key, String what) throws ConfigException {
        if (key.isEmpty()) {
            throw node.error(what + " is empty");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw node.error(what + " contains a space, control or non-ASCII character at position " + (i + 1)
                        + "; API keys must be visible ASCII");
            }
        }
        return key;
    }

    /** A route's {@code cors} section; null when {@code node} is null (no CORS headers at all). */
    static CorsConfig cors(ConfigNode node) throws ConfigException {
        if (node == null) {
            return null;
        }
        Map<String, ConfigNode> f = node.fields("allowed_origins", "allowed_methods", "allowed_headers", "exposed_headers",
                "allow_credentials", "max_age");
        ConfigNode originsNode = f.get("allowed_origins");
        if (originsNode == null) {
            throw node.missing("allowed_origins");
        }
        Set<String> origins = new LinkedHashSet<>();
        for (ConfigNode item : originsNode.list()) {
            try {
                origins.add(CorsPolicy.normalizeOrigin(item.string()));
            } catch (IllegalArgumentException e) {
                throw item.error(e.getMessage());
            }
        }
        if (origins.isEmpty()) {
            throw originsNode.error("at least one origin is required (or remove the cors section)");
        }
        if (origins.contains("*") && origins.size() > 1) {
            throw originsNode.error("'*' allows every origin; list it alone");
        }
        boolean credentials = f.containsKey("allow_credentials") && f.get("allow_credentials").bool();
        if (credentials && origins.contains("*")) {
            // Echoing any origin with credentials lets every website act with the user's cookies or client certificate.
            throw f.get("allow_credentials").error("allow_credentials: true needs the allowed origins listed, not '*'");
        }
        List<String> methods = tokens(f.get("allowed_methods"), DEFAULT_CORS_METHODS, "method", true);
        List<String> headers = tokens(f.get("allowed_headers"), DEFAULT_CORS_HEADERS, "header name", false);
        List<String> exposed = tokens(f.get("exposed_headers"), List.of(), "header name", false);
        Duration maxAge = DEFAULT_CORS_MAX_AGE;
        if (f.containsKey("max_age")) {
            maxAge = f.get("max_age").duration();
            if (maxAge.compareTo(MAX_CORS_MAX_AGE) > 0) {
                throw f.get("max_age").error("browsers cache a preflight for 24h at most (Chrome: 2h); use 24h or less");
            }
        }
        return new CorsConfig(List.copyOf(origins), methods, headers, exposed, credentials, maxAge);
    }

    private static List<String> tokens(ConfigNode node, List<String> dflt, String what, boolean upper) throws ConfigException {
        if (node == null) {
            return dflt;
        }
        Set<String> out = new LinkedHashSet<>();
        for (ConfigNode item : node.list()) {
            String t = item.string().trim();
            if (t.equals("*")) {
                throw item.error("'*' is not supported here; list each " + what);
            }
            if (!t.matches(TOKEN)) {
                throw item.error("'" + t + "' is not a " + what);
            }
            out.add(upper ? t.toUpperCase(Locale.ROOT) : t.toLowerCase(Locale.ROOT));
        }
        return List.copyOf(out);
    }
}
