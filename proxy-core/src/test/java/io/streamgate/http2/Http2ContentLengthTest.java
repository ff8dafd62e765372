package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.handler.codec.http2.Http2Error;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A request whose DATA frames do not add up to its content-length is malformed: a stream error of type
 * PROTOCOL_ERROR (RFC 9113 §8.1.1), not a cancel.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2ContentLengthTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    @ParameterizedTest(name = "content-length {0}, {1} bytes sent")
    @CsvSource({"10, 20", "100, 10"})
    void aBodyThatDoesNotMatchItsContentLengthIsResetWithProtocolError(int declared, int sent) throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url())));
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        H2Probe.Stream s = client.open(H2Probe.headers("POST", "/v1/completions", "content-type", "application/json",
                "content-length", Integer.toString(declared)), false);
        client.data(s, new byte[sent], true).get(5, TimeUnit.SECONDS);

        H2Probe.Outcome outcome = s.outcome.get(10, TimeUnit.SECONDS);
        assertEquals(Http2Error.PROTOCOL_ERROR.code(), outcome.resetCode(), "the malformed request's stream: " + outcome);
        // The backend never gets a malformed request whole: one it began receiving is cut off.
        for (BackendExchange e : backend.received()) {
            e.connection().closed().get(5, TimeUnit.SECONDS);
        }
        // A stream error, not a connection error: the next request on the connection is served.
        H2Probe.Stream next = client.open(H2Probe.headers("GET", "/next"), true);
        assertEquals(200, next.outcome.get(10, TimeUnit.SECONDS).status());
    }
}
