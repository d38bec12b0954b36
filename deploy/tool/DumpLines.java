// The lines of a pg_dump, read as bytes a buffer at a time (the text
// oracle, TextOracle). A line is what ends at '\n'. A line of any length
// costs no more memory than its first HEAD bytes, and a dump of any size no
// more than one buffer: a row's value can fill gigabytes on one line of a
// COPY block, and a dump as a whole may be far larger than the tool's heap.
// The bytes are never decoded on the way, so a database holding text that
// is not valid UTF-8 is copied and compared as it is.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.function.Predicate;

final class DumpLines {
    /** The first bytes of a line kept to test and to quote it: at least 256 characters of UTF-8. */
    static final int HEAD = 1024;
    private static final int BUFFER = 64 * 1024;

    private final InputStream in;
    private final byte[] buffer = new byte[BUFFER];
    private int position;
    private int limit;
    private final MessageDigest sha256 = AuditRow.newSha256();
    private final byte[] head = new byte[HEAD];
    private int headLength;

    DumpLines(InputStream in) {
        this.in = in;
    }

    /**
     * One line, known by its SHA-256 (two lines are the same when their
     * digests are) and its first HEAD bytes as text, without its '\n'.
     */
    record Line(byte[] digest, String head) {
        boolean sameAs(Line other) {
            return Arrays.equals(digest, other.digest);
        }
    }

    /** The next line, or null at the end. */
    Line next() throws IOException {
        if (!fill()) {
            return null;
        }
        boolean ended = readHead();
        int textLength = ended ? headLength - 1 : headLength;
        sha256.update(head, 0, textLength);
        while (!ended && fill()) {
            int stop = endOfLine();
            ended = buffer[stop - 1] == '\n';
            sha256.update(buffer, position, (ended ? stop - 1 : stop) - position);
            position = stop;
        }
        return new Line(sha256.digest(), new String(head, 0, textLength, StandardCharsets.UTF_8));
    }

    /**
     * Copies IN to OUT but for the lines DROPPED says to leave out, judged
     * by their first HEAD bytes (read as ISO-8859-1, so that no byte is
     * lost to decoding); every other byte goes through as it came.
     */
    static void copyKeeping(InputStream in, OutputStream out, Predicate<String> dropped) throws IOException {
        DumpLines lines = new DumpLines(in);
        while (lines.fill()) {
            lines.copyLine(out, dropped);
        }
        out.flush();
    }

    /** One line from IN to OUT, its '\n' included, unless DROPPED says to leave it out. */
    private void copyLine(OutputStream out, Predicate<String> dropped) throws IOException {
        boolean ended = readHead();
        boolean keep = !dropped.test(new String(head, 0, headLength, StandardCharsets.ISO_8859_1));
        if (keep) {
            out.write(head, 0, headLength);
        }
        while (!ended && fill()) {
            int stop = endOfLine();
            if (keep) {
                out.write(buffer, position, stop - position);
            }
            ended = buffer[stop - 1] == '\n';
            position = stop;
        }
    }

    /** The line's first HEAD bytes (its '\n' included when it ends there) into head; true when the line ended. */
    private boolean readHead() throws IOException {
        headLength = 0;
        boolean ended = false;
        while (headLength < HEAD && !ended && fill()) {
            int stop = Math.min(endOfLine(), position + HEAD - headLength);
            System.arraycopy(buffer, position, head, headLength, stop - position);
            headLength += stop - position;
            position = stop;
            ended = head[headLength - 1] == '\n';
        }
        return ended;
    }

    /** True when there are bytes to read in the buffer, reading more when it is used up. */
    private boolean fill() throws IOException {
        if (position < limit) {
            return true;
        }
        int read = in.read(buffer);
        position = 0;
        limit = Math.max(read, 0);
        return read > 0;
    }

    /** Where the line read ends in the buffer: just past its '\n', or the buffer's end. */
    private int endOfLine() {
        for (int i = position; i < limit; i++) {
            if (buffer[i] == '\n') {
                return i + 1;
            }
        }
        return limit;
    }
}
