package io.streamgate.admission;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * API keys through the proxy: alice's key is configured in plain text, bob's as a SHA-256, carol's in a file.
 * /v1 requires a key and sends the backend its own key; /open takes a key optionally. The client's key never
 * reaches the backend; the key's name appears in the access log.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ApiKeyEndToEndTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";
    private static final String CAROL = "sk-carol-5555";
    private static final String UPSTREAM_KEY = "vllm-upstream-key";

    private Path carolFile;
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        carolFile = Files.createTempFile("carol", ".key");
        Files.writeString(carolFile, CAROL + "\n", StandardCharsets.US_ASCII);
        String bobSha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(BOB.getBytes(StandardCharsets.UTF_8)));
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                  - name: bob
                    sha256: "%s"
                  - name: carol
                    key_file: "%s"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: backend
                    auth: required
                    upstream_api_key: "%s"
                  - path_prefix: /open
                    upstream: backend
                    auth: optional
                """.formatted(ALICE, bobSha, carolFile, backend.url(), UPSTREAM_KEY));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
        Files.deleteIfExists(carolFile);
    }

    private RawResponse get(String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    private static void assert401(RawResponse response) {
        assertError(response, 401, "invalid_api_key");
        String challenge = response.header("www-authenticate");
        assertNotNull(challenge, () -> "401 without WWW-Authenticate: " + response);
        assertTrue(challenge.startsWith("Bearer"), challenge);
        assertTrue(challenge.contains("realm=\"streamgate\""), challenge);
    }

    @Test
    void withoutAKeyARequiredRouteAnswers401WithAChallenge() throws Exception {
        assert401(get("/v1/models"));
        assertEquals(0, backend.received().size());
    }

    @Test
    void aWrongKeyIs401() throws Exception {
        assert401(get("/v1/models", "Authorization: Bearer sk-alice-012345678"));
        assert401(get("/v1/models", "Authorization: Bearer " + ALICE + "x"));
        assert401(get("/v1/models", "x-api-key: " + BOB.toUpperCase()));
        assert401(get("/v1/models", "Authorization: Bearer " + bobShaHex()));
        assert401(get("/v1/models", "Authorization: Basic " + java.util.Base64.getEncoder().encodeToString(("alice:" + ALICE).getBytes())));
        assertEquals(0, backend.received().size());
    }

    @Test
    void aGoodBearerKeyPassesAndTheBackendSeesOnlyItsOwnKey() throws Exception {
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            RawResponse response = get("/v1/models", "Authorization: Bearer " + ALICE);
            assertEquals(200, response.status(), response::toString);
            BackendExchange seen = backend.takeExchange();
            assertEquals("Bearer " + UPSTREAM_KEY, seen.headers().get("authorization"));
            assertFalse(seen.headers().toString().contains(ALICE), "the client's key reached the backend: " + seen.headers());
            String line = accessLog.awaitLine(l -> l.contains("/v1/models"), 2_000);
            assertNotNull(line, () -> "no access log line; lines: " + accessLog.lines());
            assertTrue(line.contains("alice"), "the access log must name the key: " + line);
            assertFalse(line.contains(ALICE), "the access log must not contain the key itself: " + line);
        }
    }

    @Test
    void aGoodXApiKeyPassesAndIsNotForwarded() throws Exception {
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            RawResponse response = get("/v1/models", "x-api-key: " + BOB);
            assertEquals(200, response.status(), response::toString);
            BackendExchange seen = backend.takeExchange();
            assertNull(seen.headers().get("x-api-key"), "x-api-key reached the backend");
            assertEquals("Bearer " + UPSTREAM_KEY, seen.headers().get("authorization"));
            String line = accessLog.awaitLine(l -> l.contains("/v1/models"), 2_000);
            assertNotNull(line);
            assertTrue(line.contains("bob"), "the access log must name the key: " + line);
        }
    }

    @Test
    void aKeyFromAFileWorksWithoutItsTrailingNewline() throws Exception {
        assertEquals(200, get("/v1/models", "Authorization: Bearer " + CAROL).status());
    }

    @Test
    void theBearerSchemeIsCaseInsensitive() throws Exception {
        assertEquals(200, get("/v1/models", "Authorization: bearer " + ALICE).status());
    }

    @Test
    void anOptionalRouteServesAnonymousClientsButRefusesBadKeys() throws Exception {
        RawResponse anonymous = get("/open/models");
        assertEquals(200, anonymous.status(), anonymous::toString);
        assertNull(backend.takeExchange().headers().get("authorization"));
        assert401(get("/open/models", "Authorization: Bearer wrong"));
        RawResponse identified = get("/open/models", "x-api-key: " + ALICE);
        assertEquals(200, identified.status(), identified::toString);
        BackendExchange seen = backend.takeExchange();
        assertNull(seen.headers().get("x-api-key"));
        assertNull(seen.headers().get("authorization"), "a route without upstream_api_key forwards no Authorization");
    }

    private static String bobShaHex() throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(BOB.getBytes(StandardCharsets.UTF_8)));
    }
}
