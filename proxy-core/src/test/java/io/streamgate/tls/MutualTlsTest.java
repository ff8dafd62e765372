package io.streamgate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TestCertificates.ClientCert;
import io.streamgate.testing.TlsSockets;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Mutual TLS. With client_auth require, only clients with a certificate from the client CA get an answer; with
 * optional, clients without one are served too, but a certificate from an unknown CA is still refused. The
 * verified subject appears in the access log.
 *
 * <p>Under TLS 1.3 the server checks the client certificate after the client considers the handshake done, so a
 * refusal shows as a handshake failure or as an alert/close on the first read: either way, no HTTP answer.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MutualTlsTest {
    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void setUp() throws Exception {
        certs = TestCertificates.create();
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
        certs.close();
    }

    private void startWith(String clientAuth) throws Exception {
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    client_auth: %s
                    client_ca: "%s"
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(clientAuth, certs.clientCaPem(), certs.rsa("localhost").yamlItem(6), backend.url()));
    }

    /** One GET over a fresh TLS connection presenting {@code cert} (or none); the response, or the failure. */
    private RawResponse getWith(ClientCert cert, String target) throws IOException {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(HttpClients.sslContext(certs, cert)).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            return client.get(target).readResponse();
        }
    }

    private void assertRefused(ClientCert cert, String what) {
        try {
            RawResponse response = getWith(cert, "/refused");
            fail(what + " got an HTTP answer: " + response);
        } catch (IOException expected) {
            // handshake failure, alert, reset or EOF
        }
        assertEquals(0, backend.received().size(), what + " reached the backend");
    }

    @Test
    void requireRefusesAClientWithoutCertificate() throws Exception {
        startWith("require");
        assertRefused(null, "a client without certificate");
    }

    @Test
    void requireRefusesACertificateFromAnotherCa() throws Exception {
        startWith("require");
        assertRefused(certs.clientFromUnknownCa("mallory"), "a certificate from an unknown CA");
    }

    @Test
    void requireAcceptsACertificateFromTheClientCaAndLogsItsSubject() throws Exception {
        startWith("require");
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            RawResponse response = getWith(certs.client("client-alice"), "/v1/mtls");
            assertEquals(200, response.status(), response::toString);
            assertEquals("GET /v1/mtls", response.bodyText());
            String line = accessLog.awaitLine(l -> l.contains("/v1/mtls"), 2_000);
            assertNotNull(line, () -> "no access log line; lines: " + accessLog.lines());
            assertContains(line, "client-alice", "the access log line must carry the client certificate's subject");
        }
    }

    @Test
    void requireWorksWithTheJdkHttp2Client() throws Exception {
        startWith("require");
        HttpClient client = HttpClients.builder(certs).clientCert(certs.client("client-bob")).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port() + "/v1/h2-mtls"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response::body);
        assertEquals(HttpClient.Version.HTTP_2, response.version());
    }

    @Test
    void optionalServesClientsWithAndWithoutCertificate() throws Exception {
        startWith("optional");
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            RawResponse anonymous = getWith(null, "/v1/anonymous");
            assertEquals(200, anonymous.status(), anonymous::toString);
            RawResponse identified = getWith(certs.client("client-carol"), "/v1/identified");
            assertEquals(200, identified.status(), identified::toString);
            String line = accessLog.awaitLine(l -> l.contains("/v1/identified"), 2_000);
            assertNotNull(line, () -> "no access log line; lines: " + accessLog.lines());
            assertContains(line, "client-carol", "the access log line must carry the client certificate's subject");
        }
    }

    @Test
    void optionalStillRefusesACertificateFromAnotherCa() throws Exception {
        startWith("optional");
        assertRefused(certs.clientFromUnknownCa("mallory"), "an unverifiable certificate under client_auth optional");
    }

    private static void assertContains(String line, String part, String message) {
        if (!line.contains(part)) {
            fail(message + ": " + line);
        }
    }
}
