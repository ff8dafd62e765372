package io.streamgate.server;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.streamgate.config.ServerConfig;

/** Adds the HTTP/1.1 handlers to a client connection. */
final class Http1Pipeline {
    private Http1Pipeline() {
    }

    static void configure(ChannelPipeline p, Gateway gateway, boolean tls) {
        ServerConfig.Limits limits = gateway.snapshot().config().server().limits();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxRequestLine())
                .setMaxHeaderSize(limits.maxHeaderSize())
                .setMaxChunkSize(64 * 1024)
                .setAllowDuplicateContentLengths(false)
                .setUseRfc9112TransferEncoding(true)
                .setStrictLineParsing(true)
                // Names must be tokens (the constant names we set ourselves pass without a check, see
                // TrustedHeaderNames); values must not hold NUL, CR or other control characters.
                .setHeadersFactory(TrustedHeaderNames.headersFactory().withValueValidation(true))
                .setTrailersFactory(CompactTrailers.factory());
        p.addLast(PipelineNames.DECODER, new StrictRequestDecoder(decoder))
                .addLast(PipelineNames.ENCODER, new ClientResponseEncoder())
                .addLast(PipelineNames.GUARD, new RequestGuard(limits.maxHeaders()))
                .addLast(PipelineNames.EXCHANGE, new ClientConnectionHandler(gateway, tls ? "https" : "http", false));
    }
}
