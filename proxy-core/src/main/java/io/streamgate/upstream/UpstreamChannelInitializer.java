package io.streamgate.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.ssl.SslContext;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.server.CompactTrailers;
import io.streamgate.server.PipelineNames;
import io.streamgate.server.TrustedHeaderNames;

/**
 * Pipeline of an upstream connection: TLS for {@code https://} endpoints, the HTTP/1.1 response decoder and request
 * encoder, the relay end.
 */
final class UpstreamChannelInitializer extends ChannelInitializer<Channel> {
    /** Backends may send larger headers than we accept from clients (cookies, tracing); still bounded. */
    private static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
            .setMaxInitialLineLength(8 * 1024)
            .setMaxHeaderSize(64 * 1024)
            .setMaxChunkSize(64 * 1024)
            .setHeadersFactory(TrustedHeaderNames.headersFactory())
            .setTrailersFactory(CompactTrailers.factory());

    private final UpstreamConnection connection;
    private final SslContext ssl;
    private final UpstreamConfig.Endpoint endpoint;
    private final String serverName;

    /** @param ssl null for {@code http://} endpoints */
    UpstreamChannelInitializer(UpstreamConnection connection, SslContext ssl, UpstreamConfig.Endpoint endpoint, String serverName) {
        this.connection = connection;
        this.ssl = ssl;
        this.endpoint = endpoint;
        this.serverName = serverName;
    }

    @Override
    protected void initChannel(Channel ch) {
        if (ssl != null) {
            ch.pipeline().addLast(ssl.newHandler(ch.alloc(), serverName, endpoint.port()));
        }
        UpstreamResponseDecoder decoder = new UpstreamResponseDecoder(DECODER);
        connection.decodeWith(decoder);
        ch.pipeline()
                .addLast(PipelineNames.UPSTREAM_DECODER, decoder)
                .addLast(PipelineNames.UPSTREAM_ENCODER, new UpstreamRequestEncoder())
                .addLast(PipelineNames.UPSTREAM_RELAY, connection);
    }
}
