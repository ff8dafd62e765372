package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.HttpClients;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.BackendExchange;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * h2c with prior knowledge on the plain listener when {@code h2c: true} (OkHttp's H2_PRIOR_KNOWLEDGE; the JDK
 * client cannot do it): the same listener still speaks HTTP/1.1, and without the option a prior-knowledge client
 * gets no HTTP/2.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class H2cPriorKnowledgeTest {
    private TestBackend backend;
    private RunningProxy proxy;
    private final OkHttpClient client = HttpClients.okHttpPriorKnowledge();

    @BeforeEach
    void startBackend() {
        backend = TestBackend.builder().respond(ex -> {
            var body = ex.awaitBody(10);
            ex.respond(200, "text/plain", ex.method() + " " + ex.uri() + " " + body.length() + " host=" + ex.headers().get("host"));
        }).start();
    }

    @AfterEach
    void stop() throws Exception {
        client.dispatcher().executorService().shutdownNow();
        client.connectionPool().evictAll();
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
    }

    private void startProxy(boolean h2c) throws Exception {
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(h2c, backend.url()));
    }

    @Test
    void priorKnowledgeGetAndPostAreRelayed() throws Exception {
        startProxy(true);
        try (Response get = client.newCall(new Request.Builder().url("http://127.0.0.1:" + proxy.port() + "/v1/models").build()).execute()) {
            assertEquals(200, get.code());
            assertEquals(okhttp3.Protocol.H2_PRIOR_KNOWLEDGE, get.protocol());
            assertEquals("GET /v1/models 0 host=127.0.0.1:" + proxy.port(), get.body().string());
        }
        RequestBody json = RequestBody.create("{\"model\":\"m\"}", MediaType.get("application/json"));
        try (Response post = client.newCall(new Request.Builder().url("http://127.0.0.1:" + proxy.port() + "/v1/chat").post(json).build()).execute()) {
            assertEquals(200, post.code());
            assertEquals("POST /v1/chat 13 host=127.0.0.1:" + proxy.port(), post.body().string());
        }
        BackendExchange first = backend.takeExchange();
        assertEquals("GET", first.method());
        assertEquals(1, client.connectionPool().connectionCount());
    }

    @Test
    void theSamePlainListenerStillSpeaksHttp11() throws Exception {
        startProxy(true);
        try (var raw = proxy.connect()) {
            RawResponse response = raw.get("/v1/plain").readResponse();
            assertEquals(200, response.status(), response::toString);
            assertTrue(response.bodyText().startsWith("GET /v1/plain 0"), response.bodyText());
        }
    }

    @Test
    void withoutH2cAPriorKnowledgeClientGetsNoHttp2() throws Exception {
        startProxy(false);
        assertThrows(IOException.class, () -> {
            try (Response response = client.newCall(new Request.Builder().url("http://127.0.0.1:" + proxy.port() + "/v1/models").build()).execute()) {
                response.body().string();
            }
        });
        assertEquals(0, backend.received().size(), "an HTTP/2 preface must not reach the backend as a request");
    }
}
