package io.streamgate.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.policy.ApiKeys;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

class SecurityConfigReaderTest {
    private static final Map<String, String> ENV = Map.of("ALICE_KEY", "sk-alice-0123456789");

    @TempDir
    Path dir;

    /** The node under {@code key} of a one-key YAML document, composed the way ConfigLoader does it. */
    private static ConfigNode node(String yaml, String key) throws ConfigException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        ConfigNode root = new ConfigNode("test.yaml", "", new Yaml(options).compose(new StringReader(yaml)),
                new EnvSubstitution(ENV::get));
        return root.fields(key).get(key);
    }

    private interface Read<T> {
        T apply(ConfigNode n) throws ConfigException;
    }

    private static <T> String error(Read<T> reader, String yaml, String key) throws ConfigException {
        ConfigNode n = node(yaml, key);
        return assertThrows(ConfigException.class, () -> reader.apply(n)).getMessage();
    }

    // --- IP rules -------------------------------------------------------------------------------------------

    @Test
    void readsIpRulesInCanonicalForm() throws ConfigException {
        IpRulesConfig ip = SecurityConfigReader.ipRules(node("""
                ip:
                  allow: ["10.0.0.0/8", "2001:DB8::/32", 192.0.2.7, "10.0.0.0/8"]
                  deny: ["10.1.2.0/24"]
                """, "ip"));
        assertEquals(List.of("10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"), ip.allow());
        assertEquals(List.of("10.1.2.0/24"), ip.deny());
        assertEquals(new IpRulesConfig(List.of(), List.of("10.0.0.0/8")),
                SecurityConfigReader.ipRules(node("ip: {deny: [10.0.0.0/8]}", "ip")));
        assertEquals(IpRulesConfig.NONE, SecurityConfigReader.ipRules(null));
        assertEquals(List.of(), SecurityConfigReader.cidrs(null));
    }

    @Test
    void badCidrIsReportedAtItsLineWithItsPath() throws ConfigException {
        assertEquals("test.yaml:4:7: ip.allow[1]: '10.0.0.1/8' has bits set after the prefix (did you mean 10.0.0.0/8?)",
                error(SecurityConfigReader::ipRules, """
                        ip:
                          allow:
                            - 10.0.0.0/8
                            - 10.0.0.1/8
                        """, "ip"));
        assertEquals("test.yaml:1:19: trusted_proxies[0]: 'localhost' is not an IP address or CIDR (expected e.g. 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7)",
                error(SecurityConfigReader::cidrs, "trusted_proxies: [localhost]", "trusted_proxies"));
        assertEquals("test.yaml:1:6: ip.alow: unknown key (expected one of: allow, deny)",
                error(SecurityConfigReader::ipRules, "ip: {alow: []}", "ip"));
        assertEquals("test.yaml:1:18: trusted_proxies: expected a list, found '10.0.0.0/8'",
                error(SecurityConfigReader::cidrs, "trusted_proxies: 10.0.0.0/8", "trusted_proxies"));
    }

    // --- API keys -------------------------------------------------------------------------------------------

    @Test
    void readsKeysFromEnvHexAndFile() throws IOException, ConfigException {
        Path carol = dir.resolve("carol");
        Files.writeString(carol, "sk-carol-42\n", StandardCharsets.UTF_8);
        List<ApiKeyConfig> keys = SecurityConfigReader.apiKeys(node("""
                api_keys:
                  - name: alice
                    key: "${ALICE_KEY}"
                  - name: bob
                    sha256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
                  - name: carol
                    key_file: %s
                """.formatted(carol), "api_keys"));
        assertEquals(List.of("alice", "bob", "carol"), keys.stream().map(ApiKeyConfig::name).toList());
        assertArrayEquals(ApiKeys.sha256("sk-alice-0123456789"), keys.get(0).sha256());
        assertArrayEquals(ApiKeys.sha256("test"), keys.get(1).sha256());
        assertArrayEquals(ApiKeys.sha256("sk-carol-42"), keys.get(2).sha256(), "the trailing newline is not part of the key");
        assertEquals(List.of(), SecurityConfigReader.apiKeys(null));
    }

    @Test
    void keyFileWithCrLfAndNoNewlineBothWork() throws IOException, ConfigException {
        Path a = Files.writeString(dir.resolve("a"), "sk-a\r\n");
        Path b = Files.writeString(dir.resolve("b"), "sk-b");
        List<ApiKeyConfig> keys = SecurityConfigReader.apiKeys(node(
                "api_keys: [{name: a, key_file: '" + a + "'}, {name: b, key_file: '" + b + "'}]", "api_keys"));
        assertArrayEquals(ApiKeys.sha256("sk-a"), keys.get(0).sha256());
        assertArrayEquals(ApiKeys.sha256("sk-b"), keys.get(1).sha256());
    }

    @Test
    void keyErrorsNameTheEntryAndNeverTheKey() throws IOException, ConfigException {
        assertEquals("test.yaml:2:5: api_keys[0]: give exactly one of key, sha256 or key_file (found: key, key_file)",
                error(SecurityConfigReader::apiKeys, """
                        api_keys:
                          - name: a
                            key: sk-secret-value
                            key_file: /nonexistent
                        """, "api_keys"));
        assertEquals("test.yaml:2:5: api_keys[0]: give exactly one of key, sha256 or key_file",
                error(SecurityConfigReader::apiKeys, "api_keys:\n  - name: a\n", "api_keys"));
        assertEquals("test.yaml:1:12: api_keys[0].name: required key is missing",
                error(SecurityConfigReader::apiKeys, "api_keys: [{key: sk-secret-value}]", "api_keys"));
        assertEquals("test.yaml:3:5: api_keys[1]: api key name 'a' is used twice",
                error(SecurityConfigReader::apiKeys, "api_keys:\n  - {name: a, key: k1}\n  - {name: a, key: k2}\n", "api_keys"));
        String same = error(SecurityConfigReader::apiKeys,
                "api_keys:\n  - {name: a, key: sk-secret-value}\n  - {name: b, sha256: " + hex("sk-secret-value") + "}\n", "api_keys");
        assertEquals("test.yaml:3:5: api_keys[1]: api key 'b' is the same key as 'a'", same);
        assertEquals("test.yaml:1:41: api_keys[0].name: 'has space' is not a key name (1..128 letters, digits, '_', '.', '@' or '-')",
                error(SecurityConfigReader::apiKeys, "api_keys: [{key: sk-secret-value, name: has space}]", "api_keys"));

        String spaced = error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key: 'sk-secret-value '}]", "api_keys");
        assertEquals("test.yaml:1:27: api_keys[0].key: the key contains a space, control or non-ASCII character at position 16;"
                + " API keys must be visible ASCII", spaced);
        assertEquals("test.yaml:1:27: api_keys[0].key: the key is empty",
                error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key: ''}]", "api_keys"));
        assertEquals("test.yaml:1:27: api_keys[0].key: environment variable NOPE is not set (use ${NOPE:-default} for a default)",
                error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key: '${NOPE}'}]", "api_keys"));
    }

    @Test
    void sha256MustBe64HexDigitsOfANonEmptyKey() throws ConfigException {
        assertTrue(error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, sha256: abc}]", "api_keys")
                .startsWith("test.yaml:1:30: api_keys[0].sha256: expected the SHA-256 of the key as 64 hex digits"));
        String z = "g".repeat(64);
        assertTrue(error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, sha256: " + z + "}]", "api_keys")
                .contains("expected the SHA-256 of the key as 64 hex digits"));
        assertEquals("test.yaml:1:30: api_keys[0].sha256: this is the SHA-256 of an empty key",
                error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, sha256: " + hex("") + "}]", "api_keys"));
    }

    @Test
    void keyFileProblemsNameTheFile() throws IOException, ConfigException {
        Path missing = dir.resolve("missing");
        assertEquals("test.yaml:1:32: api_keys[0].key_file: cannot read key file '" + missing + "': no such file",
                error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key_file: '" + missing + "'}]", "api_keys"));
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertEquals("test.yaml:1:32: api_keys[0].key_file: key file '" + empty + "' is empty",
                error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key_file: '" + empty + "'}]", "api_keys"));
        Path spaced = Files.writeString(dir.resolve("spaced"), "sk-secret-value extra\n");
        String e = error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key_file: '" + spaced + "'}]", "api_keys");
        assertEquals("test.yaml:1:32: api_keys[0].key_file: key file '" + spaced
                + "' contains a space, control or non-ASCII character at position 16; API keys must be visible ASCII", e);
        Path big = Files.write(dir.resolve("big"), new byte[70_000]);
        assertTrue(error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key_file: '" + big + "'}]", "api_keys")
                .endsWith("key file '" + big + "' is larger than 64 KiB; is it the right file?"));
        assertTrue(error(SecurityConfigReader::apiKeys, "api_keys: [{name: a, key_file: '" + dir + "'}]", "api_keys")
                .contains("cannot read key file '" + dir + "'"));
    }

    @Test
    void apiKeyConfigNeverPrintsKeyMaterialAndComparesContents() {
        byte[] d = ApiKeys.sha256("sk-secret-value");
        ApiKeyConfig k = new ApiKeyConfig("alice", d);
        assertEquals("ApiKeyConfig[name=alice, sha256=<redacted>]", k.toString());
        assertFalse(List.of(k).toString().contains(HexFormat.of().formatHex(d)));
        assertEquals(k, new ApiKeyConfig("alice", d.clone()));
        assertEquals(k.hashCode(), new ApiKeyConfig("alice", d.clone()).hashCode());
        assertNotEquals(k, new ApiKeyConfig("bob", d));
        d[0] ^= 1;
        assertNotEquals(k, new ApiKeyConfig("alice", d), "the record holds its own copy");
        k.sha256()[1] ^= 1;
        assertArrayEquals(ApiKeys.sha256("sk-secret-value"), k.sha256(), "callers get a copy");
        assertThrows(IllegalArgumentException.class, () -> new ApiKeyConfig("x", new byte[31]));
    }

    // --- CORS -----------------------------------------------------------------------------------------------

    @Test
    void readsCorsWithDefaults() throws ConfigException {
        CorsConfig c = SecurityConfigReader.cors(node("cors: {allowed_origins: ['https://App.example.com:443', 'https://*.example.com']}", "cors"));
        assertEquals(new CorsConfig(List.of("https://app.example.com", "https://*.example.com"), List.of("GET", "HEAD", "POST"),
                List.of("authorization", "content-type", "x-api-key", "x-request-id"), List.of(), false, Duration.ofMinutes(10)), c);
        assertNull(SecurityConfigReader.cors(null));
    }

    @Test
    void readsFullCors() throws ConfigException {
        CorsConfig c = SecurityConfigReader.cors(node("""
                cors:
                  allowed_origins: ["https://app.example.com"]
                  allowed_methods: [get, POST, GET]
                  allowed_headers: [Authorization, content-type]
                  exposed_headers: [X-Request-Id]
                  allow_credentials: true
                  max_age: 2h
                """, "cors"));
        assertEquals(new CorsConfig(List.of("https://app.example.com"), List.of("GET", "POST"),
                List.of("authorization", "content-type"), List.of("x-request-id"), true, Duration.ofHours(2)), c);
    }

    @Test
    void corsErrorsPointAtTheEntry() throws ConfigException {
        assertEquals("test.yaml:1:7: cors.allowed_origins: required key is missing",
                error(SecurityConfigReader::cors, "cors: {allowed_methods: [GET]}", "cors"));
        assertEquals("test.yaml:1:25: cors.allowed_origins: at least one origin is required (or remove the cors section)",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: []}", "cors"));
        assertEquals("test.yaml:1:26: cors.allowed_origins[0]: 'https://app.example.com/': an origin has no path; remove the trailing '/'",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['https://app.example.com/']}", "cors"));
        assertEquals("test.yaml:1:25: cors.allowed_origins: '*' allows every origin; list it alone",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['*', 'https://a.example.com']}", "cors"));
        assertEquals("test.yaml:1:51: cors.allow_credentials: allow_credentials: true needs the allowed origins listed, not '*'",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['*'], allow_credentials: true}", "cors"));
        assertEquals("test.yaml:1:70: cors.allowed_methods[0]: 'GET POST' is not a method",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['https://a.example.com'], allowed_methods: ['GET POST']}", "cors"));
        assertEquals("test.yaml:1:70: cors.allowed_headers[0]: '*' is not supported here; list each header name",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['https://a.example.com'], allowed_headers: ['*']}", "cors"));
        assertEquals("test.yaml:1:61: cors.max_age: browsers cache a preflight for 24h at most (Chrome: 2h); use 24h or less",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['https://a.example.com'], max_age: 25h}", "cors"));
        assertEquals("test.yaml:1:61: cors.max_age: 'soon' is not a duration (expected e.g. 300ms, 30s, 5m, 1h)",
                error(SecurityConfigReader::cors, "cors: {allowed_origins: ['https://a.example.com'], max_age: soon}", "cors"));
    }

    private static String hex(String key) {
        return HexFormat.of().formatHex(ApiKeys.sha256(key));
    }
}
