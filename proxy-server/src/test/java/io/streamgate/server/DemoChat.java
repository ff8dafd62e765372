package io.streamgate.server;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The streamed chat completion the README's first run sends to the demo backend through the gateway. */
final class DemoChat {
    private DemoChat() {
    }

    static HttpResponse<String> streamed(HttpClient client, URI gateway) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(gateway.resolve("/v1/chat/completions"))
                        .timeout(Duration.ofSeconds(30))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"demo\",\"stream\":true,"
                                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
