package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.RawBackend;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A pooled connection is reused only when the backend's response ended exactly where its framing said: bytes after
 * the end (a body longer than its Content-Length, a body after a response to HEAD or a 204) must never be read as the
 * response to the next request sent on that connection.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PooledConnectionReuseTest {
    private static final String SMUGGLED = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private RunningProxy proxy(RawBackend backend) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: llm
                """.formatted(backend.url())));
    }

    /** Answers /v1/first with {@code first} (and whatever follows it in the same write), everything else with "B". */
    private RawBackend backend(String first) throws Exception {
        return closer.add(new RawBackend((request, out) -> {
            if (request.head().contains(" /v1/first ")) {
                write(out, first);
                Thread.sleep(1000); // the connection stays open: it would be pooled
            } else {
                write(out, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
            }
        }));
    }

    private static void write(OutputStream out, String text) throws Exception {
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    private void assertSecondAnsweredByBackend(String method, String first) throws Exception {
        RawBackend backend = backend(first);
        RunningProxy proxy = proxy(backend);
        try (RawHttpClient client = proxy.connect()) {
            client.send(RawHttpClient.request(method, "/v1/first", null) + RawHttpClient.request("GET", "/v1/second", null));
            // A response to HEAD has no body, whatever its Content-Length says.
            assertEquals(200, method.equals("HEAD") ? client.readHead().status() : client.readResponse().status());
            RawResponse two = client.readResponse();
            assertEquals(200, two.status(), two.toString());
            assertEquals("B", two.bodyText(), "the second request got bytes the backend sent after the first response");
        }
        assertEquals(2, backend.received().size());
    }

    @Test
    void bytesBeyondContentLengthAreNotTheNextResponse() throws Exception {
        assertSecondAnsweredByBackend("GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK" + SMUGGLED);
    }

    @Test
    void bodyAfterHeadResponseIsNotTheNextResponse() throws Exception {
        assertSecondAnsweredByBackend("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: " + SMUGGLED.length() + "\r\n\r\n" + SMUGGLED);
    }

    @Test
    void bodyAfter204IsNotTheNextResponse() throws Exception {
        RawBackend backend = backend("HTTP/1.1 204 No Content\r\n\r\n" + SMUGGLED);
        RunningProxy proxy = proxy(backend);
        try (RawHttpClient client = proxy.connect()) {
            client.send(RawHttpClient.request("GET", "/v1/first", null) + RawHttpClient.request("GET", "/v1/second", null));
            assertEquals(204, client.readHead().status());
            RawResponse two = client.readResponse();
            assertEquals(200, two.status(), two.toString());
            assertEquals("B", two.bodyText());
        }
        assertEquals(2, backend.received().size());
    }
}
