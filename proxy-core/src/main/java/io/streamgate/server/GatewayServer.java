package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
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

    /**
     * The plain listener that sends every request to the TLS listener's port. It faces the same clients as the TLS
     * listener and gets the same guards: the server's IP rules and connection caps (counted for this listener on its
     * own), and {@code request_header_timeout} for the whole connection, which ends with its one answer anyway: a
     * client that connects and sends nothing (slowloris) would otherwise hold a socket, and the process's file
     * descriptors, for good.
     */
    public static ChannelInitializer<Channel> redirectInitializer(Gateway gateway, IntSupplier tlsPort) {
        AcceptGuard guard = new AcceptGuard(gateway);
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                long deadline = gateway.snapshot().config().server().limits().requestHeaderTimeout().toNanos();
                ScheduledFuture<?> cut = ch.eventLoop().schedule(() -> {
                    ch.close();
                }, deadline, TimeUnit.NANOSECONDS);
                ch.closeFuture().addListener(closed -> cut.cancel(false));
                ch.pipeline().addLast(guard, new HttpServerCodec(), new RedirectToHttpsHandler(tlsPort));
            }
        };
    }

    /**
     * Starts closing every client connection: HTTP/1.1 connections with no request in flight close now, the others
     * when their exchange ends; HTTP/2 connections send GOAWAY and close once their open streams are done, or at
     * {@code drainDeadline} (a {@link System#nanoTime()} value) at the latest.
     */
    public static void closeIdleConnections(ChannelGroup connections, long drainDeadline) {
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> {
                if (drainHttp2Until(ch, drainDeadline)) {
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

    /**
     * Closes every client connection, once the drain is over: HTTP/2 connections still flush streams that finished
     * before {@code drainDeadline}, and cut the others at once when it has passed.
     */
    public static ChannelGroupFuture closeAll(ChannelGroup connections, long drainDeadline) {
        for (Channel ch : connections) {
            // Runs before the close below reaches the codec: both are tasks of the channel's loop, queued in order.
            ch.eventLoop().execute(() -> drainHttp2Until(ch, drainDeadline));
        }
        return connections.close();
    }

    /**
     * Makes an HTTP/2 connection's next close wait for its open streams until {@code drainDeadline} only. The codec
     * cuts them by a timer of its own, which would otherwise count a fixed time from the close rather than end with
     * the drain the caller of close gave; rounded up, so that a stream it cuts is seen as cut by the drain.
     *
     * @return whether {@code ch} is an HTTP/2 connection
     */
    private static boolean drainHttp2Until(Channel ch, long drainDeadline) {
        Http2FrameCodec codec = ch.pipeline().get(Http2FrameCodec.class);
        if (codec == null) {
            return false;
        }
        long left = drainDeadline - System.nanoTime();
        codec.gracefulShutdownTimeoutMillis(left <= 0 ? 0 : (left + 999_999) / 1_000_000);
        return true;
    }
}
