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
 * Paths are normalised (dot segments, percent-encoded dots, duplicate slashes) before routing and policy, and the
 * normalised path is what is forwarded. Routes: /v1 to the api backend; /admin to the admin backend but denied to
 * 127.0.0.1 by a route-level IP rule; /internal to the internal backend without rules.
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
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
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
                """.formatted(api.url(), admin.url(), internal.url()));
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
