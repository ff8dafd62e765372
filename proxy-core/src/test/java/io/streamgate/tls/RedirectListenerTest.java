package io.streamgate.tls;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
        redirectPort = freePort();
        proxy = RunningProxy.start("""
                server:
                  listen: "%s"
                  redirect_listen: "127.0.0.1:%d"
                  tls:
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(tlsListen, redirectPort, certs.rsa("localhost", "api.test").yamlItem(6), backend.url()));
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
