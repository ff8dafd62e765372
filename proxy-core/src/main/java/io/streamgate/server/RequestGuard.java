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
            return fromDecoderFailure(result.cause(), msg);
        }
        if (msg instanceof HttpRequest) {
            HttpRequest req = (HttpRequest) msg;
            if (req.headers().size() > maxHeaders) {
                return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "too many header fields (limit " + maxHeaders + ")", req);
            }
            String te = req.headers().get(HttpHeaderNames.TRANSFER_ENCODING);
            if (te != null && (!te.trim().equalsIgnoreCase("chunked") || req.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING).size() > 1)) {
                return new RejectedRequest(ProxyError.BAD_REQUEST, "unsupported Transfer-Encoding: only 'chunked' is accepted", req);
            }
        }
        return null;
    }

    /**
     * The two failures that can only happen in the header block come on the head the request line made, which names
     * the request; any other may have come from the request line, on the decoder's stand-in head, which names nothing.
     */
    private static RejectedRequest fromDecoderFailure(Throwable cause, HttpObject msg) {
        if (cause instanceof TooLongHttpLineException) {
            return new RejectedRequest(ProxyError.REQUEST_LINE_TOO_LONG, "request line too long");
        }
        HttpRequest head = msg instanceof HttpRequest ? (HttpRequest) msg : null;
        if (cause instanceof TooLongHttpHeaderException) {
            return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "request header fields too large", head);
        }
        if (cause instanceof StrictRequestDecoder.AmbiguousFramingException) {
            return new RejectedRequest(ProxyError.BAD_REQUEST, cause.getMessage(), head);
        }
        if (cause instanceof TooLongFrameException) {
            return new RejectedRequest(ProxyError.HEADERS_TOO_LARGE, "request too large");
        }
        String what = head == null && msg instanceof HttpContent ? "malformed request body: " : "malformed request: ";
        return new RejectedRequest(ProxyError.BAD_REQUEST, what + cause.getMessage());
    }
}
