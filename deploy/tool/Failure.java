// The one kind of error BackupSmoke expects: it is reported as a single line
// on stderr and the run exits 1, without a stack trace.

/** An expected failure: printed as one line, exit 1. */
class Failure extends Exception {
    Failure(String message) {
        super(message);
    }

    /** Quotes like Go's %q for the common cases, so messages match the original tool's. */
    static String quoted(String text) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\t' -> quoted.append("\\t");
                default -> quoted.append(c);
            }
        }
        return quoted.append('"').toString();
    }
}
