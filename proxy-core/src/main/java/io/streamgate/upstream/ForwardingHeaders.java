package io.streamgate.upstream;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * Sets X-Forwarded-For/-Proto/-Host from what this gateway saw. Client-supplied forwarding headers are replaced,
 * never appended to: until trusted proxies are configured, anyone could forge them.
 */
public final class ForwardingHeaders {
    public static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    private static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");
    private static final AsciiString X_FORWARDED_PORT = AsciiString.cached("x-forwarded-port");
    private static final AsciiString X_REAL_IP = AsciiString.cached("x-real-ip");
    private static final AsciiString FORWARDED = AsciiString.cached("forwarded");
    /** Every forwarding name read, set or removed here: constants, so header maps may skip validating them. */
    public static final List<AsciiString> NAMES_READ_OR_SET = List.of(X_FORWARDED_FOR, X_FORWARDED_PROTO,
            X_FORWARDED_HOST, X_FORWARDED_PORT, X_REAL_IP, FORWARDED);

    private ForwardingHeaders() {
    }

    public static void apply(HttpHeaders headers, String clientIp, String scheme, String originalHost) {
        headers.remove(FORWARDED).remove(X_FORWARDED_PORT).remove(X_REAL_IP);
        headers.set(X_FORWARDED_FOR, clientIp);
        headers.set(X_FORWARDED_PROTO, scheme);
        if (originalHost != null) {
            headers.set(X_FORWARDED_HOST, originalHost);
        } else {
            headers.remove(X_FORWARDED_HOST);
        }
    }
}
