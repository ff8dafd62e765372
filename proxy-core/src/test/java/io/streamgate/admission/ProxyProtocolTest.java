package io.streamgate.admission;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * PROXY protocol v1 and v2 from a trusted peer (127.0.0.1): the address in the header becomes the client address,
 * for route IP rules and for X-Forwarded-For. The header bytes are written by hand, as an L4 load balancer would.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProxyProtocolTest {
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  trusted_proxies: ["127.0.0.1/32"]
                  proxy_protocol: true
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /blocked
                    upstream: backend
                    ip:
                      deny: ["203.0.113.0/24"]
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    private RawResponse getAfter(byte[] proxyHeader, String target) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            client.send(proxyHeader);
            return client.get(target).readResponse();
        }
    }

    @Test
    void v1TellsTheClientAddress() throws Exception {
        RawResponse response = getAfter(v1("TCP4 203.0.113.7 127.0.0.1 56324 443"), "/v1/models");
        assertEquals(200, response.status(), response::toString);
        BackendExchange seen = backend.takeExchange();
        assertEquals("203.0.113.7", seen.headers().get("x-forwarded-for"));
    }

    @Test
    void v1WithIpv6() throws Exception {
        RawResponse response = getAfter(v1("TCP6 2001:db8::7 ::1 56324 443"), "/v1/models");
        assertEquals(200, response.status(), response::toString);
        assertEquals("2001:db8::7", backend.takeExchange().headers().get("x-forwarded-for"));
    }

    @Test
    void v2TellsTheClientAddress() throws Exception {
        RawResponse response = getAfter(v2Tcp4("198.51.100.22", "127.0.0.1", 40000, 443), "/v1/models");
        assertEquals(200, response.status(), response::toString);
        assertEquals("198.51.100.22", backend.takeExchange().headers().get("x-forwarded-for"));
    }

    @Test
    void theRouteRuleAppliesToTheAddressFromTheHeader() throws Exception {
        assertError(getAfter(v1("TCP4 203.0.113.7 127.0.0.1 56324 443"), "/blocked/x"), 403, "ip_denied");
        assertError(getAfter(v2Tcp4("203.0.113.9", "127.0.0.1", 40000, 443), "/blocked/x"), 403, "ip_denied");
        assertEquals(200, getAfter(v1("TCP4 198.51.100.1 127.0.0.1 56324 443"), "/blocked/x").status());
    }

    @Test
    void aForwardedForHeaderAfterThePROXYHeaderIsNotBelievedOverIt() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send(v1("TCP4 198.51.100.1 127.0.0.1 56324 443"));
            // 198.51.100.1 is no trusted proxy, so what it claims in X-Forwarded-For counts for nothing.
            RawResponse response = client.get("/blocked/x", "X-Forwarded-For: 203.0.113.5").readResponse();
            assertEquals(200, response.status(), response::toString);
        }
        assertEquals("198.51.100.1", backend.takeExchange().headers().get("x-forwarded-for"),
                "the PROXY header's address must replace an untrusted client's X-Forwarded-For");
    }

    @Test
    void aRequestRefusedBeforeRoutingIsLoggedWithTheAddressFromTheHeader() throws Exception {
        // A malformed target is refused before any route is chosen; the line must still name the client, not the
        // load balancer (log-driven tools such as fail2ban would otherwise ban the balancer for its clients' 400s).
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            RawResponse response = getAfter(v1("TCP4 203.0.113.7 127.0.0.1 56324 443"), "/v1/bad%zz");
            assertEquals(400, response.status(), response::toString);
            String line = log.awaitLine(l -> l.contains("/v1/bad%zz"), 5_000);
            assertNotNull(line, "no access log line for the refused request");
            assertTrue(line.startsWith("203.0.113.7 "), "logged with the wrong client address: " + line);
        }
    }

    @Test
    void aTrustedPeerWithoutThePROXYHeaderIsRefused() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            try {
                client.get("/v1/models");
                RawResponse response = client.readResponse();
                assertTrue(response.status() == 400, "a connection without PROXY header got " + response);
            } catch (IOException closed) {
                // closed without an answer: fine too
            }
        }
        TimeUnit.MILLISECONDS.sleep(200);
        assertEquals(0, backend.received().size(), "a request without PROXY header reached the backend");
    }

    private static byte[] v1(String fields) {
        return ("PROXY " + fields + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** A v2 header: PROXY command, TCP over IPv4, with source and destination address and port. */
    private static byte[] v2Tcp4(String source, String destination, int sourcePort, int destinationPort) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(V2_SIGNATURE);
        out.write(0x21); // version 2, PROXY
        out.write(0x11); // AF_INET, STREAM
        out.write(0);
        out.write(12); // address block length
        out.write(InetAddress.getByName(source).getAddress());
        out.write(InetAddress.getByName(destination).getAddress());
        out.write(sourcePort >>> 8);
        out.write(sourcePort & 0xff);
        out.write(destinationPort >>> 8);
        out.write(destinationPort & 0xff);
        return out.toByteArray();
    }
}
