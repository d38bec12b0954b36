// The harness's questions to the tool (SPEC section 9.9): --mode=judge
// (the round trip, continuity and the semantic oracle's comparison, on JSON
// files; no database), --mode=oracle-capture (the semantic oracle's document
// of one database) and --mode=pitr-check (a point-in-time restore holds
// exactly workload A). A picocli mixin of BackupSmoke's command line; the
// flags' help texts are in usage.properties.

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

final class JudgeModes {
    static final String JUDGE = "judge";
    static final String ORACLE_CAPTURE = "oracle-capture";
    static final String PITR_CHECK = "pitr-check";

    /** The verify flags --mode=judge reads too: the expectation and the incremental checkpoint. */
    static final List<String> SHARED_WITH_VERIFY = List.of("--expect", "--since");

    @Option(names = "--snapshot", paramLabel = "FILE")
    Path snapshot;

    @Option(names = "--workload-snapshot", paramLabel = "FILE")
    Path workloadSnapshot;

    @Option(names = "--continuity", paramLabel = "FILE")
    Path continuity;

    @Option(names = "--appended", paramLabel = "N", defaultValue = "0")
    long appended;

    @Option(names = "--oracle-source", paramLabel = "FILE")
    Path oracleSource;

    @Option(names = "--oracle-restored", paramLabel = "FILE")
    Path oracleRestored;

    @Option(names = "--snapshot-id", paramLabel = "ID")
    String snapshotId;

    @Option(names = "--later-prefix", paramLabel = "PREFIX")
    String laterPrefix;

    @Option(names = "--nul")
    boolean nul;

    /** Which of these modes reads each flag above; elsewhere it is a usage error (FlagReaders). */
    static final List<ModeFlags> FLAGS = List.of(
            ModeFlags.namedFor(List.of(JUDGE), "--snapshot", "--workload-snapshot", "--continuity", "--appended",
                    "--oracle-source", "--oracle-restored"),
            ModeFlags.namedFor(List.of(ORACLE_CAPTURE), "--snapshot-id"),
            ModeFlags.namedFor(List.of(PITR_CHECK), "--later-prefix"),
            ModeFlags.namedFor(List.of(JUDGE, PITR_CHECK), "--nul")); // the two that answer a verdict

    /**
     * Judges whichever parts are given, in the harness's order: the round
     * trip (--snapshot against --expect), continuity, the oracle. Prints one
     * verdict; 0 when it passes, 3 when it fails.
     */
    int judge(Path expect, Path since, PrintStream out) throws Failure {
        if (snapshot == null && continuity == null && oracleSource == null) {
            throw new Failure("--mode=judge needs --snapshot, --continuity or --oracle-source and --oracle-restored");
        }
        if ((oracleSource == null) != (oracleRestored == null)) {
            throw new Failure("--oracle-source and --oracle-restored go together");
        }
        Judgement verdict = Judgement.pass(List.of());
        String part = null; // the part that failed
        if (snapshot != null || continuity != null) {
            if (expect == null) {
                throw new Failure("--mode=judge needs --expect FILE (the expectation) with --snapshot or --continuity");
            }
            JsonNode expected = readJson(expect, "--expect");
            if (snapshot != null) {
                // Each snapshot read once: a pipe (--snapshot=/dev/stdin) gives its text only once.
                String workloadText = snapshotText(workloadSnapshot);
                String verifyText = snapshotText(snapshot);
                verdict = verdict.then(notASnapshot(workloadText, "workload")).then(notASnapshot(verifyText, "verify"));
                if (verdict.passed()) {
                    JsonNode workload = workloadText == null ? null
                            : parseJson(workloadText, workloadSnapshot, "--workload-snapshot");
                    verdict = verdict.then(RoundTripJudge.roundTrip(expected, workload,
                            parseJson(verifyText, snapshot, "--snapshot"), since == null ? null : checkpoint(since)));
                }
                part = verdict.passed() ? null : "round_trip";
            }
            if (continuity != null && verdict.passed()) {
                verdict = verdict.then(RoundTripJudge.continuity(expected, readJson(continuity, "--continuity"),
                        appended));
                part = verdict.passed() ? null : "continuity";
            }
        }
        if (oracleSource != null && verdict.passed()) {
            verdict = verdict.then(OracleComparison.judge(oracleDocument(oracleSource, "--oracle-source"),
                    oracleDocument(oracleRestored, "--oracle-restored")));
            part = verdict.passed() ? null : "oracle";
        }
        return answer(verdict, part, out);
    }

    private int answer(Judgement verdict, String part, PrintStream out) {
        out.print(nul ? verdict.toNul(part) : verdict.toJson(part));
        out.flush();
        return verdict.exitCode();
    }

    /**
     * A snapshot must be one JSON object with the section-3 basics, or the
     * judge would compare nothing: a failing verdict naming the MODE that
     * printed FILE, with what it printed; a passing one otherwise (or with
     * no FILE).
     */
    static Judgement notASnapshot(Path file, String mode) {
        return notASnapshot(snapshotText(file), mode);
    }

    /** FILE's text; "" when it cannot be read (notASnapshot's failure then), null with no FILE. */
    private static String snapshotText(Path file) {
        try {
            return file == null ? null : Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    /** notASnapshot of a snapshot's TEXT (null: none given, which passes). */
    private static Judgement notASnapshot(String text, String mode) {
        if (text == null || isSnapshot(text)) {
            return Judgement.pass(List.of());
        }
        List<String> say = new java.util.ArrayList<>(List.of("BackupSmoke --mode=" + mode + " output was:"));
        text.lines().forEach(say::add);
        return Judgement.fail("BackupSmoke --mode=" + mode
                + " did not print one JSON snapshot with row_count and chain_head_hash", say);
    }

    private static boolean isSnapshot(String text) {
        try {
            JsonNode node = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(text);
            return node != null && node.isObject() && node.path("row_count").isNumber()
                    && node.path("chain_head_hash").isTextual();
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    int captureOracle(Connector connector, PrintStream out) throws Failure {
        out.print(SemanticOracle.toJson(SemanticOracle.capture(connector, snapshotId)));
        out.flush();
        return 0;
    }

    int checkPitr(Connector connector, String aPrefix, long aRows, PrintStream out) throws Failure {
        if (laterPrefix == null || laterPrefix.isEmpty()) {
            throw new Failure("--mode=pitr-check needs --later-prefix (the ids written after the recovery target)");
        }
        return answer(PitrRows.read(connector, aPrefix, aRows, laterPrefix).judgement(), null, out);
    }

    static RoundTripJudge.Checkpoint checkpoint(Path since) throws Failure {
        return new RoundTripJudge.Checkpoint(since.toString(), readJson(since, "--since").path("row_count").asLong());
    }

    /** The semantic oracle's document in FILE, given by FLAG: one that is not names FLAG and FILE. */
    private static com.fasterxml.jackson.databind.node.ObjectNode oracleDocument(Path file, String flag)
            throws Failure {
        String text = RunRecord.readGiven(file, flag);
        try {
            return SemanticOracle.parse(text);
        } catch (Failure malformed) {
            throw new Failure(flag + " " + file + ": " + malformed.getMessage());
        }
    }

    static JsonNode readJson(Path file, String flag) throws Failure {
        return parseJson(RunRecord.readGiven(file, flag), file, flag);
    }

    /** TEXT, read from FILE given by FLAG, as one JSON object; one that is not names FLAG and FILE. */
    private static JsonNode parseJson(String text, Path file, String flag) throws Failure {
        try {
            JsonNode node = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(text);
            if (node == null || !node.isObject()) {
                throw new Failure(flag + " " + file + " is not one JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new Failure(flag + " " + file + " is " + Failure.reason(e));
        }
    }
}
