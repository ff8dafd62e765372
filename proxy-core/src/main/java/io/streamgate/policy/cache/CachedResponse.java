package io.streamgate.policy.cache;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.streamgate.upstream.HopByHopHeaders;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A stored response. Immutable as long as nobody writes into {@code body}: the array is owned by the entry (a heap
 * copy of the relayed bytes, no reference counting, so any number of hits can replay it without coordination) and is
 * not copied again here. Equality of the body is by reference, as for any record with an array component.
 *
 * @param headers        response headers without hop-by-hop ones, in received order
 * @param eventStream       whether the body is a text/event-stream to be replayed as one
 * @param initialAgeSeconds the age the response already had when it arrived (the backend's own Age header, when it
 *                          sits behind another cache), added to the time spent here on every hit
 * @param storedAtNanos     the cache clock when the response was stored (basis of the Age header on hits)
 * @param expiresAtNanos the cache clock at which the entry stops being served
 */
public record CachedResponse(int status, List<Map.Entry<String, String>> headers, byte[] body, boolean eventStream,
        long initialAgeSeconds, long storedAtNanos, long expiresAtNanos) {

    /** Rough bookkeeping cost of an entry beyond its bytes (record, list, map node, key object). */
    static final int OVERHEAD_BYTES = 256;

    public CachedResponse {
        headers = List.copyOf(headers);
        Objects.requireNonNull(body, "body");
    }

    /**
     * An entry from a relayed response: copies {@code headers} minus the hop-by-hop ones (they described the
     * backend connection, not the message) and minus Age, which becomes {@link #initialAgeSeconds} because every hit
     * states its own. {@code headers} itself is not modified.
     */
    public static CachedResponse of(int status, HttpHeaders headers, byte[] body, boolean eventStream,
            long storedAtNanos, long expiresAtNanos) {
        HttpHeaders endToEnd = headers.copy();
        HopByHopHeaders.strip(endToEnd);
        long initialAge = Freshness.ageSeconds(endToEnd);
        endToEnd.remove(HttpHeaderNames.AGE);
        List<Map.Entry<String, String>> kept = new ArrayList<>(endToEnd.size());
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = endToEnd.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> header = it.next();
            kept.add(Map.entry(header.getKey().toString(), header.getValue().toString()));
        }
        return new CachedResponse(status, kept, body, eventStream, initialAge, storedAtNanos, expiresAtNanos);
    }

    /**
     * The Age header value for a hit (RFC 9111 §4.2.3): the age the response arrived with plus the whole seconds it
     * has been stored, never less than the former even if the clock went backwards.
     */
    public long ageSeconds(long nowNanos) {
        return initialAgeSeconds + Math.max(0, nowNanos - storedAtNanos) / 1_000_000_000L;
    }

    /** Approximate heap bytes: body, header characters and {@link #OVERHEAD_BYTES}; saturates at Integer.MAX_VALUE. */
    public int weight() {
        long weight = OVERHEAD_BYTES + (long) body.length;
        for (Map.Entry<String, String> header : headers) {
            weight += header.getKey().length() + header.getValue().length();
        }
        return (int) Math.min(Integer.MAX_VALUE, weight);
    }
}
