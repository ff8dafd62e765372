package io.streamgate.hostile;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Request smuggling and malformed framing, one raw request per form. Each carries a second request
 * ("GET /smuggled") where a lenient parser would find one. Every form must get 400 JSON with the connection
 * closed, and the backend must see nothing at all, or (for errors inside a chunked body, after the head was
 * relayed) only the legitimate request, whose upstream connection is then closed, never "/smuggled".
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SmugglingTest {
    private static final String SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: test.local\r\n\r\n";
    private static final String HEAD = "POST /v1/legit HTTP/1.1\r\nHost: test.local\r\n";
    /** How long the backend is watched for a request that should never come. */
    private static final long QUIET_MS = 300;

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            var body = ex.awaitBody(10);
            ex.respond(200, "text/plain", ex.method() + " " + ex.uri() + " " + body.length());
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    /** Rejected from the head alone: the backend must receive nothing. */
    static Stream<Arguments> headLevel() {
        return Stream.of(
                form("Content-Length with Transfer-Encoding",
                        HEAD + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("Transfer-Encoding before Content-Length",
                        HEAD + "Transfer-Encoding: chunked\r\nContent-Length: 48\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("two differing Content-Lengths",
                        HEAD + "Content-Length: 5\r\nContent-Length: 48\r\n\r\nhello" + SMUGGLED),
                form("a Content-Length list with differing values",
                        HEAD + "Content-Length: 5, 48\r\n\r\nhello" + SMUGGLED),
                form("Content-Length with a sign",
                        HEAD + "Content-Length: +5\r\n\r\nhello" + SMUGGLED),
                form("negative Content-Length",
                        HEAD + "Content-Length: -1\r\n\r\n" + SMUGGLED),
                form("Transfer-Encoding: gzip, chunked",
                        HEAD + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("Transfer-Encoding: chunked, identity",
                        HEAD + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("two Transfer-Encoding fields",
                        HEAD + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("space before the colon of Transfer-Encoding",
                        HEAD + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("Transfer-Encoding: xchunked",
                        HEAD + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
                form("Transfer-Encoding folded onto a continuation line",
                        HEAD + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("obsolete line folding with a space",
                        HEAD + "X-Folded: first\r\n second\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("obsolete line folding with a tab",
                        HEAD + "X-Folded: first\r\n\tsecond\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("header name with a space",
                        HEAD + "X Bad: 1\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("header name with a control character",
                        HEAD + "X-B\u0001ad: 1\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("header value with NUL",
                        HEAD + "X-Bad: a\u0000b\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("header value with a bare CR",
                        HEAD + "X-Bad: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED),
                form("header line without a colon",
                        HEAD + "Transfer-Encoding chunked\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED));
    }

    /** Errors inside a chunked body: the head may have been relayed before the error was seen. */
    static Stream<Arguments> bodyLevel() {
        String chunkedHead = HEAD + "Transfer-Encoding: chunked\r\n\r\n";
        return Stream.of(
                form("chunk size zz", chunkedHead + "zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
                form("chunk size -1", chunkedHead + "-1\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
                form("chunk size overflowing 64 bits", chunkedHead + "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
                form("chunk size with a 0x prefix", chunkedHead + "0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
                form("chunk data not followed by CRLF", chunkedHead + "5\r\nhelloXX0\r\n\r\n" + SMUGGLED),
                form("first chunk fine, second chunk size invalid", chunkedHead + "5\r\nhello\r\n5g\r\nworld\r\n0\r\n\r\n" + SMUGGLED));
    }

    private static Arguments form(String name, String raw) {
        return Arguments.of(name, raw);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headLevel")
    void refusedBeforeAnythingReachesTheBackend(String name, String raw) throws Exception {
        exchangeExpecting400(raw);
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        assertEquals(List.of(), uris(backend.received()), name + ": the backend received requests");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodyLevel")
    void theBackendNeverSeesTheSmuggledRequest(String name, String raw) throws Exception {
        exchangeExpecting400(raw);
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        List<BackendExchange> received = backend.received();
        for (BackendExchange exchange : received) {
            assertEquals("/v1/legit", exchange.uri(), name + ": the backend saw " + uris(received));
            try {
                exchange.connection().closed().get(2, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                fail(name + ": the upstream connection carrying the broken body stayed open");
            }
            assertTrue(exchange.body().isCompletedExceptionally(), name + ": the backend got a complete body from a broken request");
        }
    }

    @Test
    void aWellFormedChunkedRequestAndItsPipelinedSuccessorBothPass() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send(HEAD + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + SMUGGLED.replace("/smuggled", "/v1/second"));
            RawResponse first = client.readResponse();
            assertEquals(200, first.status(), first::toString);
            assertEquals("POST /v1/legit 5", first.bodyText());
            RawResponse second = client.readResponse();
            assertEquals(200, second.status(), second::toString);
            assertEquals("GET /v1/second 0", second.bodyText());
        }
        assertEquals(List.of("/v1/legit", "/v1/second"), uris(backend.received()));
    }

    @Test
    void obsFoldLookalikeWithTabInsideAValueIsAccepted() throws Exception {
        // Control: a tab inside a field value is legal (RFC 9110 field-vchar / OWS), only a leading one on a new line folds.
        try (RawHttpClient client = proxy.connect()) {
            RawResponse response = client.send(RawHttpClient.request("GET", "/v1/tab", null, "X-Tab: a\tb")).readResponse();
            assertEquals(200, response.status(), response::toString);
        }
    }

    private void exchangeExpecting400(String raw) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            client.send(raw);
            RawResponse response;
            try {
                response = client.readResponse();
            } catch (EOFException | SocketException closedWithoutAnswer) {
                throw new AssertionError("the proxy closed the connection without an answer; 400 expected", closedWithoutAnswer);
            }
            assertError(response, 400, "bad_request");
            assertTrue(client.awaitServerClose(2_000), "the connection must be closed after a 400 for bad framing");
        }
    }

    private static List<String> uris(List<BackendExchange> exchanges) {
        return exchanges.stream().map(BackendExchange::uri).toList();
    }
}
