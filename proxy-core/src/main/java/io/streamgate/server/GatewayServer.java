package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;

/** The entry points {@link io.streamgate.Streamgate} needs from this package, which keeps its handlers private. */
public final class GatewayServer {
    private GatewayServer() {
    }

    public static ChannelInitializer<Channel> channelInitializer(Gateway gateway, ChannelGroup connections) {
        return new ServerChannelInitializer(gateway, connections);
    }

    /** Closes every client connection with no request in flight; the others close when their exchange ends. */
    public static void closeIdleConnections(ChannelGroup connections) {
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> {
                ClientConnectionHandler h = ch.pipeline().get(ClientConnectionHandler.class);
                if (h != null) {
                    h.closeIfIdle();
                }
            });
        }
    }
}
