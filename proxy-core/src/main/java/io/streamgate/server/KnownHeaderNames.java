package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.util.AsciiString;
import io.streamgate.upstream.ForwardingHeaders;
import io.streamgate.upstream.HopByHopHeaders;
import java.util.ArrayList;
import java.util.List;

/**
 * The header names this gateway looks up, sets or strips, and the ones nearly every request or response carries, as
 * the very instances its code uses (these are the names {@link TrustedHeaderNames} lets pass unvalidated). Both HTTP/1.1 decoders hand out these instances for a header name that matches
 * one of them (ignoring case) instead of a fresh copy of the bytes. A lookup with a constant then matches at the
 * first, identity, check instead of comparing the name byte by byte, and the name is neither copied nor validated
 * (it is a valid token): about 430 bytes less allocated per proxied request of the OpenAI client
 * ({@code HeaderPathBenchmark}).
 *
 * <p>A matched name is relayed in lower case, as HTTP/2 always carries names and as Envoy relays HTTP/1.1 names
 * (RFC 9110 §5.1: names are case-insensitive). Other names keep their spelling.
 */
public final class KnownHeaderNames {
    /** Candidates by name length; each holds lower-case ASCII. */
    private static final AsciiString[][] BY_LENGTH;
    /** Every constant, by its (case-insensitive, cached) hash: open addressing, a power of two at most half full. */
    private static final AsciiString[] BY_HASH;

    static {
        List<AsciiString> names = new ArrayList<>(List.of(
                HttpHeaderNames.HOST, HttpHeaderNames.CONTENT_LENGTH, HttpHeaderNames.CONTENT_TYPE,
                HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
                HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.UPGRADE, HttpHeaderNames.EXPECT,
                HttpHeaderNames.AUTHORIZATION, HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.USER_AGENT,
                HttpHeaderNames.REFERER, HttpHeaderNames.ORIGIN, HttpHeaderNames.ACCEPT, HttpHeaderNames.ACCEPT_ENCODING,
                HttpHeaderNames.ACCEPT_LANGUAGE, HttpHeaderNames.CACHE_CONTROL, HttpHeaderNames.PRAGMA,
                HttpHeaderNames.COOKIE, HttpHeaderNames.SET_COOKIE, HttpHeaderNames.DATE, HttpHeaderNames.SERVER,
                HttpHeaderNames.VARY, HttpHeaderNames.AGE, HttpHeaderNames.EXPIRES, HttpHeaderNames.ETAG,
                HttpHeaderNames.LAST_MODIFIED, HttpHeaderNames.CONTENT_ENCODING, HttpHeaderNames.LOCATION,
                HttpHeaderNames.WWW_AUTHENTICATE, HttpHeaderNames.PROXY_AUTHENTICATE,
                RequestIds.HEADER, RequestPolicies.X_API_KEY, HopByHopHeaders.PROXY_CONNECTION));
        names.addAll(ForwardingHeaders.NAMES_READ_OR_SET);
        names.addAll(Admission.QUOTA_HEADER_NAMES);
        int longest = 0;
        for (AsciiString n : names) {
            longest = Math.max(longest, n.length());
        }
        List<List<AsciiString>> byLength = new ArrayList<>();
        for (int i = 0; i <= longest; i++) {
            byLength.add(new ArrayList<>());
        }
        BY_HASH = new AsciiString[Integer.highestOneBit(names.size()) * 4];
        for (AsciiString n : names) {
            if (!n.toLowerCase().contentEquals(n) || n.arrayOffset() != 0) {
                throw new IllegalStateException("known header names are lower-case, whole-array constants: " + n);
            }
            byLength.get(n.length()).add(n);
            int slot = n.hashCode() & (BY_HASH.length - 1);
            while (BY_HASH[slot] != null) {
                slot = (slot + 1) & (BY_HASH.length - 1);
            }
            BY_HASH[slot] = n;
        }
        BY_LENGTH = new AsciiString[longest + 1][];
        for (int i = 0; i <= longest; i++) {
            BY_LENGTH[i] = byLength.get(i).toArray(new AsciiString[0]);
        }
    }

    private KnownHeaderNames() {
    }

    /** The constant spelled like {@code length} bytes of {@code bytes} from {@code start}, ignoring case; else null. */
    public static AsciiString find(byte[] bytes, int start, int length) {
        if (length >= BY_LENGTH.length) {
            return null;
        }
        for (AsciiString candidate : BY_LENGTH[length]) {
            if (matches(candidate.array(), bytes, start, length)) {
                return candidate;
            }
        }
        return null;
    }

    /** Whether {@code name} is one of the constant instances (identity, not spelling). */
    static boolean isConstant(CharSequence name) {
        if (!(name instanceof AsciiString)) {
            return false;
        }
        for (int slot = name.hashCode() & (BY_HASH.length - 1); BY_HASH[slot] != null;
                slot = (slot + 1) & (BY_HASH.length - 1)) {
            if (BY_HASH[slot] == name) {
                return true;
            }
        }
        return false;
    }

    private static boolean matches(byte[] lower, byte[] bytes, int start, int length) {
        for (int i = 0; i < length; i++) {
            int b = bytes[start + i];
            if (b >= 'A' && b <= 'Z') {
                b += 'a' - 'A';
            }
            if (b != lower[i]) {
                return false;
            }
        }
        return true;
    }
}
