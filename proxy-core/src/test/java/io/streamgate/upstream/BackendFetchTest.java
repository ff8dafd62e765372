package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.Future;
import io.streamgate.testing.RefusingPort;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TestCertificates.ServerCert;
import io.streamgate.testing.UnacceptingEndpoint;
import io.streamgate.upstream.BackendFetch.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One-shot GETs against MockWebServer, raw sockets that misbehave, and a Netty TLS server. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BackendFetchTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static EventLoopGroup group;
    private static EventLoop loop;
    private static final Bootstrap TEMPLATE = new Bootstrap().channel(NioSocketChannel.class);
    private MockWebServer server;

    @BeforeAll
    static void startLoop() {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        loop = group.next();
    }

    @AfterAll
    static void stopLoop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void startServer() throws IOException {
        server = new MockWebServer();
        server.start(InetAddress.getByName("127.0.0.1"), 0);
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    @Test
    void returnsStatusAndBodyAndSendsHostConnectionCloseAndExtraHeaders() throws Exception {
        server.enqueue(new MockResponse.Builder().code(200).body("{\"ok\":true}").build());
        Response r = fetch(server.getPort(), "/v1/models?x=1", Map.of("Authorization", "Bearer k-123"), 1024).get();
        assertEquals(200, r.status());
        assertEquals("{\"ok\":true}", new String(r.body(), StandardCharsets.UTF_8));

        RecordedRequest req = server.takeRequest(5, TimeUnit.SECONDS);
        assertEquals("GET /v1/models?x=1 HTTP/1.1", req.getRequestLine());
        assertEquals("127.0.0.1:" + server.getPort(), req.getHeaders().get("Host"));
        assertEquals("close", req.getHeaders().get("Connection"));
        assertEquals("Bearer k-123", req.getHeaders().get("Authorization"));
    }

    @Test
    void anErrorStatusIsAResponseNotAFailure() throws Exception {
        server.enqueue(new MockResponse.Builder().code(503).body("overloaded").build());
        Response r = fetch(server.getPort(), "/health", Map.of(), 1024).get();
        assertEquals(503, r.status());
        assertEquals("overloaded", new String(r.body(), StandardCharsets.UTF_8));
    }

    @Test
    void aBodyReadUntilCloseIsComplete() throws Exception {
        try (RawServer raw = new RawServer(s -> write(s, "HTTP/1.1 200 OK\r\n\r\nuntil close"))) {
            Response r = fetch(raw.port(), "/", Map.of(), 1024).get();
            assertArrayEquals("until close".getBytes(StandardCharsets.US_ASCII), r.body());
        }
    }

    @Test
    void aRefusedConnectionFails() throws Exception {
        try (RefusingPort refusing = RefusingPort.open()) {
            assertInstanceOf(ConnectException.class, failure(fetch(refusing.port(), "/", Map.of(), 1024)));
        }
    }

    @Test
    void aServerThatNeverAnswersTimesOutAndIsHungUpOn() throws Exception {
        CompletableFuture<Boolean> hungUp = new CompletableFuture<>();
        try (RawServer raw = new RawServer(s -> {
            try {
                InputStream in = s.getInputStream();
                while (in.read() >= 0) {
                    // swallow the request, never answer
                }
                hungUp.complete(true);
            } catch (IOException e) {
                hungUp.completeExceptionally(e);
            }
        })) {
            long start = System.nanoTime();
            Future<Response> f = BackendFetch.get(loop, TEMPLATE, null, null, "127.0.0.1", raw.port(), "/metrics",
                    Map.of(), Duration.ofMillis(300), 1024);
            Throwable cause = failure(f);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertInstanceOf(TimeoutException.class, cause);
            assertEquals("no complete response to GET /metrics from 127.0.0.1:" + raw.port() + " within 300 ms",
                    cause.getMessage());
            assertTrue(tookMs >= 250 && tookMs < 3_000, tookMs + " ms");
            assertTrue(hungUp.get(5, TimeUnit.SECONDS), "the fetch closes its connection");
        }
    }

    @Test
    void aConnectThatHangsTimesOut() throws Exception {
        try (UnacceptingEndpoint endpoint = UnacceptingEndpoint.open()) {
            assumeTrue(endpoint.connectHangs(), "this kernel answers every connect");
            Future<Response> f = BackendFetch.get(loop, TEMPLATE, null, null, "127.0.0.1", endpoint.port(), "/",
                    Map.of(), Duration.ofMillis(300), 1024);
            Throwable cause = failure(f);
            assertInstanceOf(TimeoutException.class, cause);
            assertEquals("no connection to 127.0.0.1:" + endpoint.port() + " within 300 ms", cause.getMessage());
        }
    }

    @Test
    void aBodyOverTheLimitFailsWhetherAnnouncedOrChunked() throws Exception {
        String big = "x".repeat(4096);
        server.enqueue(new MockResponse.Builder().body(big).build());
        server.enqueue(new MockResponse.Builder().chunkedBody(big, 512).build());
        for (int i = 0; i < 2; i++) {
            Throwable cause = failure(fetch(server.getPort(), "/metrics", Map.of(), 1024));
            assertInstanceOf(IOException.class, cause);
            assertEquals("response from 127.0.0.1:" + server.getPort() + "/metrics over 1024 bytes",
                    cause.getMessage());
        }
        // Exactly at the limit is fine.
        server.enqueue(new MockResponse.Builder().chunkedBody("y".repeat(1024), 100).build());
        assertEquals(1024, fetch(server.getPort(), "/", Map.of(), 1024).get().body().length);
    }

    @Test
    void aResponseCutShortOrNotHttpFails() throws Exception {
        try (RawServer cut = new RawServer(s -> write(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"));
             RawServer silent = new RawServer(s -> write(s, ""));
             RawServer ssh = new RawServer(s -> write(s, "SSH-2.0-OpenSSH_9.6\r\n\r\n"))) {
            for (RawServer raw : new RawServer[] {cut, silent}) {
                Throwable cause = failure(fetch(raw.port(), "/", Map.of(), 1024));
                assertInstanceOf(IOException.class, cause);
                assertEquals("127.0.0.1:" + raw.port() + " closed the connection before a complete response",
                        cause.getMessage());
            }
            Throwable notHttp = failure(fetch(ssh.port(), "/", Map.of(), 1024));
            assertInstanceOf(IOException.class, notHttp);
            assertTrue(notHttp.getMessage().startsWith("bad response from 127.0.0.1:" + ssh.port() + ": "),
                    notHttp.getMessage());
        }
    }

    /** An interim 1xx (here 103 Early Hints) is not the response: the final one after it is. */
    @Test
    void anInterimResponseIsSkipped() throws Exception {
        try (RawServer hints = new RawServer(s -> write(s, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))) {
            Response r = fetch(hints.port(), "/health", Map.of(), 1024).get();
            assertEquals(200, r.status());
            assertEquals("ok", new String(r.body(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void cancellingClosesTheConnection() throws Exception {
        CompletableFuture<Boolean> hungUp = new CompletableFuture<>();
        CompletableFuture<Void> accepted = new CompletableFuture<>();
        try (RawServer raw = new RawServer(s -> {
            accepted.complete(null);
            try {
                s.getInputStream().readAllBytes();
                hungUp.complete(true);
            } catch (IOException e) {
                hungUp.completeExceptionally(e);
            }
        })) {
            Future<Response> f = fetch(raw.port(), "/", Map.of(), 1024);
            accepted.get(5, TimeUnit.SECONDS);
            assertTrue(f.cancel(false));
            assertTrue(hungUp.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void theHostHeaderBracketsIpv6() {
        assertEquals("[::1]:8000", BackendFetch.authority("::1", 8000));
        assertEquals("[::1]:8000", BackendFetch.authority("[::1]", 8000));
        assertEquals("vllm.internal:443", BackendFetch.authority("vllm.internal", 443));
    }

    @Test
    void httpsChecksTheCertificateAndItsName() throws Exception {
        try (TestCertificates certs = TestCertificates.create()) {
            ServerCert cert = certs.rsa("localhost");
            SslContext serverSsl =
                    SslContextBuilder.forServer(cert.certFile().toFile(), cert.keyFile().toFile()).build();
            Channel tlsServer = tlsServer(serverSsl);
            try {
                int port = ((java.net.InetSocketAddress) tlsServer.localAddress()).getPort();
                SslContext trusting = SslContextBuilder.forClient().trustManager(certs.serverCaPem().toFile()).build();
                Response r = BackendFetch.get(loop, TEMPLATE, trusting, "localhost", "127.0.0.1", port, "/v1/models",
                        Map.of("Authorization", "Bearer s"), TIMEOUT, 1024).get();
                assertEquals(200, r.status());
                assertEquals("secure GET /v1/models Bearer s", new String(r.body(), StandardCharsets.UTF_8));

                // The JDK's default trust store does not know the test CA.
                SslContext defaults = SslContextBuilder.forClient().build();
                assertSslFailure("TLS handshake with 127.0.0.1:" + port + " as localhost failed: ",
                        "certification path", BackendFetch.get(loop, TEMPLATE, defaults, "localhost", "127.0.0.1",
                                port, "/", Map.of(), TIMEOUT, 1024));
                // A trusted certificate, but not for the name asked for.
                assertSslFailure("TLS handshake with 127.0.0.1:" + port + " as other.test failed: ",
                        "other.test", BackendFetch.get(loop, TEMPLATE, trusting, "other.test", "127.0.0.1", port, "/",
                                Map.of(), TIMEOUT, 1024));
            } finally {
                tlsServer.close().syncUninterruptibly();
            }
        }
    }

    @Test
    void aTemplateWithoutChannelIsRefusedAtOnce() {
        assertThrows(IllegalStateException.class, () -> BackendFetch.get(loop, new Bootstrap(), null, null,
                "127.0.0.1", 1, "/", Map.of(), TIMEOUT, 1024));
    }

    private static void assertSslFailure(String prefix, String reason, Future<Response> f) throws InterruptedException {
        Throwable cause = failure(f);
        assertInstanceOf(SSLException.class, cause, String.valueOf(cause));
        String message = cause.getMessage();
        assertTrue(message.startsWith(prefix) && message.contains(reason), message);
    }

    /** Answers every request with its method, path and Authorization header, then closes. */
    private static Channel tlsServer(SslContext ssl) {
        return new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(ssl.newHandler(ch.alloc()), new HttpServerCodec(),
                                new HttpObjectAggregator(1024), new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        String text = "secure " + req.method() + " " + req.uri() + " "
                                                + req.headers().get(HttpHeaderNames.AUTHORIZATION);
                                        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK,
                                                Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
                                        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, text.length());
                                        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        ctx.close(); // the refused handshakes, expected
                                    }
                                });
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
    }

    private static Future<Response> fetch(int port, String path, Map<String, String> headers, int maxBodyBytes) {
        return BackendFetch.get(loop, TEMPLATE, null, null, "127.0.0.1", port, path, headers, TIMEOUT, maxBodyBytes);
    }

    private static Throwable failure(Future<Response> f) throws InterruptedException {
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        assertNull(f.getNow());
        return e.getCause();
    }

    /** Reads the request head, then writes {@code text} and closes. */
    private static void write(Socket s, String text) {
        try {
            InputStream in = s.getInputStream();
            int matched = 0;
            while (matched < 4) {
                int c = in.read();
                if (c < 0) {
                    return;
                }
                matched = c == "\r\n\r\n".charAt(matched) ? matched + 1 : c == '\r' ? 1 : 0;
            }
            OutputStream out = s.getOutputStream();
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** A blocking server on 127.0.0.1 that runs {@code handler} on each accepted socket, then closes it. */
    private static final class RawServer implements AutoCloseable {
        private final ServerSocket socket;
        private final Thread thread;

        RawServer(Consumer<Socket> handler) throws IOException {
            socket = new ServerSocket(0, 8, InetAddress.getByName("127.0.0.1"));
            thread = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket s = socket.accept()) {
                        handler.accept(s);
                    } catch (IOException | RuntimeException e) {
                        // closed by close(), or the client went away: either way on to the next
                    }
                }
            }, "raw-server");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() throws Exception {
            socket.close();
            thread.join(5_000);
        }
    }
}
