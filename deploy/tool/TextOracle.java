// The text second oracle (SMOKE_ORACLE=text, deploy/docs/harness.md): a
// pg_dump of each side with the same flags, which must be the same text.
// The dump drops the lines that differ by design (the random \restrict key,
// the version banner); after a WAL replay (PITR) the sequences' setval lines
// too, since a replay legitimately brings a sequence up to 32 values ahead.

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
     * pg_dump of URL (no password: PGPASSWORD or the service file of the
     * environment) into OUT, inside the exported SNAPSHOT when not null,
     * without the lines that differ by design; killed, and the run failed
     * with the timeout's message, when it outlasts DEADLINE (the run's --timeout).
     */
    static void dump(String url, String snapshot, Deadline deadline, OutputStream out) throws Failure {
        if (snapshot != null && !snapshot.matches(SemanticOracle.SNAPSHOT_ID)) {
            throw new Failure("--snapshot-id " + Failure.quoted(snapshot) + " is not an exported snapshot's id");
        }
        List<String> command = new ArrayList<>(List.of("pg_dump", "--format=plain", "--no-owner", "--no-acl",
                "--dbname=" + url));
        if (snapshot != null) {
            command.add("--snapshot=" + snapshot);
        }
        String doing = "running the text oracle's pg_dump of " + url;
        deadline.check(doing);
        // pg_dump says why it failed on stderr, just before the line naming the failure.
        Program pgDump = new Program("the text oracle's pg_dump of " + url, command).errors(Program.Errors.INHERITED)
                .within(Duration.ofMillis(Math.max(1, deadline.remainingMillis())));
        BufferedWriter kept = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8));
        Program.Outcome dumped;
        try {
            dumped = pgDump.runLines(line -> keep(line, kept));
        } catch (Failure e) {
            if (deadline.hasExpired()) { // its overrun is the run's: say so as every other phase does
                throw deadline.timedOut(doing);
            }
            throw e;
        }
        try {
            kept.flush(); // what pg_dump wrote before it failed too
        } catch (IOException e) {
            throw new Failure("cannot write the text oracle's dump: " + e.getMessage());
        }
        dumped.succeeded();
    }

    /** LINE into KEPT, unless it is one that differs by design. */
    private static void keep(String line, BufferedWriter kept) throws IOException {
        if (!BY_DESIGN.matcher(line).find()) {
            kept.write(line);
            kept.write('\n');
        }
    }

    /** The same dump into FILE. */
    static void dump(String url, String snapshot, Deadline deadline, Path file) throws Failure {
        try (OutputStream out = Files.newOutputStream(file)) {
            dump(url, snapshot, deadline, out);
        } catch (IOException e) {
            throw new Failure("cannot write " + file + ": " + e.getMessage());
        }
    }

    /**
     * The two dumps must be the same text (REPLAYED: but for the sequences'
     * values); else the reason quotes the first difference as diff would
     * print it: "< LINE" of the source, or "> LINE" of the restored dump when
     * lines were inserted there.
     */
    static Judgement compare(Path source, Path restored, boolean replayed) throws Failure {
        List<String> a = lines(source, replayed);
        List<String> b = lines(restored, replayed);
        int first = 0;
        while (first < a.size() && first < b.size() && a.get(first).equals(b.get(first))) {
            first++;
        }
        if (first == a.size() && first == b.size()) {
            return Judgement.pass(List.of());
        }
        String difference = first == a.size() || insertedBefore(a, b, first) ? "> " + b.get(first)
                : "< " + a.get(first);
        return Judgement.fail("the restored database does not dump like the source: "
                + difference.substring(0, Math.min(QUOTED, difference.length())), List.of());
    }

    /** True when B holds lines at FIRST that A lacks: A's line there comes again a little later in B. */
    private static boolean insertedBefore(List<String> a, List<String> b, int first) {
        if (first == b.size()) {
            return false;
        }
        int end = Math.min(b.size(), first + LOOK_AHEAD);
        return b.subList(first + 1, end).contains(a.get(first));
    }

    private static List<String> lines(Path file, boolean replayed) throws Failure {
        try (var stream = Files.lines(file, StandardCharsets.UTF_8)) {
            return stream.filter(line -> !(replayed && SEQUENCE_VALUE.matcher(line).find())).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new Failure("cannot read the text oracle's dump " + file + ": " + e.getMessage());
        }
    }
}
