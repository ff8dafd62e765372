package io.streamgate.server.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.streamgate.config.AdminConfig;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The admin listener: health, readiness, metrics and operations, on its own address and its own single thread, so
 * neither a busy public listener nor a slow scrape gets in the other's way. Scrapes and config dumps run on that
 * thread (they are small); nothing here touches the gateway's event loops. Connections are held to the public
 * listener's idle and request timeouts, as an nginx {@code server} block inherits its {@code http} block's.
 */
public final class AdminServer implements AutoCloseable {
    /** Requests to the admin listener are small; a bigger one is a mistake or an attack. */
    private static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final EventLoopGroup group;
    private final Channel channel;

    private AdminServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Binds {@code config}'s address; throws IllegalStateException when it cannot. */
    public static AdminServer start(AdminConfig config, AdminEndpoints endpoints) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("streamgate-admin", true),
                NioIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192));
                        ch.pipeline().addLast(new AdminAggregator(MAX_REQUEST_BYTES));
                        ch.pipeline().addLast(new AdminTimeouts(() -> endpoints.gateway().config().server()));
                        ch.pipeline().addLast(new AdminHandler(endpoints, config.token()));
                    }
                });
        ChannelFuture bound = bootstrap.bind(config.host(), config.port()).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot listen on " + config.host() + ":" + config.port() + " (admin): "
                    + bound.cause().getMessage(), bound.cause());
        }
        endpoints.useExecutor(group.next());
        return new AdminServer(group, bound.channel());
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
