package io.streamgate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BodyStream;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TestCertificates.ServerCert;
import io.streamgate.testing.TlsSockets;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.X509Certificate;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Certificates are reloaded when their files change (checked every 200 ms here), without touching established
 * connections: a stream opened under certificate A keeps flowing after new connections get certificate B. A
 * broken or mismatched file is rejected and the last good certificate stays in service.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CertificateReloadTest {
    private static final long RELOAD_WAIT_MS = 10_000;

    private TestCertificates certs;
    private ServerCert certA;
    private SSLContext trusting;
    private TestBackend backend;
    private RunningProxy proxy;
    private final BlockingQueue<String> toSend = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        certs = TestCertificates.create();
        certA = certs.rsa("localhost");
        trusting = HttpClients.sslContext(certs, null);
        // /stream sends the events the test queues, until "END"; anything else gets a plain answer.
        backend = TestBackend.builder().respond(ex -> {
            if (!ex.uri().startsWith("/stream")) {
                ex.awaitBody(10);
                ex.respond(200, "text/plain", "plain " + ex.uri());
                return;
            }
            ex.startChunked(200, "text/event-stream");
            for (String next = toSend.poll(20, TimeUnit.SECONDS); next != null && !next.equals("END");
                 next = toSend.poll(20, TimeUnit.SECONDS)) {
                ex.write("data: " + next + "\n\n");
            }
            ex.end();
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    reload_check_interval: 200ms
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(certA.yamlItem(6), backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        toSend.add("END");
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
        certs.close();
    }

    /** A fresh SSLContext each time: a resumed session would report the certificate of an earlier handshake. */
    private X509Certificate served() throws Exception {
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(HttpClients.sslContext(certs, null)).sni("localhost").handshake()) {
            return TlsSockets.peerLeaf(socket);
        }
    }

    /** Polls new connections until they are served {@code expected}; fails after 10 s. */
    private void awaitServed(ServerCert expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RELOAD_WAIT_MS);
        X509Certificate last;
        do {
            last = served();
            if (last.equals(expected.certificate())) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("new connections still get " + last.getSubjectX500Principal() + " 10s after the files changed to "
                + expected.subject());
    }

    /** For a second (five check intervals), every new connection is still served {@code expected}. */
    private void assertStillServedForASecond(ServerCert expected, String after) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (System.nanoTime() < end) {
            X509Certificate got = served();
            assertEquals(expected.certificate(), got, "after " + after + " new connections got " + got.getSubjectX500Principal());
            TimeUnit.MILLISECONDS.sleep(100);
        }
    }

    @Test
    void rotationDuringAnOpenStreamKeepsTheStreamAndServesTheNewCertificateToNewConnections() throws Exception {
        assertEquals(certA.certificate(), served());
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            client.get("/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            toSend.add("under-A");
            assertEquals("data: under-A", body.readEvent());

            ServerCert certB = certs.rsa("localhost");
            certB.writeOver(certA.certFile(), certA.keyFile());
            awaitServed(certB);
            assertEquals(certA.certificate(), TlsSockets.peerLeaf(socket), "the open connection's session changed");

            toSend.add("after-rotation-1");
            assertEquals("data: after-rotation-1", body.readEvent());
            toSend.add("after-rotation-2");
            assertEquals("data: after-rotation-2", body.readEvent());
            toSend.add("END");
            assertNull(body.readEvent());
            assertTrue(body.isComplete(), "the stream opened before the rotation must end properly");

            // The old connection is still usable for further requests too.
            RawResponse next = client.get("/after").readResponse();
            assertEquals(200, next.status(), next::toString);
        }
        try (SSLSocket socket = TlsSockets.to(proxy.port()).context(trusting).sni("localhost").handshake();
             RawHttpClient client = RawHttpClient.over(socket)) {
            RawResponse response = client.get("/under-B").readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals("plain /under-B", response.bodyText());
        }
    }

    @Test
    void aBrokenCertificateFileIsRejectedAndTheLastGoodCertificateStays() throws Exception {
        assertEquals(certA.certificate(), served());
        Files.writeString(certA.certFile(), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
                StandardCharsets.US_ASCII);
        assertStillServedForASecond(certA, "a garbage certificate file");

        Files.writeString(certA.keyFile(), "", StandardCharsets.US_ASCII);
        assertStillServedForASecond(certA, "an empty key file");

        // Good files again: the reloader has not given up.
        ServerCert certB = certs.ecdsa("localhost");
        certB.writeOver(certA.certFile(), certA.keyFile());
        awaitServed(certB);
    }

    @Test
    void aCertificateWhoseKeyDoesNotMatchIsRejected() throws Exception {
        ServerCert certB = certs.rsa("localhost");
        // B's certificate next to A's (unchanged) key: a half-finished renewal.
        Files.writeString(certA.certFile(), certB.bundle().getCertificatePathPEM(), StandardCharsets.US_ASCII);
        assertStillServedForASecond(certA, "a certificate that does not match the key");
        Files.writeString(certA.keyFile(), certB.keyPem(), StandardCharsets.US_ASCII);
        awaitServed(certB);
    }
}
