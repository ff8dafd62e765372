package io.streamgate.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Clients that reset the connection in the middle of the TLS handshake (port scanners, TCP health checks, clients
 * that give up) are closed quietly: no warning per connection for anyone to flood the log with, and the listener
 * goes on serving.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HandshakeResetTest {
    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void start() throws Exception {
        certs = TestCertificates.create();
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(certs.ecdsa("localhost").yamlItem(6), backend.url()));
        logged.start();
        root.addAppender(logged);
    }

    @AfterEach
    void stop() throws Exception {
        root.detachAppender(logged);
        proxy.close();
        backend.close();
        certs.close();
    }

    @Test
    void aClientThatResetsMidHandshakeIsClosedWithoutAWarning() throws Exception {
        for (int i = 0; i < 5; i++) {
            try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
                socket.getOutputStream().write(clientHello());
                InputStream in = socket.getInputStream();
                assertTrue(in.read() >= 0, "the server answered the ClientHello: its handshake is under way");
                socket.setSoLinger(true, 0); // close with a reset, as a scanner does
            }
        }
        SSLContext trusting = HttpClients.sslContext(certs, null);
        HttpClient client = HttpClient.newBuilder().sslContext(trusting).version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port() + "/after"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), "the listener still serves");
        // A reset may be handled on the other event loop than the request above, so give it a moment to log.
        Thread.sleep(300);
        List<String> warnings = logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()).toList();
        assertEquals(List.of(), warnings);
    }

    /** The first flight of a real TLS client: a ClientHello offering h2 and http/1.1. */
    private static byte[] clientHello() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine("localhost", 443);
        engine.setUseClientMode(true);
        var params = engine.getSSLParameters();
        params.setApplicationProtocols(new String[] {"h2", "http/1.1"});
        engine.setSSLParameters(params);
        engine.beginHandshake();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }
}
