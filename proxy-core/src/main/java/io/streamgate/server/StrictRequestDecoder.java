package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * Netty's request decoder, made to refuse rather than repair what request smuggling is built from:
 * <ul>
 *   <li>both Content-Length and Transfer-Encoding (RFC 9112 §6.1): Netty would drop the Content-Length and carry on;</li>
 *   <li>obsolete line folding (a header line starting with a space or tab, RFC 9112 §5.2): Netty would join it to the
 *       previous value, while another server in the chain may read it as a header of its own.</li>
 * </ul>
 * Folding is found by scanning each request head as its bytes arrive, once, before Netty parses it.
 */
final class StrictRequestDecoder extends HttpRequestDecoder {
    /** True while the bytes at the reader index belong to a request head (not a body). */
    private boolean inHead = true;
    /** Bytes past the reader index already scanned, so slowly arriving heads are not rescanned (quadratic). */
    private int scannedAhead;
    private byte previous;
    /** Whether the current head has begun (leading blank lines are allowed before a request line). */
    private boolean headStarted;
    private boolean refused;

    StrictRequestDecoder(HttpDecoderConfig config) {
        super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (refused) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (inHead && foldsALine(in)) {
            refused = true;
            in.skipBytes(in.readableBytes());
            out.add(new RejectedRequest(ProxyError.BAD_REQUEST, "obsolete line folding in the request headers"));
            return;
        }
        int before = in.readerIndex();
        int produced = out.size();
        super.decode(ctx, in, out);
        scannedAhead = Math.max(0, scannedAhead - (in.readerIndex() - before));
        for (int i = produced; i < out.size(); i++) {
            Object msg = out.get(i);
            if (msg instanceof HttpRequest) {
                inHead = false;
            }
            if (msg instanceof LastHttpContent) {
                inHead = true;
                headStarted = false;
                previous = 0;
                scannedAhead = 0;
            }
        }
    }

    /**
     * Scans the new bytes of the head for a line that starts with whitespace; stops at the head's blank line. Only
     * the byte after each line feed matters, so the scan jumps from one line feed to the next ({@link
     * ByteBuf#indexOf} compares eight bytes at a time) instead of reading every byte of the head.
     */
    private boolean foldsALine(ByteBuf in) {
        int i = in.readerIndex() + scannedAhead;
        int end = in.writerIndex();
        while (!headStarted && i < end) { // blank lines before the request line are allowed (RFC 9112 §2.2)
            byte b = in.getByte(i++);
            headStarted = b != '\r' && b != '\n';
            previous = b;
        }
        while (i < end) {
            if (previous == '\n') {
                byte b = in.getByte(i);
                if (b == ' ' || b == '\t') {
                    return true;
                }
                if (b == '\r' || b == '\n') {
                    // The blank line ends the head: what follows is a body, which may hold anything.
                    scannedAhead = i + 1 - in.readerIndex();
                    previous = b;
                    inHead = false; // nothing more to scan until Netty reports the end of this message
                    return false;
                }
            }
            int lineFeed = in.indexOf(i, end, (byte) '\n');
            if (lineFeed < 0) {
                previous = in.getByte(end - 1);
                i = end;
            } else {
                previous = '\n';
                i = lineFeed + 1;
            }
        }
        scannedAhead = end - in.readerIndex();
        return false;
    }

    /** Names the gateway knows come out as its constants (see {@link KnownHeaderNames}). */
    @Override
    protected AsciiString splitHeaderName(byte[] bytes, int start, int length) {
        AsciiString known = KnownHeaderNames.find(bytes, start, length);
        return known != null ? known : super.splitHeaderName(bytes, start, length);
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
        throw new AmbiguousFramingException();
    }

    /** Marks the decoder failure that {@link RequestGuard} answers with 400. */
    static final class AmbiguousFramingException extends IllegalArgumentException {
        AmbiguousFramingException() {
            super("both Content-Length and Transfer-Encoding are present");
        }
    }
}
