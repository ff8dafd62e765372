package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.Closer;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An HTTP/2 request answered before its body was read (a backend's 401 that does not read it, a 413 counted while the
 * body streams): the answer must reach clients that only read it once they could send their whole body (the JDK's
 * HttpClient, whatever the code of a reset), so the stream is kept open and the rest of the body dropped, within
 * bounds. A client that stalls, or sends far more, is then asked to stop with RST_STREAM(NO_ERROR), never CANCEL,
 * and the connection's other streams go on.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2EarlyAnswerTest {
    private static final int BODY = 1_000_000;
    private static final long NO_ERROR = 0;

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /**
     * Routes: {@code /early} to a backend that answers 401 as soon as the request head arrived and reads the body at
     * 4 KiB/s only; {@code /small} (max_body_size 256 KiB) and {@code /echo} to one that reads it all, then answers.
     */
    private RunningProxy proxy(String listener) throws Exception {
        TestBackend early = closer.add(TestBackend.builder().readSlowly(4096, 4096)
                .respond(ex -> ex.respond(401, "application/json", "{\"error\":\"unauthorized\"}")).start());
        TestBackend echo = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  max_concurrent_streams: 4
                  limits: {body_idle_timeout: 1s}
                %s
                upstreams:
                  early:
                    endpoints: ["%s"]
                  echo:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /small
                    upstream: echo
                    max_body_size: 256KiB
                  - path_prefix: /echo
                    upstream: echo
                  - path_prefix: /
                    upstream: early
                """.formatted(listener, early.url(), echo.url())));
    }

    /**
     * The JDK client POSTs 1 MB over HTTP/2 (with a content-length, or without one as curl's chunked uploads) and must
     * get its answer within a few seconds; it hung until its own timeout when the gateway reset the stream after the
     * answer.
     */
    @ParameterizedTest(name = "{0} with content-length {1}")
    @CsvSource({"/early, true, 401", "/early, false, 401", "/small, false, 413"})
    void theJdkClientGetsAnAnswerThatCameBeforeItsBodyWasRead(String path, boolean withLength, int status) throws Exception {
        TestCertificates certs = closer.add(TestCertificates.create());
        RunningProxy proxy = proxy("""
                  tls:
                    certificates:
                %s""".formatted(certs.rsa("localhost").yamlItem(6)));
        HttpClient client = HttpClients.builder(certs).build();
        HttpRequest.BodyPublisher bytes = HttpRequest.BodyPublishers.ofByteArray(new byte[BODY]);
        HttpRequest request = HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port() + path))
                .POST(withLength ? bytes : HttpRequest.BodyPublishers.fromPublisher(bytes))
                .header("content-type", "application/octet-stream")
                .timeout(Duration.ofSeconds(30))
                .build();
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            HttpResponse<String> response;
            try {
                response = client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).get(5, TimeUnit.SECONDS);
            } catch (TimeoutException hang) {
                fail("no answer within 5 s to a POST answered before its body was read");
                return;
            }
            assertEquals(status, response.statusCode(), response::body);
            assertEquals(HttpClient.Version.HTTP_2, response.version());
            // The answer really came before the body was read: otherwise this test proves nothing.
            String line = log.awaitLine(l -> l.contains("\"POST " + path + " "), 5_000);
            Matcher bytesIn = Pattern.compile(" in=(\\d+) ").matcher(String.valueOf(line));
            assertTrue(bytesIn.find() && Long.parseLong(bytesIn.group(1)) < BODY,
                    "the gateway had read the whole body before answering: " + line);
        }
    }

    /**
     * After its answer a client sends part of the rest of its body, then stalls: its stream is reset with NO_ERROR
     * after body_idle_timeout (not at once with CANCEL), and meanwhile and afterwards the connection's other streams
     * upload and are answered.
     */
    @Test
    void aClientThatStallsAfterAnEarlyAnswerIsAskedToStopAndTheOtherStreamsGoOn() throws Exception {
        H2Probe client = h2cClient();
        H2Probe.Stream stalled = postAnswered(client, "/early", 100_000, false, 401);

        H2Probe.Stream upload = client.open(H2Probe.headers("POST", "/echo/upload"), false);
        client.data(upload, new byte[BODY], true);
        H2Probe.Outcome uploaded = upload.outcome.get(10, TimeUnit.SECONDS);
        assertEquals(200, uploaded.status(), "an upload next to the stalled stream: " + uploaded);

        assertAskedToStopAndTheConnectionGoesOn(client, stalled, 5);
    }

    /**
     * A stream whose body stalls before any answer gets its 408 (body_idle_timeout) and then RST_STREAM(NO_ERROR): the
     * answer is complete, and CANCEL, which the gateway sent before, allows a client to discard it (RFC 9113 8.1).
     */
    @Test
    void aStreamWhoseBodyStallsGetsIts408AndANoErrorReset() throws Exception {
        H2Probe client = h2cClient();
        H2Probe.Stream stalled = postAnswered(client, "/echo/stall", 10_000, false, 408);
        assertAskedToStopAndTheConnectionGoesOn(client, stalled, 5);
    }

    /** A client that goes on sending long after its answer is asked to stop with NO_ERROR, and is not read forever. */
    @Test
    void aClientThatSendsFarMoreAfterAnEarlyAnswerIsAskedToStop() throws Exception {
        H2Probe client = h2cClient();
        H2Probe.Stream flood = postAnswered(client, "/early", 8 * BODY, true, 401);
        assertAskedToStopAndTheConnectionGoesOn(client, flood, 10);
    }

    private H2Probe h2cClient() throws Exception {
        return closer.add(new H2Probe(proxy("  h2c: true").port(), true));
    }

    /** POSTs {@code bytes} of body on a new stream, ending it or not, and waits for the answer {@code status}. */
    private static H2Probe.Stream postAnswered(H2Probe client, String path, int bytes, boolean end, int status) throws Exception {
        H2Probe.Stream s = client.open(H2Probe.headers("POST", path, "content-type", "application/octet-stream"), false);
        client.data(s, new byte[bytes], end);
        H2Probe.Outcome answer = s.outcome.get(5, TimeUnit.SECONDS);
        assertEquals(status, answer.status(), answer::toString);
        return s;
    }

    /** The stream is reset with NO_ERROR (stop sending, keep the answer), and the connection serves the next request. */
    private static void assertAskedToStopAndTheConnectionGoesOn(H2Probe client, H2Probe.Stream s, int seconds) throws Exception {
        assertEquals(NO_ERROR, s.reset.get(seconds, TimeUnit.SECONDS), "the stream's reset code");
        H2Probe.Stream after = client.open(H2Probe.headers("GET", "/echo/after"), true);
        assertEquals(200, after.outcome.get(5, TimeUnit.SECONDS).status());
    }
}
