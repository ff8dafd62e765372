package io.streamgate.server.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class DemoBackendTest {
    private static final Pattern CONTENT = Pattern.compile("\"delta\":\\{(?:\"role\":\"assistant\",)?\"content\":\"([^\"]*)\"}");
    private static final String CHUNK_PREFIX = "data: {\"id\":\"chatcmpl-";

    private static DemoBackend backend;
    private static HttpClient client;

    @BeforeAll
    static void start() {
        backend = DemoBackend.start(new InetSocketAddress("127.0.0.1", 0));
        client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    @AfterAll
    static void stop() {
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void streamsOneWordPerEventInOpenAiChunkFormat() throws Exception {
        HttpResponse<Stream<String>> response = client.send(chat("{\"model\":\"llama-3\",\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"), HttpResponse.BodyHandlers.ofLines());

        assertEquals(200, response.statusCode());
        assertEquals("text/event-stream; charset=utf-8", response.headers().firstValue("content-type").orElse(""));
        List<String> data = new ArrayList<>();
        List<Long> arrivals = new ArrayList<>();
        try (Stream<String> lines = response.body()) {
            lines.filter(line -> !line.isEmpty()).forEach(line -> {
                data.add(line);
                arrivals.add(System.nanoTime());
            });
        }

        int words = DemoHandler.REPLY.split(" ").length;
        assertEquals(words + 3, data.size(), "role chunk, one chunk per word, finish chunk, [DONE]: " + data);
        for (String line : data.subList(0, data.size() - 1)) {
            assertTrue(line.startsWith(CHUNK_PREFIX), line);
            assertTrue(line.contains("\"object\":\"chat.completion.chunk\""), line);
            assertTrue(line.contains("\"model\":\"llama-3\""), line);
        }
        assertTrue(data.get(0).contains("\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"), data.get(0));
        assertTrue(data.get(data.size() - 2).contains("\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\""));
        assertEquals("data: [DONE]", data.get(data.size() - 1));
        assertEquals(DemoHandler.REPLY, contentOf(data));

        // Words are scheduled WORD_INTERVAL_MS apart, so a correct server cannot deliver them all at once.
        long spreadMs = (arrivals.get(arrivals.size() - 1) - arrivals.get(0)) / 1_000_000;
        assertTrue(spreadMs >= words * DemoHandler.WORD_INTERVAL_MS / 2, "events arrived within " + spreadMs + " ms");
    }

    @Test
    void answersWithoutStreamWithOneChatCompletionAndUsage() throws Exception {
        HttpResponse<String> response = client.send(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + "\"stream\": false}"), HttpResponse.BodyHandlers.ofString());

        assertEquals(200, response.statusCode());
        assertEquals("application/json", response.headers().firstValue("content-type").orElse(""));
        String body = response.body();
        assertTrue(body.startsWith("{\"id\":\"chatcmpl-"), body);
        assertTrue(body.contains("\"object\":\"chat.completion\""), body);
        assertTrue(body.contains("\"model\":\"demo-model\""), body);
        assertTrue(body.contains("\"message\":{\"role\":\"assistant\",\"content\":\"" + DemoHandler.REPLY + "\"}"), body);
        assertTrue(body.contains("\"finish_reason\":\"stop\""), body);
        int words = DemoHandler.REPLY.split(" ").length;
        assertTrue(body.contains("\"completion_tokens\":" + words + "}"), body);
    }

    @Test
    void maxTokensCutsTheStreamAndUsageComesLast() throws Exception {
        HttpResponse<String> response = client.send(chat("{\"stream\":true,\"max_tokens\":3,"
                + "\"stream_options\":{\"include_usage\":true},\"messages\":[]}"), HttpResponse.BodyHandlers.ofString());

        List<String> data = response.body().lines().filter(line -> !line.isEmpty()).toList();
        assertEquals(1 + 3 + 3, data.size(), data.toString());
        assertEquals("Hello from the", contentOf(data));
        assertTrue(data.get(4).contains("\"finish_reason\":\"length\""), data.get(4));
        assertTrue(data.get(5).contains("\"choices\":[],\"usage\":{"), data.get(5));
        assertTrue(data.get(5).contains("\"completion_tokens\":3}"), data.get(5));
        assertEquals("data: [DONE]", data.get(6));
    }

    @Test
    void listsItsModelAndReportsHealth() throws Exception {
        HttpResponse<String> models = client.send(get("/v1/models"), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, models.statusCode());
        assertTrue(models.body().startsWith("{\"object\":\"list\",\"data\":[{\"id\":\"demo-model\",\"object\":\"model\""),
                models.body());

        HttpResponse<String> health = client.send(get("/health?probe=1"), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
        assertEquals("", health.body());
    }

    @Test
    void rejectsUnknownPathsWrongMethodsAndBadBodies() throws Exception {
        HttpResponse<String> notFound = client.send(get("/v2/nothing"), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, notFound.statusCode());
        assertEquals("{\"detail\":\"Not Found\"}", notFound.body());

        HttpResponse<String> wrongMethod = client.send(get("/v1/chat/completions"), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, wrongMethod.statusCode());
        assertEquals("POST", wrongMethod.headers().firstValue("allow").orElse(""));

        HttpResponse<String> notJson = client.send(chat("stream=true"), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, notJson.statusCode());
        assertTrue(notJson.body().contains("\"message\":\"the request body must be a JSON object\""), notJson.body());

        HttpResponse<String> noMessages = client.send(chat("{\"stream\":true}"), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, noMessages.statusCode());
    }

    @Test
    void neverEchoesAnUnsafeModelName() throws Exception {
        HttpResponse<String> response = client.send(chat("{\"model\":\"<script>\",\"messages\":[]}"),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        assertTrue(response.body().contains("\"model\":\"demo-model\""), response.body());
    }

    @Test
    void answersPipelinedRequestsInOrderAfterAStream() throws Exception {
        String streamed = "{\"stream\":true,\"max_tokens\":2,\"messages\":[]}";
        String requests = "POST /v1/chat/completions HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + streamed.length() + "\r\n\r\n" + streamed
                + "GET /health HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n";
        try (Socket socket = new Socket()) {
            socket.connect(backend.address(), 5_000);
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(requests.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            // Connection: close on the second request makes the server close after answering it.
            String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);

            int done = answer.indexOf("data: [DONE]");
            int second = answer.indexOf("HTTP/1.1 200 OK", answer.indexOf("HTTP/1.1 200 OK") + 1);
            assertTrue(done > 0 && second > done, "health answer must follow the finished stream:\n" + answer);
            String health = answer.substring(second);
            assertTrue(health.contains("\r\nconnection: close\r\n") && health.endsWith("\r\n\r\n"), health);
        }
    }

    @Test
    void aClientLeavingMidStreamEndsOnlyItsOwnStream() throws Exception {
        String streamed = "{\"stream\":true,\"messages\":[]}";
        try (Socket socket = new Socket()) {
            socket.connect(backend.address(), 5_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: demo\r\n"
                    + "Content-Length: " + streamed.length() + "\r\n\r\n" + streamed).getBytes(StandardCharsets.US_ASCII));
            byte[] first = new byte[64];
            assertTrue(socket.getInputStream().read(first) > 0, "no response before leaving");
        }
        // The abandoned stream's pending tick and buffers are dropped (the leak check would see a lost buffer);
        // the server keeps answering.
        HttpResponse<String> health = client.send(get("/health"), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
    }

    @Test
    void failsClearlyWhenThePortIsTaken() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DemoBackend.start(backend.address()));
        assertTrue(e.getMessage().startsWith("cannot bind the demo backend to "), e.getMessage());
    }

    private static String contentOf(List<String> data) {
        StringBuilder text = new StringBuilder();
        for (String line : data) {
            Matcher m = CONTENT.matcher(line);
            if (m.find()) {
                text.append(m.group(1));
            }
        }
        return text.toString();
    }

    private static HttpRequest chat(String body) {
        return HttpRequest.newBuilder(uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    private static HttpRequest get(String path) {
        return HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).GET().build();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + backend.port() + path);
    }
}
