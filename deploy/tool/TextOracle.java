// The text second oracle (SMOKE_ORACLE=text, deploy/docs/harness.md): a
// pg_dump of each side with the same flags, which must be the same text.
// The dump drops the lines that differ by design (the random \restrict key,
// the version banner); after a WAL replay (PITR) the sequences' setval lines
// too, since a replay legitimately brings a sequence up to 32 values ahead.

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

final class TextOracle {
    static final String NAME = "text";

    /** Lines two dumps of the same database differ in by design. */
    static final Pattern BY_DESIGN = Pattern.compile("^(\\\\(un)?restrict |-- Dumped (from|by) )");

    /** A sequence's value, which a WAL replay may move ahead. */
    static final Pattern SEQUENCE_VALUE = Pattern.compile("^SELECT pg_catalog\\.setval\\(");

    /** How far ahead a line of the source is looked for in the restored dump, to tell an insertion. */
    private static final int LOOK_AHEAD = 1000;

    /** The longest difference quoted in the reason. */
    static final int QUOTED = 160;

    private TextOracle() {}

    /**
     * pg_dump of URL, CONNECTOR's, into OUT, inside the exported SNAPSHOT when not null, without the lines
     * that differ by design; killed, and the run failed with the timeout's message, when it outlasts the
     * connector's deadline (the run's --timeout). URL's secrets never reach pg_dump's command line: the
     * password goes by PGPASSWORD, the sslpassword by a service file of its own in FOLDER (ServiceFile).
     */
    static void dump(String url, Connector connector, String snapshot, Path folder, OutputStream out)
            throws Failure {
        SemanticOracle.requireSnapshotId(snapshot);
        String shown = ConnectionTarget.withoutSecrets(url);
        Deadline deadline = connector.deadline();
        String doing = "running the text oracle's pg_dump of " + shown;
        deadline.check(doing);
        Program.Outcome dumped;
        try (ServiceFile service = ServiceFile.of(connector.target(), folder)) {
            // pg_dump says why it failed on stderr, just before the line naming the failure.
            Program pgDump = new Program("the text oracle's pg_dump of " + shown, command(shown, snapshot))
                    .errors(Program.Errors.INHERITED).environmentAdding(secrets(connector.target(), service))
                    .within(Duration.ofMillis(Math.max(1, deadline.remainingMillis())));
            BufferedOutputStream kept = new BufferedOutputStream(out, 64 * 1024);
            dumped = pgDump.runReading(stdout -> DumpLines.copyKeeping(stdout, kept, TextOracle::differsByDesign));
        } catch (Failure e) {
            if (deadline.hasExpired()) { // its overrun is the run's: say so as every other phase does
                throw deadline.timedOut(doing);
            }
            throw e;
        }
        dumped.succeeded();
    }

    /** pg_dump's command line for URL (one without secrets: ConnectionTarget.withoutSecrets), in SNAPSHOT if given. */
    static List<String> command(String url, String snapshot) {
        List<String> command = new ArrayList<>(List.of("pg_dump", "--format=plain", "--no-owner", "--no-acl",
                "--dbname=" + url));
        if (snapshot != null) {
            command.add("--snapshot=" + snapshot);
        }
        return command;
    }

    /** What pg_dump's environment adds for TARGET: its password in PGPASSWORD, SERVICE's file for the sslpassword. */
    static Map<String, String> secrets(ConnectionTarget target, ServiceFile service) {
        Map<String, String> secrets = new LinkedHashMap<>(service.environment());
        if (target.password() != null) {
            secrets.put("PGPASSWORD", target.password());
        }
        return secrets;
    }

    /** Whether the line that starts with HEAD is one two dumps of the same database differ in. */
    private static boolean differsByDesign(String head) {
        return BY_DESIGN.matcher(head).find();
    }

    /** The same dump into FILE, the service file (if any) beside it. */
    static void dump(String url, Connector connector, String snapshot, Path file) throws Failure {
        try (OutputStream out = Files.newOutputStream(file)) {
            dump(url, connector, snapshot, file.toAbsolutePath().getParent(), out);
        } catch (IOException e) {
            throw new Failure("cannot write " + file + ": " + Failure.reason(e));
        }
    }

    /**
     * The two dumps must be the same text (REPLAYED: but for the sequences'
     * values); else the reason quotes the first difference as diff would
     * print it: "< LINE" of the source, or "> LINE" of the restored dump when
     * lines were inserted there. Both are read a line at a time, and a line
     * is held as its digest and its first bytes (DumpLines), so dumps of any
     * size compare in the same little memory.
     */
    static Judgement compare(Path source, Path restored, boolean replayed) throws Failure {
        try (Dump fromSource = new Dump(source, replayed); Dump fromRestored = new Dump(restored, replayed)) {
            DumpLines.Line sourceLine;
            DumpLines.Line restoredLine;
            do {
                sourceLine = fromSource.next();
                restoredLine = fromRestored.next();
            } while (sourceLine != null && restoredLine != null && sourceLine.sameAs(restoredLine));
            if (sourceLine == null && restoredLine == null) {
                return Judgement.pass(List.of());
            }
            String difference = sourceLine == null || (restoredLine != null && fromRestored.comesSoon(sourceLine))
                    ? "> " + oneLine(restoredLine.head()) : "< " + oneLine(sourceLine.head());
            return Judgement.fail("the restored database does not dump like the source: "
                    + difference.substring(0, Math.min(QUOTED, difference.length())), List.of());
        }
    }

    /**
     * TEXT with its control characters shown as escapes (\r, \xNN), tabs
     * kept: the carriage return of a function written with CRLF line ends,
     * quoted as it is, would garble the one line the failure is.
     */
    static String oneLine(String text) {
        StringBuilder shown = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (c == '\r') {
                shown.append("\\r");
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                shown.append(String.format("\\x%02x", c));
            } else {
                shown.appendCodePoint(c);
            }
        });
        return shown.toString();
    }

    /** One side's dump, read a line at a time, the sequences' values left out after a replay. */
    private static final class Dump implements AutoCloseable {
        private final Path file;
        private final boolean replayed;
        private final InputStream in;
        private final DumpLines lines;

        Dump(Path file, boolean replayed) throws Failure {
            this.file = file;
            this.replayed = replayed;
            try {
                this.in = Files.newInputStream(file);
            } catch (IOException e) {
                throw unreadable(e);
            }
            this.lines = new DumpLines(in);
        }

        /** The next line compared, or null at the end. */
        DumpLines.Line next() throws Failure {
            try {
                DumpLines.Line line = lines.next();
                while (line != null && replayed && SEQUENCE_VALUE.matcher(line.head()).find()) {
                    line = lines.next();
                }
                return line;
            } catch (IOException e) {
                throw unreadable(e);
            }
        }

        /** True when LINE is among the next lines (LOOK_AHEAD in all with the one just read): lines were inserted. */
        boolean comesSoon(DumpLines.Line line) throws Failure {
            for (int read = 1; read < LOOK_AHEAD; read++) {
                DumpLines.Line later = next();
                if (later == null) {
                    return false;
                }
                if (later.sameAs(line)) {
                    return true;
                }
            }
            return false;
        }

        private Failure unreadable(IOException e) {
            return new Failure("cannot read the text oracle's dump " + file + ": " + Failure.reason(e));
        }

        @Override
        public void close() throws Failure {
            try {
                in.close();
            } catch (IOException e) {
                throw unreadable(e);
            }
        }
    }
}
