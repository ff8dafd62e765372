package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** HTTP/1.1 pipelining: requests sent back to back are answered in the order they were sent. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PipeliningTest {

    @Test
    void threeRequestsInOneWriteGetThreeResponsesInOrder() throws Exception {
        try (TestBackend backend = TestBackend.builder().respond(ex -> {
                 ex.awaitBody(10);
                 if (ex.uri().equals("/slow")) {
                     // Delay the first answer, so that answering in completion order would show.
                     Thread.sleep(300);
                 }
                 ex.respond(200, "text/plain", ex.method() + " " + ex.uri());
             }).start();
             RunningProxy proxy = RunningProxy.forwardingTo(backend);
             RawHttpClient client = proxy.connect()) {
            client.send(RawHttpClient.request("GET", "/slow", null)
                    + RawHttpClient.request("POST", "/second", "{\"n\":2}")
                    + RawHttpClient.request("GET", "/third", null));
            assertEquals("GET /slow", client.readResponse().bodyText());
            assertEquals("POST /second", client.readResponse().bodyText());
            assertEquals("GET /third", client.readResponse().bodyText());
        }
    }
}
