package io.streamgate.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CidrTest {

    static InetAddress ip(String literal) {
        return InetLiterals.toInetAddress(InetLiterals.parse(literal));
    }

    /** An IPv4-mapped address as a dual-stack socket reports it: an Inet6Address, which the JDK would otherwise collapse. */
    static InetAddress mapped(String v4) throws UnknownHostException {
        byte[] b4 = InetLiterals.parse(v4);
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(b4, 0, b, 12, 4);
        return Inet6Address.getByAddress(null, b, -1);
    }

    @ParameterizedTest
    @CsvSource({
            "10.0.0.0/8, 10.0.0.0/8",
            " 10.0.0.0/8 , 10.0.0.0/8",
            "192.0.2.7, 192.0.2.7/32",
            "0.0.0.0/0, 0.0.0.0/0",
            "2001:DB8::/32, 2001:db8::/32",
            "2001:db8:0:0::/64, 2001:db8::/64",
            "::1, ::1/128",
            "::/0, ::/0",
            "::ffff:10.0.0.0/104, ::ffff:10.0.0.0/104"})
    void parsesAndPrintsCanonically(String in, String out) {
        Cidr c = Cidr.parse(in);
        assertEquals(out, c.toString());
        assertEquals(c, Cidr.parse(out));
        assertEquals(c.hashCode(), Cidr.parse(out).hashCode());
    }

    @Test
    void matchesIpv4() {
        Cidr c = Cidr.parse("10.1.2.0/24");
        assertTrue(c.contains(ip("10.1.2.0")));
        assertTrue(c.contains(ip("10.1.2.255")));
        assertFalse(c.contains(ip("10.1.3.0")));
        assertFalse(c.contains(ip("10.1.1.255")));
        assertFalse(c.contains(ip("::a01:200")), "an IPv6 address with the same low bits is a different address");
        assertEquals(24, c.prefixLength());
    }

    @Test
    void matchesIpv6() {
        Cidr c = Cidr.parse("2001:db8::/32");
        assertTrue(c.contains(ip("2001:db8::1")));
        assertTrue(c.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assertFalse(c.contains(ip("2001:db9::")));
        assertFalse(c.contains(ip("10.0.0.1")));
        Cidr wide = Cidr.parse("2001:db8:1:2:3:4::/96");
        assertTrue(wide.contains(ip("2001:db8:1:2:3:4:5:6")));
        assertFalse(wide.contains(ip("2001:db8:1:2:3:5:5:6")));
    }

    @Test
    void ipv4MappedPeersMatchIpv4Rules() throws UnknownHostException {
        assertTrue(Cidr.parse("10.0.0.0/8").contains(mapped("10.9.8.7")));
        assertFalse(Cidr.parse("10.0.0.0/8").contains(mapped("11.9.8.7")));
        assertTrue(Cidr.parse("192.0.2.7").contains(mapped("192.0.2.7")));
        // and IPv6 notation for mapped networks matches plain IPv4 addresses
        assertTrue(Cidr.parse("::ffff:10.0.0.0/104").contains(ip("10.2.3.4")));
    }

    @Test
    void zeroPrefixesMatchTheirWholeFamily() throws UnknownHostException {
        Cidr allV4 = Cidr.parse("0.0.0.0/0");
        assertTrue(allV4.contains(ip("255.255.255.255")));
        assertTrue(allV4.contains(mapped("1.2.3.4")));
        assertFalse(allV4.contains(ip("2001:db8::1")));
        assertTrue(Cidr.parse("::/0").contains(ip("2001:db8::1")));
        // An IPv6 rule names IPv6 addresses: IPv4 clients (held as ::ffff:a.b.c.d) are not in "::/0" or "::/80".
        assertFalse(Cidr.parse("::/0").contains(ip("1.2.3.4")));
        assertFalse(Cidr.parse("::/80").contains(mapped("1.2.3.4")));
        assertTrue(Cidr.parse("::/80").contains(ip("::1")));
        assertTrue(Cidr.parse("::ffff:0:0/96").contains(ip("1.2.3.4")));
        assertTrue(Cidr.parse("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
    }

    @Test
    void hostBitsAreRefusedWithTheLikelyIntent() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.1.2.3/8"));
        assertEquals("'10.1.2.3/8' has bits set after the prefix (did you mean 10.0.0.0/8?)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse("2001:db8::1/32"));
        assertTrue(e.getMessage().contains("did you mean 2001:db8::/32?"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "10.0.0.0/33|the prefix length must be 0..32",
            "::/129|the prefix length must be 0..128",
            "10.0.0.0/|must be a number 0..32",
            "10.0.0.0/-1|must be a number 0..32",
            "10.0.0.0/8/8|must be a number 0..32",
            "10.0.0.0/ 8|must be a number 0..32",
            "10.0.0.0/1000|must be a number 0..32",
            "localhost|is not an IP address or CIDR",
            "example.com/24|is not an IP address or CIDR",
            "10.0.0/8|is not an IP address or CIDR",
            "fe80::1%eth0/64|is not an IP address or CIDR",
            "[::1]/128|is not an IP address or CIDR",
            "''|is not an IP address or CIDR"})
    void rejectsMalformedInputClearly(String in, String problem) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(in));
        assertTrue(e.getMessage().startsWith("'" + in + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @Test
    void familiesStayDistinctInEquality() {
        assertNotEquals(Cidr.parse("0.0.0.0/0"), Cidr.parse("::ffff:0:0/96"));
        assertEquals("::ffff:0.0.0.0/96", Cidr.parse("::ffff:0:0/96").toString());
    }
}
