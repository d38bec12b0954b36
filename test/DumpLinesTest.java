// The text oracle's reading of dumps (DumpLines), without a server: lines
// cut where the buffer and the kept head end, lines longer than both, the
// last line without its newline, bytes that are not UTF-8, and the copy
// that leaves out the lines two dumps differ in by design.

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DumpLinesTest {
    static final int HEAD = DumpLines.HEAD;

    static List<DumpLines.Line> lines(byte[] dump) throws IOException {
        DumpLines reader = new DumpLines(new ByteArrayInputStream(dump));
        List<DumpLines.Line> lines = new ArrayList<>();
        for (DumpLines.Line line = reader.next(); line != null; line = reader.next()) {
            lines.add(line);
        }
        return lines;
    }

    static byte[] sha256(String text) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void eachLineIsItsDigestAndItsFirstBytesWithoutTheNewline() throws Exception {
        List<DumpLines.Line> lines = lines(bytes("a\n\nlast"));
        assertEquals(3, lines.size());
        assertEquals("a", lines.get(0).head());
        assertArrayEquals(sha256("a"), lines.get(0).digest());
        assertEquals("", lines.get(1).head());
        assertArrayEquals(sha256(""), lines.get(1).digest());
        assertEquals("last", lines.get(2).head()); // no newline at the end: still a line, the same as with one
        assertTrue(lines.get(2).sameAs(lines(bytes("last\n")).get(0)));
        assertEquals(List.of(), lines(new byte[0]));
    }

    @Test
    void linesAroundTheHeadsLengthAndLongerThanTheBufferKeepTheirWholeDigest() throws Exception {
        for (int length : new int[] {HEAD - 1, HEAD, HEAD + 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300_000}) {
            String line = "x".repeat(length - 1) + "y";
            List<DumpLines.Line> lines = lines(bytes(line + "\nnext\n"));
            assertEquals(2, lines.size(), "length " + length);
            assertArrayEquals(sha256(line), lines.get(0).digest(), "length " + length);
            assertEquals(line.substring(0, Math.min(length, HEAD)), lines.get(0).head(), "length " + length);
            assertEquals("next", lines.get(1).head(), "length " + length);
        }
    }

    @Test
    void twoLongLinesThatDifferOnlyPastTheHeadAreNotTheSame() throws Exception {
        String start = "COPY-data\t" + "v".repeat(200_000);
        DumpLines.Line one = lines(bytes(start + "A\n")).get(0);
        DumpLines.Line other = lines(bytes(start + "B\n")).get(0);
        assertEquals(one.head(), other.head());
        assertFalse(one.sameAs(other));
    }

    @Test
    void bytesThatAreNotUtf8AreComparedAsTheyAre() throws Exception {
        byte[] one = {'a', (byte) 0xff, '\n'};
        byte[] other = {'a', (byte) 0xfe, '\n'};
        assertFalse(lines(one).get(0).sameAs(lines(other).get(0)));
        assertEquals("a\ufffd", lines(one).get(0).head());
    }

    @Test
    void theCopyLeavesOutTheLinesSaidAndKeepsEveryOtherByte() throws Exception {
        String longKept = "k".repeat(100_000);
        String longDropped = "-- Dumped by pg_dump " + "d".repeat(100_000);
        byte[] dump = concat(bytes("\\restrict abc\nkept\n" + longDropped + "\n" + longKept + "\n"),
                new byte[] {(byte) 0xff, '\n'}, bytes("-- Dumped from database version 15\nlast, no newline"));
        ByteArrayOutputStream copy = new ByteArrayOutputStream();
        DumpLines.copyKeeping(new ByteArrayInputStream(dump), copy, head -> TextOracle.BY_DESIGN.matcher(head).find());
        assertArrayEquals(concat(bytes("kept\n" + longKept + "\n"), new byte[] {(byte) 0xff, '\n'},
                bytes("last, no newline")), copy.toByteArray());
    }

    @Test
    void aLineTheHeadEndsJustBeforeItsNewlineIsCopiedWhole() throws Exception {
        String line = "z".repeat(HEAD);
        ByteArrayOutputStream copy = new ByteArrayOutputStream();
        DumpLines.copyKeeping(new ByteArrayInputStream(bytes(line + "\n" + line + "\n")), copy, head -> false);
        assertEquals(line + "\n" + line + "\n", copy.toString(StandardCharsets.UTF_8));
        assertNull(new DumpLines(new ByteArrayInputStream(new byte[0])).next());
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            all.writeBytes(part);
        }
        return all.toByteArray();
    }
}
