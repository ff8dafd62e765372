package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Json;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * HTTP/2 streams go through the same policy chain as HTTP/1.1 requests: API keys (and their removal before the
 * backend), route IP rules, CORS preflights answered by the gateway, and path normalisation before all of them.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class Http2PolicyTest {
    private static final String KEY = "sk-h2-policy";

    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;
    private HttpClient client;

    @BeforeEach
    void start() throws Exception {
        certs = TestCertificates.create();
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    certificates:
                %s
                api_keys:
                  - name: h2user
                    key: "%s"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: backend
                    auth: required
                    upstream_api_key: "backend-own-key"
                    cors:
                      allowed_origins: ["https://app.example.com"]
                  - path_prefix: /admin
                    upstream: backend
                    ip:
                      deny: ["127.0.0.0/8"]
                """.formatted(certs.rsa("localhost").yamlItem(6), KEY, backend.url()));
        client = HttpClients.builder(certs).build();
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
        certs.close();
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        HttpResponse<String> response = client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(HttpClient.Version.HTTP_2, response.version());
        return response;
    }

    private HttpRequest.Builder to(String path) {
        return HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port() + path));
    }

    private static String errorCode(HttpResponse<String> response) {
        return (String) ((Map<?, ?>) ((Map<?, ?>) Json.parse(response.body())).get("error")).get("code");
    }

    @Test
    void apiKeysAreCheckedAndNeverForwarded() throws Exception {
        HttpResponse<String> missing = send(to("/v1/models"));
        assertEquals(401, missing.statusCode());
        assertEquals("invalid_api_key", errorCode(missing));
        assertTrue(missing.headers().firstValue("www-authenticate").orElse("").startsWith("Bearer"), missing.headers()::toString);

        HttpResponse<String> ok = send(to("/v1/models").header("x-api-key", KEY));
        assertEquals(200, ok.statusCode(), ok::body);
        BackendExchange seen = backend.takeExchange();
        assertNull(seen.headers().get("x-api-key"));
        assertEquals("Bearer backend-own-key", seen.headers().get("authorization"));
        assertFalse(seen.headers().toString().contains(KEY));
    }

    @Test
    void routeIpRulesApplyToStreams() throws Exception {
        HttpResponse<String> denied = send(to("/admin/x"));
        assertEquals(403, denied.statusCode());
        assertEquals("ip_denied", errorCode(denied));
        assertEquals(0, backend.received().size());
    }

    @Test
    void aDotSegmentPathCannotSlipPastTheAdminRule() throws Exception {
        HttpResponse<String> denied = send(to("/v1/%2e%2e/admin/x").header("x-api-key", KEY));
        assertEquals(403, denied.statusCode(), denied::body);
        assertEquals(0, backend.received().size());
    }

    @Test
    void aPreflightIsAnsweredByTheGatewayWithoutAKey() throws Exception {
        HttpResponse<String> preflight = send(to("/v1/chat/completions").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://app.example.com").header("Access-Control-Request-Method", "POST"));
        assertEquals(204, preflight.statusCode(), preflight::body);
        assertEquals("https://app.example.com", preflight.headers().firstValue("access-control-allow-origin").orElse(null));
        assertEquals(0, backend.received().size());
    }
}
