package io.streamgate.upstream;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.streamgate.config.RouteConfig.ForwardedHeaders;
import io.streamgate.policy.ClientAddressResolver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Sets the headers that tell a backend about the client, as the route asks: X-Forwarded-For/-Proto/-Host, RFC 7239's
 * Forwarded, both or none. Client-supplied forwarding headers are replaced, never appended to: only a trusted proxy's
 * X-Forwarded-For chain is carried on, by the caller's choice of {@code forwardedFor}.
 */
public final class ForwardingHeaders {
    public static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    private static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");
    private static final AsciiString X_FORWARDED_PORT = AsciiString.cached("x-forwarded-port");
    private static final AsciiString X_REAL_IP = AsciiString.cached("x-real-ip");
    private static final AsciiString FORWARDED = AsciiString.cached("forwarded");
    private static final AsciiString X_FORWARDED_PREFIX = AsciiString.cached("x-forwarded-");
    /** Every forwarding name read, set or removed here: constants, so header maps may skip validating them. */
    public static final List<AsciiString> NAMES_READ_OR_SET = List.of(X_FORWARDED_FOR, X_FORWARDED_PROTO,
            X_FORWARDED_HOST, X_FORWARDED_PORT, X_REAL_IP, FORWARDED);

    private ForwardingHeaders() {
    }

    /**
     * Removes every {@code X-Forwarded-*} header a client sent that the gateway does not set itself, when no trusted
     * proxy stands behind them: frameworks believe more of them than the three set here (Rack takes
     * {@code X-Forwarded-Ssl: on} for HTTPS, Spring {@code X-Forwarded-Prefix} for its base path). A trusted proxy's
     * are kept. One pass over the names; nothing is allocated unless one is found.
     */
    public static void dropClientSupplied(HttpHeaders headers) {
        List<CharSequence> found = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (name.length() > X_FORWARDED_PREFIX.length()
                    && AsciiString.regionMatches(name, true, 0, X_FORWARDED_PREFIX, 0, X_FORWARDED_PREFIX.length())) {
                if (found == null) {
                    found = new ArrayList<>(2);
                }
                found.add(name);
            }
        }
        if (found != null) {
            for (CharSequence name : found) {
                headers.remove(name);
            }
        }
    }

    /**
     * @param forwardedFor the X-Forwarded-For chain to send: the client alone, or a trusted proxy's chain and the peer
     * @param originalHost the client's Host, or null
     */
    public static void apply(HttpHeaders headers, ForwardedHeaders which, String forwardedFor, String scheme,
                             String originalHost) {
        headers.remove(FORWARDED).remove(X_FORWARDED_PORT).remove(X_REAL_IP);
        if (which.xForwarded()) {
            headers.set(X_FORWARDED_FOR, forwardedFor);
            headers.set(X_FORWARDED_PROTO, scheme);
            if (originalHost != null) {
                headers.set(X_FORWARDED_HOST, originalHost);
            } else {
                headers.remove(X_FORWARDED_HOST);
            }
        } else {
            headers.remove(X_FORWARDED_FOR).remove(X_FORWARDED_PROTO).remove(X_FORWARDED_HOST);
        }
        if (which.rfc7239()) {
            headers.set(FORWARDED, forwarded(forwardedFor, scheme, originalHost));
        }
    }

    /**
     * One element per hop; the last, this gateway's, also says the scheme and the Host the client used, always quoted
     * (a port or an IPv6 literal is no token). RequestTarget.isValidHost let no quote or backslash into that Host.
     */
    private static String forwarded(String forwardedFor, String scheme, String originalHost) {
        String elements = ClientAddressResolver.forwardedElements(forwardedFor) + ";proto=" + scheme;
        return originalHost == null ? elements : elements + ";host=\"" + originalHost + '"';
    }
}
