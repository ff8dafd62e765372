package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The end of an HTTP/1.1 connection whose answer was sent before its request was read to the end (a 413 for a declared
 * length, a policy's refusal, a backend that answered early). Closing at once would leave the unread body in the
 * socket, and the kernel answers a close with unread data (or data still arriving) with a reset: that discards what of
 * the answer still sits in our send buffer, breaks the client's upload (curl's "Send failure", the JDK's IOException)
 * before it may have read the answer, and on some stacks drops the answer the client had received but not yet read.
 * So, as nginx's lingering_close: once the answer is written our side is half-closed (the client sees the end of the
 * stream), and whatever the client still sends is read and dropped until it closes, or until a bound is reached, and
 * only then is the connection closed.
 *
 * <p>The bounds are fixed, like nginx's defaults, rather than configured: {@link #IDLE_NANOS} (5 s) between reads
 * (nginx's lingering_timeout), {@link #TOTAL_NANOS} (30 s) in all (lingering_time), and, which nginx lacks,
 * {@link #MAX_BYTES} (8 MiB) read, so a client sending at line rate cannot keep the gateway reading (and paying for
 * it) all that time. A client that has its answer stops sending and closes within a round trip or two; the bounds only
 * cut clients that do not, and still give them lingering_timeout to read the answer.
 *
 * <p>The HTTP handlers are removed first, so the dropped bytes are never decoded as requests, and the connection is
 * no longer an exchange's: a drain neither waits for it nor counts it as idle, and the drain's final close ends it.
 * Over TLS the TCP output is not shut down (TLS records would then be cut under the SslHandler); the client learns the
 * answer's end from its framing and its {@code Connection: close}, and the SslHandler stays to read the records the
 * client still sends, and sends close_notify at the final close.
 */
final class LingeringClose extends ChannelInboundHandlerAdapter {
    private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long TOTAL_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long MAX_BYTES = 8L * 1024 * 1024;

    private final long deadline;
    private long lastRead;
    private long budget = MAX_BYTES;
    private ScheduledFuture<?> timer;

    private LingeringClose(long now) {
        this.deadline = now + TOTAL_NANOS;
        this.lastRead = now;
    }

    /**
     * Starts lingering on an HTTP/1.1 connection whose answer has been written; called on its event loop, outside of
     * any of its handlers' callbacks.
     */
    static void start(Channel ch) {
        if (!ch.isActive()) {
            return;
        }
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.LINGERING_CLOSE, new LingeringClose(System.nanoTime()));
        // The decoder last: on removal it hands the bytes it holds to the next handler, which is now this one.
        for (String name : new String[] {PipelineNames.EXCHANGE, PipelineNames.GUARD, PipelineNames.ENCODER,
                PipelineNames.DECODER}) {
            if (p.context(name) != null) {
                p.remove(name);
            }
        }
        if (ch instanceof DuplexChannel && p.get(SslHandler.class) == null) {
            ((DuplexChannel) ch).shutdownOutput();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        schedule(ctx);
        ctx.read();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        timer.cancel(false);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // Plain bytes, or a last piece the decoder was decoding when it was removed.
        if (msg instanceof ByteBuf) {
            budget -= ((ByteBuf) msg).readableBytes();
        } else if (msg instanceof ByteBufHolder) {
            budget -= ((ByteBufHolder) msg).content().readableBytes();
        }
        lastRead = System.nanoTime();
        ReferenceCountUtil.release(msg);
    }

    /**
     * Past {@link #MAX_BYTES} reading stops, rather than the connection closing: a close now could still reset it
     * under an answer the client has yet to read; it comes with the idle bound instead, which then runs out.
     */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (budget > 0) {
            ctx.read();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // a reset: the client has gone
    }

    private void schedule(ChannelHandlerContext ctx) {
        long next = Math.min(deadline, lastRead + IDLE_NANOS);
        timer = ctx.executor().schedule(() -> onTimer(ctx), Math.max(0, next - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void onTimer(ChannelHandlerContext ctx) {
        long now = System.nanoTime();
        if (now - deadline >= 0 || now - (lastRead + IDLE_NANOS) >= 0) {
            ctx.close();
        } else {
            schedule(ctx);
        }
    }
}
