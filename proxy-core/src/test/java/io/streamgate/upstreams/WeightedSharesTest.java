package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
import io.streamgate.testing.EndpointStates;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Endpoint weights decide the shares whatever the balancer and whichever endpoints are out: an endpoint of weight 3
 * takes three times the requests of one of weight 1 under least_outstanding (the default) when the endpoints are
 * idle, as nginx's least_conn breaks ties by weighted round robin; and when an endpoint is out, its turns are shared
 * among the others by weight, not all handed to the one that follows it. Requests run one after another on one
 * client connection, so the proxy has ended each exchange before it reads the next: every endpoint is idle at each
 * choice.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class WeightedSharesTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** Answers its name to every request; {@code /health} with 503 when {@code down}. */
    private TestBackend backend(String name, boolean down) {
        return closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/health")) {
                exchange.respond(down ? 503 : 200, "text/plain", down ? "down" : "ok");
            } else {
                exchange.respond(200, "text/plain", name);
            }
        }).start());
    }

    private List<String> servedBy(RunningProxy proxy, int requests) throws Exception {
        RawHttpClient client = closer.add(proxy.connect());
        List<String> names = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            RawResponse response = client.get("/w/" + i).readResponse();
            assertEquals(200, response.status(), response::toString);
            names.add(response.bodyText());
        }
        return names;
    }

    @Test
    void leastOutstandingGivesIdleEndpointsTheirWeightedShares() throws Exception {
        TestBackend a = backend("a", false);
        TestBackend b = backend("b", false);
        RunningProxy proxy = closer.add(RunningProxy.withUpstream("pool", """
                endpoints:
                  - { url: "%s", weight: 3 }
                  - "%s"
                """.formatted(a.url(), b.url())));
        List<String> names = servedBy(proxy, 40);
        assertEquals(30, Collections.frequency(names, "a"), () -> "weight 3 of 4 should take 30 of 40: " + names);
        assertEquals(10, Collections.frequency(names, "b"), () -> "weight 1 of 4 should take 10 of 40: " + names);
    }

    @Test
    void leastOutstandingSharesAnUnhealthyEndpointsTurnsEvenly() throws Exception {
        assertEvenWithFirstDown(null);
    }

    @Test
    void roundRobinSharesAnUnhealthyEndpointsTurnsEvenly() throws Exception {
        assertEvenWithFirstDown("round_robin");
    }

    /** Three endpoints of weight 1, the first failing its health check: the other two take half each. */
    private void assertEvenWithFirstDown(String balance) throws Exception {
        TestBackend a = backend("a", true);
        TestBackend b = backend("b", false);
        TestBackend c = backend("c", false);
        RunningProxy proxy = closer.add(RunningProxy.withUpstream("pool", """
                endpoints: ["%s", "%s", "%s"]
                %s
                health_check: {path: /health, interval: 100ms, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1}
                """.formatted(a.url(), b.url(), c.url(), balance == null ? "" : "balance: " + balance)));
        EndpointStates.awaitState(proxy.gateway(), a.port(), "unhealthy", 5_000);
        List<String> names = servedBy(proxy, 60);
        assertEquals(0, Collections.frequency(names, "a"), () -> "a is unhealthy: " + names);
        int atB = Collections.frequency(names, "b");
        assertTrue(atB >= 27 && atB <= 33, () -> "b and c have the same weight, so about 30 each, but b took " + atB
                + " of 60: " + names);
    }
}
