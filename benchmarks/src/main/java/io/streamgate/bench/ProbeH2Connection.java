package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.util.List;

/**
 * One HTTP/2 connection with prior knowledge (h2c) carrying several of the probe's fixed streams, each on its own
 * HTTP/2 stream. With it the many-streams load needs one file descriptor per stream in the proxy (its upstream
 * connection) instead of two, so 10,000 streams fit under an open-files limit of 20,000.
 *
 * <p>Each stream runs the same {@link ProbeConnectionHandler} as an HTTP/1.1 connection does, behind Netty's
 * frame-to-HttpObject codec, so events are split and timed the same way.
 */
final class ProbeH2Connection {
    private final ProbeRun run;
    private final Bootstrap bootstrap;
    private final List<ProbeSlot> slots;

    ProbeH2Connection(ProbeRun run, Bootstrap bootstrap, List<ProbeSlot> slots) {
        this.run = run;
        this.bootstrap = bootstrap;
        this.slots = slots;
    }

    void connect() {
        bootstrap.clone()
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // The multiplexer's handler would get streams the server opened (push); neither proxy pushes.
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                })
                .connect(run.url().getHost(), run.url().getPort())
                .addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        openStreams(f.channel());
                    } else {
                        slots.forEach(ProbeSlot::failedToOpen);
                    }
                });
    }

    private void openStreams(Channel connection) {
        for (ProbeSlot slot : slots) {
            new Http2StreamChannelBootstrap(connection)
                    .handler(streamInitializer(slot))
                    .open()
                    .addListener(f -> {
                        if (!f.isSuccess()) {
                            slot.failedToOpen();
                        }
                    });
        }
    }

    private ChannelHandler streamInitializer(ProbeSlot slot) {
        return new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel ch) {
                ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), new ProbeConnectionHandler(run, slot));
            }
        };
    }
}
