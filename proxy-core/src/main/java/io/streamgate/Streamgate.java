package io.streamgate;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import io.streamgate.config.ServerConfig;
import io.streamgate.server.Gateway;
import io.streamgate.server.GatewayServer;
import io.streamgate.server.Snapshot;
import io.streamgate.server.Transport;
import io.streamgate.upstream.UpstreamPools;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway, for embedding: start it from a config, ask for the bound port, close it gracefully.
 *
 * <pre>{@code
 * try (Streamgate gw = Streamgate.start(ConfigLoader.load(Path.of("streamgate.yaml")))) {
 *     System.out.println("listening on " + gw.port());
 *     gw.closeFuture().join();
 * }
 * }</pre>
 */
public final class Streamgate implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Streamgate.class);
    private static final Duration DRAIN_POLL = Duration.ofMillis(50);

    private final ProxyConfig config;
    private final Transport transport;
    private final EventLoopGroup group;
    private final Gateway gateway;
    private final Channel serverChannel;
    private final ChannelGroup connections;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private Streamgate(ProxyConfig config, Transport transport, EventLoopGroup group, Gateway gateway, Channel serverChannel,
                       ChannelGroup connections) {
        this.config = config;
        this.transport = transport;
        this.group = group;
        this.gateway = gateway;
        this.serverChannel = serverChannel;
        this.connections = connections;
    }

    /** Reads, validates and starts from a YAML file. */
    public static Streamgate start(Path configFile) throws ConfigException {
        return start(ConfigLoader.load(configFile));
    }

    /** Binds the listener and returns once it accepts connections; throws IllegalStateException if it cannot bind. */
    public static Streamgate start(ProxyConfig config) {
        ServerConfig server = config.server();
        Transport transport = Transport.select(server.transport());
        int threads = server.ioThreads() > 0 ? server.ioThreads() : Runtime.getRuntime().availableProcessors();
        EventLoopGroup group = transport.newGroup(threads);
        ChannelGroup connections = new DefaultChannelGroup("streamgate-clients", GlobalEventExecutor.INSTANCE);
        Gateway gateway = new Gateway(Snapshot.of(config), new UpstreamPools(transport));
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
                .childHandler(GatewayServer.channelInitializer(gateway, connections));
        ChannelFuture bound = bootstrap.bind(server.host(), server.port()).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot listen on " + server.host() + ":" + server.port() + ": "
                    + bound.cause().getMessage(), bound.cause());
        }
        Streamgate gw = new Streamgate(config, transport, group, gateway, bound.channel(), connections);
        String missing = Transport.unavailabilityReport();
        LOG.info("listening on {} with {} transport, {} event loops{}", gw.address(), transport.name(), threads,
                missing.isEmpty() || transport.name().equals("io_uring") ? "" : " (" + missing + ")");
        return gw;
    }

    public int port() {
        return address().getPort();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    public String transportName() {
        return transport.name();
    }

    public ProxyConfig config() {
        return config;
    }

    /** Requests in flight right now. */
    public int activeRequests() {
        return gateway.activeExchanges();
    }

    /** Completes once the gateway has fully stopped. */
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    /** Graceful close with the configured drain timeout; blocks until done. Never call from an event loop. */
    @Override
    public void close() {
        close(config.server().drainTimeout());
    }

    /**
     * Stops accepting, closes idle connections, lets in-flight requests and streams finish for up to {@code drain},
     * then closes everything. Blocks until done.
     */
    public void close(Duration drain) {
        if (closing.compareAndSet(false, true)) {
            LOG.info("shutting down: draining {} in-flight requests for up to {} ms", gateway.activeExchanges(), drain.toMillis());
            gateway.startDraining();
            serverChannel.close().awaitUninterruptibly();
            GatewayServer.closeIdleConnections(connections);
            gateway.pools().closeIdle();
            long deadline = System.nanoTime() + drain.toNanos();
            waitForDrain(deadline);
        }
        closed.join();
    }

    private void waitForDrain(long deadline) {
        group.next().schedule(() -> {
            if (gateway.activeExchanges() > 0 && System.nanoTime() < deadline) {
                waitForDrain(deadline);
                return;
            }
            if (gateway.activeExchanges() > 0) {
                LOG.warn("drain timeout: closing {} requests still in flight", gateway.activeExchanges());
            }
            connections.close().addListener(f -> group.shutdownGracefully(0, 2, TimeUnit.SECONDS)
                    .addListener(g -> {
                        LOG.info("stopped");
                        closed.complete(null);
                    }));
        }, DRAIN_POLL.toNanos(), TimeUnit.NANOSECONDS);
    }
}
