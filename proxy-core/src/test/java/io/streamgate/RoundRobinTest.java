package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** An upstream with several endpoints spreads its requests over them in turn. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RoundRobinTest {
    private TestBackend a;
    private TestBackend b;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        a = TestBackend.builder().respond(Responders.named("a")).start();
        b = TestBackend.builder().respond(Responders.named("b")).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 2
                upstreams:
                  pair:
                    endpoints: ["%s", "%s"]
                routes:
                  - path_prefix: /
                    upstream: pair
                """.formatted(a.url(), b.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        a.close();
        b.close();
    }

    @Test
    void requestsOnOneConnectionAlternateBetweenTheEndpoints() throws Exception {
        List<String> servedBy = new ArrayList<>();
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 10; i++) {
                servedBy.add(backendOf(client.get("/v1/models/" + i).readResponse(), "/v1/models/" + i));
            }
        }
        assertAlternatesEvenly(servedBy);
    }

    /** The cursor belongs to the upstream, not to a connection or an event loop. */
    @Test
    void requestsOnSeparateConnectionsAlternateBetweenTheEndpoints() throws Exception {
        List<String> servedBy = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            try (RawHttpClient client = proxy.connect()) {
                servedBy.add(backendOf(client.get("/conn/" + i).readResponse(), "/conn/" + i));
            }
        }
        assertAlternatesEvenly(servedBy);
    }

    private static String backendOf(RawResponse response, String path) {
        assertEquals(200, response.status(), response::toString);
        String[] parts = response.bodyText().split(" ");
        assertEquals("GET " + path, parts[1] + " " + parts[2], response::toString);
        return parts[0];
    }

    private void assertAlternatesEvenly(List<String> servedBy) {
        for (int i = 1; i < servedBy.size(); i++) {
            assertNotEquals(servedBy.get(i - 1), servedBy.get(i), () -> "not round-robin: " + servedBy);
        }
        assertEquals(5, a.received().size(), () -> "endpoint a got " + a.received().size() + " of 10: " + servedBy);
        assertEquals(5, b.received().size(), () -> "endpoint b got " + b.received().size() + " of 10: " + servedBy);
    }
}
