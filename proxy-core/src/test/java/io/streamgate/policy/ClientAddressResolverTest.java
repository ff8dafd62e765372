package io.streamgate.policy;

import static io.streamgate.policy.CidrTest.ip;
import static io.streamgate.policy.CidrTest.mapped;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Who is the client? Most cases are spoofing attempts (LESSONS T13): the answer must never come from client-written text. */
class ClientAddressResolverTest {
    private static final InetAddress LB = ip("10.0.0.5");          // our load balancer
    private static final InetAddress STRANGER = ip("203.0.113.9");  // someone connecting directly
    private final ClientAddressResolver resolver = ClientAddressResolver.of(List.of("10.0.0.0/24", "fd00::/8"));

    private InetAddress client(InetAddress peer, String... headers) {
        return resolver.clientAddress(peer, headers == null ? null : Arrays.asList(headers));
    }

    @Test
    void untrustedPeerIsTheClientWhateverItClaims() {
        assertEquals(STRANGER, client(STRANGER, "198.51.100.1"));
        assertEquals(STRANGER, client(STRANGER, "10.0.0.5"), "claiming to be our own proxy does not help");
        assertEquals(STRANGER, client(STRANGER));
        assertEquals(STRANGER, client(STRANGER, (String[]) null));
        assertFalse(resolver.trusts(STRANGER));
        assertTrue(resolver.trusts(LB));
    }

    @Test
    void trustedPeerWithoutHeaderIsTheClient() {
        assertEquals(LB, client(LB));
        assertEquals(LB, client(LB, (String[]) null));
        assertEquals(LB, client(LB, ""));
        assertEquals(LB, client(LB, " , ,"));
    }

    @Test
    void rightMostUntrustedHopIsTheClient() {
        assertEquals(ip("198.51.100.1"), client(LB, "198.51.100.1"));
        // The client prepended a fake address; the LB appended the real one.
        assertEquals(ip("198.51.100.1"), client(LB, "6.6.6.6, 198.51.100.1"));
        // Chains of our own proxies are skipped.
        assertEquals(ip("198.51.100.1"), client(LB, "6.6.6.6, 198.51.100.1, 10.0.0.7, fd00::1"));
    }

    @Test
    void forgedTrustedEntriesLeftOfTheRealClientChangeNothing() {
        // A client may write our proxies' addresses too; they sit left of the entry our LB appended.
        assertEquals(ip("198.51.100.1"), client(LB, "10.0.0.1, 10.0.0.2, 198.51.100.1"));
    }

    @Test
    void severalHeadersAreOneListInOrder() {
        assertEquals(ip("198.51.100.1"), client(LB, "6.6.6.6", "198.51.100.1"));
        assertEquals(ip("198.51.100.1"), client(LB, "6.6.6.6, 198.51.100.1", "10.0.0.7"));
        assertEquals(ip("198.51.100.1"), client(LB, "6.6.6.6", "198.51.100.1, 10.0.0.7", ""));
    }

    @Test
    void allHopsTrustedGivesTheLeftMost() {
        assertEquals(ip("10.0.0.7"), client(LB, "10.0.0.7, 10.0.0.8"));
        assertEquals(ip("10.0.0.7"), client(LB, "10.0.0.7", "fd00::2"));
    }

    @Test
    void garbageAtThePointReachedFallsBackToThePeer() {
        assertEquals(LB, client(LB, "unknown"));
        assertEquals(LB, client(LB, "evil.example.com"));
        assertEquals(LB, client(LB, "198.51.100.1, 10.0.0.7, _hidden"));
        assertEquals(LB, client(LB, "1.2.3.4 5.6.7.8"));
        assertEquals(LB, client(LB, "\"198.51.100.1\""));
        assertEquals(LB, client(LB, "for=198.51.100.1"));
        assertEquals(LB, client(LB, "198.51.100.1:99999"));
        assertEquals(LB, client(LB, "198.51.100.1:"));
        assertEquals(LB, client(LB, "[198.51.100.1]"));
        assertEquals(LB, client(LB, "[2001:db8::1"));
        assertEquals(LB, client(LB, "[2001:db8::1]x"));
        assertEquals(LB, client(LB, "::ffff:1.2.3.4:80"), "unbracketed IPv6 takes no port");
        assertEquals(LB, client(LB, "0x7f000001"));
    }

    @Test
    void garbageLeftOfTheClientIsNeverReached() {
        assertEquals(ip("198.51.100.1"), client(LB, "<script>, unknown, 198.51.100.1"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "198.51.100.1|198.51.100.1",
            "'  198.51.100.1\t'|198.51.100.1",
            "198.51.100.1:5678|198.51.100.1",
            "2001:db8::1|2001:db8::1",
            "[2001:db8::1]|2001:db8::1",
            "[2001:db8::1]:80|2001:db8::1",
            "[::ffff:198.51.100.1]:443|198.51.100.1",
            "2001:DB8:0:0:0:0:0:1|2001:db8::1"})
    void acceptsTheUsualSpellings(String entry, String expected) {
        assertEquals(ip(expected), client(LB, "6.6.6.6," + entry + ",10.0.0.9"));
    }

    @Test
    void mappedTrustedPeerIsStillTrusted() throws UnknownHostException {
        assertEquals(ip("198.51.100.1"), client(mapped("10.0.0.5"), "198.51.100.1"));
        assertEquals(ip("198.51.100.1"), client(LB, "198.51.100.1, ::ffff:10.0.0.7"));
    }

    @Test
    void forwardedForReplacesAnUntrustedPeersHeader() {
        assertEquals("203.0.113.9", resolver.forwardedFor(STRANGER, List.of("6.6.6.6")));
        assertEquals("203.0.113.9", resolver.forwardedFor(STRANGER, List.of()));
        assertEquals("203.0.113.9", resolver.forwardedFor(STRANGER, null));
    }

    @Test
    void forwardedForExtendsATrustedPeersChain() {
        assertEquals("198.51.100.1, 10.0.0.5", resolver.forwardedFor(LB, List.of("198.51.100.1")));
        assertEquals("6.6.6.6, 198.51.100.1, 10.0.0.5", resolver.forwardedFor(LB, List.of(" 6.6.6.6", "", "198.51.100.1 ")));
        assertEquals("10.0.0.5", resolver.forwardedFor(LB, List.of()));
        assertEquals("10.0.0.5", resolver.forwardedFor(LB, null));
        assertEquals("2001:db8::1, fd00::5", resolver.forwardedFor(ip("fd00:0:0:0:0:0:0:5"), List.of("2001:db8::1")));
    }

    @Test
    void forwardedForNeverCarriesControlCharactersUpstream() {
        assertEquals("10.0.0.5", resolver.forwardedFor(LB, List.of("1.2.3.4\r\nX-Admin: yes")));
        assertEquals("10.0.0.5", resolver.forwardedFor(LB, List.of("1.2.3.4\u0000")));
    }

    @Test
    void noTrustedProxiesMeansThePeerAlways() {
        ClientAddressResolver none = ClientAddressResolver.of(List.of());
        assertEquals(LB, none.clientAddress(LB, List.of("198.51.100.1")));
        assertEquals("10.0.0.5", none.forwardedFor(LB, List.of("198.51.100.1")));
    }
}
