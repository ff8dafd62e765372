package io.streamgate.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A deliberately fast HTTP/1.1 backend for the load comparison, listening on 127.0.0.1 only.
 * <ul>
 *   <li>{@code GET /json}: a small (~200 B) OpenAI-like JSON body, keep-alive.</li>
 *   <li>{@code GET /sse?events=N&interval_ms=M}: a text/event-stream of N chat-completion-like chunks, one every
 *       M ms, each carrying {@code "t":<System.nanoTime() at send>}, then {@code data: [DONE]}. On Linux nanoTime
 *       is CLOCK_MONOTONIC, shared by all processes, so {@link SseLatencyProbe} in another JVM can subtract.</li>
 * </ul>
 */
public final class BenchBackend {
    private static final String USAGE = "BenchBackend [--port 18080] [--threads 2] [--transport auto|epoll|io_uring|nio]";

    public static void main(String[] argv) throws InterruptedException {
        Args args = new Args(argv, Map.of("port", "18080", "threads", "2", "transport", "auto"), USAGE);
        Transport transport = Transport.select(args.string("transport"));
        int threads = args.integer("threads");
        EventLoopGroup group = transport.newGroup(threads);
        try {
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(),
                                    new HttpServerKeepAliveHandler(),
                                    new BenchBackendHandler());
                        }
                    })
                    .bind("127.0.0.1", args.integer("port")).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            // run.sh waits for this line.
            System.out.println("BenchBackend listening on 127.0.0.1:" + port
                    + " transport=" + transport.name() + " threads=" + threads);
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
                    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly()));
            server.closeFuture().sync();
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }

    private BenchBackend() {
    }
}
