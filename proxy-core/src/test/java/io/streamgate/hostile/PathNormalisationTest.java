package io.streamgate.hostile;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Paths are normalised (percent-encoding made canonical, dot segments, duplicate slashes) before routing and policy,
 * and the normalised path is what is forwarded. Routes: /v1 to the api backend; /admin to the admin backend but
 * denied to 127.0.0.1 by a route-level IP rule; /internal and everything else to the internal backend without rules.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PathNormalisationTest {
    private static final long QUIET_MS = 300;

    private TestBackend api;
    private TestBackend admin;
    private TestBackend internal;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        api = TestBackend.builder().respond(Responders.named("api")).start();
        admin = TestBackend.builder().respond(Responders.named("admin")).start();
        internal = TestBackend.builder().respond(Responders.named("internal")).start();
        proxy = startProxy("");
    }

    /** @param serverLines more lines for the server section, indented by two spaces */
    private RunningProxy startProxy(String serverLines) throws Exception {
        return RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  api:
                    endpoints: ["%s"]
                  admin:
                    endpoints: ["%s"]
                  internal:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: api
                  - path_prefix: /admin
                    upstream: admin
                    ip:
                      deny: ["127.0.0.1/32"]
                  - path_prefix: /internal
                    upstream: internal
                  - path_prefix: /
                    upstream: internal
                """.formatted(serverLines, api.url(), admin.url(), internal.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        api.close();
        admin.close();
        internal.close();
    }

    private RawResponse get(String target) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target).readResponse();
        }
    }

    @Test
    void theAdminRuleHoldsForThePlainPath() throws Exception {
        assertError(get("/admin/users"), 403, "ip_denied");
        assertUntouched(admin, api);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/../admin/users", "/v1/%2e%2e/admin/users", "/v1/%2E%2E/admin/users", "/v1/.%2E/admin/users",
            "//admin/users", "/v1/./../admin/users", "/./admin/users", "/v1/x/../../admin/users", "/v1/..//admin/users"})
    void dotSegmentsAndDoubleSlashesCannotSlipPastTheAdminRule(String target) throws Exception {
        assertError(get(target), 403, "ip_denied");
        assertUntouched(admin, api);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/../internal/x", "/v1/%2e%2e/internal/x", "//internal/x", "/v1/.%2E/internal/x", "/internal/./x",
            "/internal//x", "/internal/y/../x"})
    void theNormalisedPathIsRoutedAndForwarded(String target) throws Exception {
        RawResponse response = get(target);
        assertEquals(200, response.status(), response::toString);
        assertEquals("internal GET /internal/x", response.bodyText(), target + " reached the wrong place");
        assertUntouched(api);
    }

    /** uvicorn decodes the path before FastAPI routes it: /%61dmin is /admin to the backend, so it must be to us. */
    @ParameterizedTest
    @ValueSource(strings = {"/%61dmin/users", "/%61%64%6D%69%6E/users", "/ad%6din/users", "/v1/%2E./admin/users",
            "/%2Fadmin/users"})
    void encodedLettersCannotSlipPastTheAdminRule(String target) throws Exception {
        RawResponse response = get(target);
        if (target.contains("%2F")) {
            assertError(response, 400, "bad_request"); // an encoded slash is refused outright
        } else {
            assertError(response, 403, "ip_denied");
        }
        assertUntouched(admin, api, internal);
    }

    @Test
    void unreservedEscapesAreDecodedAndOthersUpperCased() throws Exception {
        RawResponse response = get("/internal/%7Euser/%41%2d%5f/caf%c3%a9%20x");
        assertEquals(200, response.status(), response::toString);
        assertEquals("internal GET /internal/~user/A-_/caf%C3%A9%20x", response.bodyText());
    }

    /** Traefik's default set: backends disagree on what these mean, so by default they are refused. */
    @ParameterizedTest
    @ValueSource(strings = {"/v1/models/org%2Fname", "/v1/a%2f..%2fb", "/v1/a%5Cb", "/v1/a%3Bb", "/v1/a%25b", "/v1/a%3fb",
            "/v1/a%23b", "/v1/a%00b", "/v1/a%zzb", "/v1/a%4", "/v1/a%"})
    void ambiguousOrMalformedEscapesAre400(String target) throws Exception {
        assertError(get(target), 400, "bad_request");
        assertUntouched(api, admin, internal);
    }

    @Test
    void allowedEncodedCharactersAreForwardedAsSent() throws Exception {
        proxy.close();
        proxy = startProxy("  allow_encoded_in_path: [slash, percent]");
        RawResponse response = get("/v1/models/org%2fname/100%25");
        assertEquals(200, response.status(), response::toString);
        assertEquals("api GET /v1/models/org%2Fname/100%25", response.bodyText());
        // Allowed, an encoded slash still may not hide a dot segment from a backend that decodes it.
        assertError(get("/v1/a%2F..%2F..%2Fadmin"), 400, "bad_request");
        assertError(get("/v1/a%3Bb"), 400, "bad_request");
    }

    @Test
    void theQueryIsNotNormalised() throws Exception {
        RawResponse response = get("/v1/./models?path=../x//y");
        assertEquals(200, response.status(), response::toString);
        assertEquals("api GET /v1/models?path=../x//y", response.bodyText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/../x", "/v1/../../x", "/%2e%2e/x", "/v1/%2E%2E/%2e%2e/etc/passwd"})
    void aPathEscapingTheRootIs400(String target) throws Exception {
        assertError(get(target), 400, "bad_request");
        assertUntouched(api, admin, internal);
    }

    private static void assertUntouched(TestBackend... backends) throws InterruptedException {
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        for (TestBackend backend : backends) {
            assertEquals(List.of(), backend.received().stream().map(BackendExchange::uri).toList(), "reached a backend it should not");
        }
    }
}
