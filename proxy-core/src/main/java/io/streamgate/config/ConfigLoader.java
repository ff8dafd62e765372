package io.streamgate.config;

import io.streamgate.config.RouteConfig.HostHeader;
import io.streamgate.config.RouteConfig.Timeouts;
import io.streamgate.config.ServerConfig.Limits;
import io.streamgate.config.ServerConfig.TransportChoice;
import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads the YAML file into a validated {@link ProxyConfig}. The whole file is checked before anything uses it;
 * the first problem found is reported with file, line, column and key path. Defaults suit LLM traffic: a request
 * may wait minutes in vLLM's queue and then stream for many more.
 */
public final class ConfigLoader {
    static final Duration DEFAULT_CONNECT = Duration.ofSeconds(5);
    static final Duration DEFAULT_FIRST_BYTE = Duration.ofMinutes(10);
    static final Duration DEFAULT_IDLE = Duration.ofMinutes(5);
    static final int DEFAULT_ADMIN_PORT = 9901;
    /**
     * The largest config file, in code points (SnakeYAML's default is 3 MiB). Whatever else parses the file (the admin
     * listener's redacted view) must allow as much, or a file this loader accepted would fail there.
     */
    public static final int MAX_CODE_POINTS = 4 * 1024 * 1024;

    private final String source;
    private final EnvSubstitution env;

    private ConfigLoader(String source, Function<String, String> env) {
        this.source = source;
        this.env = new EnvSubstitution(env);
    }

    public static ProxyConfig load(Path file) throws ConfigException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw unreadable(file, e);
        }
        return parse(bytes, file);
    }

    /**
     * Parses what was read from {@code file}. Bytes that are not UTF-8 are refused, not replaced, at the line and
     * column of the first bad one, so that the operator can find it (a file saved as Latin-1 by an old editor).
     */
    public static ProxyConfig parse(byte[] bytes, Path file) throws ConfigException {
        return parse(utf8(bytes, file), file.toString());
    }

    private static String utf8(byte[] bytes, Path file) throws ConfigException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (!result.isError()) {
            return out.flip().toString();
        }
        int offset = in.position();
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < offset; i++) {
            if (bytes[i] == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        // The column counts characters, as the loader's other messages do; the bad byte itself is shown in hex.
        int column = new String(bytes, lineStart, offset - lineStart, StandardCharsets.UTF_8).length() + 1;
        String what = offset < bytes.length ? String.format(" (byte 0x%02X)", bytes[offset] & 0xff) : "";
        throw new ConfigException(file.toString(), line, column, "", "not UTF-8 text" + what + "; save the file as UTF-8");
    }

    /**
     * How a config file that cannot be read is reported: its name and the reason in an operator's words
     * ({@code no such file}, {@code permission denied}), not the name of a Java exception.
     */
    public static ConfigException unreadable(Path file, IOException e) {
        String reason;
        if (e instanceof NoSuchFileException) {
            reason = "no such file";
        } else if (e instanceof AccessDeniedException) {
            reason = "permission denied";
        } else if (Files.isDirectory(file)) {
            reason = "it is a directory";
        } else if (e instanceof FileSystemException fse && fse.getReason() != null) {
            reason = fse.getReason(); // the system's words ("Not a directory"), without the path a second time
        } else {
            String message = e.getMessage();
            reason = message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
        }
        return new ConfigException(file.toString(), 0, 0, "", "cannot read file: " + reason);
    }

    public static ProxyConfig parse(String yaml, String sourceName) throws ConfigException {
        return parse(yaml, sourceName, System::getenv);
    }

    /** As {@link #parse(String, String)}, resolving {@code ${VAR}} through {@code env} (tests use this). */
    public static ProxyConfig parse(String yaml, String sourceName, Function<String, String> env) throws ConfigException {
        return new ConfigLoader(sourceName, env).read(yaml);
    }

    private ProxyConfig read(String yaml) throws ConfigException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(10);
        options.setCodePointLimit(MAX_CODE_POINTS);
        Node root;
        try {
            root = new Yaml(options).compose(new StringReader(yaml));
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
            int col = e.getProblemMark() == null ? 0 : e.getProblemMark().getColumn() + 1;
            throw new ConfigException(source, line, col, "", "invalid YAML: " + e.getProblem());
        } catch (YAMLException e) {
            throw new ConfigException(source, 0, 0, "", "invalid YAML: " + e.getMessage());
        }
        if (root == null) {
            throw new ConfigException(source, 0, 0, "", "the file is empty (expected server, upstreams and routes)");
        }
        ConfigNode top = new ConfigNode(source, "", root, env);
        Map<String, ConfigNode> f = top.fields("server", "upstreams", "routes", "api_keys", "rate_limits", "redis", "cache",
                "admin", "access_log");
        ServerConfig server = server(require(top, f, "server"));
        Map<String, UpstreamConfig> upstreams = UpstreamConfigReader.upstreams(require(top, f, "upstreams"));
        List<ApiKeyConfig> apiKeys = f.containsKey("api_keys") ? SecurityConfigReader.apiKeys(f.get("api_keys")) : List.of();
        Map<String, RateLimitConfig> rateLimits = PolicyConfigReader.rateLimits(f.get("rate_limits"));
        RedisConfig redis = PolicyConfigReader.redis(f.get("redis"));
        CacheConfig cache = PolicyConfigReader.cache(f.get("cache"));
        RoutePolicyContext policies = new RoutePolicyContext(!apiKeys.isEmpty(), rateLimits, redis);
        List<RouteConfig> routes = routes(require(top, f, "routes"), upstreams, server.limits(), policies);
        AdminConfig admin = admin(f.get("admin"));
        AccessLogConfig accessLog = accessLog(f.get("access_log"));
        return new ProxyConfig(server, upstreams, routes, apiKeys, rateLimits, redis, cache, admin, accessLog, source);
    }

    /** Loopback on 9901 by default; {@code admin: off} disables it. */
    private AdminConfig admin(ConfigNode node) throws ConfigException {
        if (node == null) {
            return new AdminConfig("127.0.0.1", DEFAULT_ADMIN_PORT, null);
        }
        if (node.isScalar()) {
            if (node.string().trim().equals("off")) {
                return null;
            }
            throw node.error("expected a mapping with listen (and token), or off");
        }
        Map<String, ConfigNode> f = node.fields("listen", "token");
        HostPort hp = f.containsKey("listen") ? hostPort(f.get("listen"), f.get("listen").string())
                : new HostPort("127.0.0.1", DEFAULT_ADMIN_PORT);
        String token = null;
        if (f.containsKey("token")) {
            token = f.get("token").string();
            if (token.length() < 16 || !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                throw f.get("token").error("must be at least 16 visible ASCII characters"); // never echo it
            }
        }
        return new AdminConfig(hp.host(), hp.port(), token);
    }

    private AccessLogConfig accessLog(ConfigNode node) throws ConfigException {
        if (node == null) {
            return AccessLogConfig.DEFAULT;
        }
        Map<String, ConfigNode> f = node.fields("format", "file", "max_size", "max_files");
        AccessLogConfig d = AccessLogConfig.DEFAULT;
        AccessLogConfig.Format format = f.containsKey("format") ? f.get("format").enumValue(AccessLogConfig.Format.class) : d.format();
        String file = null;
        if (f.containsKey("file")) {
            file = f.get("file").string().trim();
            if (file.isEmpty() || file.equals("stdout")) {
                file = null;
            }
            if (file != null && file.contains("%")) {
                throw f.get("file").error("'%' is not allowed in the file name (the rolled files' names use it)");
            }
        }
        long maxSize = sizeOr(f, "max_size", d.maxSize(), 1 << 20, Long.MAX_VALUE);
        int maxFiles = f.containsKey("max_files") ? f.get("max_files").integer(1, 1000) : d.maxFiles();
        return new AccessLogConfig(format, file, maxSize, maxFiles);
    }

    /** What a route's policy keys are checked against. */
    private record RoutePolicyContext(boolean haveKeys, Map<String, RateLimitConfig> rateLimits, RedisConfig redis) {
    }

    static ConfigNode require(ConfigNode parent, Map<String, ConfigNode> fields, String key) throws ConfigException {
        ConfigNode n = fields.get(key);
        if (n == null) {
            throw parent.missing(key);
        }
        return n;
    }

    private ServerConfig server(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("listen", "io_threads", "transport", "reuse_port", "client_idle_timeout", "drain_timeout", "shutdown_delay",
                "limits", "tls", "http2", "h2c", "max_concurrent_streams", "redirect_listen", "ip", "trusted_proxies",
                "proxy_protocol", "allow_encoded_in_path");
        ConfigNode listen = require(node, f, "listen");
        HostPort hp = hostPort(listen, listen.string());
        int ioThreads = f.containsKey("io_threads") ? f.get("io_threads").integer(0, 1024) : 0;
        TransportChoice transport = TransportChoice.AUTO;
        if (f.containsKey("transport")) {
            ConfigNode t = f.get("transport");
            transport = t.enumValue(TransportChoice.class);
        }
        boolean reusePort = f.containsKey("reuse_port") && f.get("reuse_port").bool();
        Duration idle = durationOr(f, "client_idle_timeout", Duration.ofSeconds(75), false);
        Duration drain = durationOr(f, "drain_timeout", Duration.ofSeconds(30), true);
        Duration shutdownDelay = durationOr(f, "shutdown_delay", Duration.ZERO, true);
        Limits limits = limits(f.get("limits"));
        TlsConfig tls = f.containsKey("tls") ? TlsConfigReader.read(f.get("tls")) : null;
        boolean http2 = !f.containsKey("http2") || f.get("http2").bool();
        boolean h2c = f.containsKey("h2c") && f.get("h2c").bool();
        int streams = f.containsKey("max_concurrent_streams") ? f.get("max_concurrent_streams").integer(1, 10_000) : 128;
        ServerConfig.Listen redirect = null;
        if (f.containsKey("redirect_listen")) {
            if (tls == null) {
                throw f.get("redirect_listen").error("redirecting to HTTPS needs server.tls");
            }
            HostPort r = hostPort(f.get("redirect_listen"), f.get("redirect_listen").string());
            redirect = new ServerConfig.Listen(r.host, r.port);
        }
        IpRulesConfig ip = f.containsKey("ip") ? SecurityConfigReader.ipRules(f.get("ip")) : IpRulesConfig.NONE;
        List<String> trusted = f.containsKey("trusted_proxies") ? SecurityConfigReader.cidrs(f.get("trusted_proxies")) : List.of();
        boolean proxyProtocol = f.containsKey("proxy_protocol") && f.get("proxy_protocol").bool();
        if (proxyProtocol && trusted.isEmpty()) {
            throw f.get("proxy_protocol").error("the PROXY protocol is only accepted from server.trusted_proxies, which is empty");
        }
        Set<EncodedPathCharacter> encoded = EnumSet.noneOf(EncodedPathCharacter.class);
        if (f.containsKey("allow_encoded_in_path")) {
            for (ConfigNode c : f.get("allow_encoded_in_path").list()) {
                encoded.add(c.enumValue(EncodedPathCharacter.class));
            }
        }
        return new ServerConfig(hp.host, hp.port, ioThreads, transport, reusePort, idle, drain, shutdownDelay, limits, tls, http2, h2c, streams,
                redirect, ip, trusted, proxyProtocol, encoded);
    }

    private Limits limits(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node == null ? Map.of()
                : node.fields("max_request_line", "max_header_size", "max_headers", "max_body_size", "max_connections",
                        "max_connections_per_ip", "request_header_timeout", "body_idle_timeout");
        int line = (int) sizeOr(f, "max_request_line", 8 * 1024, 256, 1 << 20);
        int header = (int) sizeOr(f, "max_header_size", 32 * 1024, 1024, 1 << 20);
        int count = f.containsKey("max_headers") ? f.get("max_headers").integer(1, 10_000) : 100;
        long body = sizeOr(f, "max_body_size", 100L << 20, 0, Long.MAX_VALUE);
        int maxConn = f.containsKey("max_connections") ? f.get("max_connections").integer(1, 10_000_000) : 100_000;
        int perIp = f.containsKey("max_connections_per_ip") ? f.get("max_connections_per_ip").integer(1, 10_000_000) : 1_000;
        Duration headerTimeout = durationOr(f, "request_header_timeout", Duration.ofSeconds(30), false);
        Duration bodyIdle = durationOr(f, "body_idle_timeout", Duration.ofSeconds(60), false);
        return new Limits(line, header, count, body, maxConn, perIp, headerTimeout, bodyIdle);
    }

    private List<RouteConfig> routes(ConfigNode node, Map<String, UpstreamConfig> upstreams, Limits limits, RoutePolicyContext policies)
            throws ConfigException {
        List<RouteConfig> routes = new ArrayList<>();
        Set<String> names = new HashSet<>();
        List<ConfigNode> items = node.list();
        if (items.isEmpty()) {
            throw node.error("at least one route is required");
        }
        for (int i = 0; i < items.size(); i++) {
            RouteConfig r = route(items.get(i), i, upstreams, limits, policies);
            if (!names.add(r.name())) {
                throw items.get(i).error("route name '" + r.name() + "' is used twice");
            }
            routes.add(r);
        }
        return routes;
    }

    private RouteConfig route(ConfigNode node, int index, Map<String, UpstreamConfig> upstreams, Limits limits,
                              RoutePolicyContext policies) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("name", "host", "path_prefix", "methods", "upstream", "strip_prefix",
                "rewrite_prefix", "host_header", "forwarded_headers", "max_body_size", "sse_heartbeat", "timeouts", "auth", "upstream_api_key", "models",
                "ip", "cors", "rate_limits", "cache", "tokens");
        String name = f.containsKey("name") ? f.get("name").string() : "route-" + index;
        String host = null;
        if (f.containsKey("host")) {
            host = f.get("host").string().trim().toLowerCase(Locale.ROOT);
            if (!host.matches("(\\*\\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?") && !host.matches("\\[[0-9a-f:.]+\\]")) {
                throw f.get("host").error("'" + host + "' is not a host name (expected e.g. api.example.com or *.example.com)");
            }
        }
        ConfigNode prefixNode = require(node, f, "path_prefix");
        String prefix = prefixNode.string();
        if (!prefix.startsWith("/")) {
            throw prefixNode.error("'" + prefix + "' must start with '/'");
        }
        Set<String> methods = new LinkedHashSet<>();
        if (f.containsKey("methods")) {
            for (ConfigNode m : f.get("methods").list()) {
                String method = m.string().trim().toUpperCase(Locale.ROOT);
                if (!method.matches("[A-Z]+")) {
                    throw m.error("'" + method + "' is not an HTTP method");
                }
                methods.add(method);
            }
        }
        String upstream = knownUpstream(require(node, f, "upstream"), upstreams);
        boolean strip = f.containsKey("strip_prefix") && f.get("strip_prefix").bool();
        String rewrite = null;
        if (f.containsKey("rewrite_prefix")) {
            if (strip) {
                throw f.get("rewrite_prefix").error("use either strip_prefix or rewrite_prefix, not both");
            }
            rewrite = f.get("rewrite_prefix").string();
            if (!rewrite.startsWith("/")) {
                throw f.get("rewrite_prefix").error("'" + rewrite + "' must start with '/'");
            }
        } else if (strip) {
            rewrite = "";
        }
        HostHeader hostHeader = new HostHeader(HostHeader.Mode.PRESERVE, null);
        if (f.containsKey("host_header")) {
            String h = f.get("host_header").string().trim();
            if (h.equals("preserve")) {
                hostHeader = new HostHeader(HostHeader.Mode.PRESERVE, null);
            } else if (h.equals("upstream")) {
                hostHeader = new HostHeader(HostHeader.Mode.UPSTREAM, null);
            } else if (h.matches("[A-Za-z0-9.:\\[\\]-]+")) {
                hostHeader = new HostHeader(HostHeader.Mode.LITERAL, h);
            } else {
                throw f.get("host_header").error("'" + h + "' is not preserve, upstream or a host name");
            }
        }
        RouteConfig.ForwardedHeaders forwarded = f.containsKey("forwarded_headers")
                ? f.get("forwarded_headers").enumValue(RouteConfig.ForwardedHeaders.class)
                : RouteConfig.ForwardedHeaders.X_FORWARDED;
        long maxBody = sizeOr(f, "max_body_size", limits.maxBodySize(), 0, Long.MAX_VALUE);
        Duration heartbeat = durationOr(f, "sse_heartbeat", Duration.ZERO, true);
        RouteConfig.AuthMode auth = RouteConfig.AuthMode.OFF;
        if (f.containsKey("auth")) {
            auth = f.get("auth").enumValue(RouteConfig.AuthMode.class);
            if (auth != RouteConfig.AuthMode.OFF && !policies.haveKeys()) {
                throw f.get("auth").error("auth is " + auth.name().toLowerCase(Locale.ROOT) + " but no api_keys are configured");
            }
        }
        String upstreamKey = null;
        if (f.containsKey("upstream_api_key")) {
            upstreamKey = UpstreamConfigReader.token(f.get("upstream_api_key"));
        }
        IpRulesConfig ip = f.containsKey("ip") ? SecurityConfigReader.ipRules(f.get("ip")) : IpRulesConfig.NONE;
        CorsConfig cors = f.containsKey("cors") ? SecurityConfigReader.cors(f.get("cors")) : null;
        List<String> rateLimits = PolicyConfigReader.routeRateLimits(f.get("rate_limits"), policies.rateLimits(), policies.redis());
        RouteCacheConfig cache = PolicyConfigReader.routeCache(f.get("cache"));
        TokenAccountingConfig tokens = PolicyConfigReader.tokens(f.get("tokens"));
        return new RouteConfig(name, host, prefix, methods, upstream, rewrite, hostHeader, forwarded, maxBody, heartbeat, timeouts(f.get("timeouts")),
                auth, upstreamKey, ip, cors, rateLimits, cache, tokens, models(f.get("models"), upstreams));
    }

    private static RouteConfig.ModelRouting models(ConfigNode node, Map<String, UpstreamConfig> upstreams) throws ConfigException {
        if (node == null) {
            return null;
        }
        Map<String, ConfigNode> f = node.fields("upstreams", "aliases", "fallback", "catalog");
        List<String> names = new ArrayList<>();
        for (ConfigNode u : require(node, f, "upstreams").list()) {
            names.add(knownUpstream(u, upstreams));
        }
        if (names.isEmpty()) {
            throw f.get("upstreams").error("at least one upstream is required");
        }
        Map<String, String> aliases = new LinkedHashMap<>();
        if (f.containsKey("aliases")) {
            for (Map.Entry<String, ConfigNode> a : f.get("aliases").entries().entrySet()) {
                String target = a.getValue().string().trim();
                if (target.isEmpty()) {
                    throw a.getValue().error("an alias must name a served model");
                }
                aliases.put(a.getKey(), target);
            }
        }
        String fallback = f.containsKey("fallback") ? knownUpstream(f.get("fallback"), upstreams) : null;
        boolean catalog = !f.containsKey("catalog") || f.get("catalog").bool();
        return new RouteConfig.ModelRouting(names, aliases, fallback, catalog);
    }

    private static String knownUpstream(ConfigNode node, Map<String, UpstreamConfig> upstreams) throws ConfigException {
        String name = node.string().trim();
        if (!upstreams.containsKey(name)) {
            throw node.error("unknown upstream '" + name + "' (known: " + String.join(", ", upstreams.keySet()) + ")");
        }
        return name;
    }

    private Timeouts timeouts(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node == null ? Map.of() : node.fields("connect", "first_byte", "idle", "total", "first_byte_failover");
        return new Timeouts(
                durationOr(f, "connect", DEFAULT_CONNECT, false),
                durationOr(f, "first_byte", DEFAULT_FIRST_BYTE, false),
                durationOr(f, "idle", DEFAULT_IDLE, false),
                durationOr(f, "total", Duration.ZERO, true),
                durationOr(f, "first_byte_failover", Duration.ZERO, true));
    }

    static Duration durationOr(Map<String, ConfigNode> f, String key, Duration dflt, boolean zeroAllowed) throws ConfigException {
        ConfigNode n = f.get(key);
        if (n == null) {
            return dflt;
        }
        Duration d = n.duration();
        if (d.isZero() && !zeroAllowed) {
            throw n.error("must be greater than zero");
        }
        return d;
    }

    static long sizeOr(Map<String, ConfigNode> f, String key, long dflt, long min, long max) throws ConfigException {
        ConfigNode n = f.get(key);
        if (n == null) {
            return dflt;
        }
        long v = n.size();
        if (v < min || v > max) {
            throw n.error(v + " bytes is out of range (expected " + min + ".." + max + " bytes)");
        }
        return v;
    }

    private record HostPort(String host, int port) {
    }

    private static HostPort hostPort(ConfigNode node, String text) throws ConfigException {
        String t = text.trim();
        int colon = t.lastIndexOf(':');
        String host;
        String port;
        if (colon < 0) {
            host = "0.0.0.0";
            port = t;
        } else {
            host = t.substring(0, colon);
            port = t.substring(colon + 1);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            } else if (host.indexOf(':') >= 0) {
                throw node.error("'" + t + "': write IPv6 addresses in brackets, e.g. [::1]:8080");
            }
            if (host.isEmpty()) {
                host = "0.0.0.0";
            }
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw node.error("'" + t + "' is not host:port");
        }
        if (p < 0 || p > 65535) {
            throw node.error("port " + p + " is out of range (0..65535)");
        }
        return new HostPort(host, p);
    }
}
