package io.streamgate.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;

/**
 * One connection to a backend endpoint and the last handler of its pipeline. While leased it hands everything to the
 * leasing exchange; while idle in the pool it keeps a read pending so that a backend closing the idle connection
 * (uvicorn does after 5 s) is noticed at once and the connection leaves the pool.
 */
public final class UpstreamConnection extends ChannelInboundHandlerAdapter {
    private final EndpointPool pool;
    private Channel channel;
    private UpstreamResponseDecoder decoder;
    private UpstreamListener listener;
    private int uses;
    private long idleSinceNanos;

    UpstreamConnection(EndpointPool pool) {
        this.pool = pool;
    }

    public Channel channel() {
        return channel;
    }

    /** How many exchanges have used this connection, this one included. */
    public int uses() {
        return uses;
    }

    public boolean isReused() {
        return uses > 1;
    }

    /** The endpoint's {@code host:port}, as the access log shows it. */
    public String authority() {
        return pool.endpointAuthority();
    }

    /**
     * Closes the connection on behalf of an exchange that gives up on it. The exchange hears nothing more from it:
     * failing its pending writes must not call back into an exchange that is already ending.
     */
    public void abandon() {
        this.listener = null;
        channel.close();
    }

    /**
     * The exchange is over at {@code now} (System.nanoTime(), which the caller has read already); {@code reusable} is
     * false when the connection's state is uncertain.
     */
    public void release(boolean reusable, long now) {
        this.listener = null;
        // Bytes already read past the end of the response would be decoded as the next exchange's response.
        pool.release(this, reusable && channel.isActive() && !decoder.hasUnreadBytes(), now);
    }

    /** Starts an exchange on this leased connection (the pool itself knows nothing about exchanges). */
    public void attach(UpstreamListener l) {
        this.listener = l;
        uses++;
    }

    void decodeWith(UpstreamResponseDecoder responseDecoder) {
        this.decoder = responseDecoder;
    }

    /** Writes (without flushing) the head of the leasing exchange's request. */
    public void writeRequestHead(HttpRequest request) {
        decoder.expectResponseTo(request.method());
        channel.write(request, channel.voidPromise());
    }

    void markIdle(long now) {
        idleSinceNanos = now;
        channel.read();
    }

    long idleSinceNanos() {
        return idleSinceNanos;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        UpstreamListener l = listener;
        if (l != null && msg instanceof HttpObject) {
            l.onUpstreamMessage((HttpObject) msg);
        } else {
            // Bytes on an idle connection are a protocol violation: the connection cannot be trusted any more.
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamWritabilityChanged(ctx.channel().isWritable());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        listener = null;
        pool.closed(this);
        if (l != null) {
            l.onUpstreamClosed(null);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        UpstreamListener l = listener;
        listener = null;
        ctx.close();
        if (l != null) {
            l.onUpstreamClosed(cause);
        }
    }
}
