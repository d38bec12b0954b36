// GitHub Actions workflow commands (Annotation.java), in process, no server:
// the message escaped as GitHub's toolkit escapes them, so
// that GitHub's decoding gives the text back (a literal "%0A" stays "%0A",
// not a line break), and --mode=annotate's line for the harness.

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AnnotationTest {
    @Test
    void aMessageHasItsPercentSignsAndLineBreaksEscaped() {
        assertEquals("100%25 of db%250Ax%0D%0A::warning::y", Annotation.escapeData("100% of db%0Ax\r\n::warning::y"));
        assertEquals("a:b,c", Annotation.escapeData("a:b,c"));
        assertEquals("", Annotation.escapeData(""));
    }

    @Test
    void theHarnessLineIsAnErrorCommandWithItsReasonEscaped() {
        assertEquals("::error::backup-restore-smoke: database x%250Ay is gone",
                Annotation.harnessError("database x%0Ay is gone"));
    }

    @Test
    void theModeAnnotatesItsInputLessTheLineBreakAHereStringAdds() throws Exception {
        assertEquals("::error::backup-restore-smoke: [custom-pg15] restore into db%25 failed%0A::error::x\n",
                annotate("[custom-pg15] restore into db% failed\n::error::x\n".getBytes(StandardCharsets.UTF_8)));
        assertEquals("::error::backup-restore-smoke: no break\n", annotate("no break".getBytes(StandardCharsets.UTF_8)));
        // Bytes that are not UTF-8 (a LATIN1 name) pass as they are.
        byte[] latin1 = {'d', 'b', (byte) 0xe9, '%', '\n'};
        assertEquals("::error::backup-restore-smoke: db\u00e9%25\n", new String(annotateBytes(latin1),
                StandardCharsets.ISO_8859_1));
    }

    private static String annotate(byte[] input) throws Exception {
        return new String(annotateBytes(input), StandardCharsets.UTF_8);
    }

    private static byte[] annotateBytes(byte[] input) throws Exception {
        var out = new ByteArrayOutputStream();
        assertEquals(0, Annotation.annotate(new ByteArrayInputStream(input), new PrintStream(out, true,
                StandardCharsets.UTF_8)));
        return out.toByteArray();
    }
}
