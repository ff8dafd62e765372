package io.streamgate.tls;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The optional plain listener answers every request with 308 to the same target on the TLS listener, keeping
 * the host from Host but using the TLS port (none when it is 443), and never contacts a backend.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RedirectListenerTest {
    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;
    private int redirectPort;

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

    private void startListeningOn(String tlsListen) throws Exception {
        startListeningOn(tlsListen, "");
    }

    /** @param limits lines under server.limits, indented by 4 */
    private void startListeningOn(String tlsListen, String limits) throws Exception {
        redirectPort = freePort();
        proxy = RunningProxy.start("""
                server:
                  listen: "%s"
                  redirect_listen: "127.0.0.1:%d"
                  limits:
                    max_request_line: 8KiB
                %s
                  tls:
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(tlsListen, redirectPort, limits, certs.rsa("localhost", "api.test").yamlItem(6), backend.url()));
    }

    private RawResponse plain(String rawRequest) throws IOException {
        try (RawHttpClient client = RawHttpClient.connect(redirectPort)) {
            return client.send(rawRequest).readResponse();
        }
    }

    @Test
    void aRequestIsRedirectedToTheTlsPortWithPathAndQuery() throws Exception {
        startListeningOn("127.0.0.1:0");
        RawResponse response = plain(RawHttpClient.request("GET", "/v1/models?x=1", null, "Host: api.test:" + redirectPort));
        assertEquals(308, response.status(), response::toString);
        assertEquals("https://api.test:" + proxy.port() + "/v1/models?x=1", response.header("location"));
        assertEquals(0, backend.received().size(), "the redirect listener contacted the backend");
    }

    @Test
    void aHostWithoutPortAndOtherMethodsAreRedirectedToo() throws Exception {
        startListeningOn("127.0.0.1:0");
        RawResponse response = plain(RawHttpClient.request("POST", "/v1/chat/completions", "{}", "Host: API.test"));
        assertEquals(308, response.status(), response::toString);
        assertEquals("https://api.test:" + proxy.port() + "/v1/chat/completions", response.header("location").replace("API.test", "api.test"));
        assertEquals(0, backend.received().size(), "the redirect listener contacted the backend");
    }

    @Test
    void aMissingOrInvalidHostIsRefusedRatherThanRedirectedAnywhere() throws Exception {
        startListeningOn("127.0.0.1:0");
        assertError(plain("GET /v1/models HTTP/1.1\r\n\r\n"), 400, "bad_request");
        assertError(plain(RawHttpClient.request("GET", "/v1/models", null, "Host: a b")), 400, "bad_request");
        assertError(plain(RawHttpClient.request("GET", "/v1/models", null, "Host: evil.test/x?")), 400, "bad_request");
    }

    @Test
    void onPort443TheLocationCarriesNoPort() throws Exception {
        assumeTrue(canBind(443), "127.0.0.1:443 is not available here");
        startListeningOn("127.0.0.1:443");
        RawResponse response = plain(RawHttpClient.request("GET", "/v1/models?x=1", null, "Host: api.test:" + redirectPort));
        assertEquals(308, response.status(), response::toString);
        assertEquals("https://api.test/v1/models?x=1", response.header("location"));
    }

    /** A client that connects and sends nothing holds no socket longer than request_header_timeout. */
    @Test
    void aSilentConnectionIsClosedAtTheRequestHeaderTimeout() throws Exception {
        startListeningOn("127.0.0.1:0", "    request_header_timeout: 300ms");
        try (RawHttpClient client = RawHttpClient.connect(redirectPort)) {
            long start = System.nanoTime();
            assertTrue(client.awaitServerClose(5_000), "still open after 5 s");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(250), "closed before the timeout");
        }
    }

    /** The per-address connection cap holds on this listener too: the third idle connection is closed at once. */
    @Test
    void theConnectionCapPerAddressHolds() throws Exception {
        startListeningOn("127.0.0.1:0", "    max_connections_per_ip: 2");
        try (RawHttpClient first = RawHttpClient.connect(redirectPort);
             RawHttpClient second = RawHttpClient.connect(redirectPort)) {
            assertFalse(first.awaitServerClose(300), "the first connection was refused");
            assertFalse(second.awaitServerClose(300), "the second connection was refused");
            try (RawHttpClient third = RawHttpClient.connect(redirectPort)) {
                assertTrue(third.awaitServerClose(2_000), "a third connection from one address was kept");
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static boolean canBind(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
