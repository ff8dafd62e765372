package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.streamgate.config.ServerConfig;

/**
 * Adds the HTTP/2 handlers to a client connection. Every stream becomes a child channel whose frames are converted
 * to HTTP/1.1 objects, so the same guard, policies and relay serve both protocols; stream flow control surfaces as
 * the child channel's writability and reads, which the relay already obeys.
 */
final class Http2Pipeline {
    private Http2Pipeline() {
    }

    static void configure(ChannelPipeline p, Gateway gateway, boolean tls) {
        ServerConfig server = gateway.snapshot().config().server();
        // No graceful-shutdown timeout here: a connection is only closed with streams open when the gateway drains,
        // and then GatewayServer sets it from the drain's deadline, which close(Duration) may choose.
        Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(server.maxConcurrentStreams())
                        .maxHeaderListSize(server.limits().maxHeaderSize()))
                .validateHeaders(true)
                .build();
        String scheme = tls ? "https" : "http";
        p.addLast(PipelineNames.H2_CODEC, codec)
                .addLast(PipelineNames.H2_IDLE, new Http2IdleCloser(codec, server.clientIdleTimeout()))
                .addLast(PipelineNames.H2_MULTIPLEX, new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel stream) {
                        // The relay decides when to read, which is what returns flow-control credit to the client.
                        stream.config().setAutoRead(false);
                        stream.pipeline()
                                .addLast(PipelineNames.H2_STREAM_CODEC, new Http2StreamFrameToHttpObjectCodec(true))
                                .addLast(Http2RequestSplitter.NAME, new Http2RequestSplitter())
                                .addLast(PipelineNames.GUARD, new RequestGuard(server.limits().maxHeaders()))
                                .addLast(PipelineNames.EXCHANGE, new ClientConnectionHandler(gateway, scheme, true));
                    }
                }))
                .addLast(PipelineNames.H2_ERRORS, new Http2ErrorSink());
        // The connection's receive window starts as small as one stream's (64 KiB): one stream whose body is not being
        // read (its request waits) would hold all of it and stall every other upload on the connection. Each stream
        // is still bounded by its own window, so, as nginx does, the connection's covers them all.
        int streams = Math.min(server.maxConcurrentStreams(), Integer.MAX_VALUE / Http2CodecUtil.DEFAULT_WINDOW_SIZE);
        if (streams > 1) {
            p.context(PipelineNames.H2_IDLE).writeAndFlush(
                    new DefaultHttp2WindowUpdateFrame(Http2CodecUtil.DEFAULT_WINDOW_SIZE * (streams - 1)));
        }
    }
}
