package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import java.util.function.IntSupplier;

/** The entry points {@link io.streamgate.Streamgate} needs from this package, which keeps its handlers private. */
public final class GatewayServer {
    private GatewayServer() {
    }

    /** @param certificates SNI mapping when the listener terminates TLS, else null */
    public static ChannelInitializer<Channel> channelInitializer(Gateway gateway, ChannelGroup connections,
                                                                 Mapping<String, SslContext> certificates) {
        return new ServerChannelInitializer(gateway, connections, certificates);
    }

    /** The plain listener that sends every request to the TLS listener's port. */
    public static ChannelInitializer<Channel> redirectInitializer(IntSupplier tlsPort) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new RedirectToHttpsHandler(tlsPort));
            }
        };
    }

    /**
     * Starts closing every client connection: HTTP/1.1 connections with no request in flight close now, the others
     * when their exchange ends; HTTP/2 connections send GOAWAY and close once their open streams are done.
     */
    public static void closeIdleConnections(ChannelGroup connections) {
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> {
                if (ch.pipeline().get(Http2FrameCodec.class) != null) {
                    ch.close();
                    return;
                }
                ClientConnectionHandler h = ch.pipeline().get(ClientConnectionHandler.class);
                if (h != null) {
                    h.closeIfIdle();
                }
            });
        }
    }
}
