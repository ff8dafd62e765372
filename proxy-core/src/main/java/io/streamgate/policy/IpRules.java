package io.streamgate.policy;

import java.net.InetAddress;
import java.util.List;

/**
 * Allow and deny lists of networks. Deny wins over allow, so a narrow deny can carve a hole out of a broad allow
 * ({@code allow: [10.0.0.0/8], deny: [10.1.2.0/24]}); an empty allow list allows everyone not denied.
 * Immutable and thread-safe: one instance serves every connection of a config snapshot.
 */
public final class IpRules {
    private static final IpRules ALLOW_ALL = new IpRules(CidrSet.empty(), CidrSet.empty());

    private final CidrSet allow;
    private final CidrSet deny;

    private IpRules(CidrSet allow, CidrSet deny) {
        this.allow = allow;
        this.deny = deny;
    }

    /** @throws IllegalArgumentException naming the first entry that is not a CIDR */
    public static IpRules of(List<String> allow, List<String> deny) {
        return new IpRules(CidrSet.parse(allow), CidrSet.parse(deny));
    }

    public static IpRules allowAll() {
        return ALLOW_ALL;
    }

    public boolean permits(InetAddress address) {
        byte[] a = address.getAddress();
        long high = InetLiterals.high(a);
        long low = InetLiterals.low(a);
        return !deny.contains(high, low) && (allow.isEmpty() || allow.contains(high, low));
    }

    /** True when there are no rules at all, so callers can skip installing a check. */
    public boolean permitsEveryone() {
        return allow.isEmpty() && deny.isEmpty();
    }

    @Override
    public String toString() {
        return "IpRules[allow=" + allow + ", deny=" + deny + "]";
    }
}
