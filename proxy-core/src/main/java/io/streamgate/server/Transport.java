package io.streamgate.server;

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
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.streamgate.config.ServerConfig.TransportChoice;
import java.net.StandardSocketOptions;
import java.util.function.Supplier;

/**
 * The Netty transport for both the listener and the upstream connections (they share event loops, so an
 * upstream channel must be of the same kind as the client channel it serves).
 */
public final class Transport {
    static final int IO_URING_COMPLETIONS = 32_768;

    private final String name;
    private final Supplier<IoHandlerFactory> factory;
    private final Class<? extends ServerChannel> serverChannel;
    private final Class<? extends SocketChannel> clientChannel;
    /** SO_REUSEPORT as this transport's server channels take it: the native ones have it as a Unix option. */
    private final ChannelOption<Boolean> reusePort;

    private Transport(String name, Supplier<IoHandlerFactory> factory, Class<? extends ServerChannel> serverChannel,
                      Class<? extends SocketChannel> clientChannel, ChannelOption<Boolean> reusePort) {
        this.name = name;
        this.factory = factory;
        this.serverChannel = serverChannel;
        this.clientChannel = clientChannel;
        this.reusePort = reusePort;
    }

    /**
     * AUTO takes io_uring, then epoll, then NIO, whichever loads first. An explicit choice that cannot load is an
     * error rather than a silent fallback: the operator asked for it.
     */
    public static Transport select(TransportChoice choice) {
        switch (choice) {
            case IO_URING:
                IoUring.ensureAvailability();
                return ioUring();
            case EPOLL:
                Epoll.ensureAvailability();
                return epoll();
            case NIO:
                return nio();
            default:
                if (IoUring.isAvailable()) {
                    return ioUring();
                }
                if (Epoll.isAvailable()) {
                    return epoll();
                }
                return nio();
        }
    }

    /** Why the better transports are not in use, for the start-up log line. */
    public static String unavailabilityReport() {
        StringBuilder sb = new StringBuilder();
        if (!IoUring.isAvailable()) {
            sb.append("io_uring unavailable (").append(IoUring.unavailabilityCause()).append(")");
        }
        if (!Epoll.isAvailable()) {
            sb.append(sb.length() > 0 ? "; " : "").append("epoll unavailable (").append(Epoll.unavailabilityCause()).append(")");
        }
        return sb.toString();
    }

    private static Transport ioUring() {
        return new Transport("io_uring", () -> IoUringIoHandler.newFactory(ioUringConfig()), IoUringServerSocketChannel.class,
                IoUringSocketChannel.class, UnixChannelOption.SO_REUSEPORT);
    }

    /**
     * A completion queue of {@value #IO_URING_COMPLETIONS} entries per event loop (512 KiB) instead of Netty's 4,096:
     * with thousands of streams on a loop, one tick's events on their upstream sockets, and the writes that relay
     * them, complete together. At 10,000 streams on two loops Netty's queue overflowed (the kernel keeps the excess,
     * Netty logs a warning each time). A larger {@code -Dio.netty.iouring.cqSize} is kept.
     */
    static IoUringIoHandlerConfig ioUringConfig() {
        IoUringIoHandlerConfig config = new IoUringIoHandlerConfig();
        return config.setCqSize(Math.max(config.getCqSize(), IO_URING_COMPLETIONS));
    }

    private static Transport epoll() {
        return new Transport("epoll", EpollIoHandler::newFactory, EpollServerSocketChannel.class, EpollSocketChannel.class,
                UnixChannelOption.SO_REUSEPORT);
    }

    private static Transport nio() {
        return new Transport("nio", NioIoHandler::newFactory, NioServerSocketChannel.class, NioSocketChannel.class,
                NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT));
    }

    public String name() {
        return name;
    }

    public EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, factory.get());
    }

    public ChannelOption<Boolean> reusePortOption() {
        return reusePort;
    }

    public Class<? extends ServerChannel> serverChannel() {
        return serverChannel;
    }

    public Class<? extends SocketChannel> clientChannel() {
        return clientChannel;
    }
}
