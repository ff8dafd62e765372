package io.streamgate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One text/event-stream response, driven by a timer on the connection's own event loop (no extra threads,
 * no locks). Each event is written and flushed on its own, like a token from an inference server.
 */
final class SseStream implements Runnable {
    private final ChannelHandlerContext ctx;
    private final int events;
    private final int intervalMs;
    private int sent;
    private ScheduledFuture<?> timer;
    private boolean finished;

    SseStream(ChannelHandlerContext ctx, int events, int intervalMs) {
        this.ctx = ctx;
        this.events = events;
        this.intervalMs = intervalMs;
    }

    void start() {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_EVENT_STREAM)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE)
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        ctx.writeAndFlush(head);
        if (intervalMs == 0) {
            // Back to back: a throughput test; the probe reads fast, so no writability handling.
            while (!finished) {
                run();
            }
        } else {
            timer = ctx.executor().scheduleAtFixedRate(this, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void run() {
        if (finished) {
            return;
        }
        if (!ctx.channel().isActive()) {
            cancel();
            return;
        }
        if (sent < events) {
            sent++;
            ctx.writeAndFlush(new DefaultHttpContent(event(sent)));
            return;
        }
        ByteBuf done = ByteBufUtil.writeAscii(ctx.alloc(), "data: [DONE]\n\n");
        ctx.write(new DefaultHttpContent(done));
        // HttpServerKeepAliveHandler closes the connection here if the request asked for it.
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        cancel();
    }

    void cancel() {
        finished = true;
        if (timer != null) {
            timer.cancel(false);
        }
    }

    /** Shaped like a vLLM chat.completion.chunk (~190 B); the send time is taken as late as possible. */
    private ByteBuf event(int index) {
        String data = "data: {\"t\":" + System.nanoTime() + ",\"i\":" + index
                + ",\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                + "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},"
                + "\"finish_reason\":null}]}\n\n";
        return ByteBufUtil.writeAscii(ctx.alloc(), data);
    }
}
