package io.streamgate.policy;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * Decides which address a request comes from when Streamgate may sit behind other proxies.
 *
 * <p>X-Forwarded-For is written by the client first and then appended to by each proxy, so only the entries appended by
 * proxies we trust are believable. Walking right to left from a trusted peer, each trusted hop vouches for the entry
 * to its left; the first untrusted entry is the client as seen by our outermost trusted proxy. Everything further left
 * is client-supplied and is ignored: reading left to right is the classic spoofing hole (LESSONS T13). A peer we do not
 * trust gets no say at all: its header is neither read nor forwarded.
 *
 * <p>Accepted entry forms: {@code 192.0.2.7}, {@code 192.0.2.7:5678}, {@code 2001:db8::1}, {@code [2001:db8::1]},
 * {@code [2001:db8::1]:80}, with spaces around commas and empty list elements ignored. Anything else (names,
 * {@code unknown}, obfuscated identifiers) stops the walk and the peer address is used: garbage is never trusted.
 *
 * <p>Immutable and thread-safe.
 */
public final class ClientAddressResolver {
    private final CidrSet trustedProxies;

    private ClientAddressResolver(CidrSet trustedProxies) {
        this.trustedProxies = trustedProxies;
    }

    /** @throws IllegalArgumentException naming the first entry that is not a CIDR */
    public static ClientAddressResolver of(List<String> trustedProxies) {
        return new ClientAddressResolver(CidrSet.parse(trustedProxies));
    }

    /** Whether forwarding information (X-Forwarded-For, PROXY protocol) from this peer is believed. */
    public boolean trusts(InetAddress peer) {
        return trustedProxies.contains(peer);
    }

    /**
     * The client's address.
     *
     * @param peer         the socket peer (or the PROXY-protocol source, once that has been accepted from a trusted peer)
     * @param forwardedFor every X-Forwarded-For header value in arrival order; null or empty when there is none
     */
    public InetAddress clientAddress(InetAddress peer, List<String> forwardedFor) {
        Objects.requireNonNull(peer, "peer");
        if (forwardedFor == null || forwardedFor.isEmpty() || !trusts(peer)) {
            return peer;
        }
        byte[] leftmost = null;
        // Several headers form one list in order (RFC 9110 5.3), so walk the last header first.
        for (int h = forwardedFor.size() - 1; h >= 0; h--) {
            String value = forwardedFor.get(h);
            if (value == null) {
                continue;
            }
            int end = value.length();
            while (true) {
                int comma = value.lastIndexOf(',', end - 1);
                int from = skipSpaces(value, comma + 1, end);
                int to = trimSpaces(value, from, end);
                if (from < to) {
                    byte[] hop = parseHop(value, from, to);
                    if (hop == null) {
                        return peer;
                    }
                    if (!trustedProxies.contains(InetLiterals.high(hop), InetLiterals.low(hop))) {
                        return InetLiterals.toInetAddress(hop);
                    }
                    leftmost = hop;
                }
                if (comma < 0) {
                    break;
                }
                end = comma;
            }
        }
        // Every hop is one of ours (e.g. internal health checks): the left-most is the closest thing to a client.
        return leftmost == null ? peer : InetLiterals.toInetAddress(leftmost);
    }

    /**
     * The X-Forwarded-For value to send upstream. A trusted peer's chain is kept and the peer appended, as every proxy
     * does; an untrusted peer's header is replaced by the peer alone, so a client cannot plant entries that a backend
     * trusting us would believe.
     *
     * @param peer         as for {@link #clientAddress}
     * @param forwardedFor every received X-Forwarded-For header value in arrival order; null or empty when there is none
     */
    public String forwardedFor(InetAddress peer, List<String> forwardedFor) {
        Objects.requireNonNull(peer, "peer");
        String peerText = InetLiterals.format(peer);
        if (forwardedFor == null || forwardedFor.isEmpty() || !trusts(peer)) {
            return peerText;
        }
        StringBuilder chain = new StringBuilder();
        for (String value : forwardedFor) {
            if (value == null) {
                continue;
            }
            int from = skipSpaces(value, 0, value.length());
            int to = trimSpaces(value, from, value.length());
            if (from == to) {
                continue;
            }
            if (hasControlCharacter(value, from, to)) {
                // A header the codec should have refused; forwarding it could split the upstream request.
                return peerText;
            }
            if (chain.length() > 0) {
                chain.append(", ");
            }
            chain.append(value, from, to);
        }
        return chain.length() == 0 ? peerText : chain.append(", ").append(peerText).toString();
    }

    /**
     * RFC 7239 {@code for=} elements for an X-Forwarded-For chain as {@link #forwardedFor} builds it, one per hop in
     * the same order. Only addresses pass: a hop that is not one (a trusted proxy may relay "unknown" or a name)
     * becomes {@code for=unknown}, so nothing a client wrote reaches the header verbatim. Ports are left out.
     */
    public static String forwardedElements(String chain) {
        StringBuilder out = new StringBuilder(chain.length() + 16);
        int from = 0;
        while (from <= chain.length()) {
            int comma = chain.indexOf(',', from);
            int end = comma < 0 ? chain.length() : comma;
            int start = skipSpaces(chain, from, end);
            int stop = trimSpaces(chain, start, end);
            if (start < stop) {
                if (out.length() > 0) {
                    out.append(", ");
                }
                byte[] hop = parseHop(chain, start, stop);
                if (hop == null) {
                    out.append("for=unknown");
                } else {
                    String address = InetLiterals.format(hop);
                    // An IPv6 node is bracketed, and brackets and colons are not token characters: quoted.
                    out.append(address.indexOf(':') < 0 ? "for=" + address : "for=\"[" + address + "]\"");
                }
            }
            from = end + 1;
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return "ClientAddressResolver[trusted=" + trustedProxies + "]";
    }

    /** One list element, already trimmed; null when it is not an address with an optional port. */
    private static byte[] parseHop(String s, int from, int to) {
        if (s.charAt(from) == '[') {
            int close = s.indexOf(']', from);
            if (close < 0 || close >= to || (close + 1 < to && !isPort(s, close + 1, to))) {
                return null;
            }
            byte[] v6 = InetLiterals.parse(s, from + 1, close);
            return v6 != null && v6.length == 16 ? v6 : null;
        }
        int firstColon = s.indexOf(':', from);
        if (firstColon >= 0 && firstColon < to && s.lastIndexOf(':', to - 1) == firstColon) {
            // Exactly one colon: IPv4 with a port. (IPv6 always has at least two.)
            if (!isPort(s, firstColon, to)) {
                return null;
            }
            byte[] v4 = InetLiterals.parse(s, from, firstColon);
            return v4 != null && v4.length == 4 ? v4 : null;
        }
        return InetLiterals.parse(s, from, to);
    }

    /** {@code :port} with 1..5 digits, at most 65535; {@code at} points at the colon. */
    private static boolean isPort(String s, int at, int to) {
        if (s.charAt(at) != ':' || to - at < 2 || to - at > 6) {
            return false;
        }
        int port = 0;
        for (int i = at + 1; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
            port = port * 10 + (c - '0');
        }
        return port <= 65535;
    }

    private static int skipSpaces(String s, int from, int to) {
        while (from < to && (s.charAt(from) == ' ' || s.charAt(from) == '\t')) {
            from++;
        }
        return from;
    }

    private static int trimSpaces(String s, int from, int to) {
        while (to > from && (s.charAt(to - 1) == ' ' || s.charAt(to - 1) == '\t')) {
            to--;
        }
        return to;
    }

    private static boolean hasControlCharacter(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return true;
            }
        }
        return false;
    }
}
