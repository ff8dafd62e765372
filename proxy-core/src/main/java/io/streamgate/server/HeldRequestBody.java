package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The request body an exchange holds on to: the parts that arrived before an upstream connection was ready (or while
 * the body's start is read), and copies of every part sent, kept for a retry while they fit the upstream's replay
 * buffer. It owns every buffer it holds and releases them by {@link #release()} at the latest; one instance per
 * exchange, used on its event loop.
 */
final class HeldRequestBody {
    /** Shared and never added to: a request without a body (most GETs) allocates no list. */
    private static final List<ByteBuf> NOTHING_KEPT = List.of();
    /** Shared and never added to: {@link #park} swaps it for a deque of the exchange's own first. */
    private static final ArrayDeque<HttpContent> NOTHING_PARKED = new ArrayDeque<>(0);

    /**
     * Parts not yet written upstream. Most requests park none (a pooled connection is leased before the end of a GET
     * arrives), so the deque is made by the first {@link #park}.
     */
    private ArrayDeque<HttpContent> parked = NOTHING_PARKED;
    /** Bytes in {@link #parked}, counted as parts come and go: a body of many tiny chunks is not summed per part. */
    private int parkedBytes;
    /** Copies of the body received so far, for a retry; null once the body outgrew the replay buffer. */
    private List<ByteBuf> replay = NOTHING_KEPT;
    private long replayBytes;
    /** The trailer fields that ended a chunked body, sent again with its end on a retry; null while none came. */
    private HttpHeaders trailers;

    /** Holds {@code part} until {@link #sendTo} or {@link #resendTo}; this now owns it. */
    void park(HttpContent part) {
        if (parked == NOTHING_PARKED) {
            parked = new ArrayDeque<>(2);
        }
        parked.add(part);
        parkedBytes += part.content().readableBytes();
    }

    boolean hasParked() {
        return !parked.isEmpty();
    }

    /** A copy of the parked bytes, at most {@code max} of them, for parsing. */
    byte[] copyParked(int max) {
        byte[] out = new byte[Math.min(max, parkedBytes())];
        int at = 0;
        for (HttpContent part : parked) {
            ByteBuf c = part.content();
            int n = Math.min(c.readableBytes(), out.length - at);
            c.getBytes(c.readerIndex(), out, at, n);
            at += n;
        }
        return out;
    }

    int parkedBytes() {
        return parkedBytes;
    }

    /**
     * Keeps a copy of {@code content} (a part just received; still the caller's) for a retry, or gives up replaying
     * for good once the body outgrows {@code limit}.
     */
    void keepForReplay(ByteBuf content, long limit) {
        int n = content.readableBytes();
        if (replay == null) {
            return;
        }
        if (replayBytes + n > limit) {
            dropReplay();
        } else if (n > 0) {
            if (replay == NOTHING_KEPT) {
                replay = new ArrayList<>(2);
            }
            replay.add(content.retainedDuplicate());
            replayBytes += n;
        }
    }

    /** Gives up replaying once the copies exceed {@code limit} (they were kept beyond it while the request waited). */
    void limitReplay(long limit) {
        if (replayBytes > limit) {
            dropReplay();
        }
    }

    /** Keeps the trailer fields of the body's last part (a header map, no buffer) for a retry. */
    void keepTrailers(HttpHeaders fields) {
        trailers = fields.isEmpty() ? null : fields;
    }

    /** Whether every body byte received so far is still held, so the request can be sent again. */
    boolean replayable() {
        return replay != null;
    }

    /** No retry will happen any more (the response started, or the exchange ended): frees the copies. */
    void dropReplay() {
        if (replay != null && replay != NOTHING_KEPT) {
            replay.forEach(ReferenceCountUtil::release);
        }
        replay = null;
    }

    /**
     * Swaps every parked part, and the replay copies, for {@code body}, which this takes (the whole body when
     * {@code complete}, else its start, to which the rest will be added as it arrives). Only before a connection is
     * ready, so its copy is kept whatever its size, like every copy then, until {@link #limitReplay}.
     */
    void replaceParked(ByteBuf body, boolean complete) {
        releaseParked();
        boolean keepReplay = replay != null;
        dropReplay();
        replay = keepReplay || complete ? NOTHING_KEPT : null;
        replayBytes = 0;
        keepForReplay(body, Long.MAX_VALUE);
        park(complete ? new DefaultLastHttpContent(body) : new DefaultHttpContent(body));
    }

    /** The first attempt: writes the parked parts to {@code ch} (not flushed); they are the channel's now. */
    void sendTo(Channel ch) {
        HttpContent part;
        while ((part = parked.poll()) != null) {
            ch.write(part);
        }
        parkedBytes = 0;
    }

    /**
     * A retry: the replay copies hold every body byte received so far, parked parts included, so those are written
     * to {@code ch} (not flushed), with the end of the body (and its trailer fields) when {@code complete}. Only while
     * {@link #replayable()}: a retry is decided on that, and copies made while the request waits are not cut before
     * it is sent.
     */
    void resendTo(Channel ch, boolean complete) {
        releaseParked();
        for (ByteBuf b : replay) {
            ch.write(new DefaultHttpContent(b.retainedDuplicate()));
        }
        if (complete) {
            ch.write(trailers == null ? LastHttpContent.EMPTY_LAST_CONTENT
                    : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers));
        }
    }

    /** Frees everything held; the exchange ended. */
    void release() {
        dropReplay();
        releaseParked();
    }

    private void releaseParked() {
        HttpContent part;
        while ((part = parked.poll()) != null) {
            part.release();
        }
        parkedBytes = 0;
    }
}
