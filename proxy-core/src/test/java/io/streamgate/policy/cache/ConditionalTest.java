package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConditionalTest {
    private static final String LAST_MODIFIED = "Sun, 06 Dec 2026 10:00:00 GMT";

    private static CachedResponse entry(int status, String etag) {
        List<Map.Entry<String, String>> headers = etag == null
                ? List.of(Map.entry("Last-Modified", LAST_MODIFIED))
                : List.of(Map.entry("ETag", etag), Map.entry("Last-Modified", LAST_MODIFIED));
        return new CachedResponse(status, headers, new byte[0], false, 0, 0, 1);
    }

    private static HttpHeaders request(String... pairs) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (int i = 0; i < pairs.length; i += 2) {
            h.add(pairs[i], pairs[i + 1]);
        }
        return h;
    }

    @Test
    void ifNoneMatchComparesWeaklyAndDecidesAlone() {
        CachedResponse strong = entry(200, "\"a,b\"");
        assertTrue(Conditional.notModified("GET", request("If-None-Match", "\"x\", \"a,b\""), strong));
        assertTrue(Conditional.notModified("HEAD", request("If-None-Match", "W/\"a,b\""), strong));
        assertTrue(Conditional.notModified("GET", request("If-None-Match", "\"x\"", "If-None-Match", "\"a,b\""), strong));
        assertFalse(Conditional.notModified("GET", request("If-None-Match", "\"a\""), strong));
        assertFalse(Conditional.notModified("GET", request("If-None-Match", "a,b"), strong), "unquoted: malformed");
        assertFalse(Conditional.notModified("GET",
                request("If-None-Match", "\"x\"", "If-Modified-Since", "Mon, 07 Dec 2026 10:00:00 GMT"), strong));
        assertFalse(Conditional.notModified("GET", request("If-None-Match", "\"a\""), entry(200, null)));
        assertTrue(Conditional.notModified("GET", request("If-None-Match", "*"), entry(200, null)));
    }

    @Test
    void ifModifiedSinceNeedsAValidDateAndLastModified() {
        CachedResponse e = entry(200, null);
        assertTrue(Conditional.notModified("GET", request("If-Modified-Since", LAST_MODIFIED), e));
        assertFalse(Conditional.notModified("GET", request("If-Modified-Since", "Sat, 05 Dec 2026 10:00:00 GMT"), e));
        assertFalse(Conditional.notModified("GET", request("If-Modified-Since", "yesterday"), e));
        assertFalse(Conditional.notModified("GET", request("If-Modified-Since", "x".repeat(100)), e));
        assertFalse(Conditional.notModified("GET", request(), e));
    }

    @Test
    void onlyGetAndHeadOfSuccessfulEntries() {
        HttpHeaders any = request("If-None-Match", "*");
        assertFalse(Conditional.notModified("POST", any, entry(200, "\"a\"")));
        assertFalse(Conditional.notModified("GET", any, entry(404, "\"a\"")));
        assertTrue(Conditional.notModified("GET", any, entry(204, "\"a\"")));
    }

    @Test
    void a304KeepsAllButTheContentHeaders() {
        assertTrue(Conditional.keptIn304("ETag"));
        assertTrue(Conditional.keptIn304("Cache-Control"));
        assertTrue(Conditional.keptIn304("Content-Location"));
        assertFalse(Conditional.keptIn304("Content-Type"));
        assertFalse(Conditional.keptIn304("content-length"));
    }
}
