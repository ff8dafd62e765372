package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An endpoint named by host name rather than address (as in a compose file: {@code http://vllm:8000}) is looked up
 * through the JVM's resolver, off the event loop, and then proxied to like any other.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UpstreamHostNameTest {
    @Test
    void anEndpointNamedByHostNameIsResolvedAndProxiedTo() throws Exception {
        try (TestBackend backend = TestBackend.builder().respond(Responders.named("by-name")).start();
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                     upstreams:
                       named:
                         endpoints: ["http://localhost:%d"]
                     routes:
                       - name: all
                         path_prefix: /
                         upstream: named
                     """.formatted(backend.port()))) {
            for (int i = 0; i < 3; i++) { // the first request on each event loop connects, the others reuse
                try (RawHttpClient client = proxy.connect()) {
                    RawResponse r = client.get("/x/" + i).readResponse();
                    assertEquals(200, r.status(), r.toString());
                    assertEquals("by-name GET /x/" + i, r.bodyText());
                }
            }
            assertEquals(3, backend.received().size());
            assertTrue(Thread.getAllStackTraces().keySet().stream()
                            .anyMatch(t -> t.getName().startsWith("streamgate-dns-")),
                    "the name was looked up on the resolver's threads (OffLoopResolverTest shows the loop stays free)");
        }
    }

    @Test
    void aNameThatDoesNotResolveIsABadGatewayWithAJsonBody() throws Exception {
        // .invalid never resolves (RFC 6761); the system resolver says so at once.
        try (RunningProxy proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  gone:
                    endpoints: ["http://no-such-backend.invalid:8000"]
                routes:
                  - name: all
                    path_prefix: /
                    upstream: gone
                """);
             RawHttpClient client = proxy.connect()) {
            assertError(client.get("/v1/models").readResponse(), 502, "upstream_unavailable");
        }
    }
}
