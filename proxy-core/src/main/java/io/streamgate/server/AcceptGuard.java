package io.streamgate.server;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.streamgate.config.ServerConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Decides at accept whether a connection may stay: the server-level IP rules, the total connection cap and the
 * per-address cap. A refused connection is closed before a single byte is read. Peers that are trusted proxies are
 * exempt from the per-address cap and the IP rules here: the real client is only known per request (from
 * X-Forwarded-For), where the rules are applied again.
 */
@ChannelHandler.Sharable
final class AcceptGuard extends ChannelInboundHandlerAdapter {
    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("streamgate.countedPeer");

    private final Gateway gateway;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, AtomicInteger> perAddress = new ConcurrentHashMap<>();

    AcceptGuard(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (!(ctx.channel().remoteAddress() instanceof InetSocketAddress remote)) {
            // Reset by the peer before its channel was registered: on io_uring it then has no address, so no rule
            // could be applied, and there is nobody left to serve.
            ctx.close();
            return;
        }
        InetAddress peer = remote.getAddress();
        Snapshot s = gateway.snapshot();
        ServerConfig.Limits limits = s.config().server().limits();
        boolean trusted = s.proxies().trusts(peer);
        if (!trusted && !s.serverIp().permits(peer)) {
            refuse(ctx, "ip_denied");
            return;
        }
        if (total.incrementAndGet() > limits.maxConnections()) {
            total.decrementAndGet();
            refuse(ctx, "max_connections");
            return;
        }
        if (!trusted) {
            AtomicInteger count = perAddress.computeIfAbsent(peer, a -> new AtomicInteger());
            if (count.incrementAndGet() > limits.maxConnectionsPerIp()) {
                release(peer, count);
                total.decrementAndGet();
                refuse(ctx, "max_connections_per_ip");
                return;
            }
        }
        ctx.channel().attr(COUNTED).set(trusted ? null : peer);
        if (trusted) {
            ctx.channel().attr(ConnectionInfo.SERVER_RULES_DEFERRED).set(Boolean.TRUE);
        }
        ctx.fireChannelActive();
        ctx.read(); // auto-read is off; whatever handles the first bytes (TLS, PROXY header, HTTP) needs them
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ctx.channel().hasAttr(COUNTED)) {
            InetAddress peer = ctx.channel().attr(COUNTED).getAndSet(null);
            total.decrementAndGet();
            if (peer != null) {
                AtomicInteger count = perAddress.get(peer);
                if (count != null) {
                    release(peer, count);
                }
            }
        }
        ctx.fireChannelInactive();
    }

    private void refuse(ChannelHandlerContext ctx, String reason) {
        gateway.meters().connectionRefused(reason);
        ctx.close();
    }

    private void release(InetAddress peer, AtomicInteger count) {
        if (count.decrementAndGet() <= 0) {
            perAddress.remove(peer, count);
        }
    }

    /** Connections currently admitted. */
    int connections() {
        return total.get();
    }
}
