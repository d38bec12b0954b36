// GitHub Actions workflow commands (::error::MESSAGE), built here alone: the
// harness's failure lines come from --mode=annotate (SPEC 7). GitHub decodes
// %25, %0D and %0A in a command's message (and %3A, %2C in its properties),
// so data holding a literal "%0A" would show as a line break and "%25" as
// "%": the data is escaped the way GitHub's own toolkit escapes it.

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.StringJoiner;

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

    /** TEXT as a property's value (or name): as a message, and : as %3A, , as %2C. */
    static String escapeProperty(String text) {
        return escapeData(text).replace(":", "%3A").replace(",", "%2C");
    }

    /** ::NAME KEY=VALUE,...::MESSAGE (no space nor properties without any), every piece of data escaped. */
    static String command(String name, Map<String, String> properties, String message) {
        StringJoiner joined = new StringJoiner(",", " ", "").setEmptyValue("");
        properties.forEach((key, value) -> joined.add(escapeProperty(key) + "=" + escapeProperty(value)));
        return "::" + name + joined + "::" + escapeData(message);
    }

    /** The harness's failure line for REASON: ::error::backup-restore-smoke: REASON. */
    static String harnessError(String reason) {
        return command("error", Map.of(), HARNESS + reason);
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
