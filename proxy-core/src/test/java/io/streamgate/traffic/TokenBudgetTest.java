package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.ChatCompletionsResponder;
import io.streamgate.testing.Json;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ReceivedBody;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * LLM token budgets through a backend that behaves like vLLM (usage in the JSON body, or in a final usage-only event
 * only when the request asked for it). The numbers are chosen so that charging only the admission estimate would give
 * the opposite outcome: what decides is the usage the backend reported (or, for an abandoned stream, what was
 * relayed).
 *
 * <p>The prompt of every request here is "hi": a handful of tokens by any estimate, far below the margins used.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TokenBudgetTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String CHAT = "/v1/chat/completions";
    private static final String METERED = "/metered/chat/completions";
    private static final String BIG = "/big/chat/completions";
    private static final String CACHED = "/cached/chat/completions";

    private final ManualClock clock = new ManualClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TestBackend backend;
    private RunningProxy proxy;

    private void start(TestBackend.Responder responder) throws Exception {
        backend = TestBackend.builder().respond(responder).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                rate_limits:
                  budget: { key: api_key, tokens: 100/m }
                  roomy: { key: api_key, tokens: 1000000/m }
                  hits: { key: api_key, requests: 4/m }
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - name: budgeted
                    path_prefix: /v1
                    upstream: llm
                    auth: required
                    rate_limits: [budget]
                  - name: metered
                    path_prefix: /metered
                    upstream: llm
                    auth: required
                    tokens: { meter: true }
                  - name: big
                    path_prefix: /big
                    upstream: llm
                    auth: required
                    rate_limits: [roomy]
                    tokens: { peek_limit: 1KiB }
                  - name: cached
                    path_prefix: /cached
                    upstream: llm
                    auth: required
                    rate_limits: [hits, budget]
                    cache: { post: deterministic }
                """.formatted(ALICE, backend.url()), new Streamgate.Options(registry, clock));
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private static String chat(boolean stream, String extra) {
        return "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
                + (stream ? ",\"stream\":true" : "") + extra + "}";
    }

    private RawResponse post(String target, String body) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.post(target, body, "Authorization: Bearer " + ALICE, "Content-Type: application/json").readResponse();
        }
    }

    /** The events of an event-stream body, without their blank-line separators. */
    private static List<String> events(RawResponse response) {
        List<String> events = new ArrayList<>();
        for (String block : response.bodyText().split("\n\n")) {
            if (!block.isBlank()) {
                events.add(block.strip());
            }
        }
        return events;
    }

    private Map<?, ?> receivedJson(int index) throws Exception {
        ReceivedBody body = backend.received().get(index).awaitBody(5);
        return (Map<?, ?>) Json.parse(body.text());
    }

    /** Settlement happens when the exchange ends, on the gateway's loop: wait until nothing is in flight. */
    private void awaitSettled() throws InterruptedException {
        Poll.until(() -> proxy.gateway().activeRequests() == 0, 5_000, () -> "exchanges still in flight");
    }

    @Test
    void aStreamedRequestIsSentWithIncludeUsageAndTheClientDoesNotSeeTheUsageChunk() throws Exception {
        ChatCompletionsResponder vllm = new ChatCompletionsResponder(5, 7, 3);
        start(vllm);
        RawResponse response = post(METERED, chat(true, ""));
        assertEquals(200, response.status(), response::toString);
        assertTrue(response.complete(), "the stream must end properly");

        Map<?, ?> sent = receivedJson(0);
        assertTrue(ChatCompletionsResponder.includeUsage(sent), () -> "the backend got no stream_options.include_usage: " + sent);
        assertEquals(Boolean.TRUE, sent.get("stream"));
        assertEquals("m", sent.get("model"), "the rest of the body is kept");
        assertEquals(1, ((List<?>) sent.get("messages")).size());

        List<String> events = events(response);
        assertEquals(List.of(ChatCompletionsResponder.CONTENT_EVENT, ChatCompletionsResponder.CONTENT_EVENT,
                ChatCompletionsResponder.CONTENT_EVENT, "data: [DONE]"), events,
                "all content events and [DONE], and no usage-only event the client did not ask for");
    }

    @Test
    void aClientThatAskedForUsageGetsTheUsageChunk() throws Exception {
        ChatCompletionsResponder vllm = new ChatCompletionsResponder(5, 7, 2);
        start(vllm);
        RawResponse response = post(METERED, chat(true, ",\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, response.status(), response::toString);
        assertEquals(List.of(ChatCompletionsResponder.CONTENT_EVENT, ChatCompletionsResponder.CONTENT_EVENT,
                vllm.usageEvent(), "data: [DONE]"), events(response));
        assertTrue(ChatCompletionsResponder.includeUsage(receivedJson(0)));
    }

    /**
     * Budget 100. Admitted by the first max_tokens (1), vLLM would generate up to the last (100000, Python's json
     * keeps the last): the body is refused before the budget is charged or the backend sees it.
     */
    @Test
    void aBodyWithTwoMaxTokensIsRefusedBeforeAnyBudgetIsCharged() throws Exception {
        start(new ChatCompletionsResponder(8, 12, 0));
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            for (String extra : List.of(",\"max_tokens\":1,\"max_tokens\":100000",
                    ",\"max_completion_tokens\":1,\"max_tokens\":5,\"max_completion_tokens\":100000")) {
                RawResponse refused = post(CHAT, chat(false, extra));
                assertError(refused, 400, "bad_request");
                String member = extra.substring(2, extra.indexOf('"', 2));
                assertTrue(refused.bodyText().contains("\\\"" + member + "\\\""),
                        () -> "the message should name " + member + ": " + refused.bodyText());
            }
            String line = accessLog.awaitLine(l -> l.contains(CHAT), 2_000);
            assertNotNull(line, () -> "no access log line: " + accessLog.lines());
            assertTrue(line.contains(" 400 ") && line.contains(" note=duplicate_member"), line);
        }
        assertEquals(0, backend.received().size(), "an ambiguous body reached the backend");

        // Nothing was charged: the whole budget is still there for a request that may use 90.
        RawResponse admitted = post(CHAT, chat(false, ",\"max_tokens\":90"));
        assertEquals(200, admitted.status(), admitted::toString);
    }

    /**
     * The usage injection reads stream_options and rewrites it: with two of them, or two include_usage, which one the
     * backend honours is not what the gateway decided by. Members the gateway does not read may still repeat.
     */
    @Test
    void aStreamedBodyWithTwoStreamOptionsIsRefusedOnTheUsageInjectionRoute() throws Exception {
        ChatCompletionsResponder vllm = new ChatCompletionsResponder(5, 7, 2);
        start(vllm);
        for (String extra : List.of(",\"stream_options\":{\"include_usage\":true},\"stream_options\":null",
                ",\"stream_options\":{\"include_usage\":false},\"stream_options\":{\"include_usage\":true}",
                ",\"stream_options\":{\"include_usage\":true,\"include_usage\":false}")) {
            RawResponse refused = post(METERED, chat(true, extra));
            assertError(refused, 400, "bad_request");
            assertTrue(refused.bodyText().contains("stream_options"), refused::bodyText);
        }
        assertEquals(0, backend.received().size(), "an ambiguous body reached the backend");
    }

    /** Members the gateway neither reads nor rewrites are the backend's business: repeated, they pass untouched. */
    @Test
    void repeatedMembersTheGatewayDoesNotReadAreRelayed() throws Exception {
        start(exchange -> {
            exchange.awaitBody(5);
            exchange.respond(200, "application/json", "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}");
        });
        String repeats = chat(false, ",\"user\":\"a\",\"n\":1,\"user\":\"b\",\"n\":2,\"max_tokens\":5");
        RawResponse relayed = post(CHAT, repeats);
        assertEquals(200, relayed.status(), relayed::toString);
        assertEquals(repeats, backend.takeExchange().awaitBody(5).text(), "relayed byte for byte");
    }

    /**
     * Budget 100. The first streamed request (estimate: a few tokens) reports 90 used; the second asks for max_tokens
     * 30. Charged the real 90, alice has 10 left and is refused; charged only the estimate she would have ~90 left
     * and be admitted.
     */
    @Test
    void settlementChargesTheUsageReportedAtTheEndOfAStream() throws Exception {
        start(new ChatCompletionsResponder(10, 80, 4));
        RawResponse first = post(CHAT, chat(true, ""));
        assertEquals(200, first.status(), first::toString);
        assertEquals(5, events(first).size(), () -> "4 content events and [DONE]: " + first.bodyText());
        awaitSettled();

        RawResponse refused = post(CHAT, chat(true, ",\"max_tokens\":30"));
        assertError(refused, 429, "rate_limit_exceeded");
        assertNotNull(refused.header("retry-after"), refused::toString);
        assertEquals(1, backend.received().size(), "the refused request must not reach the backend");

        clock.advance(Duration.ofMinutes(1));
        RawResponse refilled = post(CHAT, chat(true, ",\"max_tokens\":30"));
        assertEquals(200, refilled.status(), () -> "a minute refills the budget: " + refilled);
        assertEquals(2, backend.received().size());
    }

    /**
     * Budget 100. The first request asks for max_tokens 80 (estimate above 80) but the JSON answer reports only 20
     * used; the second asks for max_tokens 60. Settled to 20, alice has 80 left and is admitted; charged the estimate
     * she would have less than 20 left and be refused.
     */
    @Test
    void settlementRefundsFromTheUsageInANonStreamedBody() throws Exception {
        start(new ChatCompletionsResponder(8, 12, 0));
        RawResponse first = post(CHAT, chat(false, ",\"max_tokens\":80"));
        assertEquals(200, first.status(), first::toString);
        assertTrue(first.bodyText().contains("\"usage\""), "a non-streamed body is relayed unchanged");
        awaitSettled();

        RawResponse second = post(CHAT, chat(false, ",\"max_tokens\":60"));
        assertEquals(200, second.status(), () -> "settled to the reported 20 tokens, 80 remain: " + second);
        assertEquals(2, backend.received().size());
        awaitSettled();

        // 100 - 20 - 20 = 60 left: a request that may use 70 no longer fits.
        assertError(post(CHAT, chat(false, ",\"max_tokens\":70")), 429, "rate_limit_exceeded");
        assertEquals(2, backend.received().size());
    }

    /**
     * Budget 100; the first request reports 90 used, so 10 are left. A max_tokens of Long.MAX_VALUE asks for far more
     * than that and must be refused like any other request that does not fit; added to the prompt estimate it must not
     * wrap around to a negative estimate that is then charged as a single token.
     */
    @Test
    void aHugeMaxTokensDoesNotWrapTheEstimateAroundToOneToken() throws Exception {
        start(new ChatCompletionsResponder(10, 80, 0));
        assertEquals(200, post(CHAT, chat(false, "")).status());
        awaitSettled();

        RawResponse huge = post(CHAT, chat(false, ",\"max_tokens\":" + Long.MAX_VALUE));
        assertError(huge, 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size(), "a request that cannot fit the budget must not reach the backend");
    }

    /**
     * Budget 100/m. Into a full bucket a request bigger than the budget is admitted and charged, but one charge can only
     * put the bucket so deep into debt (about 64 minutes of refill here, 6400 tokens): a max_tokens of 100000 is
     * charged 6400, not 100000. Settled to the 5000 tokens really used, the bucket must end 5000 in debt; refunding
     * the difference from the uncapped estimate (95000) wipes the debt and makes every such request free.
     */
    @Test
    void settlingARequestBiggerThanTheDebtCapStillChargesWhatWasUsed() throws Exception {
        start(new ChatCompletionsResponder(5, 4995, 0));
        RawResponse big = post(CHAT, chat(false, ",\"max_tokens\":100000"));
        assertEquals(200, big.status(), () -> "a full bucket admits a request bigger than the burst: " + big);
        awaitSettled();

        RawResponse next = post(CHAT, chat(false, ",\"max_tokens\":10"));
        assertError(next, 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size(), "5000 tokens used of 100 per minute: the next request must wait");
    }

    /**
     * As above, with max_tokens: the estimate admission charged is the prompt plus max_tokens (about 85 of 100), and it
     * is what stays charged when the client leaves while the backend works. Settled down to the prompt alone, leaving
     * just before the answer would still make the whole completion budget free.
     */
    @Test
    void aClientThatLeavesWhileTheBackendWorksIsChargedItsWholeEstimate() throws Exception {
        start(exchange -> {
            String body = exchange.awaitBody(30).text();
            if (!body.contains("HOLD")) {
                exchange.respond(200, "application/json",
                        "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}");
            } // else it generates until the gateway goes away
        });
        try (RawHttpClient client = proxy.connect()) {
            client.post(CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"HOLD\"}],\"max_tokens\":80}",
                    "Authorization: Bearer " + ALICE, "Content-Type: application/json");
            Poll.until(() -> backend.received().size() == 1, 5_000, () -> "the request at the backend");
            backend.received().get(0).awaitBody(5);
        }
        awaitSettled();
        // About 45 tokens by the estimate: admitted only if the first request was settled below its estimate.
        assertError(post(CHAT, chat(false, ",\"max_tokens\":40")), 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size());
    }

    /**
     * The backend streams 60 content events, then keeps streaming slowly and never reports usage; the client reads
     * the 60 and leaves. The charge is then at least the prompt estimate plus 60, leaving under 40 of 100: a request
     * with max_tokens 40 is refused. Charged only the estimate, over 90 would be left.
     */
    @Test
    void aClientThatLeavesMidStreamIsStillCharged() throws Exception {
        int relayed = 60;
        start(exchange -> {
            if (!exchange.awaitBody(30).text().contains("\"stream\":true")) {
                exchange.respond(200, "application/json", "{\"choices\":[]}"); // a later, admitted request ends at once
                return;
            }
            exchange.startChunked(200, "text/event-stream");
            for (int i = 0; i < relayed; i++) {
                exchange.write(ChatCompletionsResponder.CONTENT_EVENT + "\n\n");
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (exchange.connection().isOpen() && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(50); // a slow generation that never ends by itself
                exchange.write(ChatCompletionsResponder.CONTENT_EVENT + "\n\n");
            }
        });
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            try (RawHttpClient client = proxy.connect()) {
                client.post(CHAT, chat(true, ""), "Authorization: Bearer " + ALICE, "Content-Type: application/json");
                ResponseHead head = client.readHead();
                assertEquals(200, head.status());
                BodyStream body = client.openBody(head);
                for (int i = 0; i < relayed; i++) {
                    assertEquals(ChatCompletionsResponder.CONTENT_EVENT, body.readEvent(), "event " + i);
                }
            }
            backend.received().get(0).connection().closed().get(5, TimeUnit.SECONDS);
            awaitSettled();
            String line = accessLog.awaitLine(l -> l.contains(CHAT), 2_000);
            assertNotNull(line, () -> "no access log line: " + accessLog.lines());
            assertTrue(line.contains("tokens_estimated=1"), () -> "no usage was reported, the line must say so: " + line);
        }

        RawResponse refused = post(CHAT, chat(false, ",\"max_tokens\":40"));
        assertError(refused, 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size());
    }

    /**
     * Budget 100. The first request (temperature 0, so cached) reports 5000 tokens used: the bucket is deep in debt.
     * The same request again is a cache hit, which costs the backend nothing: it is answered from the cache, where the
     * token budget, asked first, used to refuse it. Another request is a miss and is refused. The request-rate limit
     * (4 a minute) still counts every request it admits, hits included.
     */
    @Test
    void aCacheHitIsAnsweredWhileTheTokenBudgetIsInDebt() throws Exception {
        start(new ChatCompletionsResponder(5, 4995, 0));
        String cacheable = chat(false, ",\"temperature\":0");
        RawResponse first = post(CACHED, cacheable);
        assertEquals(200, first.status(), first::toString);
        assertEquals("MISS", first.header("x-cache"), first::toString);
        awaitSettled();

        RawResponse hit = post(CACHED, cacheable);
        assertEquals(200, hit.status(), () -> "a cache hit costs no tokens and must not wait for the budget: " + hit);
        assertEquals("HIT", hit.header("x-cache"), hit::toString);
        assertEquals(first.bodyText(), hit.bodyText());
        assertEquals(1, backend.received().size(), "a hit must not reach the backend");

        RawResponse miss = post(CACHED, chat(false, ",\"temperature\":0,\"max_tokens\":1"));
        assertError(miss, 429, "rate_limit_exceeded");
        assertTrue(miss.bodyText().contains("token budget"), miss::bodyText);
        assertEquals(1, backend.received().size(), "a miss must wait for the budget");

        // Taken so far: the first request and the hit (the refused miss gave its request back). Two more hits fit.
        for (int i = 0; i < 2; i++) {
            RawResponse again = post(CACHED, cacheable);
            assertEquals(200, again.status(), again::toString);
            assertEquals("HIT", again.header("x-cache"), again::toString);
        }
        RawResponse limited = post(CACHED, cacheable);
        assertError(limited, 429, "rate_limit_exceeded");
        assertTrue(limited.bodyText().contains("request rate"), () -> "hits count against request rates: " + limited.bodyText());
        assertEquals(1, backend.received().size());
    }

    @Test
    void usageIsLoggedAndCountedPerKey() throws Exception {
        start(new ChatCompletionsResponder(12, 34, 2));
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            assertEquals(200, post(METERED, chat(false, "")).status());
            String line = accessLog.awaitLine(l -> l.contains(METERED), 2_000);
            assertNotNull(line, () -> "no access log line: " + accessLog.lines());
            assertTrue(line.contains("tokens_in=12"), line);
            assertTrue(line.contains("tokens_out=34"), line);
            assertFalse(line.contains("tokens_estimated"), () -> "the backend reported usage: " + line);

            assertEquals(200, post(METERED, chat(true, "")).status());
            Poll.until(() -> accessLog.lines().stream().filter(l -> l.contains(METERED)).count() == 2, 2_000,
                    () -> "a second access log line: " + accessLog.lines());
            String streamed = accessLog.lines().stream().filter(l -> l.contains(METERED)).toList().get(1);
            assertTrue(streamed.contains("tokens_in=12") && streamed.contains("tokens_out=34"), streamed);
        }
        assertEquals(24.0, tokens("prompt"), "streamgate.llm.tokens{identity=alice,type=prompt}");
        assertEquals(68.0, tokens("completion"), "streamgate.llm.tokens{identity=alice,type=completion}");
    }

    private double tokens(String type) {
        Counter counter = registry.find("streamgate.llm.tokens").tag("identity", "alice").tag("type", type).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void aBodyLargerThanThePeekLimitIsForwardedIntact() throws Exception {
        start(exchange -> {
            exchange.awaitBody(30);
            exchange.respond(200, "application/json", "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}");
        });
        StringBuilder content = new StringBuilder();
        for (int i = 0; content.length() < 200 * 1024; i++) {
            content.append("word").append(i).append(i % 17 == 0 ? "\\n" : " ");
        }
        String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content
                + "\"}],\"max_tokens\":5,\"temperature\":0.2}";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);

        RawResponse response = post(BIG, body);
        assertEquals(200, response.status(), response::toString);
        BackendExchange seen = backend.takeExchange();
        ReceivedBody received = seen.awaitBody(10);
        assertEquals(bytes.length, received.length(), "length of the body at the backend");
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)), received.sha256(),
                "the body must reach the backend byte for byte");
    }

    /**
     * The client leaves after its whole request reached the backend and before any response header (vLLM sends the
     * head of a non-streamed completion only when it is done). The backend worked on it, so the estimate stays
     * charged: it was refunded, and leaving just before the answer made a generation free.
     */
    @Test
    void aClientThatLeavesWhileTheBackendWorksIsChargedTheEstimate() throws Exception {
        start(exchange -> {
            String body = exchange.awaitBody(30).text();
            if (!body.contains("LONGPROMPT")) {
                exchange.respond(200, "application/json",
                        "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}");
            } // else it generates until the gateway goes away
        });
        String prompt = "LONGPROMPT " + "abcd ".repeat(54); // about 75 tokens by the estimate, of a budget of 100
        try (RawHttpClient client = proxy.connect()) {
            client.post(CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}",
                    "Authorization: Bearer " + ALICE, "Content-Type: application/json");
            Poll.until(() -> backend.received().size() == 1, 5_000, () -> "the request at the backend");
            backend.received().get(0).awaitBody(5);
        }
        awaitSettled();
        // About 45 tokens by the estimate: admitted only if the first request was refunded.
        assertError(post(CHAT, chat(false, ",\"max_tokens\":40")), 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size());
    }
}
