package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import java.util.List;

/**
 * On a plain listener with h2c enabled: a connection that opens with the HTTP/2 client preface speaks HTTP/2 with
 * prior knowledge; anything else is HTTP/1.1. Decides on the first bytes, then steps aside (the bytes it looked
 * at are passed on untouched).
 */
final class PriorKnowledgeDetector extends ByteToMessageDecoder {
    private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
    private final Gateway gateway;

    PriorKnowledgeDetector(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
        if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, 0, n)) {
            Http1Pipeline.configure(ctx.pipeline(), gateway, false);
        } else if (n == PREFACE.readableBytes()) {
            Http2Pipeline.configure(ctx.pipeline(), gateway, false);
        } else {
            ctx.read(); // a prefix of the preface so far: wait for more (auto-read is off)
            return;
        }
        ctx.pipeline().remove(this);
    }
}
