package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.Closer;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * How an upstream with several endpoints chooses one per request: weighted smooth round robin, least outstanding
 * requests (the default), and consistent hashing with bounded load; and which balancing settings are refused.
 * Each backend answers with its own name, so every assertion is about which endpoint served which request.
 *
 * <p>Where a placement depends on in-flight counts, requests that should no longer count are finished first: either
 * they ran on the same client connection (whose upstream connections share its event loop, so the proxy ended the
 * previous exchange before reading the next request), or the test waits until the proxy reports them ended.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BalancingTest {
    private static final long ARRIVAL_MILLIS = 5_000;

    /** Closed in reverse order of creation: clients, then the proxy, then the backends. */
    private final Closer resources = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    @Test
    void roundRobinSendsOneRequestInFourToTheEndpointOfWeightOneBesideWeightThree() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints:
                  - "%s"
                  - { url: "%s", weight: 3 }
                balance: round_robin
                """.formatted(a.url(), b.url()));
        // Two connections, used in turn, sit on the proxy's two event loops: the rotation belongs to the upstream.
        RawHttpClient[] clients = {connect(proxy), connect(proxy)};
        List<String> servedBy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            servedBy.add(servedBy(clients[i % 2], "/rr/" + i));
        }

        assertEquals(10, Collections.frequency(servedBy, "a"), () -> "weight 1 of 4: " + servedBy);
        assertEquals(30, Collections.frequency(servedBy, "b"), () -> "weight 3 of 4: " + servedBy);
        assertEquals(10, a.received().size(), () -> "requests at a: " + servedBy);
        assertEquals(30, b.received().size(), () -> "requests at b: " + servedBy);
        for (int i = 0; i + 4 <= servedBy.size(); i++) {
            int start = i;
            assertEquals(1, Collections.frequency(servedBy.subList(i, i + 4), "a"),
                    () -> "not smooth: requests " + start + ".." + (start + 3) + " of " + servedBy);
        }
    }

    /** least_outstanding is what an upstream gets without a {@code balance} key. */
    @Test
    void byDefaultRequestsAvoidTheEndpointBusyWithLongRequests() throws Exception {
        HeldResponder heldA = new HeldResponder(Responders.named("a"));
        HeldResponder heldB = new HeldResponder(Responders.named("b"));
        TestBackend a = backend(heldA);
        TestBackend b = backend(heldB);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                """.formatted(a.url(), b.url()));

        // Six long requests in flight at once spread evenly, whichever endpoint the first one met.
        Map<String, RawHttpClient> longRequests = new LinkedHashMap<>();
        for (int i = 0; i < 6; i++) {
            String path = "/long/" + i;
            longRequests.put(path, connect(proxy).get(path));
            int sent = i + 1;
            Poll.until(() -> heldA.arrived() + heldB.arrived() == sent, ARRIVAL_MILLIS,
                    () -> path + " reached no endpoint");
        }
        assertEquals(3, a.received().size(), () -> "long requests at a: " + uris(a) + ", at b: " + uris(b));
        assertEquals(3, b.received().size(), () -> "long requests at a: " + uris(a) + ", at b: " + uris(b));

        // b finishes its three; a keeps three in flight.
        for (String path : uris(b)) {
            heldB.release(path);
            assertEquals("b", backendOf(longRequests.get(path).readResponse(), path));
        }
        awaitActive(proxy, 3);
        RawHttpClient client = connect(proxy);
        for (int i = 0; i < 5; i++) {
            String path = "/short/" + i;
            releaseOnBoth(path, heldA, heldB);
            assertEquals("b", servedBy(client, path), () -> path + " went to a, which has 3 requests in flight");
        }
        assertEquals(3, a.received().size(), () -> "requests at a: " + uris(a));

        // Once a's requests are done both endpoints are idle again, and sequential requests take turns.
        for (String path : uris(a)) {
            heldA.release(path);
            assertEquals("a", backendOf(longRequests.get(path).readResponse(), path));
        }
        awaitIdle(proxy);
        List<String> servedBy = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String path = "/after/" + i;
            releaseOnBoth(path, heldA, heldB);
            servedBy.add(servedBy(client, path));
        }
        for (int i = 1; i < servedBy.size(); i++) {
            assertNotEquals(servedBy.get(i - 1), servedBy.get(i), () -> "idle endpoints not taken in turn: " + servedBy);
        }
    }

    @Test
    void consistentHashKeepsEverySessionOnOneEndpoint() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                balance: consistent_hash
                hash_key: "header:x-session"
                """.formatted(a.url(), b.url()));
        Map<String, Set<String>> endpointsBySession = new LinkedHashMap<>();
        List<String> sessions = new ArrayList<>();
        for (int s = 0; s < 10; s++) {
            sessions.add("session-" + s);
        }
        RawHttpClient client = connect(proxy);
        // Sessions interleaved in a new order each round: in a fixed order of 10, plain alternation would also keep
        // every session on one endpoint. The seed is fixed so a failure can be replayed.
        Random order = new Random(42);
        for (int round = 0; round < 20; round++) {
            Collections.shuffle(sessions, order);
            for (String session : sessions) {
                endpointsBySession.computeIfAbsent(session, k -> new HashSet<>())
                        .add(servedBy(client, "/chat/" + round, "x-session: " + session));
            }
        }
        endpointsBySession.forEach((session, endpoints) ->
                assertEquals(1, endpoints.size(), () -> session + " served by " + endpoints + ": " + endpointsBySession));
        assertEquals(200, a.received().size() + b.received().size());
    }

    @Test
    void consistentHashSpreadsSessionsOverEveryEndpointTheSameWayOnEveryConnection() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        TestBackend c = backend(Responders.named("c"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s", "%s"]
                balance: consistent_hash
                hash_key: "header:x-session"
                """.formatted(a.url(), b.url(), c.url()));
        Map<String, String> home = new LinkedHashMap<>();
        RawHttpClient first = connect(proxy);
        for (int s = 0; s < 30; s++) {
            home.put("id-" + s, servedBy(first, "/first/" + s, "x-session: id-" + s));
        }
        for (String endpoint : List.of("a", "b", "c")) {
            assertTrue(home.containsValue(endpoint), () -> "no session of 30 hashed to " + endpoint + ": " + home);
        }

        // A second connection (on the other event loop) meets the same ring. In reverse order, so that a rotation
        // over the 3 endpoints, 30 requests later, could not repeat the first pass.
        awaitIdle(proxy);
        RawHttpClient second = connect(proxy);
        List<String> ids = new ArrayList<>(home.keySet());
        Collections.reverse(ids);
        for (String id : ids) {
            assertEquals(home.get(id), servedBy(second, "/second", "x-session: " + id),
                    () -> id + " moved on another connection");
        }
    }

    @Test
    void consistentHashByApiKeyKeepsEachKeyOnOneEndpointAndAnonymousClientsByAddress() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        TestBackend c = backend(Responders.named("c"));
        StringBuilder keys = new StringBuilder("api_keys:\n");
        for (int k = 0; k < 30; k++) {
            keys.append("  - name: user-").append(k).append('\n')
                    .append("    key: \"").append(secret(k)).append("\"\n");
        }
        RunningProxy proxy = RunningProxy.start(keys + """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 2
                upstreams:
                  pool:
                    endpoints: ["%s", "%s", "%s"]
                    balance: consistent_hash
                    hash_key: api_key
                routes:
                  - path_prefix: /
                    upstream: pool
                    auth: optional
                """.formatted(a.url(), b.url(), c.url()));
        track(proxy);

        Map<Integer, Set<String>> endpointsByKey = new LinkedHashMap<>();
        List<Integer> keyOrder = new ArrayList<>();
        for (int k = 0; k < 30; k++) {
            keyOrder.add(k);
        }
        RawHttpClient client = connect(proxy);
        Random order = new Random(7); // a new order each round, so a plain rotation cannot look sticky
        for (int round = 0; round < 3; round++) {
            Collections.shuffle(keyOrder, order);
            for (int k : keyOrder) {
                endpointsByKey.computeIfAbsent(k, x -> new HashSet<>())
                        .add(servedBy(client, "/keyed/" + round, "Authorization: Bearer " + secret(k)));
            }
        }
        endpointsByKey.forEach((k, endpoints) ->
                assertEquals(1, endpoints.size(), () -> "user-" + k + " served by " + endpoints));
        Set<String> used = new HashSet<>();
        endpointsByKey.values().forEach(used::addAll);
        assertEquals(Set.of("a", "b", "c"), used, () -> "30 keys over 3 endpoints: " + endpointsByKey);

        // Without a key the client address is the key: every connection from 127.0.0.1 meets the same endpoint.
        Set<String> anonymous = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            awaitIdle(proxy);
            try (RawHttpClient fresh = RawHttpClient.connect(proxy.port())) {
                anonymous.add(servedBy(fresh, "/anonymous/" + i));
            }
        }
        assertEquals(1, anonymous.size(), () -> "anonymous requests from one address served by " + anonymous);
    }

    @Test
    void consistentHashByClientAddressIgnoresEverythingElseAboutTheRequest() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        TestBackend c = backend(Responders.named("c"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s", "%s"]
                balance: consistent_hash
                hash_key: client_ip
                """.formatted(a.url(), b.url(), c.url()));
        Set<String> servedBy = new HashSet<>();
        for (int i = 0; i < 12; i++) {
            awaitIdle(proxy);
            try (RawHttpClient fresh = RawHttpClient.connect(proxy.port())) {
                servedBy.add(servedBy(fresh, "/ip/" + i, "x-session: s-" + i, "Authorization: Bearer token-" + i));
            }
        }
        assertEquals(1, servedBy.size(), () -> "one client address served by " + servedBy);
    }

    /**
     * With {@code load_factor: 1.0} an endpoint takes no more than the average in-flight load plus one: a hot session
     * whose requests stay in flight cannot pile all of them onto its home endpoint; the excess goes to the other one.
     */
    @Test
    void boundedLoadSpillsAHotSessionToTheOtherEndpoint() throws Exception {
        HeldResponder heldA = new HeldResponder(Responders.named("a"));
        HeldResponder heldB = new HeldResponder(Responders.named("b"));
        TestBackend a = backend(heldA);
        TestBackend b = backend(heldB);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                balance: consistent_hash
                hash_key: "header:x-session"
                load_factor: 1.0
                """.formatted(a.url(), b.url()));

        Map<String, RawHttpClient> hot = new LinkedHashMap<>();
        List<String> landedOn = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String path = "/hot/" + i;
            hot.put(path, connect(proxy).get(path, "x-session: hot"));
            int sent = i + 1;
            Poll.until(() -> heldA.arrived() + heldB.arrived() == sent, ARRIVAL_MILLIS,
                    () -> path + " reached no endpoint");
            landedOn.add(uris(a).contains(path) ? "a" : "b");
        }
        String home = landedOn.get(0);
        String other = home.equals("a") ? "b" : "a";
        // Whatever the exact rounding of the bound, 4 in flight on one of 2 endpoints is over it (average 2, plus 1).
        assertTrue(landedOn.contains(other), () -> "all of a hot session's in-flight requests piled onto " + home
                + " despite load_factor 1.0: " + landedOn);

        heldA.releaseAll();
        heldB.releaseAll();
        for (Map.Entry<String, RawHttpClient> request : hot.entrySet()) {
            backendOf(request.getValue().readResponse(), request.getKey());
        }
        awaitIdle(proxy);
        // With the load gone the session is back home: the spill was about load, not a changed ring.
        RawHttpClient client = connect(proxy);
        for (int i = 0; i < 3; i++) {
            assertEquals(home, servedBy(client, "/cool/" + i, "x-session: hot"), "the hot session once idle again");
        }
    }

    @Test
    void theDocumentedBalancingConfigurationLoads() {
        assertDoesNotThrow(() -> ConfigLoader.parse(config("""
                endpoints:
                  - "http://127.0.0.1:8001"
                  - { url: "http://127.0.0.1:8002", weight: 3 }
                balance: consistent_hash
                hash_key: api_key
                load_factor: 1.25
                """), "test.yaml"));
    }

    static Stream<Arguments> invalidBalancing() {
        return Stream.of(
                Arguments.of("upstreams.pool.balance", """
                        endpoints: ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
                        balance: fastest
                        """),
                Arguments.of("upstreams.pool.endpoints[1].weight", """
                        endpoints:
                          - "http://127.0.0.1:8001"
                          - { url: "http://127.0.0.1:8002", weight: 0 }
                        """),
                Arguments.of("upstreams.pool.hash_key", """
                        endpoints: ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
                        hash_key: client_ip
                        """),
                Arguments.of("upstreams.pool.hash_key", """
                        endpoints: ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
                        balance: round_robin
                        hash_key: "header:x-session"
                        """),
                Arguments.of("upstreams.pool.hash_key", """
                        endpoints: ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
                        balance: consistent_hash
                        hash_key: cookie
                        """),
                Arguments.of("upstreams.pool.load_factor", """
                        endpoints: ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
                        balance: consistent_hash
                        load_factor: 0.9
                        """));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidBalancing")
    void invalidBalancingIsRefusedNamingTheKey(String key, String upstreamBody) {
        String yaml = config(upstreamBody);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "test.yaml"),
                () -> "must be refused:\n" + yaml);
        assertTrue(e.getMessage().contains(key), () -> "should name " + key + ": " + e.getMessage());
    }

    // --- helpers ---

    /** A whole configuration: the one upstream "pool" with {@code upstreamBody} (its keys, unindented), one route. */
    private static String config(String upstreamBody) {
        StringBuilder yaml = new StringBuilder("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 2
                upstreams:
                  pool:
                """);
        upstreamBody.lines().forEach(line -> yaml.append("    ").append(line).append('\n'));
        return yaml.append("""
                routes:
                  - path_prefix: /
                    upstream: pool
                """).toString();
    }

    private RunningProxy proxy(String upstreamBody) throws ConfigException {
        return track(RunningProxy.start(config(upstreamBody)));
    }

    private TestBackend backend(TestBackend.Responder responder) {
        return track(TestBackend.builder().respond(responder).start());
    }

    private RawHttpClient connect(RunningProxy proxy) throws Exception {
        return track(proxy.connect());
    }

    private <T extends AutoCloseable> T track(T resource) {
        return resources.add(resource);
    }

    /** Sends a GET and returns the name of the backend that answered it. */
    private static String servedBy(RawHttpClient client, String path, String... headerLines) throws Exception {
        return backendOf(client.get(path, headerLines).readResponse(), path);
    }

    /** The name in a {@link Responders#named} body, after checking the response is that backend's answer to {@code path}. */
    private static String backendOf(RawResponse response, String path) {
        assertEquals(200, response.status(), response::toString);
        String[] parts = response.bodyText().split(" ");
        assertEquals("GET " + path, parts[1] + " " + parts[2], response::toString);
        return parts[0];
    }

    /**
     * Waits until the proxy has ended every exchange: exchanges that finished on another event loop than the next
     * request's are then off their endpoint's in-flight count too (it is lowered before the active count).
     */
    private static void awaitIdle(RunningProxy proxy) throws InterruptedException {
        awaitActive(proxy, 0);
    }

    private static void awaitActive(RunningProxy proxy, int active) throws InterruptedException {
        Poll.until(() -> proxy.gateway().activeRequests() == active, ARRIVAL_MILLIS,
                () -> proxy.gateway().activeRequests() + " requests active in the proxy, not " + active);
    }

    private static List<String> uris(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }

    private static void releaseOnBoth(String path, HeldResponder first, HeldResponder second) {
        first.release(path);
        second.release(path);
    }

    private static String secret(int k) {
        return "balancing-test-key-" + k + "-0123456789abcdef";
    }
}
