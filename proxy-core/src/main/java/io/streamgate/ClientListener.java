package io.streamgate;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.streamgate.server.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The listening socket(s) of one address. By default one socket, whose connections the event loops take in turn: the
 * loop that accepts hands each new connection to the next loop. With {@code server.reuse_port}, one socket per event
 * loop (SO_REUSEPORT, as nginx's {@code listen ... reuseport} and Envoy's per-worker listeners): the kernel spreads new
 * connections over the sockets by a hash of the client's address and port, and each loop serves what its own socket
 * accepted, with no hand-off between threads.
 */
final class ClientListener {
    private final List<Channel> sockets;

    private ClientListener(List<Channel> sockets) {
        this.sockets = List.copyOf(sockets);
    }

    /**
     * Binds {@code host:port}; throws IllegalStateException, with every socket it bound closed again, if it cannot.
     *
     * @param bootstrap a bootstrap for the given event loop group (the parent group, and the children's), with the
     *                  options and handlers every socket of this listener shares
     */
    static ClientListener bind(String host, int port, EventLoopGroup group, Transport transport, boolean perLoop,
                               Function<EventLoopGroup, ServerBootstrap> bootstrap) {
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (!perLoop) {
            return new ClientListener(List.of(bindOne(bootstrap.apply(group), address, List.of())));
        }
        address = claim(address);
        List<Channel> bound = new ArrayList<>();
        for (EventExecutor loop : group) {
            ServerBootstrap b = bootstrap.apply((EventLoop) loop).option(transport.reusePortOption(), true);
            bound.add(bindOne(b, address, bound));
        }
        return new ClientListener(bound);
    }

    /**
     * Binds and closes an ordinary socket (without SO_REUSEPORT) on {@code address}, so that a port another process
     * listens on, with SO_REUSEPORT or not, is refused as "in use" rather than shared: the kernel lets any process of
     * the same user join a port whose sockets all set SO_REUSEPORT, and a second gateway started by mistake would
     * otherwise take part of the traffic unnoticed. Port 0 becomes the free port this finds.
     */
    private static InetSocketAddress claim(InetSocketAddress address) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true); // as the listener itself: a recently closed listener's connections do not block
            probe.bind(address, 1);
            return new InetSocketAddress(address.getAddress(), probe.getLocalPort());
        } catch (IOException e) {
            throw cannotListen(address, e);
        }
    }

    private static Channel bindOne(ServerBootstrap bootstrap, InetSocketAddress address, List<Channel> alreadyBound) {
        ChannelFuture bound = bootstrap.bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            alreadyBound.forEach(ch -> ch.close().awaitUninterruptibly());
            throw cannotListen(address, bound.cause());
        }
        return bound.channel();
    }

    private static IllegalStateException cannotListen(InetSocketAddress address, Throwable cause) {
        return new IllegalStateException("cannot listen on " + address.getHostString() + ":" + address.getPort() + ": "
                + cause.getMessage(), cause);
    }

    InetSocketAddress address() {
        return (InetSocketAddress) sockets.get(0).localAddress();
    }

    int sockets() {
        return sockets.size();
    }

    /** Stops accepting; returns once every socket is closed. */
    void close() {
        sockets.forEach(ch -> ch.close().awaitUninterruptibly());
    }
}
