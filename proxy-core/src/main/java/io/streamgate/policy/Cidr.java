package io.streamgate.policy;

import java.net.InetAddress;
import java.util.Objects;

/**
 * An IP network such as {@code 10.0.0.0/8} or {@code 2001:db8::/32}; a bare address means one host ({@code /32} or
 * {@code /128}).
 *
 * <p>Held as a 128-bit network and mask with IPv4 mapped to {@code ::ffff:0:0/96}, so an IPv4 rule also matches the
 * same client seen through a dual-stack socket as {@code ::ffff:a.b.c.d}. The mapping is internal: an IPv6 rule that
 * would cover the whole mapped range ({@code ::/0} up to {@code ::/80}) still matches IPv6 addresses only.
 */
public final class Cidr {
    private final long networkHigh;
    private final long networkLow;
    private final long maskHigh;
    private final long maskLow;
    private final int prefixLength;
    private final boolean ipv4;
    /**
     * An IPv6 rule broader than {@code ::ffff:0:0/96} that would cover it ({@code ::/0} .. {@code ::/80}): it names
     * IPv6 addresses only, so IPv4 clients, held as mapped addresses, must not match it (nginx and Envoy never match
     * an IPv4 client against an IPv6 rule). Rules written inside the mapped range ({@code ::ffff:10.0.0.0/104}) do.
     */
    private final boolean excludesMapped;

    private Cidr(long networkHigh, long networkLow, int prefix128, int prefixLength, boolean ipv4) {
        this.maskHigh = mask(prefix128);
        this.maskLow = mask(prefix128 - 64);
        this.networkHigh = networkHigh;
        this.networkLow = networkLow;
        this.prefixLength = prefixLength;
        this.ipv4 = ipv4;
        this.excludesMapped = !ipv4 && prefix128 < 96 && (InetLiterals.MAPPED_PREFIX & maskLow) == networkLow
                && networkHigh == 0;
    }

    /**
     * Parses {@code address[/prefix]}. Host bits must be zero: {@code 10.1.2.3/8} is refused rather than silently read
     * as {@code 10.0.0.0/8}, since it is more likely a typo than a wish to allow sixteen million addresses.
     *
     * @throws IllegalArgumentException with a message fit for an operator
     */
    public static Cidr parse(String text) {
        Objects.requireNonNull(text, "text");
        String t = text.trim();
        int slash = t.indexOf('/');
        String addressText = slash < 0 ? t : t.substring(0, slash);
        byte[] bytes = InetLiterals.parse(addressText);
        if (bytes == null) {
            throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR (expected e.g. 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7)");
        }
        // The family of the text decides the prefix range: "::ffff:10.0.0.0/104" is IPv6 notation even though it
        // names IPv4 addresses.
        boolean v4Text = addressText.indexOf(':') < 0;
        int max = v4Text ? 32 : 128;
        int prefix = max;
        if (slash >= 0) {
            String p = t.substring(slash + 1);
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException("'" + text + "': the prefix length must be a number 0.." + max);
            }
            prefix = Integer.parseInt(p);
            if (prefix > max) {
                throw new IllegalArgumentException("'" + text + "': the prefix length must be 0.." + max);
            }
        }
        int prefix128 = v4Text ? prefix + 96 : prefix;
        long high = InetLiterals.high(bytes);
        long low = InetLiterals.low(bytes);
        Cidr cidr = new Cidr(high & mask(prefix128), low & mask(prefix128 - 64), prefix128, prefix, v4Text);
        if (cidr.networkHigh != high || cidr.networkLow != low) {
            throw new IllegalArgumentException("'" + text + "' has bits set after the prefix (did you mean " + cidr + "?)");
        }
        return cidr;
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        return contains(InetLiterals.high(a), InetLiterals.low(a));
    }

    boolean contains(long high, long low) {
        return (high & maskHigh) == networkHigh && (low & maskLow) == networkLow
                && !(excludesMapped && InetLiterals.isMapped(high, low));
    }

    long networkHigh() {
        return networkHigh;
    }

    long networkLow() {
        return networkLow;
    }

    long maskHigh() {
        return maskHigh;
    }

    long maskLow() {
        return maskLow;
    }

    boolean excludesMapped() {
        return excludesMapped;
    }

    /** The prefix length as written: 0..32 for IPv4 notation, 0..128 for IPv6 notation. */
    public int prefixLength() {
        return prefixLength;
    }

    /** Canonical text: {@code 10.0.0.0/8}, {@code 2001:db8::/32}. */
    @Override
    public String toString() {
        byte[] bytes = new byte[16];
        for (int i = 0; i < 8; i++) {
            bytes[i] = (byte) (networkHigh >>> (56 - 8 * i));
            bytes[8 + i] = (byte) (networkLow >>> (56 - 8 * i));
        }
        String text = ipv4 ? InetLiterals.format(bytes) : formatV6(bytes);
        return text + "/" + prefixLength;
    }

    /** IPv6 notation stays IPv6 even for mapped networks, so "::ffff:0:0/96" does not print as a bogus "0.0.0.0/96". */
    private static String formatV6(byte[] bytes) {
        String text = InetLiterals.format(bytes);
        return InetLiterals.isMapped(InetLiterals.high(bytes), InetLiterals.low(bytes)) ? "::ffff:" + text : text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.networkHigh == networkHigh && c.networkLow == networkLow
                && c.maskHigh == maskHigh && c.maskLow == maskLow && c.ipv4 == ipv4;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(networkHigh) * 31 + Long.hashCode(networkLow) * 17 + Long.hashCode(maskHigh) + Long.hashCode(maskLow);
    }

    /** The top {@code bits} bits of a 64-bit word set (bits clamped to 0..64). */
    private static long mask(int bits) {
        if (bits <= 0) {
            return 0L;
        }
        if (bits >= 64) {
            return -1L;
        }
        return -1L << (64 - bits);
    }
}
