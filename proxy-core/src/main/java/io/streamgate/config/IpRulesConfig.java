package io.streamgate.config;

import java.util.List;

/**
 * IP allow and deny lists (server or route level), already validated; entries are canonical CIDR text
 * ({@code 10.0.0.0/8}, {@code 2001:db8::/32}, {@code 192.0.2.7/32}). Empty allow means "everyone not denied".
 */
public record IpRulesConfig(List<String> allow, List<String> deny) {
    public static final IpRulesConfig NONE = new IpRulesConfig(List.of(), List.of());

    public IpRulesConfig {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
    }
}
