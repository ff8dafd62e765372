package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A HEAD response carries the GET's headers but no body. A proxy that relayed or invented body bytes (a terminating
 * chunk, say) would desynchronise the connection: the next response would be read from the middle of garbage.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HeadRequestTest {
    private static final int GET_LENGTH = 42;

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.awaitBody(10);
            if (!ex.method().equals("HEAD")) {
                ex.respond(200, "text/plain", "after head " + ex.uri());
            } else if (ex.uri().startsWith("/v1/stream")) {
                ex.startChunked(200, "text/event-stream"); // as the GET would answer; a HEAD gets no chunks
                ex.end();
            } else {
                ex.startFixed(200, "application/json", GET_LENGTH);
                ex.end();
            }
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    @Test
    void headersIncludingContentLengthAreRelayedWithoutBody() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 2; i++) {
                client.send(RawHttpClient.request("HEAD", "/v1/models", null));
                ResponseHead head = client.readHead();
                assertEquals(200, head.status(), head::toString);
                assertEquals(String.valueOf(GET_LENGTH), head.header("content-length"), head.headers()::toString);
                assertEquals("application/json", head.header("content-type"), head.headers()::toString);
                assertNull(head.header("transfer-encoding"), head.headers()::toString);
                assertNextResponseFollowsDirectly(client, i);
            }
        }
        assertEquals(List.of("HEAD", "GET", "HEAD", "GET"), backend.received().stream().map(ex -> ex.method()).toList(),
                () -> "what the backend received, with the connection each came on: " + backend.received().stream()
                        .map(ex -> ex.method() + " " + ex.uri() + " on " + ex.connection()).toList());
    }

    @Test
    void aHeadOnAStreamingEndpointGetsNoChunksEither() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 2; i++) {
                client.send(RawHttpClient.request("HEAD", "/v1/stream", null));
                ResponseHead head = client.readHead();
                assertEquals(200, head.status(), head::toString);
                assertEquals("text/event-stream", head.header("content-type"), head.headers()::toString);
                assertNextResponseFollowsDirectly(client, i);
            }
        }
    }

    /** The next response must start right where the HEAD response's head ended. */
    private static void assertNextResponseFollowsDirectly(RawHttpClient client, int i) throws Exception {
        RawResponse next = client.get("/next/" + i).readResponse();
        assertEquals(200, next.status(), next::toString);
        assertEquals("after head /next/" + i, next.bodyText());
    }
}
