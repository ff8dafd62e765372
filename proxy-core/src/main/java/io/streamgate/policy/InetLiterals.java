package io.streamgate.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Parses and prints IP address literals without ever touching DNS.
 *
 * <p>{@code InetAddress.getByName} falls back to a name lookup for anything it does not recognise, so feeding it
 * client-supplied text (X-Forwarded-For) or config text would let garbage trigger blocking DNS queries. This parser is
 * strict: dotted-quad IPv4 without leading zeros, RFC 4291 IPv6 text (with "::" and an embedded IPv4 tail), no zone ids.
 * It returns null rather than throwing, because garbage in forwarding headers is normal and must stay cheap.
 *
 * <p>Addresses are also handled as two longs in the IPv6 space, IPv4 being mapped to {@code ::ffff:a.b.c.d}, so one
 * comparison covers both families and IPv4-mapped IPv6 peers match IPv4 rules.
 */
final class InetLiterals {
    /** The high 64 bits of every IPv4-mapped address ({@code ::ffff:0:0/96}) are zero; these are the low bits' prefix. */
    static final long MAPPED_PREFIX = 0x0000_ffff_0000_0000L;

    private InetLiterals() {
    }

    /** 4 bytes for IPv4 text, 16 for IPv6 text, or null when {@code text} is not an address literal. */
    static byte[] parse(String text) {
        return parse(text, 0, text.length());
    }

    static byte[] parse(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) == ':') {
                return parseV6(s, from, to);
            }
        }
        return parseV4(s, from, to);
    }

    /** Turns parsed bytes into an InetAddress; no lookup happens for a byte array. */
    static InetAddress toInetAddress(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not 4 or 16 bytes", e);
        }
    }

    /** Whether the address is an IPv4 one ({@code ::ffff:a.b.c.d}, as IPv4 addresses are held here). */
    static boolean isMapped(long high, long low) {
        return high == 0 && (low >>> 32) == 0xffffL;
    }

    static long high(byte[] a) {
        return a.length == 4 ? 0L : readLong(a, 0);
    }

    static long low(byte[] a) {
        if (a.length == 4) {
            return MAPPED_PREFIX | ((a[0] & 0xffL) << 24) | ((a[1] & 0xffL) << 16) | ((a[2] & 0xffL) << 8) | (a[3] & 0xffL);
        }
        return readLong(a, 8);
    }

    /**
     * The usual text form: dotted quad for IPv4 and for IPv4-mapped IPv6 (what a backend expects to see in
     * X-Forwarded-For), RFC 5952 compressed lower-case form for IPv6, never a zone id.
     */
    static String format(InetAddress address) {
        return format(address.getAddress());
    }

    /** As {@link #format(InetAddress)}, for 4 or 16 bytes as {@link #parse} gives them. */
    static String format(byte[] a) {
        if (a.length == 16 && isMapped(high(a), low(a))) {
            byte[] v4 = {a[12], a[13], a[14], a[15]};
            return formatV4(v4);
        }
        return a.length == 4 ? formatV4(a) : formatV6(a);
    }

    private static String formatV4(byte[] a) {
        return (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff);
    }

    private static String formatV6(byte[] a) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((a[2 * i] & 0xff) << 8) | (a[2 * i + 1] & 0xff);
        }
        // RFC 5952 4.2: compress the longest run of two or more zero groups, the first one on a tie.
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }

    private static long readLong(byte[] a, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (a[off + i] & 0xffL);
        }
        return v;
    }

    private static byte[] parseV4(String s, int from, int to) {
        byte[] out = new byte[4];
        int part = 0;
        int i = from;
        while (part < 4) {
            int start = i;
            int value = 0;
            while (i < to && i - start < 3 && isDigit(s.charAt(i))) {
                value = value * 10 + (s.charAt(i) - '0');
                i++;
            }
            int len = i - start;
            // Leading zeros are refused: some parsers read "010" as octal, so its meaning is ambiguous.
            if (len == 0 || value > 255 || (len > 1 && s.charAt(start) == '0')) {
                return null;
            }
            out[part++] = (byte) value;
            if (part < 4) {
                if (i >= to || s.charAt(i) != '.') {
                    return null;
                }
                i++;
            }
        }
        return i == to ? out : null;
    }

    private static byte[] parseV6(String s, int from, int to) {
        if (to - from < 2) {
            return null;
        }
        byte[] out = new byte[16];
        int pos = 0;
        int gap = -1;
        int i = from;
        if (s.charAt(i) == ':') {
            if (s.charAt(i + 1) != ':') {
                return null;
            }
            gap = 0;
            i += 2;
        }
        while (i < to) {
            if (pos >= 16) {
                return null;
            }
            int start = i;
            int value = 0;
            while (i < to && i - start < 5 && hex(s.charAt(i)) >= 0) {
                value = (value << 4) | hex(s.charAt(i));
                i++;
            }
            if (i < to && s.charAt(i) == '.') {
                // An embedded IPv4 tail takes the last 32 bits: "::ffff:10.0.0.1", "64:ff9b::192.0.2.1".
                byte[] v4 = pos <= 12 ? parseV4(s, start, to) : null;
                if (v4 == null) {
                    return null;
                }
                System.arraycopy(v4, 0, out, pos, 4);
                pos += 4;
                break;
            }
            int len = i - start;
            if (len == 0 || len > 4) {
                return null;
            }
            out[pos++] = (byte) (value >>> 8);
            out[pos++] = (byte) value;
            if (i == to) {
                break;
            }
            if (s.charAt(i) != ':' || ++i == to) {
                return null;
            }
            if (s.charAt(i) == ':') {
                if (gap >= 0) {
                    return null;
                }
                gap = pos;
                i++;
            }
        }
        if (gap < 0) {
            return pos == 16 ? out : null;
        }
        if (pos == 16) {
            return null; // "::" must stand for at least one zero group
        }
        int tail = pos - gap;
        System.arraycopy(out, gap, out, 16 - tail, tail);
        java.util.Arrays.fill(out, gap, 16 - tail, (byte) 0);
        return out;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }
}
