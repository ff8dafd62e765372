package io.streamgate.server.demo;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A fake of vLLM's OpenAI-compatible server, so the gateway can be tried on a machine without a GPU:
 * {@code POST /v1/chat/completions} (streamed or not), {@code GET /v1/models} and {@code GET /health}.
 * It answers every prompt with the same canned text, one word every {@value DemoHandler#WORD_INTERVAL_MS} ms.
 *
 * <p>It is an origin server, not part of the proxy path, so unlike the gateway it aggregates request bodies
 * (bounded at {@value #MAX_REQUEST_BODY} bytes) and runs on one NIO thread of its own.
 */
public final class DemoBackend implements AutoCloseable {
    static final int MAX_REQUEST_BODY = 1 << 20;

    private final EventLoopGroup group;
    private final Channel serverChannel;

    private DemoBackend(EventLoopGroup group, Channel serverChannel) {
        this.group = group;
        this.serverChannel = serverChannel;
    }

    /** Binds and returns once listening; throws IllegalStateException if the address cannot be bound. */
    public static DemoBackend start(InetSocketAddress address) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("demo-backend"),
                NioIoHandler.newFactory());
        ChannelFuture bind = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(),
                                new HttpObjectAggregator(MAX_REQUEST_BODY),
                                new DemoHandler());
                    }
                })
                .bind(address)
                .awaitUninterruptibly();
        if (!bind.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot bind the demo backend to " + address + ": " + bind.cause().getMessage(),
                    bind.cause());
        }
        return new DemoBackend(group, bind.channel());
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    public int port() {
        return address().getPort();
    }

    /** Stops at once: open streams are cut, which is fine for a demo that only runs beside the gateway. */
    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
