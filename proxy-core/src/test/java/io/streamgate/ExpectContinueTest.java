package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Streamgate answers Expect: 100-continue itself; the backend never sees the expectation. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ExpectContinueTest {
    private static final String BODY = "{\"prompt\":\"hi\"}";

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            String body = ex.awaitBody(10).text();
            ex.respond(200, "text/plain", "got " + body);
        }).start();
        proxy = RunningProxy.forwardingTo(backend, "max_body_size: 1KiB");
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    @Test
    void theClientGets100ContinueBeforeSendingTheBody() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/completions HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + BODY.length() + "\r\nExpect: 100-continue\r\n\r\n");
            // Nothing of the body is sent yet: a 100 must come anyway (else this read times out).
            ResponseHead interim = client.readHead();
            assertEquals(100, interim.status(), interim::toString);

            client.send(BODY);
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals("got " + BODY, response.bodyText());

            BackendExchange seen = backend.takeExchange();
            assertFalse(seen.headers().contains("expect"), () -> "the backend saw Expect: " + seen.headers());

            // The connection is still in step: a second request works.
            RawResponse again = client.post("/v1/completions", BODY).readResponse();
            assertEquals(200, again.status(), again::toString);
        }
    }

    /** The point of 100-continue: a body that would be refused is never sent. */
    @Test
    void aBodyOverTheLimitGets413InsteadOf100() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/completions HTTP/1.1\r\nHost: test.local\r\nContent-Length: 2048\r\n"
                    + "Expect: 100-continue\r\n\r\n");
            assertError(client.readResponse(), 413, "body_too_large");
        }
        assertTrue(backend.received().isEmpty(), () -> "a refused request reached the backend: " + backend.received());
    }

    @Test
    void anotherExpectationGets417() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/completions HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + BODY.length()
                    + "\r\nExpect: something-else\r\n\r\n");
            assertError(client.readResponse(), 417, "expectation_failed");
        }
        assertTrue(backend.received().isEmpty(), () -> "a refused request reached the backend: " + backend.received());
    }
}
