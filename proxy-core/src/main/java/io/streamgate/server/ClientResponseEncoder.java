package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Netty's HTTP/1.1 response encoder, except that a small chunk of a chunked body leaves as one buffer (size line,
 * data, CRLF) instead of three. Every relayed event of a stream is such a chunk, so this saves two outbound-buffer
 * entries (each with its pipeline write, bookkeeping and iovec) per event, for a copy of a few hundred bytes.
 * Header lines are written by {@link HeaderLines}. The bytes on the wire are exactly Netty's.
 */
final class ClientResponseEncoder extends HttpResponseEncoder {
    /** Up to this many bytes, copying the data is cheaper than writing the size line and CRLF as buffers of their own. */
    static final int COPY_LIMIT = 2048;
    private static final short CRLF = ('\r' << 8) | '\n';
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** Whether the message being encoded has a chunked body: Netty's own state is private. */
    private boolean chunkedBody;

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
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
