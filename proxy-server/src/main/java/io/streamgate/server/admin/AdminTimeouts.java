package io.streamgate.server.admin;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.ScheduledFuture;
import io.streamgate.config.ServerConfig;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The main listener's two client deadlines, on an admin connection: with no request being answered it is closed after
 * {@code server.client_idle_timeout}, and a request must arrive whole within {@code server.limits.request_header_timeout}
 * of its first bytes, or it gets {@code 408} and the connection is closed (slowloris). Both are read from the running
 * configuration at each wait, so a reload applies from the next one. Sits behind the aggregator: it sees whole
 * requests coming in (one refused as too large too) and whole responses going out. Touched only on the channel's event loop.
 */
final class AdminTimeouts extends ChannelDuplexHandler {
    private final Supplier<ServerConfig> server;
    private ScheduledFuture<?> idleTimer;
    private ScheduledFuture<?> requestTimer;
    /** Requests read and not yet answered; the clocks stand still while there are any. */
    private int unanswered;
    private boolean decodedThisRead;

    AdminTimeouts(Supplier<ServerConfig> server) {
        this.server = server;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        startIdleClock(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest) {
            decodedThisRead = true;
            unanswered++;
            cancel();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == AdminAggregator.Event.BODY_DISCARDED) {
            // The rest of a request already answered (413): these bytes did not begin a new one.
            decodedThisRead = true;
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Bytes came in but no whole request: a request has begun and its clock starts (once).
        if (!decodedThisRead && unanswered == 0 && requestTimer == null && ctx.channel().isActive()) {
            long timeout = server.get().limits().requestHeaderTimeout().toNanos();
            requestTimer = ctx.executor().schedule(() -> requestTimedOut(ctx), timeout, TimeUnit.NANOSECONDS);
        }
        decodedThisRead = false;
        ctx.fireChannelReadComplete();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof FullHttpResponse && unanswered > 0 && --unanswered == 0) {
            startIdleClock(ctx);
        }
        ctx.write(msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    /** As on the main listener, the idle clock also runs while a request is being sent, until it is whole. */
    private void startIdleClock(ChannelHandlerContext ctx) {
        long timeout = server.get().clientIdleTimeout().toNanos();
        idleTimer = ctx.executor().schedule(() -> {
            if (unanswered == 0) {
                ctx.close();
            }
        }, timeout, TimeUnit.NANOSECONDS);
    }

    private void requestTimedOut(ChannelHandlerContext ctx) {
        requestTimer = null;
        if (unanswered > 0) {
            return;
        }
        cancel();
        AdminResponses.write(ctx, false, AdminResponses.response(HttpResponseStatus.REQUEST_TIMEOUT,
                AdminResponses.error("the request did not arrive in time")));
    }

    private void cancel() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
            idleTimer = null;
        }
        if (requestTimer != null) {
            requestTimer.cancel(false);
            requestTimer = null;
        }
    }
}
