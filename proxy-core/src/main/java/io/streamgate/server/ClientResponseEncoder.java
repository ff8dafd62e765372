package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Netty's HTTP/1.1 response encoder, except that a small chunk of a chunked body leaves as one buffer (size line,
 * data, CRLF) instead of three. Every relayed event of a stream is such a chunk, so this saves two outbound-buffer
 * entries (each with its pipeline write, bookkeeping and iovec) per event, for a copy of a few hundred bytes.
 * Likewise a small body framed by its length leaves in the buffer of its head: the head is held until the body's end
 * is written or the channel is flushed, whichever comes first, so nothing waits longer than it would have. Header
 * lines are written by {@link HeaderLines}. The bytes on the wire are exactly Netty's.
 */
final class ClientResponseEncoder extends HttpResponseEncoder {
    /** Up to this many bytes, copying the data is cheaper than writing the size line and CRLF as buffers of their own. */
    static final int COPY_LIMIT = 2048;
    private static final short CRLF = ('\r' << 8) | '\n';
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** Whether the message being encoded has a chunked body: Netty's own state is private. */
    private boolean chunkedBody;
    /** The encoded head of a small body framed by its length, written with that body's end or at the next flush. */
    private ByteBuf heldHead;
    private final List<Object> headOut = new ArrayList<>(1);

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        // Only a head nobody waits on (the exchange writes heads with the void promise), so none completes late.
        int length;
        if (promise.isVoid() && msg.getClass() == DefaultHttpResponse.class && heldHead == null
                && (length = smallBodyLength((HttpResponse) msg)) > 0) {
            encode(ctx, msg, headOut);
            ByteBuf head = (ByteBuf) headOut.get(0);
            headOut.clear();
            // Held when the body fits the room the allocator's size class left in the head's buffer (usually a few
            // hundred bytes): appending it then copies only the body.
            if (length <= head.maxFastWritableBytes()) {
                heldHead = head;
            } else {
                ctx.write(head, promise);
            }
            return;
        }
        super.write(ctx, msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writeHeldHead(ctx);
        ctx.flush();
    }

    /** Also when the channel closes: the head goes where it would have gone, to a write that fails and releases it. */
    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        writeHeldHead(ctx);
    }

    private void writeHeldHead(ChannelHandlerContext ctx) {
        if (heldHead != null) {
            ByteBuf head = heldHead;
            heldHead = null;
            ctx.write(head, ctx.voidPromise());
        }
    }

    /** The length of a body framed by it, up to {@link #COPY_LIMIT}; else 0. */
    private int smallBodyLength(HttpResponse head) {
        String length = head.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        if (length == null || isContentAlwaysEmpty(head) || head.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return 0;
        }
        try {
            int n = Integer.parseInt(length);
            return n <= COPY_LIMIT ? Math.max(n, 0) : 0;
        } catch (NumberFormatException e) {
            return 0; // Netty's encoder sends it as it is; so do we, unheld
        }
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
        if (heldHead != null) {
            if (msg instanceof LastHttpContent) {
                super.encode(ctx, msg, out); // the body's bytes (or an empty buffer), and Netty's state reset
                ByteBuf body = (ByteBuf) out.get(0);
                // A body longer than its head said follows the head as Netty would send it.
                if (body.readableBytes() <= heldHead.maxFastWritableBytes()) {
                    out.set(0, withBody(heldHead, body));
                    heldHead = null;
                } else {
                    writeHeldHead(ctx);
                }
                return;
            }
            writeHeldHead(ctx); // the body comes in parts: each leaves as Netty sends it, after the head
        }
        // An exact class check first: it costs nothing, where interface checks on hot message classes can contend.
        if (chunkedBody && msg.getClass() == DefaultHttpContent.class) {
            DefaultHttpContent chunk = (DefaultHttpContent) msg;
            int n = chunk.content().readableBytes();
            if (n > 0 && n <= COPY_LIMIT) {
                try {
                    out.add(frame(ctx, chunk.content(), n));
                } finally {
                    chunk.release();
                }
                return;
            }
        } else if (msg instanceof LastHttpContent) {
            chunkedBody = false; // the message ends here (a full response included)
        } else if (msg instanceof HttpResponse) {
            HttpResponse head = (HttpResponse) msg;
            // The same decision Netty's encoder takes for the body of this message.
            chunkedBody = !isContentAlwaysEmpty(head) && HttpUtil.isTransferEncodingChunked(head);
        }
        super.encode(ctx, msg, out);
    }

    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
        HeaderLines.write(headers, buf);
    }

    /** {@code head} with {@code body}'s bytes appended; the body is released. */
    private static ByteBuf withBody(ByteBuf head, ByteBuf body) {
        int n = body.readableBytes();
        if (n > 0) {
            head.ensureWritable(n); // within the head's fast-writable room, checked before: no copy
            int at = head.writerIndex();
            body.getBytes(body.readerIndex(), head, at, n); // see frame: the slice's parent copies memory to memory
            head.writerIndex(at + n);
        }
        body.release();
        return head;
    }

    private static ByteBuf frame(ChannelHandlerContext ctx, ByteBuf data, int n) {
        int digits = (35 - Integer.numberOfLeadingZeros(n)) >> 2; // hex digits of n, n > 0
        ByteBuf framed = ctx.alloc().buffer(digits + 4 + n);
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
            framed.writeByte(HEX[(n >>> shift) & 0xf]);
        }
        framed.writeShort(CRLF);
        // Read from the data rather than written into the frame: the chunk is a slice of the decoder's buffer, and
        // the frame's writeBytes would wrap both in new NIO buffers to copy (two objects and their bookkeeping per
        // event, ≈ 10 % of the event loops' samples with many streams); the slice's getBytes reaches its pooled
        // parent, which copies memory to memory.
        int at = framed.writerIndex();
        data.getBytes(data.readerIndex(), framed, at, n);
        framed.writerIndex(at + n);
        framed.writeShort(CRLF);
        return framed;
    }
}
