package io.streamgate.hostile;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Host and request-target checks: a missing, repeated or malformed Host, CONNECT, absolute-form targets for hosts
 * no route serves (Streamgate is no open forward proxy), and NUL/CR/LF/space inside the target are refused with
 * 400 (405 for CONNECT) and never forwarded. Routes here serve only api.test.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HostAndTargetTest {
    private static final long QUIET_MS = 300;

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - host: api.test
                    path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    static Stream<Arguments> refusedWith400() {
        return Stream.of(
                Arguments.of("missing Host on HTTP/1.1", "GET /v1/models HTTP/1.1\r\n\r\n"),
                Arguments.of("two Host fields", "GET /v1/models HTTP/1.1\r\nHost: api.test\r\nHost: evil.test\r\n\r\n"),
                Arguments.of("Host with a space", "GET /v1/models HTTP/1.1\r\nHost: a b\r\n\r\n"),
                Arguments.of("Host with a space inside the name", "GET /v1/models HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"),
                Arguments.of("Host with userinfo", "GET /v1/models HTTP/1.1\r\nHost: @evil\r\n\r\n"),
                Arguments.of("Host with userinfo before a served host", "GET /v1/models HTTP/1.1\r\nHost: evil@api.test\r\n\r\n"),
                Arguments.of("Host with a path", "GET /v1/models HTTP/1.1\r\nHost: api.test/x\r\n\r\n"),
                Arguments.of("Host with a non-numeric port", "GET /v1/models HTTP/1.1\r\nHost: api.test:abc\r\n\r\n"),
                Arguments.of("absolute-form target for a host no route serves", "GET http://evil.test/v1/models HTTP/1.1\r\nHost: evil.test\r\n\r\n"),
                Arguments.of("absolute-form target for another host than Host", "GET http://evil.test/v1/models HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("NUL in the target", "GET /v1/mod\u0000els HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("CR in the target", "GET /v1/mod\rels HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("LF in the target", "GET /v1/mod\nels HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("space in the target", "GET /v1/mod els HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("tab in the target", "GET /v1/mod\tels HTTP/1.1\r\nHost: api.test\r\n\r\n"),
                Arguments.of("asterisk-form for GET", "GET * HTTP/1.1\r\nHost: api.test\r\n\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedWith400")
    void refusedAndNeverForwarded(String name, String raw) throws Exception {
        RawResponse response = exchange(raw);
        assertError(response, 400, "bad_request");
        assertBackendUntouched(name);
    }

    @Test
    void connectIs405() throws Exception {
        RawResponse response = exchange("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n");
        assertError(response, 405, "method_not_allowed");
        assertBackendUntouched("CONNECT");
    }

    @Test
    void connectToAnyHostIs405() throws Exception {
        RawResponse response = exchange("CONNECT 10.0.0.1:22 HTTP/1.1\r\nHost: 10.0.0.1:22\r\n\r\n");
        assertError(response, 405, "method_not_allowed");
        assertBackendUntouched("CONNECT");
    }

    @Test
    void anAbsoluteFormTargetForAServedHostIsAcceptedAndForwardedInOriginForm() throws Exception {
        RawResponse response = exchange("GET http://api.test/v1/models?x=1 HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertEquals(200, response.status(), response::toString);
        assertEquals("GET /v1/models?x=1", response.bodyText());
        BackendExchange seen = backend.takeExchange();
        assertEquals("/v1/models?x=1", seen.uri());
        assertEquals("api.test", seen.headers().get("host"));
    }

    @Test
    void aServedHostWithPortAndAnyCaseIsAccepted() throws Exception {
        RawResponse response = exchange("GET /v1/models HTTP/1.1\r\nHost: API.Test:8443\r\n\r\n");
        assertEquals(200, response.status(), response::toString);
    }

    @Test
    void http10WithoutHostIsStillServedByTheDefaultRouteOnlyIfOneExists() throws Exception {
        // No host-less route here: an HTTP/1.0 request without Host matches nothing, and must not be forwarded.
        RawResponse response = exchange("GET /v1/models HTTP/1.0\r\n\r\n");
        assertTrue(response.status() == 404 || response.status() == 400, response::toString);
        assertBackendUntouched("HTTP/1.0 without Host");
    }

    private RawResponse exchange(String raw) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            client.send(raw);
            try {
                return client.readResponse();
            } catch (EOFException | SocketException closedWithoutAnswer) {
                throw new AssertionError("the proxy closed the connection without an answer", closedWithoutAnswer);
            }
        }
    }

    private void assertBackendUntouched(String name) throws InterruptedException {
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        assertEquals(List.of(), backend.received().stream().map(BackendExchange::uri).toList(), name + ": forwarded");
    }
}
