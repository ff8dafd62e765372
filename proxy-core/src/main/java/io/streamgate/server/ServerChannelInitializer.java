package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.streamgate.config.ServerConfig;

/** Builds a client connection's pipeline in the order {@link PipelineNames} documents. */
final class ServerChannelInitializer extends ChannelInitializer<Channel> {
    private final Gateway gateway;
    private final ChannelGroup connections;

    ServerChannelInitializer(Gateway gateway, ChannelGroup connections) {
        this.gateway = gateway;
        this.connections = connections;
    }

    @Override
    protected void initChannel(Channel ch) {
        ServerConfig.Limits limits = gateway.snapshot().config().server().limits();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxRequestLine())
                .setMaxHeaderSize(limits.maxHeaderSize())
                .setMaxChunkSize(64 * 1024)
                .setAllowDuplicateContentLengths(false)
                .setUseRfc9112TransferEncoding(true)
                .setStrictLineParsing(true);
        ch.pipeline()
                .addLast(PipelineNames.DECODER, new StrictRequestDecoder(decoder))
                .addLast(PipelineNames.ENCODER, new HttpResponseEncoder())
                .addLast(PipelineNames.GUARD, new RequestGuard(limits.maxHeaders()))
                .addLast(PipelineNames.EXCHANGE, new ClientConnectionHandler(gateway));
        connections.add(ch);
    }
}
