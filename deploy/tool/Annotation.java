// GitHub Actions workflow commands (::error::MESSAGE), built here alone: the
// harness's failure lines come from --mode=annotate (SPEC 7). GitHub decodes
// %25, %0D and %0A in a command's message, so data holding a literal "%0A" would show as a line break and "%25" as
// "%": the data is escaped the way GitHub's own toolkit escapes it.

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

final class Annotation {
    static final String MODE = "annotate";
    /** What every harness failure line starts with, after the command. */
    static final String HARNESS = "backup-restore-smoke: ";

    private Annotation() {
    }

    /** TEXT as a command's message: % as %25, CR as %0D, LF as %0A. */
    static String escapeData(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '%' -> out.append("%25");
                case '\r' -> out.append("%0D");
                case '\n' -> out.append("%0A");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** The harness's failure line for REASON: ::error::backup-restore-smoke: REASON, escaped. */
    static String harnessError(String reason) {
        return "::error::" + escapeData(HARNESS + reason);
    }

    /**
     * --mode=annotate: the reason on IN (one trailing line break, which a here-string adds, left out) as the
     * harness's failure line on OUT. Bytes pass as they are: only ASCII is escaped, so text that is not
     * UTF-8 is neither replaced nor lost.
     */
    static int annotate(InputStream in, PrintStream out) throws IOException {
        String reason = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        if (reason.endsWith("\n")) {
            reason = reason.substring(0, reason.length() - 1);
        }
        out.write((harnessError(reason) + "\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return 0;
    }
}
