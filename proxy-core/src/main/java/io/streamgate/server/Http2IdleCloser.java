package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes an HTTP/2 connection that has had no open stream for client_idle_timeout. Plain I/O idleness is the wrong
 * test: a stream may legitimately wait minutes for vLLM's first token with no frame in either direction.
 */
final class Http2IdleCloser extends ChannelInboundHandlerAdapter {
    private final Http2FrameCodec codec;
    private final long idleNanos;
    private long idleSince;
    private ScheduledFuture<?> check;

    Http2IdleCloser(Http2FrameCodec codec, Duration idle) {
        this.codec = codec;
        this.idleNanos = idle.toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        idleSince = System.nanoTime();
        long period = Math.max(TimeUnit.MILLISECONDS.toNanos(100), idleNanos / 4);
        check = ctx.executor().scheduleWithFixedDelay(() -> {
            long now = System.nanoTime();
            if (codec.connection().numActiveStreams() > 0) {
                idleSince = now;
            } else if (now - idleSince >= idleNanos) {
                ctx.close();
            }
        }, period, period, TimeUnit.NANOSECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        check.cancel(false);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        check.cancel(false);
        ctx.fireChannelInactive();
    }
}
