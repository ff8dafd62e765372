package io.streamgate.server;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.util.function.IntSupplier;

/**
 * The optional plain listener: answers every request with 308 to the same host and target on the TLS listener
 * (308 rather than 301 so a POST stays a POST), then closes.
 */
final class RedirectToHttpsHandler extends ChannelInboundHandlerAdapter {
    private final IntSupplier tlsPort;

    RedirectToHttpsHandler(IntSupplier tlsPort) {
        this.tlsPort = tlsPort;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!(msg instanceof HttpRequest)) {
                return;
            }
            HttpRequest req = (HttpRequest) msg;
            String host = req.decoderResult().isSuccess() ? hostOf(req.headers().get(HttpHeaderNames.HOST)) : null;
            String target = req.uri();
            FullHttpResponse response;
            if (host == null || !target.startsWith("/") || !RequestTarget.isCleanTarget(target)) {
                response = ErrorResponses.of(ctx.alloc(), ProxyError.BAD_REQUEST, "a valid Host and request target are needed",
                        RequestIds.generate(), true);
            } else {
                int port = tlsPort.getAsInt();
                String location = "https://" + host + (port == 443 ? "" : ":" + port) + target;
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PERMANENT_REDIRECT);
                response.headers().set(HttpHeaderNames.LOCATION, location)
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, 0)
                        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    /** The host part of a Host header, or null when it is not a plausible host[:port]. */
    private static String hostOf(String hostHeader) {
        if (hostHeader == null || !RequestTarget.isValidHost(hostHeader)) {
            return null;
        }
        String h = hostHeader.trim();
        if (h.startsWith("[")) {
            return h.substring(0, h.indexOf(']') + 1);
        }
        int colon = h.indexOf(':');
        return colon < 0 ? h : h.substring(0, colon);
    }
}
