package io.streamgate.traffic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The response cache through real sockets. Every backend answer carries a serial number ("n=7"), so a test can tell
 * a cached answer from a fresh one by its body as well as by X-Cache, and counts what reached the backend. Time
 * (Age, expiry) moves only with the manual clock.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ResponseCacheTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";
    private static final int KIB = 1024;

    private final ManualClock clock = new ManualClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicInteger serial = new AtomicInteger();
    private final CountDownLatch heldRelease = new CountDownLatch(1);
    private final CountDownLatch streamRelease = new CountDownLatch(1);
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(this::answer).start();
        proxy = RunningProxy.start(config("{ shared: true }", "16KiB"), new Streamgate.Options(registry, clock));
    }

    /** The gateway's configuration; the shared route's cache settings and max_entry_size vary for reload tests. */
    private String config(String sharedRouteCache, String maxEntrySize) {
        return """
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                  - name: bob
                    key: "%s"
                cache: { max_size: 64KiB, max_entry_size: %s }
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - name: models
                    path_prefix: /models
                    upstream: backend
                    auth: optional
                    cache: true
                  - name: short
                    path_prefix: /short
                    upstream: backend
                    cache: { ttl: 10s }
                  - name: shared
                    path_prefix: /shared
                    upstream: backend
                    auth: optional
                    cache: %s
                  - name: embeddings
                    path_prefix: /embeddings
                    upstream: backend
                    cache: { post: always }
                  - name: chat
                    path_prefix: /chat
                    upstream: backend
                    cache: { post: deterministic, streamed: true }
                """.formatted(ALICE, BOB, maxEntrySize, backend.url(), sharedRouteCache);
    }

    @AfterEach
    void stop() throws Exception {
        heldRelease.countDown();
        streamRelease.countDown();
        proxy.close();
        backend.close();
    }

    /** The backend: headers chosen by the path, a body naming its serial number. */
    private void answer(BackendExchange exchange) throws Exception {
        String body = exchange.awaitBody(30).text();
        String uri = exchange.uri();
        String text = "n=" + serial.incrementAndGet() + " " + exchange.method() + " " + uri;
        if (uri.contains("held") && !heldRelease.await(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the test never released " + uri);
        }
        if (uri.startsWith("/chat") && body.contains("\"stream\":true")) {
            exchange.startChunked(200, "text/event-stream");
            for (int i = 0; i < 3; i++) {
                if (i == 1 && body.contains("slow") && !streamRelease.await(20, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the test never released the slow stream");
                }
                exchange.write("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + text + " part " + i + "\"}}]}\n\n");
            }
            exchange.write("data: [DONE]\n\n");
            exchange.end();
            return;
        }
        if (uri.contains("/cut")) {
            // The backend dies in the middle of the body: what was relayed is not a whole response.
            if (uri.contains("fixed")) {
                exchange.startFixed(200, "text/plain", 1000);
            } else {
                exchange.startChunked(200, "text/plain");
            }
            exchange.write(text + " partial");
            exchange.die();
            return;
        }
        if (uri.contains("/size/")) {
            text = pad(text, 10 * KIB);
        } else if (uri.contains("/huge")) {
            text = pad(text, 20 * KIB);
        }
        List<String> headers = new ArrayList<>();
        if (uri.contains("no-store")) {
            headers.addAll(List.of("Cache-Control", "no-store"));
        } else if (uri.contains("private")) {
            headers.addAll(List.of("Cache-Control", "private, max-age=60"));
        } else if (uri.contains("cookie")) {
            headers.addAll(List.of("Set-Cookie", "session=s3cr3t"));
        } else if (uri.contains("max-age")) {
            headers.addAll(List.of("Cache-Control", "max-age=3"));
        } else if (uri.contains("aged")) {
            // The backend sits behind another cache that already held this answer for 50 of its 60 seconds.
            headers.addAll(List.of("Cache-Control", "max-age=60", "Age", "50"));
        } else if (uri.contains("validated")) {
            headers.addAll(List.of("ETag", "W/\"v1\"", "Last-Modified", "Sun, 06 Dec 2026 10:00:00 GMT",
                    "Cache-Control", "max-age=60"));
        } else if (uri.contains("vary")) {
            headers.addAll(List.of("Vary", "Accept-Language"));
            text += " lang=" + exchange.headers().get("accept-language");
        }
        exchange.respond(200, "text/plain", text, headers.toArray(String[]::new));
    }

    private static String pad(String text, int length) {
        return text + " " + "x".repeat(length - text.length() - 1);
    }

    private RawResponse get(String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    private RawResponse post(String target, String body) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.post(target, body, "Content-Type: application/json").readResponse();
        }
    }

    private static RawResponse assertMiss(RawResponse response) {
        assertEquals(200, response.status(), response::toString);
        assertEquals("MISS", response.header("x-cache"), response::toString);
        return response;
    }

    private static RawResponse assertHit(RawResponse response, RawResponse original) {
        assertEquals(200, response.status(), response::toString);
        assertEquals("HIT", response.header("x-cache"), response::toString);
        assertEquals(original.bodyText(), response.bodyText(), "a hit serves the stored body");
        assertNotNull(response.header("age"), () -> "a hit carries Age: " + response);
        return response;
    }

    private int backendSaw() {
        return backend.received().size();
    }

    @Test
    void aSecondGetIsServedFromTheCacheWithItsAge() throws Exception {
        RawResponse first = assertMiss(get("/models"));
        assertEquals("n=1 GET /models", first.bodyText());
        clock.advance(Duration.ofSeconds(7));
        RawResponse second = assertHit(get("/models"), first);
        assertEquals("7", second.header("age"));
        assertEquals(first.header("content-type"), second.header("content-type"));
        assertEquals(1, backendSaw(), "a hit must not reach the backend");
    }

    @Test
    void entriesExpireAtTheRouteTtlOrTheResponsesMaxAge() throws Exception {
        RawResponse routeTtl = assertMiss(get("/short/a"));
        RawResponse ownMaxAge = assertMiss(get("/models/max-age"));
        clock.advance(Duration.ofSeconds(2));
        assertHit(get("/models/max-age"), ownMaxAge);
        clock.advance(Duration.ofSeconds(2)); // 4 s: past max-age=3, within the route's 5 minutes
        RawResponse refetched = assertMiss(get("/models/max-age"));
        assertNotEquals(ownMaxAge.bodyText(), refetched.bodyText());

        clock.advance(Duration.ofSeconds(5)); // 9 s: within ttl 10s
        assertHit(get("/short/a"), routeTtl);
        clock.advance(Duration.ofSeconds(2)); // 11 s
        assertMiss(get("/short/a"));
        assertEquals(4, backendSaw());
    }

    @Test
    void aHitCountsTheAgeTheResponseArrivedWith() throws Exception {
        RawResponse first = assertMiss(get("/models/aged"));
        assertEquals("50", first.header("age"), "a miss relays the backend's Age");
        clock.advance(Duration.ofSeconds(4));
        RawResponse hit = assertHit(get("/models/aged"), first);
        assertEquals("54", hit.header("age"), () -> "Age is the age on arrival plus the time stored: " + hit);
        assertEquals(1, hit.head().headers("age").size(), hit::toString);
        clock.advance(Duration.ofSeconds(7)); // 61 s old: past max-age=60
        assertMiss(get("/models/aged"));
        assertEquals(2, backendSaw());
    }

    @Test
    void responsesThatForbidSharedCachingAreNeverStored() throws Exception {
        for (String path : List.of("/models/no-store", "/models/private", "/models/cookie")) {
            RawResponse first = get(path);
            RawResponse second = get(path);
            assertEquals(200, second.status());
            assertNotEquals("HIT", second.header("x-cache"), () -> path + " was served from the cache: " + second);
            assertNotEquals(first.bodyText(), second.bodyText(), path);
        }
        assertEquals(6, backendSaw());
    }

    @Test
    void requestNoCacheSkipsTheLookupAndRefreshesTheEntry() throws Exception {
        assertMiss(get("/models/nc"));
        RawResponse forced = get("/models/nc", "Cache-Control: no-cache");
        assertEquals(200, forced.status());
        assertEquals("n=2 GET /models/nc", forced.bodyText(), "no-cache must go to the backend");
        RawResponse after = get("/models/nc");
        assertEquals("HIT", after.header("x-cache"), after::toString);
        assertEquals("n=2 GET /models/nc", after.bodyText(), "the fresh answer replaces the entry");
        assertEquals(2, backendSaw());
    }

    @Test
    void entriesArePerApiKeyUnlessTheRouteIsShared() throws Exception {
        RawResponse alices = assertMiss(get("/models/me", "Authorization: Bearer " + ALICE));
        RawResponse bobs = assertMiss(get("/models/me", "x-api-key: " + BOB));
        assertNotEquals(alices.bodyText(), bobs.bodyText());
        assertHit(get("/models/me", "Authorization: Bearer " + ALICE), alices);
        assertHit(get("/models/me", "x-api-key: " + BOB), bobs);
        assertMiss(get("/models/me"));
        assertEquals(3, backendSaw());

        RawResponse sharedByAlice = assertMiss(get("/shared/x", "Authorization: Bearer " + ALICE));
        assertHit(get("/shared/x", "x-api-key: " + BOB), sharedByAlice);
        assertEquals(4, backendSaw());
    }

    @Test
    void postAlwaysIsKeyedByTheNormalisedJsonBody() throws Exception {
        RawResponse first = assertMiss(post("/embeddings", "{\"input\":\"a\",\"model\":\"m\"}"));
        assertHit(post("/embeddings", "{ \"model\" : \"m\",\n  \"input\": \"a\" }"), first);
        assertMiss(post("/embeddings", "{\"input\":\"b\",\"model\":\"m\"}"));
        assertEquals(2, backendSaw());
        assertEquals("{\"input\":\"b\",\"model\":\"m\"}", backend.received().get(1).awaitBody(5).text());
    }

    @Test
    void postDeterministicCachesOnlyTemperatureZero() throws Exception {
        String cold = "{\"model\":\"m\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String warm = "{\"model\":\"m\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        RawResponse first = assertMiss(post("/chat", cold));
        assertHit(post("/chat", cold), first);
        RawResponse warmFirst = post("/chat", warm);
        RawResponse warmSecond = post("/chat", warm);
        assertNotEquals("HIT", warmSecond.header("x-cache"), warmSecond::toString);
        assertNotEquals(warmFirst.bodyText(), warmSecond.bodyText());
        assertEquals(3, backendSaw());
    }

    @Test
    void varyAcceptLanguageKeepsOneEntryPerLanguage() throws Exception {
        RawResponse en = assertMiss(get("/models/vary", "Accept-Language: en"));
        RawResponse de = assertMiss(get("/models/vary", "Accept-Language: de"));
        assertTrue(de.bodyText().endsWith("lang=de"), de::toString);
        assertHit(get("/models/vary", "Accept-Language: en"), en);
        assertHit(get("/models/vary", "Accept-Language: de"), de);
        assertEquals(2, backendSaw());
    }

    @Test
    void concurrentIdenticalMissesReachTheBackendOnce() throws Exception {
        List<RawHttpClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                RawHttpClient client = proxy.connect();
                clients.add(client);
                client.get("/models/held");
            }
            Poll.until(() -> proxy.gateway().activeRequests() == 10, 5_000,
                    () -> "10 requests in flight, found " + proxy.gateway().activeRequests());
            Poll.until(() -> backendSaw() == 1, 5_000, () -> "the first miss at the backend");
            heldRelease.countDown();
            for (RawHttpClient client : clients) {
                RawResponse response = client.readResponse();
                assertEquals(200, response.status(), response::toString);
                assertEquals("n=1 GET /models/held", response.bodyText());
            }
        } finally {
            for (RawHttpClient client : clients) {
                client.close();
            }
        }
        assertEquals(1, backendSaw(), "identical concurrent misses must be collapsed into one backend request");
    }

    @Test
    void theCacheStaysWithinItsSizeAndSkipsOversizeEntries() throws Exception {
        for (int i = 0; i < 20; i++) {
            assertEquals(10 * KIB, get("/models/size/" + i).body().length);
        }
        int hits = 0;
        for (int i = 0; i < 20; i++) {
            if ("HIT".equals(get("/models/size/" + i).header("x-cache"))) {
                hits++;
            }
        }
        // 64 KiB hold at most six 10 KiB entries: at least 14 of the 20 must have gone back to the backend.
        assertTrue(hits <= 6, "hits after 200 KiB went through a 64 KiB cache: " + hits);
        assertEquals(40 - hits, backendSaw());
        Gauge size = registry.find("streamgate.cache.size.bytes").gauge();
        assertNotNull(size, "streamgate.cache.size.bytes");
        assertTrue(size.value() <= 64 * KIB, "cache size " + size.value());

        RawResponse huge = get("/models/huge");
        assertEquals(20 * KIB, huge.body().length, "an oversize response is still relayed whole");
        RawResponse hugeAgain = get("/models/huge");
        assertNotEquals("HIT", hugeAgain.header("x-cache"), "a 20 KiB response exceeds max_entry_size");
        assertEquals(42 - hits, backendSaw());
    }

    @Test
    void aStreamedResponseIsReplayedAsTheSameEventStream() throws Exception {
        String request = "{\"model\":\"m\",\"stream\":true,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        RawResponse original = assertMiss(post("/chat", request));
        assertTrue(original.complete());
        RawResponse replay = post("/chat", request);
        assertEquals("HIT", replay.header("x-cache"), replay::toString);
        assertTrue(replay.complete(), "the replay must be a complete body");
        assertTrue(replay.header("content-type").startsWith("text/event-stream"), replay::toString);
        assertArrayEquals(original.body(), replay.body(), "the replay must be the original stream byte for byte");
        String[] events = replay.bodyText().split("\n\n");
        assertEquals(4, events.length, replay::bodyText);
        for (int i = 0; i < 3; i++) {
            assertTrue(events[i].startsWith("data: {\"choices\""), events[i]);
        }
        assertEquals("data: [DONE]", events[3]);
        assertEquals(1, backendSaw());
    }

    @Test
    void headIsServedFromTheGetEntryWithoutABody() throws Exception {
        RawResponse get = assertMiss(get("/models/h"));
        try (RawHttpClient client = proxy.connect()) {
            client.send(RawHttpClient.request("HEAD", "/models/h", null));
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertEquals("HIT", head.header("x-cache"), head.headers()::toString);
            assertEquals(get.body().length, head.contentLength(), "HEAD states the GET body's length");
            // Had the HEAD answer carried a body, this next response would not start with a status line.
            RawResponse next = client.get("/models/h2").readResponse();
            assertEquals("n=2 GET /models/h2", next.bodyText());
        }
        assertEquals(2, backendSaw());
        assertEquals("GET", backend.received().get(0).method());
    }

    @Test
    void purgingByRouteOrKeyPrefixMakesTheNextRequestAMiss() throws Exception {
        assertMiss(get("/models/p"));
        assertEquals("HIT", get("/models/p").header("x-cache"));
        assertTrue(proxy.gateway().purgeCache("models", null) >= 1, "purge of the route");
        assertMiss(get("/models/p"));
        assertEquals("HIT", get("/models/p").header("x-cache"));
        assertTrue(proxy.gateway().purgeCache(null, "GET ") >= 1, "purge of every GET entry");
        assertMiss(get("/models/p"));
        assertEquals(3, backendSaw());
        assertEquals(0, proxy.gateway().purgeCache("short", null), "another route's purge removes nothing of this one");
    }

    @Test
    void aConditionalRequestTheEntrySatisfiesGets304FromTheCache() throws Exception {
        RawResponse first = assertMiss(get("/models/validated"));
        try (RawHttpClient client = proxy.connect()) {
            for (String condition : List.of("If-None-Match: \"v1\"", "If-None-Match: \"v0\", W/\"v1\"",
                    "If-None-Match: *", "If-Modified-Since: Sun, 06 Dec 2026 10:00:00 GMT",
                    "If-Modified-Since: Mon, 07 Dec 2026 10:00:00 GMT")) {
                RawResponse notModified = client.get("/models/validated", condition).readResponse();
                assertEquals(304, notModified.status(), () -> condition + ": " + notModified);
                assertEquals("HIT", notModified.header("x-cache"), notModified::toString);
                assertEquals("W/\"v1\"", notModified.header("etag"), "a 304 carries the entry's validators");
                assertEquals("max-age=60", notModified.header("cache-control"), notModified::toString);
                assertEquals(0, notModified.body().length, notModified::toString);
                assertNull(notModified.header("content-length"), notModified::toString);
            }
            for (String condition : List.of("If-None-Match: \"v2\"",
                    "If-Modified-Since: Sat, 05 Dec 2026 10:00:00 GMT",
                    // If-None-Match decides alone when present: no match, so If-Modified-Since is not looked at.
                    "If-None-Match: \"v2\"\r\nIf-Modified-Since: Mon, 07 Dec 2026 10:00:00 GMT")) {
                assertHit(client.get("/models/validated", condition).readResponse(), first);
            }
        }
        assertEquals(1, backendSaw());
    }

    @Test
    void aRouteThatStopsSharingNoLongerServesItsSharedEntries() throws Exception {
        RawResponse alices = assertMiss(get("/shared/r", "Authorization: Bearer " + ALICE));
        RawResponse kept = assertMiss(get("/models/k"));
        proxy.gateway().reload(ConfigLoader.parse(config("true", "16KiB"), "reloaded.yaml"));
        RawResponse anonymous = assertMiss(get("/shared/r"));
        assertNotEquals(alices.bodyText(), anonymous.bodyText(), "Alice's answer went to an anonymous caller");
        assertHit(get("/models/k"), kept); // an unchanged route keeps its entries
        assertEquals(3, backendSaw());
    }

    @Test
    void aReloadedMaxEntrySizeAppliesToWhatIsStored() throws Exception {
        assertEquals(20 * KIB, get("/models/huge").body().length);
        assertNotEquals("HIT", get("/models/huge").header("x-cache"), "20 KiB exceed max_entry_size 16KiB");
        proxy.gateway().reload(ConfigLoader.parse(config("{ shared: true }", "32KiB"), "reloaded.yaml"));
        RawResponse stored = get("/models/huge");
        assertEquals(20 * KIB, stored.body().length);
        assertHit(get("/models/huge"), stored);
        assertEquals(3, backendSaw());
    }

    @Test
    void aStreamIsAsOldAsTheTimeSinceItsHeadArrived() throws Exception {
        String request = "{\"model\":\"m\",\"stream\":true,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"slow\"}]}";
        RawResponse original;
        try (RawHttpClient client = proxy.connect()) {
            client.post("/chat", request, "Content-Type: application/json");
            ResponseHead head = client.readHead();
            assertEquals("MISS", head.header("x-cache"));
            clock.advance(Duration.ofSeconds(20)); // the stream runs for 20 s
            streamRelease.countDown();
            byte[] body = client.openBody(head).readAllBytes();
            original = new RawResponse(head, body, true);
        }
        RawResponse replay = post("/chat", request);
        assertEquals("HIT", replay.header("x-cache"), replay::toString);
        assertArrayEquals(original.body(), replay.body());
        assertEquals("20", replay.header("age"), () -> "stored for 20 s since its head arrived: " + replay);
        clock.advance(Duration.ofSeconds(5 * 60 - 19)); // 5 min + 1 s after the head: past the route's ttl
        assertNotEquals("HIT", post("/chat", request).header("x-cache"));
        assertEquals(2, backendSaw());
    }

    @Test
    void aBodyCutByTheBackendIsNeverStored() throws Exception {
        for (String path : List.of("/models/cut/chunked", "/models/cut/fixed")) {
            for (int i = 0; i < 2; i++) {
                try (RawHttpClient client = proxy.connect()) {
                    client.get(path);
                    ResponseHead head = client.readHead();
                    assertNotEquals("HIT", head.header("x-cache"), () -> path + " cut body served from the cache");
                    client.openBody(head).readAllBytes();
                } catch (IOException e) {
                    // the cut reaches the client as a cut: fine
                }
            }
        }
        assertEquals(4, backendSaw());
    }

    @Test
    void aResponseFetchedUnderTheOldRouteSettingsIsNotStoredAfterAReload() throws Exception {
        try (RawHttpClient alice = proxy.connect()) {
            alice.get("/shared/held", "Authorization: Bearer " + ALICE);
            Poll.until(() -> backendSaw() == 1, 5_000, () -> "Alice's request at the backend");
            proxy.gateway().reload(ConfigLoader.parse(config("true", "16KiB"), "reloaded.yaml"));
            heldRelease.countDown();
            RawResponse alices = assertMiss(alice.readResponse());
            RawResponse anonymous = assertMiss(get("/shared/held"));
            assertNotEquals(alices.bodyText(), anonymous.bodyText(), "Alice's answer went to an anonymous caller");
        }
        assertEquals(2, backendSaw());
    }
}
