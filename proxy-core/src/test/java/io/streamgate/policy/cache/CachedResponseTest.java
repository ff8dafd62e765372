package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CachedResponseTest {

    @Test
    void ofDropsHopByHopHeadersAndKeepsTheRestInOrder() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("content-type", "application/json")
                .add("connection", "keep-alive, x-backend-conn")
                .add("x-backend-conn", "1")
                .add("transfer-encoding", "chunked")
                .add("keep-alive", "timeout=5")
                .add("x-request-cost", "3")
                .add("x-request-cost", "4");
        CachedResponse r = CachedResponse.of(200, h, new byte[] {1, 2}, false, 10, 20);
        assertEquals(List.of(Map.entry("content-type", "application/json"), Map.entry("x-request-cost", "3"),
                Map.entry("x-request-cost", "4")), r.headers());
        assertEquals(7, h.size(), "the relayed headers are not modified");
    }

    @Test
    void headersAreImmutableCopies() {
        List<Map.Entry<String, String>> headers = new ArrayList<>(List.of(Map.entry("a", "b")));
        CachedResponse r = new CachedResponse(200, headers, new byte[0], false, 0, 0, 1);
        headers.add(Map.entry("c", "d"));
        assertEquals(1, r.headers().size());
        assertThrows(UnsupportedOperationException.class, () -> r.headers().add(Map.entry("e", "f")));
    }

    @Test
    void ageIsInWholeSecondsAndNeverNegative() {
        CachedResponse r = new CachedResponse(200, List.of(), new byte[0], false, 0, 5_000_000_000L, 100_000_000_000L);
        assertEquals(0, r.ageSeconds(5_000_000_000L));
        assertEquals(0, r.ageSeconds(5_999_999_999L));
        assertEquals(1, r.ageSeconds(6_000_000_000L));
        assertEquals(12, r.ageSeconds(17_500_000_000L));
        assertEquals(0, r.ageSeconds(1_000_000_000L), "a clock that went backwards gives age 0");
    }

    @Test
    void theAgeAResponseArrivedWithIsKeptAndAddedToEveryHit() {
        HttpHeaders h = new DefaultHttpHeaders().add("content-type", "text/plain").add("age", "50");
        CachedResponse r = CachedResponse.of(200, h, new byte[0], false, 5_000_000_000L, 100_000_000_000L);
        assertEquals(List.of(Map.entry("content-type", "text/plain")), r.headers(), "each hit states its own Age");
        assertEquals(50, r.ageSeconds(5_000_000_000L));
        assertEquals(57, r.ageSeconds(12_000_000_000L));
        assertEquals(50, r.ageSeconds(1_000_000_000L), "a clock that went backwards keeps the arrival age");
        assertEquals(0, CachedResponse.of(200, new DefaultHttpHeaders().add("age", "-3"), new byte[0], false, 0, 1)
                .ageSeconds(0), "an invalid Age is ignored");
    }

    @Test
    void weightCountsBodyHeadersAndOverhead() {
        CachedResponse r = new CachedResponse(200, List.of(Map.entry("content-type", "text/plain")),
                new byte[1000], false, 0, 0, 1);
        assertEquals(1000 + "content-type".length() + "text/plain".length() + CachedResponse.OVERHEAD_BYTES,
                r.weight());
    }
}
