package io.streamgate.server;

import io.netty.buffer.ByteBuf;

/**
 * Whether what an event stream relayed so far ends at an event boundary: a blank line, that is two line ends (each
 * CR, LF or CRLF) with nothing between them. Only the run of line-end bytes at the tail of each piece is looked at,
 * carried across pieces that hold nothing else. An SSE heartbeat may be written only at a boundary, and a stream that
 * ended anywhere else was cut inside an event. Confined to the exchange's event loop.
 */
final class EventBoundary {
    /** Line ends at the tail; nothing relayed yet counts as a boundary. */
    private int lineEnds = 2;
    /** Whether the last byte was a CR, so that an LF right after it ends the same line. */
    private boolean lastWasCr;

    /** Notes a piece about to be relayed (not empty); its indexes are left alone. */
    void feed(ByteBuf piece) {
        int start = piece.readerIndex();
        int end = piece.writerIndex();
        int run = end;
        while (run > start) {
            byte b = piece.getByte(run - 1);
            if (b != '\r' && b != '\n') {
                break;
            }
            run--;
        }
        if (run > start) {
            lineEnds = 0; // the tail's line ends follow other bytes
            lastWasCr = false;
        }
        for (int i = run; i < end; i++) {
            if (piece.getByte(i) == '\r') {
                lineEnds++;
                lastWasCr = true;
            } else {
                if (!lastWasCr) {
                    lineEnds++;
                }
                lastWasCr = false;
            }
        }
    }

    boolean atBoundary() {
        return lineEnds >= 2;
    }
}
