package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The free resend after a reused connection turned out closed is for a backend that closed it before it saw the
 * request. A backend that answered anything on that connection for this request (an interim 1xx) had read it: its
 * close is a reset like any other, not a stale connection, and the request is not sent to it once more.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StaleConnectionRetryTest {
    private final Closer closer = new Closer();
    private final AtomicInteger requests = new AtomicInteger();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** First connection: answers one request, then sends 103 to the next and closes. Later ones answer "again". */
    private ServerSocket backend() throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closer.add(server::close);
        Thread t = new Thread(() -> {
            int connections = 0;
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    if (connections++ == 0) {
                        readHead(in);
                        out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        readHead(in);
                        out.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        Thread.sleep(200); // working on it... then gone
                    } else {
                        readHead(in);
                        out.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        Thread.sleep(200);
                    }
                } catch (Exception e) {
                    // next connection
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return server;
    }

    private void readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed");
            }
            head.write(b);
            matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
        }
        requests.incrementAndGet();
    }

    @Test
    void aReusedConnectionClosedAfterAnInterimResponseIsNotStale() throws Exception {
        ServerSocket backend = backend();
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  llm:
                    endpoints: ["http://127.0.0.1:%d"]
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.getLocalPort())));
        try (RawHttpClient client = proxy.connect()) {
            assertEquals("ok", client.get("/one").readResponse().bodyText());
            RawResponse second = client.get("/two").readResponse(); // on the pooled connection
            assertEquals(502, second.status(), second::toString);
        }
        assertEquals(2, requests.get(), "the backend had the request, and got it once more");
    }
}
