package io.streamgate.policy;

import static io.streamgate.policy.CidrTest.ip;
import static io.streamgate.policy.CidrTest.mapped;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;

class IpRulesTest {

    @Test
    void denyWinsOverAllow() {
        IpRules rules = IpRules.of(List.of("10.0.0.0/8", "2001:db8::/32"), List.of("10.1.2.0/24", "2001:db8:bad::/48"));
        assertTrue(rules.permits(ip("10.1.1.1")));
        assertFalse(rules.permits(ip("10.1.2.1")));
        assertTrue(rules.permits(ip("2001:db8::1")));
        assertFalse(rules.permits(ip("2001:db8:bad::1")));
        assertFalse(rules.permits(ip("192.0.2.1")), "not in a non-empty allow list");
        assertFalse(rules.permits(ip("2001:db9::1")));
        assertFalse(rules.permitsEveryone());
    }

    @Test
    void emptyAllowListAllowsEveryoneNotDenied() {
        IpRules rules = IpRules.of(List.of(), List.of("192.0.2.0/24"));
        assertTrue(rules.permits(ip("198.51.100.1")));
        assertTrue(rules.permits(ip("::1")));
        assertFalse(rules.permits(ip("192.0.2.9")));
    }

    @Test
    void noRulesPermitEveryone() {
        assertTrue(IpRules.allowAll().permits(ip("203.0.113.5")));
        assertTrue(IpRules.allowAll().permitsEveryone());
        assertTrue(IpRules.of(List.of(), List.of()).permitsEveryone());
    }

    @Test
    void mappedPeersAreJudgedByTheirIpv4Address() throws UnknownHostException {
        IpRules rules = IpRules.of(List.of("10.0.0.0/8"), List.of("10.6.6.6"));
        assertTrue(rules.permits(mapped("10.0.0.1")));
        assertFalse(rules.permits(mapped("10.6.6.6")), "a deny must not be dodged by connecting over IPv6");
        assertFalse(rules.permits(mapped("11.0.0.1")));
    }

    @Test
    void badEntriesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> IpRules.of(List.of("10.0.0.0/8", "nonsense"), List.of()));
    }
}
