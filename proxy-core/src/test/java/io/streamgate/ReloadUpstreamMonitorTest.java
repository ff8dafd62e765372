package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.Closer;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestBackend.Responder;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The upstreams' monitors (health checks, load scrapes, model discovery) across reloads: they follow what the new
 * configuration asks of them, and once close() stopped them no reload starts them again.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ReloadUpstreamMonitorTest {
    private final Closer closer = new Closer();
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void closeAll() throws Exception {
        release.countDown();
        closer.close();
    }

    private TestBackend backend(String name, String model) {
        Responder responder = exchange -> {
            exchange.awaitBody(30);
            if (exchange.method().equals("GET") && exchange.uri().equals("/v1/models")) {
                exchange.respond(200, "application/json", "{\"object\":\"list\",\"data\":[{\"id\":\"" + model
                        + "\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"vllm\"}]}");
                return;
            }
            exchange.respond(200, "text/plain", name + " " + exchange.method() + " " + exchange.uri());
        };
        return closer.add(TestBackend.builder().respond(responder).start());
    }

    private static String config(TestBackend llama, TestBackend qwen, String routeExtra) {
        return """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  llama:
                    endpoints: ["%s"]
                    health_check: {path: /health, interval: 200ms, timeout: 500ms}
                  qwen:
                    endpoints: ["%s"]
                    health_check: {path: /health, interval: 200ms, timeout: 500ms}
                routes:
                  - path_prefix: /v1/
                    upstream: llama
                %s""".formatted(llama.url(), qwen.url(), routeExtra.indent(4));
    }

    private static final String MODELS = "models:\n  upstreams: [llama, qwen]\n";

    private static RawResponse chat(RunningProxy proxy, String model) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            return client.post("/v1/chat/completions",
                    "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Content-Type: application/json").readResponse();
        }
    }

    /**
     * A reload that starts routing by model over upstreams whose settings did not change learns their models (their
     * health-check monitors were kept as they were, without model discovery: every request got 503
     * model_list_unavailable until a restart).
     */
    @Test
    void aReloadThatAddsModelRoutingOverUnchangedUpstreamsDiscoversTheirModels() throws Exception {
        TestBackend llama = backend("llama", "llama-8b");
        TestBackend qwen = backend("qwen", "qwen-7b");
        RunningProxy proxy = closer.add(RunningProxy.start(config(llama, qwen, "")));
        assertEquals(200, chat(proxy, "qwen-7b").status());

        proxy.gateway().reload(ConfigLoader.parse(config(llama, qwen, MODELS), "reloaded.yaml"));
        RawResponse[] last = new RawResponse[1];
        Poll.until(() -> {
            try {
                last[0] = chat(proxy, "qwen-7b");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return last[0].status() == 200 && last[0].bodyText().startsWith("qwen");
        }, 8_000, () -> "never routed by model after the reload; last answer: " + last[0]);
    }

    /** close() stops the active health checks; a reload while the gateway drains does not start them again (it did). */
    @Test
    void aReloadWhileDrainingDoesNotRestartHealthChecks() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(10);
            if (exchange.uri().equals("/hold")) {
                release.await(20, TimeUnit.SECONDS);
            }
            exchange.respond(200, "text/plain", "ok");
        }).start());
        String yaml = """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  a:
                    endpoints: ["%s"]
                    health_check: {path: /health, interval: 100ms, timeout: 500ms}
                routes:
                  - path_prefix: /
                    upstream: a
                """.formatted(backend.url());
        RunningProxy proxy = closer.add(RunningProxy.start(yaml));
        Poll.until(() -> checks(backend) >= 2, 5_000, () -> "no health checks at all");
        RawHttpClient client = closer.add(proxy.connect());
        client.get("/hold");
        Poll.until(() -> proxy.gateway().activeRequests() == 1, 5_000, () -> "the held request never started");

        Thread closing = new Thread(() -> proxy.gateway().close(Duration.ofSeconds(10)));
        closing.start();
        Poll.until(() -> proxy.gateway().draining(), 5_000, () -> "never started draining");
        Thread.sleep(300); // close() stops the monitors right after it starts draining
        proxy.gateway().reload(ConfigLoader.parse(yaml, "reloaded.yaml"));
        long after = checks(backend);
        Thread.sleep(1_000);
        long later = checks(backend);
        release.countDown();
        closing.join(15_000);
        assertEquals(after, later, "health checks ran again during the drain after a reload: " + (later - after) + " in 1 s");
    }

    private static long checks(TestBackend backend) {
        return backend.received().stream().filter(e -> e.uri().equals("/health")).count();
    }
}
