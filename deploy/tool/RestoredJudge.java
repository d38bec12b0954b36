// --mode=judge-restored (SPEC 9.9): the harness's one question about a
// restored database once the tool under test has verified it, before rows
// are appended for continuity. From the files of the harness's work folder
// (--run-record=WORK, --combination=NAME): the round trip (WORK/post.NAME.json
// against WORK/expected.json and the fingerprint of WORK/pre.json), then the
// second oracle's capture of the restored database into WORK/oracle.NAME and
// its comparison with WORK/oracle.source. One NUL-separated answer
// (Judgement.toNul): exit 0 pass, 3 fail with the part that failed.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

final class RestoredJudge {
    static final String MODE = "judge-restored";
    static final String SEMANTIC = "semantic";
    static final String OFF = "off";

    private RestoredJudge() {}

    /** The flags of this mode (--run-record, --db-url and --since are the command's). */
    static final class Options {
        @Option(names = "--combination", paramLabel = "NAME")
        String combination;

        @Option(names = "--second-oracle", paramLabel = "NAME", defaultValue = SEMANTIC)
        String secondOracle;
    }

    /** The oracle's name, checked: one of Knobs.ORACLES. */
    static String oracle(Options options) throws Failure {
        if (!Knobs.ORACLES.contains(options.secondOracle)) {
            throw new Failure("--second-oracle must be one of " + String.join(", ", Knobs.ORACLES) + ", got "
                    + Failure.quoted(options.secondOracle));
        }
        return options.secondOracle;
    }

    /**
     * A --combination the run record WORK holds no verify snapshot of (WORK/post.NAME.json, which the
     * harness writes before it asks) is unknown: its line, a usage error naming the combinations WORK
     * has; null when it is known, or when there is no name or no WORK (run says what is missing).
     */
    static String unknownCombination(Options options, Path work) {
        String name = options.combination;
        if (work == null || name == null || name.isEmpty() || Files.isRegularFile(work.resolve(snapshotOf(name)))) {
            return null;
        }
        List<String> known;
        try (var files = Files.list(work)) {
            known = files.map(file -> file.getFileName().toString())
                    .filter(file -> file.startsWith("post.") && file.endsWith(".json"))
                    .map(file -> file.substring("post.".length(), file.length() - ".json".length())).sorted().toList();
        } catch (IOException e) {
            known = List.of();
        }
        return "unknown --combination=" + Failure.quoted(name) + (known.isEmpty()
                ? " (" + work + " holds no combination's verify snapshot, post.NAME.json)"
                : " (" + String.join(" | ", known) + ")");
    }

    /** The file of WORK in which the harness keeps combination NAME's verify snapshot. */
    private static String snapshotOf(String name) {
        return "post." + name + ".json";
    }

    /** True for the text oracle, whose capture is a pg_dump. */
    static boolean isText(Options options) throws Failure {
        return oracle(options).equals(TextOracle.NAME);
    }

    /** The round trip, then the oracle of CONNECTOR's database (URL for pg_dump); the answer on OUT. */
    static int run(Options options, Path work, String url, Connector connector, Path since, PrintStream out)
            throws Failure {
        String oracle = oracle(options);
        if (work == null || options.combination == null || options.combination.isEmpty()) {
            throw new Failure("--mode=" + MODE + " needs --run-record=DIR (the harness's work folder)"
                    + " and --combination=NAME");
        }
        String name = options.combination;
        Judgement verdict = roundTrip(work, name, since);
        String part = verdict.passed() ? null : "round_trip";
        if (verdict.passed() && !oracle.equals(OFF)) {
            Path restored = work.resolve("oracle." + name);
            verdict = verdict.then(compareOracle(oracle, work.resolve(RunRecord.ORACLE_SOURCE), restored, url,
                    connector, Files.exists(work.resolve("pitr.target.json"))));
            part = verdict.passed() ? null : "oracle";
        }
        out.print(verdict.toNul(part));
        out.flush();
        return verdict.exitCode();
    }

    /** --mode=judge's round trip on the harness's files: both snapshots are snapshots, then RoundTripJudge. */
    static Judgement roundTrip(Path work, String name, Path since) throws Failure {
        Path workload = work.resolve("pre.json"); // the harness's files: harness.md
        Path post = work.resolve(snapshotOf(name));
        Judgement verdict = JudgeModes.notASnapshot(workload, "workload")
                .then(JudgeModes.notASnapshot(post, "verify"));
        if (!verdict.passed()) {
            return verdict;
        }
        RoundTripJudge.Checkpoint checkpoint = since == null ? null : JudgeModes.checkpoint(since);
        return RoundTripJudge.roundTrip(JudgeModes.readJson(work.resolve(RunRecord.EXPECTED), "--run-record"),
                JudgeModes.readJson(workload, "--run-record"), JudgeModes.readJson(post, "--run-record"), checkpoint);
    }

    /**
     * The restored database's capture into RESTORED (before continuity
     * appends rows), compared with the source's (REPLAYED: restored by WAL
     * replay, whose sequences may run ahead).
     */
    static Judgement compareOracle(String oracle, Path source, Path restored, String url, Connector connector,
            boolean replayed) throws Failure {
        if (!oracle.equals(SEMANTIC)) {
            TextOracle.dump(url, connector, null, restored);
            return TextOracle.compare(source, restored, replayed);
        }
        String document = SemanticOracle.toJson(SemanticOracle.capture(connector, null));
        try {
            Files.writeString(restored, document);
            return OracleComparison.judge(SemanticOracle.parse(Files.readString(source)),
                    SemanticOracle.parse(document));
        } catch (IOException e) {
            throw new Failure("cannot keep the second oracle's documents in " + restored.getParent() + ": "
                    + Failure.reasonAt(e, restored.getParent()));
        }
    }
}
