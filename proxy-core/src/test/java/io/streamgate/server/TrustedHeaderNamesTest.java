package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.streamgate.upstream.ForwardingHeaders;
import org.junit.jupiter.api.Test;

class TrustedHeaderNamesTest {
    private final HttpHeaders headers = TrustedHeaderNames.headersFactory().newHeaders();

    @Test
    void ourConstantNamesAreSet() {
        headers.set(RequestIds.HEADER, "id").set(HttpHeaderNames.HOST, "a").set(ForwardingHeaders.X_FORWARDED_FOR, "1.2.3.4");
        assertEquals("id", headers.get("X-Request-Id"));
        assertEquals("1.2.3.4", headers.get("x-forwarded-for"));
    }

    @Test
    void everyOtherNameIsStillValidated() {
        // Equal in content to a trusted constant but another instance (as a decoded name is): validated, and fine.
        headers.set(new AsciiString("x-request-id"), "id");
        assertEquals("id", headers.get(RequestIds.HEADER));
        assertThrows(IllegalArgumentException.class, () -> headers.set(new AsciiString("x-request id"), "v"));
        assertThrows(IllegalArgumentException.class, () -> headers.add("bad:name", "v"));
        assertThrows(IllegalArgumentException.class, () -> headers.add("", "v"));
    }

    @Test
    void valuesAreStillValidatedForTrustedNames() {
        assertThrows(IllegalArgumentException.class, () -> headers.set(RequestIds.HEADER, "a\r\nInjected: yes"));
    }
}
