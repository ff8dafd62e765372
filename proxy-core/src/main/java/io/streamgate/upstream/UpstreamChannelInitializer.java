package io.streamgate.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.streamgate.server.PipelineNames;

/** Pipeline of an upstream connection: the HTTP/1.1 client codec, then the connection's relay end. */
final class UpstreamChannelInitializer extends ChannelInitializer<Channel> {
    /** Backends may send larger headers than we accept from clients (cookies, tracing); still bounded. */
    private static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
            .setMaxInitialLineLength(8 * 1024)
            .setMaxHeaderSize(64 * 1024)
            .setMaxChunkSize(64 * 1024);

    private final UpstreamConnection connection;

    UpstreamChannelInitializer(UpstreamConnection connection) {
        this.connection = connection;
    }

    @Override
    protected void initChannel(Channel ch) {
        ch.pipeline()
                .addLast(PipelineNames.UPSTREAM_CODEC, new HttpClientCodec(DECODER, false, false))
                .addLast(PipelineNames.UPSTREAM_RELAY, connection);
    }
}
