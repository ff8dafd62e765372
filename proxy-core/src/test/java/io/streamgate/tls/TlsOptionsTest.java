package io.streamgate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
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
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** TLS settings other than the defaults: an encrypted key, a TLS 1.3-only listener, HTTP/2 switched off. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsOptionsTest {
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

    private RunningProxy start(ServerCert cert, String extraTls, String extraServer) throws Exception {
        return RunningProxy.start(yaml(cert, extraTls, extraServer));
    }

    private String yaml(ServerCert cert, String extraTls, String extraServer) {
        return """
                server:
                  listen: "127.0.0.1:0"
                %s  tls:
                %s    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(extraServer, extraTls, cert.yamlItem(6), backend.url());
    }

    @Test
    void anEncryptedPkcs8KeyIsReadWithItsPassword() throws Exception {
        ServerCert cert = certs.rsaWithEncryptedKey("s3cret pass", "localhost");
        assertTrue(Files.readString(cert.keyFile()).contains("BEGIN ENCRYPTED PRIVATE KEY"));
        proxy = start(cert, "", "");
        SSLContext trusting = HttpClients.sslContext(certs, null);
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            assertEquals(cert.certificate(), TlsSockets.peerLeaf(socket));
            RawResponse response = client.get("/encrypted").readResponse();
            assertEquals(200, response.status(), response::toString);
        }
    }

    @Test
    void aListenerConfiguredForTls13OnlyRefusesTls12() throws Exception {
        proxy = start(certs.ecdsa("localhost"), "    protocols: [TLSv1.3]\n", "");
        SSLContext trusting = HttpClients.sslContext(certs, null);
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake()) {
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
        }
        assertThrows(IOException.class,
                () -> TlsSockets.to(proxy.port()).context(trusting).sni("localhost").protocols("TLSv1.2").handshake().close());
        RawClientHello.Answer answer = RawClientHello.send(proxy.port(), RawClientHello.TLS_1_2, "localhost", RawClientHello.ECDHE_GCM);
        assertTrue(!answer.accepted(), "TLS 1.2 hello got " + answer);
    }

    @Test
    void aConfiguredTls12SuiteListLeavesTls13On() throws Exception {
        String suite = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
        proxy = start(certs.ecdsa("localhost"), "    protocols: [TLSv1.3, TLSv1.2]\n    ciphers: [" + suite + "]\n", "");
        SSLContext trusting = HttpClients.sslContext(certs, null);
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
            assertEquals(200, client.get("/tls13").readResponse().status());
        }
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").protocols("TLSv1.2").handshake()) {
            assertEquals(suite, socket.getSession().getCipherSuite(), "TLS 1.2 uses only the configured suite");
        }
    }

    @Test
    void aCipherSuiteTheProviderDoesNotKnowIsAConfigErrorAtItsLine() throws Exception {
        ServerCert cert = certs.ecdsa("localhost");
        for (String name : List.of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA999", "ECDHE-RSA-AES128-GCM-SHA256")) {
            String yaml = yaml(cert, "    ciphers: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, " + name + "]\n", "");
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "tls.yaml"));
            assertEquals(4, e.line(), e::getMessage);
            assertEquals("server.tls.ciphers[1]", e.keyPath(), e::getMessage);
            assertTrue(e.getMessage().contains("'" + name + "' is not a cipher suite"), e::getMessage);
            assertEquals(name.contains("-"), e.getMessage().contains("looks like an OpenSSL name"), e::getMessage);
        }
    }

    @Test
    void withHttp2OffAnH2ClientFallsBackToHttp11() throws Exception {
        proxy = start(certs.rsa("localhost"), "", "  http2: false\n");
        SSLContext trusting = HttpClients.sslContext(certs, null);
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").alpn("h2", "http/1.1").handshake()) {
            assertEquals("http/1.1", socket.getApplicationProtocol());
        }
        HttpClient client = HttpClients.builder(certs).version(HttpClient.Version.HTTP_2).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port() + "/h1"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        assertEquals(HttpClient.Version.HTTP_1_1, response.version());
    }
}
