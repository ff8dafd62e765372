package io.streamgate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * Runs SSE requests one after another on one keep-alive connection (only one in fixed mode), splits the body into
 * events at blank lines (the body may arrive re-chunked by a proxy, so bytes are accumulated), and records each
 * event's latency.
 */
final class ProbeConnectionHandler extends SimpleChannelInboundHandler<HttpObject> {
    private static final byte[] SEND_TIME_KEY = "\"t\":".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA_PREFIX = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    private final ProbeRun run;
    private final ProbeSlot slot;
    private final String pathAndQuery;
    private final String hostHeader;
    private ByteBuf pending;
    private boolean inStream;
    private boolean sawDone;
    private boolean failed;

    ProbeConnectionHandler(ProbeRun run, ProbeSlot slot) {
        this.run = run;
        this.slot = slot;
        URI url = run.url();
        this.pathAndQuery = url.getRawQuery() == null ? url.getRawPath() : url.getRawPath() + "?" + url.getRawQuery();
        this.hostHeader = url.getHost() + ":" + url.getPort();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        pending = ctx.alloc().heapBuffer(4096);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        pending.release();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        run.connected();
        sendRequest(ctx);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        long receivedAt = System.nanoTime();
        if (msg.decoderResult().isFailure()
                || msg instanceof HttpResponse response && response.status().code() != 200) {
            fail(ctx);
            return;
        }
        if (msg instanceof HttpContent content) {
            pending.writeBytes(content.content());
            scanEvents(receivedAt);
            if (msg instanceof LastHttpContent) {
                endStream(ctx, receivedAt);
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (inStream) {
            run.error();
            failed = true;
        }
        slot.connectionEnded(failed);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private void sendRequest(ChannelHandlerContext ctx) {
        inStream = true;
        sawDone = false;
        pending.clear();
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, pathAndQuery,
                Unpooled.EMPTY_BUFFER);
        request.headers()
                .set(HttpHeaderNames.HOST, hostHeader)
                .set(HttpHeaderNames.ACCEPT, HttpHeaderValues.TEXT_EVENT_STREAM);
        ctx.writeAndFlush(request);
    }

    private void endStream(ChannelHandlerContext ctx, long now) {
        inStream = false;
        if (!sawDone) {
            fail(ctx);
            return;
        }
        run.streamCompleted();
        if (run.fixed() || run.pastDeadline(now)) {
            ctx.close();
        } else {
            sendRequest(ctx);
        }
    }

    private void fail(ChannelHandlerContext ctx) {
        inStream = false;
        failed = true;
        run.error();
        ctx.close();
    }

    private void scanEvents(long receivedAt) {
        int boundary;
        while ((boundary = findBlankLine(pending)) >= 0) {
            onEvent(pending, pending.readerIndex(), boundary, receivedAt);
            pending.readerIndex(boundary + 2);
        }
        pending.discardReadBytes();
    }

    /** Index of the first "\n\n" in the readable bytes, or -1. */
    private static int findBlankLine(ByteBuf buf) {
        int end = buf.writerIndex();
        int from = buf.readerIndex();
        while (true) {
            int newline = buf.indexOf(from, end, (byte) '\n');
            if (newline < 0 || newline + 1 >= end) {
                return -1;
            }
            if (buf.getByte(newline + 1) == '\n') {
                return newline;
            }
            from = newline + 1;
        }
    }

    /**
     * One event in {@code buf[from, to)}. Read in place, without building a String: at thousands of streams the
     * probe shares the machine with what it measures, so it must stay cheap per event.
     */
    private void onEvent(ByteBuf buf, int from, int to, long receivedAt) {
        if (!startsWith(buf, from, to, DATA_PREFIX)) {
            return; // comments (heartbeats) and other fields carry no timestamp
        }
        int data = from + DATA_PREFIX.length;
        if (startsWith(buf, data, to, DONE)) {
            sawDone = true;
            return;
        }
        int key = indexOf(buf, data, to, SEND_TIME_KEY);
        if (key < 0) {
            return;
        }
        int i = key + SEND_TIME_KEY.length;
        boolean negative = i < to && buf.getByte(i) == '-';
        if (negative) {
            i++;
        }
        long value = 0;
        int digits = 0;
        for (byte b; i < to && (b = buf.getByte(i)) >= '0' && b <= '9'; i++, digits++) {
            value = value * 10 + (b - '0');
        }
        if (digits > 0) {
            run.recordLatency(negative ? -value : value, receivedAt);
        }
    }

    private static boolean startsWith(ByteBuf buf, int from, int to, byte[] prefix) {
        if (to - from < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (buf.getByte(from + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static int indexOf(ByteBuf buf, int from, int to, byte[] needle) {
        for (int i = from; i <= to - needle.length; i++) {
            if (startsWith(buf, i, to, needle)) {
                return i;
            }
        }
        return -1;
    }
}
