package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;

/**
 * Checks every decoded request before anything acts on it: decoder failures become 414, 431 or 400, as do too
 * many header fields and transfer codings we cannot relay faithfully. After a rejection the rest of the
 * connection's input is dropped; the exchange handler answers and closes.
 */
final class RequestGuard extends ChannelInboundHandlerAdapter {
    private final int maxHeaders;
    private boolean rejected;

    RequestGuard(int maxHeaders) {
        this.maxHeaders = maxHeaders;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (rejected) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!(msg instanceof HttpObject)) {
            ctx.fireChannelRead(msg);
            return;
        }
        RejectedRequest rejection = check((HttpObject) msg);
        if (rejection == null) {
            ctx.fireChannelRead(msg);
            return;
        }
        ReferenceCountUtil.release(msg);
        rejected = true;
        ctx.fireChannelRead(rejection);
    }

    private RejectedRequest check(HttpObject msg) {
        DecoderResult result = msg.decoderResult();
        if (result.isFailure()) {
            return fromDecoderFailure(result.cause(), msg instanceof HttpContent && !(msg instanceof HttpRequest));
        }
        if (msg instanceof HttpRequest) {
            HttpRequest req = (HttpRequest) msg;
            if (req.headers().size() > maxHeaders) {
                return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "too many header fields (limit " + maxHeaders + ")");
            }
            String te = req.headers().get(HttpHeaderNames.TRANSFER_ENCODING);
            if (te != null && (!te.trim().equalsIgnoreCase("chunked") || req.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING).size() > 1)) {
                return new RejectedRequest(ProxyError.BAD_REQUEST, "unsupported Transfer-Encoding: only 'chunked' is accepted");
            }
        }
        return null;
    }

    private static RejectedRequest fromDecoderFailure(Throwable cause, boolean inBody) {
        if (cause instanceof TooLongHttpLineException) {
            return new RejectedRequest(ProxyError.REQUEST_LINE_TOO_LONG, "request line too long");
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "request header fields too large");
        }
        if (cause instanceof StrictRequestDecoder.AmbiguousFramingException) {
            return new RejectedRequest(ProxyError.BAD_REQUEST, cause.getMessage());
        }
        if (cause instanceof TooLongFrameException) {
            return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "request too large");
        }
        String what = inBody ? "malformed request body: " : "malformed request: ";
        return new RejectedRequest(ProxyError.BAD_REQUEST, what + cause.getMessage());
    }
}
