package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import io.streamgate.config.ServerConfig;
import java.net.InetSocketAddress;

/** Builds a client connection's pipeline in the order {@link PipelineNames} documents. */
final class ServerChannelInitializer extends ChannelInitializer<Channel> {
    private final Gateway gateway;
    private final ChannelGroup connections;
    private final AcceptGuard acceptGuard;
    private final Mapping<String, SslContext> certificates;

    /** @param certificates SNI mapping of the TLS listener, or null for a plain listener */
    ServerChannelInitializer(Gateway gateway, ChannelGroup connections, Mapping<String, SslContext> certificates) {
        this.gateway = gateway;
        this.connections = connections;
        this.acceptGuard = new AcceptGuard(gateway);
        this.certificates = certificates;
    }

    @Override
    protected void initChannel(Channel ch) {
        connections.add(ch);
        Snapshot snapshot = gateway.snapshot();
        ServerConfig server = snapshot.config().server();
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.ACCEPT_GUARD, acceptGuard);
        InetSocketAddress peer = (InetSocketAddress) ch.remoteAddress();
        if (server.proxyProtocol() && peer != null && snapshot.proxies().trusts(peer.getAddress())) {
            p.addLast(PipelineNames.PROXY_PROTOCOL, new HAProxyMessageDecoder())
                    .addLast(PipelineNames.PROXY_HEADER, new ProxyHeaderReader());
        }
        if (certificates != null) {
            p.addLast(PipelineNames.TLS, new SniHandler(certificates))
                    .addLast(PipelineNames.PROTOCOL, new AlpnNegotiator(gateway));
        } else if (server.h2c()) {
            p.addLast(PipelineNames.PROTOCOL, new PriorKnowledgeDetector(gateway));
        } else {
            Http1Pipeline.configure(p, gateway, false);
        }
    }
}
