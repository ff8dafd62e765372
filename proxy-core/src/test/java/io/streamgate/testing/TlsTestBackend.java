package io.streamgate.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;

/**
 * A minimal HTTPS/1.1 backend on 127.0.0.1 (JDK TLS, any free port) serving one certificate from
 * {@link TestCertificates}: it answers every request 200 with {@code "tls METHOD URI"} (text/plain, keep-alive), and
 * records each request with the SNI name its connection's handshake carried, and how many handshakes succeeded or
 * failed. For testing {@code https://} upstream endpoints; {@link TestBackend} speaks plain HTTP only.
 */
public final class TlsTestBackend implements AutoCloseable {
    /** One request received: its method, target, headers, and the SNI host name of its connection (or null). */
    public record Request(String method, String uri, HttpHeaders headers, String sni) {
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
            new DefaultThreadFactory("tls-test-backend", true), NioIoHandler.newFactory());
    private final List<Request> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger handshakes = new AtomicInteger();
    private final AtomicInteger failedHandshakes = new AtomicInteger();
    private final List<Channel> children = new CopyOnWriteArrayList<>();
    private final Channel serverChannel;

    private TlsTestBackend(TestCertificates.ServerCert cert) throws Exception {
        SslContext context = SslContextBuilder.forServer(cert.bundle().toKeyManagerFactory())
                .sslProvider(SslProvider.JDK)
                .build();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        children.add(ch);
                        SslHandler ssl = context.newHandler(ch.alloc());
                        ch.pipeline().addLast(ssl);
                        ch.pipeline().addLast(new HttpServerCodec());
                        ch.pipeline().addLast(new HttpObjectAggregator(1024 * 1024));
                        ch.pipeline().addLast(new Handler(ssl));
                    }
                });
        serverChannel = bootstrap.bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    /** Starts a backend serving {@code cert} (its chain and key). */
    public static TlsTestBackend start(TestCertificates.ServerCert cert) throws Exception {
        return new TlsTestBackend(cert);
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** The endpoint URL for the gateway's configuration, by address. */
    public String url() {
        return "https://127.0.0.1:" + port();
    }

    public List<Request> received() {
        return List.copyOf(received);
    }

    /** TLS handshakes completed so far. */
    public int handshakes() {
        return handshakes.get();
    }

    /** TLS handshakes that failed so far (the client refused the certificate, or spoke something else). */
    public int failedHandshakes() {
        return failedHandshakes.get();
    }

    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        for (Channel child : children) {
            child.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final SslHandler ssl;
        private String sni;

        Handler(SslHandler ssl) {
            this.ssl = ssl;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslHandshakeCompletionEvent done) {
                if (done.isSuccess()) {
                    handshakes.incrementAndGet();
                    sni = requestedName(ssl.engine().getSession());
                } else {
                    failedHandshakes.incrementAndGet();
                    ctx.close();
                }
            }
            super.userEventTriggered(ctx, evt);
        }

        private static String requestedName(SSLSession session) {
            if (session instanceof ExtendedSSLSession extended) {
                List<String> names = new ArrayList<>();
                for (SNIServerName name : extended.getRequestedServerNames()) {
                    if (name instanceof SNIHostName host) {
                        names.add(host.getAsciiName());
                    }
                }
                return names.isEmpty() ? null : names.get(0);
            }
            return null;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            received.add(new Request(request.method().name(), request.uri(),
                    new DefaultHttpHeaders().add(request.headers()), sni));
            byte[] body = ("tls " + request.method().name() + " " + request.uri()).getBytes(StandardCharsets.UTF_8);
            DefaultFullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.wrappedBuffer(body));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain").setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            var written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(f -> ctx.close());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
