package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.UnacceptingEndpoint;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A backend whose TCP connect never completes gets 504 after timeouts.connect (a refused connect is a 502, tested elsewhere). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConnectTimeoutTest {

    @Test
    void aConnectThatHangsGives504AfterTheConnectTimeout() throws Exception {
        try (UnacceptingEndpoint endpoint = UnacceptingEndpoint.open()) {
            assumeTrue(endpoint.connectHangs(), "this kernel completes connects to a full accept queue");
            try (RunningProxy proxy = RunningProxy.start("""
                    server:
                      listen: "127.0.0.1:0"
                    upstreams:
                      hanging:
                        endpoints: ["%s"]
                    routes:
                      - path_prefix: /
                        upstream: hanging
                        timeouts:
                          connect: 500ms
                    """.formatted(endpoint.url()));
                 RawHttpClient client = proxy.connect()) {
                long start = System.nanoTime();
                RawResponse response = client.get("/v1/models").readResponse();
                long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertError(response, 504, "upstream_timeout");
                assertTrue(elapsedMs >= 400, "504 after " + elapsedMs + " ms, before the 500ms connect timeout");
                assertTrue(elapsedMs < 5_000, "504 after " + elapsedMs + " ms: the connect timeout is 500ms");
            }
        }
    }
}
