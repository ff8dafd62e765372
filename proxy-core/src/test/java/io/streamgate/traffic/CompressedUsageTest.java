package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.GzipChatResponder;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Token budgets against a backend that compresses its answers. The charge is settled from the usage in the response,
 * which the gateway cannot read in gzip: a client that asks for gzip must not get its completions for the price of its
 * prompt.
 *
 * <p>Budget 100 tokens per minute, on a clock that does not move. The prompt "hi" is about 5 tokens by the estimate;
 * every answer reports 10 prompt and 80 completion tokens. Charged those 90 (or, for an answer the gateway could not
 * read, its estimate with max_tokens 80: about 85), alice has at most 15 left and a request with max_tokens 30 is
 * refused; charged the prompt estimate alone, she would have about 95 left and be admitted.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CompressedUsageTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String CHAT = "/v1/chat/completions";

    private final ManualClock clock = new ManualClock();
    private TestBackend backend;
    private RunningProxy proxy;

    private void start(GzipChatResponder responder) throws Exception {
        backend = TestBackend.builder().respond(responder).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                rate_limits:
                  budget: { key: api_key, tokens: 100/m }
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: llm
                    auth: required
                    rate_limits: [budget]
                """.formatted(ALICE, backend.url()), new Streamgate.Options(new SimpleMeterRegistry(), clock));
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

    private RawResponse post(String body, String... headerLines) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            String[] all = new String[headerLines.length + 2];
            all[0] = "Authorization: Bearer " + ALICE;
            all[1] = "Content-Type: application/json";
            System.arraycopy(headerLines, 0, all, 2, headerLines.length);
            return client.post(CHAT, body, all).readResponse();
        }
    }

    /** Settlement happens when the exchange ends, on the gateway's loop: wait until nothing is in flight. */
    private void awaitSettled() throws InterruptedException {
        Poll.until(() -> proxy.gateway().activeRequests() == 0, 5_000, () -> "exchanges still in flight");
    }

    /** About 35 tokens by the estimate: refused only if the first request was charged its 90 (or its 85). */
    private void assertTheBudgetWasCharged() throws Exception {
        awaitSettled();
        RawResponse next = post(chat(false, ",\"max_tokens\":30"));
        // The status alone first: the body of an admitted request may be gzip, unreadable in a failure message.
        assertEquals(429, next.status(), "charged the prompt estimate alone, alice still had room for this request");
        assertError(next, 429, "rate_limit_exceeded");
        assertEquals(1, backend.received().size(), "the refused request must not reach the backend");
    }

    private static String gunzip(byte[] data) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(data))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * OkHttp (under the OpenAI Java SDK, among others) asks for gzip on every request by itself and unzips the answer.
     * The backend compresses when asked (GZipMiddleware, a body over 500 bytes): the gateway must ask it for identity,
     * or it reads no usage.
     */
    @Test
    void aClientThatAcceptsGzipIsChargedTheUsageOfAJsonAnswer() throws Exception {
        start(GzipChatResponder.whenAccepted(10, 80));
        OkHttpClient client = new OkHttpClient();
        try {
            Request request = new Request.Builder().url("http://127.0.0.1:" + proxy.port() + CHAT)
                    .header("Authorization", "Bearer " + ALICE)
                    .post(RequestBody.create(chat(false, ""), MediaType.get("application/json")))
                    .build();
            try (Response response = client.newCall(request).execute()) {
                assertEquals(200, response.code());
                assertEquals("gzip", response.networkResponse().request().header("Accept-Encoding"),
                        "OkHttp asks for gzip by itself");
                String body = response.body().string();
                assertTrue(body.contains("\"completion_tokens\":80"), body);
            }
        } finally {
            client.dispatcher().executorService().shutdownNow();
            client.connectionPool().evictAll();
        }
        assertTheBudgetWasCharged();
        assertEquals("identity", backend.received().get(0).headers().get("accept-encoding"),
                "the backend must be asked for an answer the gateway can read");
    }

    /**
     * A stream whose client asked for the usage chunk itself (nothing is injected, so nothing had to be taken out) is
     * settled from that chunk as well: compressed, it could not be read.
     */
    @Test
    void aStreamThatAskedForItsUsageIsChargedItWhenTheClientAcceptsGzip() throws Exception {
        GzipChatResponder vllm = GzipChatResponder.whenAccepted(10, 80);
        start(vllm);
        RawResponse response = post(chat(true, ",\"stream_options\":{\"include_usage\":true}"), "Accept-Encoding: gzip, br");
        assertEquals(200, response.status(), response::toString);
        assertTrue(response.complete(), "the stream must end properly");
        assertTheBudgetWasCharged();
        assertNull(response.header("content-encoding"), "the backend was asked for identity and sent it");
        assertTrue(response.bodyText().contains(vllm.usageEvent()), () -> "the client asked for the usage chunk: " + response);
        assertEquals("identity", backend.received().get(0).headers().get("accept-encoding"));
    }

    /**
     * A backend that compresses whatever it is asked: its usage cannot be read, so the whole estimate admission charged
     * (prompt plus max_tokens) stays charged, and the access log says the count is an estimate. The compressed body
     * reaches the client untouched.
     */
    @Test
    void aCompressedAnswerTheGatewayCannotReadKeepsTheWholeEstimate() throws Exception {
        start(GzipChatResponder.always(10, 80));
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            RawResponse response = post(chat(false, ",\"max_tokens\":80"), "Accept-Encoding: gzip");
            assertEquals(200, response.status(), response::toString);
            assertEquals("gzip", response.header("content-encoding"));
            assertTrue(gunzip(response.body()).contains("\"completion_tokens\":80"), "relayed as the backend sent it");
            String line = accessLog.awaitLine(l -> l.contains(CHAT), 2_000);
            assertNotNull(line, () -> "no access log line: " + accessLog.lines());
            assertTrue(line.contains("tokens_estimated=1"), () -> "the usage was not read, the line must say so: " + line);
        }
        assertTheBudgetWasCharged();
    }

    /** The same for a compressed event stream: neither its usage chunk nor its content events can be counted. */
    @Test
    void aCompressedStreamTheGatewayCannotReadKeepsTheWholeEstimate() throws Exception {
        start(GzipChatResponder.always(10, 80));
        RawResponse response = post(chat(true, ",\"max_tokens\":80,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, response.status(), response::toString);
        assertTrue(response.complete(), "the stream must end properly");
        assertEquals("gzip", response.header("content-encoding"));
        assertTrue(gunzip(response.body()).endsWith("data: [DONE]\n\n"), "relayed as the backend sent it");
        assertTheBudgetWasCharged();
    }
}
