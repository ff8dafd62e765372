package io.streamgate.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawBackend;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Identical requests that meet before the cache has seen the URL wait for one fetch; the response may then say it
 * varies on a header they do not share. Each is served only its own variant: the one whose variant the leader did not
 * fetch goes to the backend itself.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CoalescedVariantTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    @Test
    void aWaiterIsNotServedTheVariantOfAnotherLanguage() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            release.await(10, TimeUnit.SECONDS);
            String body = "lang=" + req.header("accept-language");
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVary: Accept-Language\r\nContent-Length: "
                    + body.length() + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }));
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /models
                    upstream: llm
                    cache: true
                """.formatted(backend.url())));
        ExecutorService readers = Executors.newFixedThreadPool(2);
        try (RawHttpClient en = proxy.connect(); RawHttpClient de = proxy.connect()) {
            en.get("/models/x", "Accept-Language: en");
            Poll.until(() -> backend.received().size() == 1, 5_000, () -> "the leader at the backend");
            de.get("/models/x", "Accept-Language: de");
            Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "both in flight");
            Thread.sleep(200); // the second has joined the first's flight
            Future<RawResponse> enResponse = readers.submit(en::readResponse);
            Future<RawResponse> deResponse = readers.submit(de::readResponse);
            release.countDown();
            assertEquals("lang=en", enResponse.get(10, TimeUnit.SECONDS).bodyText());
            RawResponse german = deResponse.get(10, TimeUnit.SECONDS);
            assertEquals("lang=de", german.bodyText(), () -> "the German client got " + german);
            assertEquals(2, backend.received().size());
        } finally {
            readers.shutdownNow();
        }
    }
}
