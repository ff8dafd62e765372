package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chunked request's trailer fields are part of the request: a retry (here after the first endpoint reset the
 * connection once it had the whole request) sends them again, not an empty end of the body in their place.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RequestTrailersRetryTest {
    private final Closer closer = new Closer();
    private final AtomicInteger requests = new AtomicInteger();
    /** The trailer section (lines after the last chunk) of every request answered. */
    private final List<String> answeredTrailers = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** A backend that reads one chunked request per connection: the first request of the test is reset, others answered. */
    private ServerSocket backend() throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closer.add(server::close);
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    if (readLine(in) == null) {
                        continue;
                    }
                    while (!readLine(in).isEmpty()) {
                        // head
                    }
                    for (String size = readLine(in); ; size = readLine(in)) {
                        int n = Integer.parseInt(size.trim(), 16);
                        if (n == 0) {
                            break;
                        }
                        in.readNBytes(n + 2);
                    }
                    StringBuilder trailers = new StringBuilder();
                    for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
                        trailers.append(line).append('\n');
                    }
                    if (requests.getAndIncrement() == 0) {
                        s.setSoLinger(true, 0); // the close resets the connection: no response
                        continue;
                    }
                    answeredTrailers.add(trailers.toString());
                    s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    Thread.sleep(200);
                } catch (Exception e) {
                    // next connection
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return server;
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b >= 0; b = in.read()) {
            if (b == '\n') {
                String s = line.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            line.write(b);
        }
        return null;
    }

    @Test
    void aRetriedChunkedRequestKeepsItsTrailers() throws Exception {
        ServerSocket a = backend();
        ServerSocket b = backend();
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["http://127.0.0.1:%d", "http://127.0.0.1:%d"]
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(a.getLocalPort(), b.getLocalPort())));
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n"
                    + "Trailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n");
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
        }
        assertEquals(2, requests.get());
        assertEquals(List.of("x-checksum: abc123\n"), answeredTrailers);
    }
}
