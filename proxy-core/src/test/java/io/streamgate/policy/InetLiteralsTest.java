package io.streamgate.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class InetLiteralsTest {

    @ParameterizedTest
    @ValueSource(strings = {"0.0.0.0", "255.255.255.255", "192.0.2.7", "10.0.0.1",
            "::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "fe80::1:2", "1:2:3:4:5:6:7:8",
            "::ffff:192.0.2.7", "64:ff9b::192.0.2.1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8"})
    void parsesWhatTheJdkParses(String text) throws UnknownHostException {
        // The JDK parses these literals without a lookup; our bytes must agree (the JDK collapses mapped addresses to 4).
        byte[] expected = InetAddress.getByName(text).getAddress();
        byte[] ours = InetLiterals.parse(text);
        assertArrayEquals(expected, InetAddress.getByAddress(ours).getAddress(), text);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..2.3", "1.2.3.4.",
            ".1.2.3.4", "1.2.3.-4", "+1.2.3.4", "1.2.3.4 ", "localhost", "example.com", "unknown", "0x7f.0.0.1",
            ":", ":::", "1:::2", "1::2::3", ":1", "1:", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8", "g::1", "fe80::1%eth0", "::ffff:1.2.3", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
            "[::1]", "1.2.3.4:80", "_obfuscated"})
    void rejectsEverythingElse(String text) {
        assertNull(InetLiterals.parse(text), text);
    }

    @ParameterizedTest
    @CsvSource({
            "2001:db8:0:0:0:0:2:1, 2001:db8::2:1",
            "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",   // a single zero group is not compressed (RFC 5952 4.2.2)
            "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",             // the longest run wins
            "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",       // first of equal runs
            "0:0:0:0:0:0:0:0, ::",
            "0:0:0:0:0:0:0:1, ::1",
            "2001:DB8::ABCD, 2001:db8::abcd",
            "::ffff:192.0.2.7, 192.0.2.7",                   // mapped: what a backend expects in X-Forwarded-For
            "192.0.2.7, 192.0.2.7"})
    void formatsCanonically(String in, String out) {
        assertEquals(out, InetLiterals.format(InetLiterals.toInetAddress(InetLiterals.parse(in))));
    }

    @org.junit.jupiter.api.Test
    void formatsMappedAddressHeldAsInet6Address() throws UnknownHostException {
        byte[] mapped = InetLiterals.parse("::ffff:0:0");
        mapped[12] = 10;
        mapped[15] = 1;
        InetAddress v6 = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertEquals("10.0.0.1", InetLiterals.format(v6));
    }
}
