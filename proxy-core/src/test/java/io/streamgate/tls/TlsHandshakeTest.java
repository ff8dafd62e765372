package io.streamgate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.HttpClients;
import io.streamgate.testing.RawClientHello;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TestCertificates.ServerCert;
import io.streamgate.testing.TlsSockets;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * TLS termination with three certificates: an RSA default (localhost), an ECDSA one for api.test and an RSA
 * wildcard for *.wild.test. SNI picks the certificate; no or unknown SNI gets the default; only TLS 1.2 and 1.3
 * with forward-secret AEAD suites are spoken; ALPN offers h2 and http/1.1.
 *
 * <p>Refusals of old protocols and weak suites are checked with a hand-written ClientHello ({@link RawClientHello}),
 * because the JDK client would refuse to offer them itself and so prove nothing about the server.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsHandshakeTest {
    private static TestCertificates certs;
    private static ServerCert rsaDefault;
    private static ServerCert ecdsaApi;
    private static ServerCert wildcard;
    private static TestBackend backend;
    private static RunningProxy proxy;
    private static SSLContext trusting;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCertificates.create();
        rsaDefault = certs.rsa("localhost", "default.test");
        ecdsaApi = certs.ecdsa("api.test");
        wildcard = certs.rsa("*.wild.test");
        trusting = HttpClients.sslContext(certs, null);
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    certificates:
                %s%s%s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(rsaDefault.yamlItem(6), ecdsaApi.yamlItem(6, "api.test"),
                wildcard.yamlItem(6, "*.wild.test"), backend.url()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
        if (certs != null) {
            certs.close();
        }
    }

    /** A fresh SSLContext each time: a resumed session would report the certificate of an earlier handshake. */
    private static X509Certificate servedFor(String sni) throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(HttpClients.sslContext(certs, null)).sni(sni).handshake()) {
            return TlsSockets.peerLeaf(socket);
        }
    }

    private static void assertServed(ServerCert expected, String sni) throws Exception {
        X509Certificate served = servedFor(sni);
        assertEquals(expected.subject(), served.getSubjectX500Principal().getName(), "certificate served for SNI " + sni);
        assertEquals(expected.certificate(), served);
    }

    @Test
    void withoutSniTheDefaultRsaCertificateIsServed() throws Exception {
        assertServed(rsaDefault, null);
        assertEquals("RSA", servedFor(null).getPublicKey().getAlgorithm());
    }

    @Test
    void anUnknownSniNameGetsTheDefaultCertificate() throws Exception {
        assertServed(rsaDefault, "unknown.test");
    }

    @Test
    void sniSelectsTheEcdsaCertificate() throws Exception {
        assertServed(ecdsaApi, "api.test");
        X509Certificate served = servedFor("api.test");
        assertEquals("EC", served.getPublicKey().getAlgorithm());
        assertTrue(TlsSockets.dnsNames(served).contains("api.test"), () -> "SANs " + TlsSockets.dnsNames(served));
    }

    @Test
    void sniMatchingIgnoresCase() throws Exception {
        assertServed(ecdsaApi, "API.Test");
    }

    @Test
    void aWildcardServerNameMatchesSubdomainsButNotTheBareDomain() throws Exception {
        assertServed(wildcard, "x.wild.test");
        assertServed(rsaDefault, "wild.test");
    }

    @Test
    void anHttpRequestWorksOverTheEcdsaCertificate() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("api.test").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            RawResponse response = client.get("/v1/models", "Host: api.test").readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals("GET /v1/models", response.bodyText());
        }
    }

    @Test
    void tls13IsNegotiatedByDefault() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake()) {
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
        }
    }

    @Test
    void tls12IsStillSpokenWithAForwardSecretAeadSuite() throws Exception {
        for (String sni : new String[] {"localhost", "api.test"}) {
            try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni(sni).protocols("TLSv1.2").handshake()) {
                assertEquals("TLSv1.2", socket.getSession().getProtocol());
                String suite = socket.getSession().getCipherSuite();
                assertTrue(suite.startsWith("TLS_ECDHE_"), "not forward secret: " + suite);
                assertTrue(suite.contains("_GCM_") || suite.contains("CHACHA20"), "not AEAD: " + suite);
            }
        }
    }

    @Test
    void aWellFormedRawTls12HelloIsAccepted() throws Exception {
        // The control for the refusals below: the hand-written hello itself is fine.
        RawClientHello.Answer answer = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_2, "localhost", RawClientHello.ECDHE_GCM);
        assertTrue(answer.accepted(), answer::toString);
        assertEquals(RawClientHello.TLS_1_2, answer.version());
    }

    @Test
    void tls11IsRefused() throws Exception {
        RawClientHello.Answer answer = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_1, "localhost",
                concat(RawClientHello.ECDHE_CBC, RawClientHello.RSA_KEY_EXCHANGE));
        assertFalse(answer.accepted(), "a TLS 1.1 ClientHello got " + answer);
    }

    @Test
    void tls10IsRefused() throws Exception {
        RawClientHello.Answer answer = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_0, "localhost",
                concat(RawClientHello.ECDHE_CBC, RawClientHello.RSA_KEY_EXCHANGE, RawClientHello.WEAK));
        assertFalse(answer.accepted(), "a TLS 1.0 ClientHello got " + answer);
    }

    @Test
    void suitesWithoutForwardSecrecyAreRefused() throws Exception {
        RawClientHello.Answer answer = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_2, "localhost", RawClientHello.RSA_KEY_EXCHANGE);
        assertFalse(answer.accepted(), "static-RSA suites got " + answer);
    }

    @Test
    void weakAndCbcSuitesAreRefused() throws Exception {
        RawClientHello.Answer weak = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_2, "localhost", RawClientHello.WEAK);
        assertFalse(weak.accepted(), "3DES/RC4 suites got " + weak);
        RawClientHello.Answer cbc = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_2, "api.test", RawClientHello.ECDHE_CBC);
        assertFalse(cbc.accepted(), "the default suites are AEAD only, but ECDHE-CBC-SHA1 got " + cbc);
    }

    @Test
    void alpnNegotiatesH2WhenOffered() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").alpn("h2", "http/1.1").handshake()) {
            assertEquals("h2", socket.getApplicationProtocol());
        }
    }

    @Test
    void alpnNegotiatesHttp11ForAnHttp11OnlyClient() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").alpn("http/1.1").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            assertEquals("http/1.1", socket.getApplicationProtocol());
            RawResponse response = client.get("/alpn-http11").readResponse();
            assertEquals(200, response.status(), response::toString);
        }
    }

    @Test
    void aClientWithoutAlpnSpeaksHttp11() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            RawResponse response = client.get("/no-alpn").readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals("GET /no-alpn", response.bodyText());
        }
    }

    @Test
    void jdkHttpClientsOfBothVersionsGetTheirProtocol() throws Exception {
        for (HttpClient.Version version : HttpClient.Version.values()) {
            HttpClient client = HttpClients.builder(certs).version(version).build();
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                            URI.create("https://localhost:" + proxy.port() + "/v1/version-" + version))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response::body);
            assertEquals(version, response.version());
            assertEquals("GET /v1/version-" + version, response.body());
            assertEquals("TLSv1.3", response.sslSession().orElseThrow().getProtocol());
        }
    }

    private static int[] concat(int[]... arrays) {
        return java.util.Arrays.stream(arrays).flatMapToInt(java.util.Arrays::stream).toArray();
    }
}
