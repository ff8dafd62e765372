package io.streamgate.policy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A fixed set of networks answering "is this address in any of them?".
 *
 * <p>Networks and masks sit in flat {@code long} arrays, so a check is a linear scan of primitive comparisons with no
 * allocation beyond the address's own bytes. Rule lists are short (tens of entries); a scan over them is faster than
 * anything smarter would be.
 */
public final class CidrSet {
    private static final CidrSet EMPTY = new CidrSet(List.of());

    private final List<Cidr> cidrs;
    private final long[] networkHigh;
    private final long[] networkLow;
    private final long[] maskHigh;
    private final long[] maskLow;
    /** Per network: an IPv6 rule covering ::ffff:0:0/96 that IPv4 (mapped) addresses must not match; see {@link Cidr}. */
    private final boolean[] excludesMapped;

    private CidrSet(List<Cidr> cidrs) {
        this.cidrs = List.copyOf(cidrs);
        int n = this.cidrs.size();
        networkHigh = new long[n];
        networkLow = new long[n];
        maskHigh = new long[n];
        maskLow = new long[n];
        excludesMapped = new boolean[n];
        for (int i = 0; i < n; i++) {
            Cidr c = this.cidrs.get(i);
            networkHigh[i] = c.networkHigh();
            networkLow[i] = c.networkLow();
            maskHigh[i] = c.maskHigh();
            maskLow[i] = c.maskLow();
            excludesMapped[i] = c.excludesMapped();
        }
    }

    public static CidrSet empty() {
        return EMPTY;
    }

    /** @throws IllegalArgumentException naming the first entry that is not a CIDR */
    public static CidrSet parse(List<String> cidrs) {
        Objects.requireNonNull(cidrs, "cidrs");
        List<Cidr> parsed = new ArrayList<>(cidrs.size());
        for (String text : cidrs) {
            parsed.add(Cidr.parse(text));
        }
        return new CidrSet(parsed);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        return contains(InetLiterals.high(a), InetLiterals.low(a));
    }

    boolean contains(long high, long low) {
        for (int i = 0; i < networkHigh.length; i++) {
            if ((high & maskHigh[i]) == networkHigh[i] && (low & maskLow[i]) == networkLow[i]
                    && !(excludesMapped[i] && InetLiterals.isMapped(high, low))) {
                return true;
            }
        }
        return false;
    }

    public boolean isEmpty() {
        return networkHigh.length == 0;
    }

    @Override
    public String toString() {
        return cidrs.toString();
    }
}
