package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.EndpointStates;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * consistent_hash's bound (load_factor times the average in flight) is an average over the endpoints that can take
 * requests. An endpoint that is out carries nothing, and counting it in the average lowered the bound below what the
 * others evenly carry, so sessions spilled off their own replica (and its prefix cache) while the load was even,
 * only because an unrelated endpoint was down.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BoundedHashWithEndpointOutTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** Answers health checks at once (200), holds everything else until released, then answers its name. */
    private TestBackend heldBackend(String name, HeldResponder held) {
        return closer.add(TestBackend.builder().respond(exchange -> {
            if (exchange.uri().equals("/health")) {
                exchange.awaitBody(30);
                exchange.respond(200, "text/plain", "ok");
            } else {
                held.respond(exchange);
            }
        }).start());
    }

    @Test
    void evenLoadOnTheAvailableEndpointsKeepsEverySessionHome() throws Exception {
        TestBackend down = closer.add(TestBackend.builder().respond(Responders.text(503, "down")).start());
        HeldResponder heldB = new HeldResponder(Responders.named("b"));
        HeldResponder heldC = new HeldResponder(Responders.named("c"));
        TestBackend b = heldBackend("b", heldB);
        TestBackend c = heldBackend("c", heldC);
        RunningProxy proxy = closer.add(RunningProxy.withUpstream("pool", """
                endpoints: ["%s", "%s", "%s"]
                balance: consistent_hash
                hash_key: "header:x-session"
                health_check: {path: /health, interval: 100ms, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1}
                """.formatted(down.url(), b.url(), c.url())));
        EndpointStates.awaitState(proxy.gateway(), down.port(), "unhealthy", 5_000);

        // While idle, find a session that lives on b and one that lives on c.
        Map<String, String> sessionOf = new LinkedHashMap<>();
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 64 && sessionOf.size() < 2; i++) {
                String path = "/probe/" + i;
                heldB.release(path);
                heldC.release(path);
                RawResponse response = client.get(path, "x-session: s-" + i).readResponse();
                assertEquals(200, response.status(), response::toString);
                sessionOf.putIfAbsent(response.bodyText().substring(0, 1), "s-" + i);
            }
        }
        assertEquals(2, sessionOf.size(), () -> "sessions found only on " + sessionOf.keySet());

        // Each session in turn sends two long requests: b and c carry about the same load, and an upstream of b and c
        // alone keeps every request home (the bound, 1.25 times the average of the two, always leaves the second of a
        // pair room). The down endpoint must change nothing; it made the bound 1.25 times the average of three.
        int probed = heldB.arrived() + heldC.arrived();
        List<RawHttpClient> clients = new ArrayList<>();
        List<String> misplaced = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            for (String home : List.of(i % 2 == 0 ? "b" : "c", i % 2 == 0 ? "b" : "c")) {
                String path = "/long/" + home + "/" + clients.size();
                RawHttpClient client = closer.add(proxy.connect());
                clients.add(client.get(path, "x-session: " + sessionOf.get(home)));
                int sent = clients.size();
                Poll.until(() -> heldB.arrived() + heldC.arrived() >= probed + sent, 5_000,
                        () -> path + " reached no endpoint");
                TestBackend at = received(b, path) ? b : c;
                if (at != (home.equals("b") ? b : c)) {
                    misplaced.add(path);
                }
            }
        }
        heldB.releaseAll();
        heldC.releaseAll();
        for (RawHttpClient client : clients) {
            assertEquals(200, client.readResponse().status());
        }
        assertEquals(List.of(), misplaced, "requests sent away from their session's endpoint though b and c carried "
                + "about the same load (b: " + uris(b) + ", c: " + uris(c) + ")");
    }

    private static boolean received(TestBackend backend, String path) {
        return backend.received().stream().anyMatch(e -> e.uri().equals(path));
    }

    private static List<String> uris(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).filter(u -> u.startsWith("/long/")).toList();
    }
}
