package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.streamgate.observe.ExchangeRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The response body of one exchange on its way from the backend to the client, once the head went out: the usage
 * filter or scan, the copy for the cache, the event boundaries of a plain event stream, the SSE heartbeats written
 * between its events, and the counts and times the record and the idle and heartbeat timers read. The last piece is
 * handed back to the {@link Exchange}, which ends the exchange with it.
 *
 * <p>Made once with its exchange and confined to the exchange's event loop. Every piece it is given it owns until it
 * is written to the client or released.
 */
final class ResponseRelay {
    private static final AsciiString EVENT_STREAM = AsciiString.cached("text/event-stream");
    private static final byte[] HEARTBEAT = ":\n\n".getBytes(StandardCharsets.US_ASCII);

    private final Exchange exchange;
    private final ChannelHandlerContext ctx;
    private final ExchangeRecord record;
    private final long startNanos;
    /** The route's sse_heartbeat; zero when it sends none. */
    private final Duration heartbeat;
    private UsageTracker usage;
    private CacheUse cache;
    /** What the usage filter lets through from one upstream piece; only event streams on metered routes use it. */
    private List<ByteBuf> filtered;
    private boolean eventStream;
    /** An event stream without a Content-Encoding: its events can be told apart (heartbeats, a cut stream). */
    private boolean plainEvents;
    /**
     * Made for plain event streams only, the one kind of response whose events are told apart: any other response
     * allocates none, so a relay costs no more objects than the boundary the exchange used to make for every request.
     */
    private EventBoundary boundary;
    private long lastUpstreamActivity;
    private long lastClientWrite;

    ResponseRelay(Exchange exchange, ChannelHandlerContext ctx, ExchangeRecord record, long startNanos, Duration heartbeat) {
        this.exchange = exchange;
        this.ctx = ctx;
        this.record = record;
        this.startNanos = startNanos;
        this.heartbeat = heartbeat;
        this.lastUpstreamActivity = startNanos;
    }

    /**
     * The response head arrived (its hop-by-hop headers already stripped): tells what kind of body follows, and starts
     * the usage reading of it.
     *
     * @param usage the exchange's usage tracker, or null when the route is not metered
     * @param cache the exchange's cache use, or null when the route does not cache
     */
    void begin(HttpHeaders h, long now, UsageTracker usage, CacheUse cache) {
        this.usage = usage;
        this.cache = cache;
        lastUpstreamActivity = now;
        lastClientWrite = now;
        String type = h.get(HttpHeaderNames.CONTENT_TYPE);
        eventStream = type != null && AsciiString.regionMatches(type, true, 0, EVENT_STREAM, 0, EVENT_STREAM.length());
        String encoding = h.get(HttpHeaderNames.CONTENT_ENCODING);
        boolean encoded = encoding != null && !encoding.equalsIgnoreCase("identity");
        plainEvents = eventStream && !encoded;
        if (plainEvents) {
            boundary = new EventBoundary();
        }
        if (usage != null) {
            usage.onResponseHead(eventStream, encoded);
        }
    }

    boolean eventStream() {
        return eventStream;
    }

    /**
     * Whether the body the client gets differs in length from the backend's: heartbeats add bytes to the stream and
     * the usage filter takes an event out, so a backend's Content-Length would no longer match.
     */
    boolean changesLength() {
        return plainEvents && (!heartbeat.isZero() || usage != null && usage.removesUsageEvent());
    }

    /** Relays one piece of the response body, which it now owns; the last one goes to {@link Exchange#finish}. */
    void forward(HttpContent part) {
        boolean last = part instanceof LastHttpContent;
        if (usage != null && usage.filtersBody()) {
            // The event stream goes through the usage filter, which may hold back a partial event or drop one.
            if (filtered == null) {
                filtered = new ArrayList<>(4);
            }
            usage.filter(part.content(), last, filtered);
            for (ByteBuf b : filtered) {
                relayPiece(new DefaultHttpContent(b), false);
            }
            filtered.clear();
            if (last) {
                relayPiece(LastHttpContent.EMPTY_LAST_CONTENT, true);
            }
            return;
        }
        if (usage != null) {
            usage.scan(part.content(), last);
        }
        relayPiece(part, last);
    }

    private void relayPiece(HttpContent part, boolean last) {
        ByteBuf content = part.content();
        int n = content.readableBytes();
        long now = System.nanoTime();
        lastUpstreamActivity = now;
        record.bytesOut += n;
        if (plainEvents && n > 0) {
            boundary.feed(content);
        }
        if (cache != null && n > 0) {
            cache.tee(content);
        }
        if (n > 0) {
            if (record.chunksOut++ == 0) {
                record.firstBodyNanos = now - startNanos;
            }
        }
        if (last) {
            lastClientWrite = now;
            exchange.finish(part, now);
        } else if (n > 0) {
            lastClientWrite = now;
            ctx.write(part, ctx.voidPromise());
        } else {
            part.release();
        }
    }

    /** Whether a plain event stream stopped inside an event: it was cut, not finished. */
    boolean endedInsideEvent() {
        return plainEvents && !boundary.atBoundary();
    }

    /** When the backend last sent a piece of the body (or the head). */
    long lastUpstreamActivity() {
        return lastUpstreamActivity;
    }

    /** When the next heartbeat falls due, or {@link Long#MAX_VALUE} when this response gets none. */
    long nextHeartbeat() {
        return plainEvents && !heartbeat.isZero() ? lastClientWrite + heartbeat.toNanos() : Long.MAX_VALUE;
    }

    /** Writes a heartbeat when one is due: only between events, and only after sse_heartbeat without a write. */
    void heartbeatIfDue(long now) {
        if (plainEvents && !heartbeat.isZero() && boundary.atBoundary() && now - lastClientWrite >= heartbeat.toNanos()) {
            lastClientWrite = now;
            record.bytesOut += HEARTBEAT.length; // sent to the client like any body byte, though not the backend's
            // A wrapper of the constant bytes (nothing copied, full to its fixed capacity), owned by this write. A
            // shared unreleasable buffer would not allocate less: each write needs its own duplicate for its indices.
            ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(HEARTBEAT)));
        }
    }
}
