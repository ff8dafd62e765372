package io.streamgate.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LineBytesTest {
    @Test
    void numbersAreWrittenAsLongToStringWritesThem() {
        long[] values = {0, 7, 9, 10, 99, 100, 12345, 1_000_000_007L, Long.MAX_VALUE, -1, -10, -987654321L, Long.MIN_VALUE};
        for (long v : values) {
            LineBytes line = new LineBytes(1);
            line.append(v);
            assertEquals(Long.toString(v), line.toString());
        }
    }

    @Test
    void growsPastItsCapacityKeepingWhatWasWritten() {
        LineBytes line = new LineBytes(4);
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            line.append("key=".getBytes(StandardCharsets.US_ASCII)).append(i).append(' ');
            expected.append("key=").append(i).append(' ');
        }
        line.ensure(3);
        line.put((byte) 'e');
        line.put((byte) 'n');
        line.put((byte) 'd');
        line.appendAscii(new StringBuilder(" tail")).append('!');
        expected.append("end tail!");
        assertEquals(expected.toString(), line.toString());
        assertEquals(expected.length(), line.length());
    }

    @Test
    void clearStartsTheNextLineInTheSameArray() {
        LineBytes line = new LineBytes(16);
        line.appendAscii("first line");
        byte[] array = line.array();
        line.clear();
        line.appendAscii("2nd");
        assertEquals("2nd", line.toString());
        assertEquals(array, line.array());
    }
}
