package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * The Netty transport used by the benchmark tools. "auto" means epoll, then NIO: the tools must be boring and
 * fast, so they prefer the long-proven epoll over io_uring; io_uring can be forced to compare.
 */
record Transport(String name,
                 IoHandlerFactory ioHandlerFactory,
                 Class<? extends ServerChannel> serverChannel,
                 Class<? extends SocketChannel> clientChannel) {

    static Transport select(String requested) {
        switch (requested) {
            case "auto":
                return Epoll.isAvailable() ? epoll() : nio();
            case "epoll":
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("epoll unavailable: " + Epoll.unavailabilityCause());
                }
                return epoll();
            case "io_uring":
                if (!IoUring.isAvailable()) {
                    throw new IllegalStateException("io_uring unavailable: " + IoUring.unavailabilityCause());
                }
                return new Transport("io_uring", IoUringIoHandler.newFactory(),
                        IoUringServerSocketChannel.class, IoUringSocketChannel.class);
            case "nio":
                return nio();
            default:
                throw new IllegalArgumentException("transport must be auto, epoll, io_uring or nio: " + requested);
        }
    }

    MultiThreadIoEventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }

    /** What every load probe's connections are made with: no Nagle delay, and a stuck connect fails in 5 s. */
    Bootstrap clientBootstrap(EventLoopGroup group) {
        return new Bootstrap()
                .group(group)
                .channel(clientChannel)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000);
    }

    private static Transport epoll() {
        return new Transport("epoll", EpollIoHandler.newFactory(),
                EpollServerSocketChannel.class, EpollSocketChannel.class);
    }

    private static Transport nio() {
        return new Transport("nio", NioIoHandler.newFactory(),
                NioServerSocketChannel.class, NioSocketChannel.class);
    }
}
