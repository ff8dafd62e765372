package io.streamgate.server.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpContentException;
import java.util.List;

/**
 * The admin listener's aggregator. A request whose body is over the limit goes on to the admin handler as a request
 * that failed to decode ({@link TooLongHttpContentException}), which answers {@code 413} like its other errors. Netty's
 * aggregator wrote its own bare {@code 413} from here instead: no JSON error, and unseen by {@link AdminTimeouts},
 * which then took the connection for one still sending its request and could answer {@code 408} after it. For the same
 * reason the rest of a refused body, discarded here, is reported to {@link AdminTimeouts} as such
 * ({@link Event#BODY_DISCARDED}).
 */
final class AdminAggregator extends HttpObjectAggregator {
    /** Fired for each discarded piece of a refused body: bytes of a request already answered, not of a new one. */
    enum Event { BODY_DISCARDED }

    /** Set while the rest of a refused body is discarded on a connection that goes on after it. */
    private boolean discarding;

    AdminAggregator(int maxContentLength) {
        super(maxContentLength);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out) throws Exception {
        if (discarding && msg instanceof HttpContent) {
            discarding = !(msg instanceof LastHttpContent);
            ctx.fireUserEventTriggered(Event.BODY_DISCARDED);
        }
        super.decode(ctx, msg, out);
    }

    /** A body announced too large with {@code Expect: 100-continue} is refused as one announced without it. */
    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        if (HttpUtil.is100ContinueExpected(start) && HttpUtil.getContentLength(start, -1L) > maxContentLength) {
            return null;
        }
        return super.newContinueResponse(start, maxContentLength, pipeline);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
        if (!(oversized instanceof HttpRequest request)) {
            super.handleOversizedMessage(ctx, oversized);
            return;
        }
        // The connection goes on, or not, as after Netty's own 413: it ends when the body was found too large while
        // it was being taken in, or when the client neither keeps the connection nor waits for 100 Continue;
        // otherwise the body is discarded as it comes and the next request is read. Only the method, target and
        // version are kept: the aggregator releases `oversized` after this call.
        boolean close = oversized instanceof FullHttpMessage
                || !HttpUtil.is100ContinueExpected(oversized) && !HttpUtil.isKeepAlive(oversized);
        FullHttpRequest refused = new DefaultFullHttpRequest(request.protocolVersion(), request.method(), request.uri(),
                Unpooled.EMPTY_BUFFER);
        HttpUtil.setKeepAlive(refused, !close);
        discarding = !close;
        refused.setDecoderResult(DecoderResult.failure(new TooLongHttpContentException(
                "the request body is over " + maxContentLength() + " bytes, the most the admin listener takes")));
        ctx.fireChannelRead(refused);
    }
}
