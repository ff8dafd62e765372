package io.streamgate.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http2.Http2Headers;
import io.streamgate.Streamgate;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.testing.ChatCompletionsResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawH2Client;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that can mint label values can grow the registry (and the Prometheus server's series) without bound. Every
 * part of a request a client chooses is varied here on every request: path, query, Host and :authority, method (also
 * over HTTP/2), the model in the JSON body, API keys (valid and not), X-Forwarded-For from a trusted peer, X-Request-Id,
 * User-Agent, the header a rate limit is keyed on, and a target the gateway refuses. After one round of every kind of
 * request has made the series they need, many more rounds with new values must not add a single one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetricCardinalityTest {
    /** In every hostile value, so none can hide in a label. */
    private static final String MARK = "zz";
    private static final int KINDS = 8;

    @Test
    void hostileRequestValuesNeverBecomeLabelValues() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ChatCompletionsResponder chat = new ChatCompletionsResponder(7, 3, 1);
        try (TestBackend backend = TestBackend.builder().respond(ex -> {
                    if (ex.method().equals("POST") && ex.uri().startsWith("/v1/chat/completions")) {
                        chat.respond(ex);
                    } else {
                        Responders.text(200, "ok").respond(ex);
                    }
                }).start();
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                       h2c: true
                       trusted_proxies: ["127.0.0.1/32"]
                     api_keys:
                       - name: alice
                         key: "sk-alice-0123456789"
                     rate_limits:
                       per_tenant: { key: "header:x-tenant", requests: 1/m }
                     upstreams:
                       llm:
                         endpoints: ["%s"]
                         models: ["served-model"]
                     routes:
                       - name: chat
                         path_prefix: /v1/
                         upstream: llm
                         auth: optional
                         tokens: { meter: true }
                         rate_limits: [per_tenant]
                         models:
                           upstreams: [llm]
                           fallback: llm
                     """.formatted(backend.url()), new Streamgate.Options(registry, NanoClock.SYSTEM))) {
            int firstRound = 5 * KINDS; // every kind several times: the 429 needs a repeated tenant
            send(proxy, 0, firstRound);
            awaitCounted(registry, firstRound);
            Set<String> series = streamgateSeries(registry);
            // The paths that label by something a client influences were taken: tokens per key, refusals, methods.
            for (String expected : List.of("streamgate.llm.tokens identity=alice route=chat type=prompt",
                    "streamgate.rejections reason=invalid_api_key route=chat",
                    "streamgate.ratelimit.rejections route=chat rule=per_tenant",
                    "streamgate.requests method=OTHER route=chat status=200 upstream=llm",
                    "streamgate.requests method=GET route=none status=400 upstream=none")) {
                assertTrue(series.contains(expected), () -> "no " + expected + " in " + series);
            }

            send(proxy, firstRound, 30 * KINDS);
            awaitCounted(registry, 30 * KINDS);
            assertEquals(series, streamgateSeries(registry), "new series after requests with new hostile values");
            for (String s : series) {
                assertFalse(s.toLowerCase(Locale.ROOT).contains(MARK), "a client's value in a label: " + s);
            }
        }
    }

    /** Requests {@code from} (inclusive) to {@code to} (exclusive), each with values no other request used. */
    private static void send(RunningProxy proxy, int from, int to) throws Exception {
        try (RawH2Client h2 = RawH2Client.connect(proxy.port())) {
            for (int i = from; i < to; i++) {
                String n = MARK + i;
                List<String> headers = List.of("Host: h" + n + ".evil.test", "User-Agent: agent-" + n,
                        "X-Forwarded-For: 10." + (i / 65536 % 256) + "." + (i / 256 % 256) + "." + (i % 256),
                        "X-Request-Id: rid-" + n, "Referer: https://" + n + ".test/");
                String tenant = "X-Tenant: " + (i % KINDS == 5 ? "fixed" : "t-" + n);
                String body = "{\"model\":\"model-" + n + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
                switch (i % KINDS) {
                    case 0 -> http1(proxy, RawHttpClient.request("POST", "/v1/chat/completions?" + n, body,
                            with(headers, tenant, "Authorization: Bearer sk-alice-0123456789")), 200);
                    case 1 -> http1(proxy, RawHttpClient.request("POST", "/v1/chat/completions", body,
                            with(headers, tenant, "Authorization: Bearer sk-" + n)), 401);
                    case 2 -> http1(proxy, RawHttpClient.request("GET", "/v1/" + n + "/x?q=" + n, null,
                            with(headers, tenant, "x-api-key: " + n)), 401);
                    case 3 -> http1(proxy, RawHttpClient.request("ZZ" + i, "/v1/" + n, null, with(headers, tenant)), 200);
                    case 4 -> http1(proxy, RawHttpClient.request("GET", "/" + n, null, with(headers, tenant)), 404);
                    case 5 -> http1(proxy, RawHttpClient.request("GET", "/v1/models/" + n, null, with(headers, tenant)),
                            i < KINDS ? 200 : 429);
                    case 6 -> http1(proxy, "GET /v1/" + n + "\u007f HTTP/1.1\r\nHost: " + n + "\r\n\r\n", 400);
                    default -> {
                        Http2Headers h = RawH2Client.headers("ZZ" + i, "/v1/h2/" + n, "h" + n + ".evil.test");
                        h.add("user-agent", "agent-" + n).add("x-tenant", "t-" + n).add("x-request-id", "rid-" + n);
                        RawH2Client.Outcome outcome = h2.exchange(h, null);
                        assertEquals(200, outcome.status(), outcome::toString);
                    }
                }
            }
        }
    }

    private static String[] with(List<String> headers, String... more) {
        return Stream.concat(headers.stream(), Stream.of(more)).toArray(String[]::new);
    }

    private static void http1(RunningProxy proxy, String request, int expected) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            assertEquals(expected, client.send(request).readResponse().status(), request);
        }
    }

    /** The exchanges end on the gateway's event loops after their answers went out: wait until all are counted. */
    private static void awaitCounted(SimpleMeterRegistry registry, int requests) throws InterruptedException {
        Poll.until(() -> registry.find("streamgate.requests").counters().stream().mapToDouble(c -> c.count()).sum() == requests,
                10_000, () -> "streamgate.requests did not reach " + requests + ": " + streamgateSeries(registry));
    }

    /** The gateway's own series (JVM binders may add theirs, e.g. a GC cause seen for the first time). */
    private static Set<String> streamgateSeries(SimpleMeterRegistry registry) {
        Set<String> ids = new TreeSet<>();
        for (Meter m : registry.getMeters()) {
            if (m.getId().getName().startsWith("streamgate.")) {
                StringBuilder s = new StringBuilder(m.getId().getName());
                for (Tag t : m.getId().getTags()) {
                    s.append(' ').append(t.getKey()).append('=').append(t.getValue());
                }
                ids.add(s.toString());
            }
        }
        return ids;
    }
}
