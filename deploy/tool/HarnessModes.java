// The modes the harness asks instead of deciding in bash (SPEC 7): neither
// needs a database, so neither asks for --db-url.
//   --mode=knobs   every knob of the environment parsed and checked; the
//                  answer on stdout as NUL-separated NAME=VALUE entries.
//                  With --run-record=WORK, also run.verify_against (the
//                  anchor of every verify), and an sslpassword DATABASE_URL
//                  carries goes to WORK/pg_service.conf (server.service_file),
//                  so that no client gets it on its command line.
//   --mode=report  the summary table on stdout and, with --report-dir,
//                  report.json and junit.xml, from the run record in
//                  --run-record=DIR (RunRecord); the exit status is the
//                  harness's. A passing run writes its expectation to
//                  --since=FILE (SMOKE_SINCE: the next run's checkpoint)
//                  and ends stdout with the PASS line. A drill's folder
//                  (WORK/drill, holding drill-verify's report.json) gets
//                  the drill's PASS line.
//   --mode=backup-evidence  a physical backup's evidence from its tool's
//                  output in --run-record=WORK/evidence.METHOD
//                  (PhysicalEvidence).
// The plan (--mode=plan, HarnessPlan) needs the source server.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

final class HarnessModes {
    static final String KNOBS = "knobs";
    static final String REPORT = "report";
    static final String DRILL_REPORT = "report.json";

    private HarnessModes() {
    }

    /** TOOL_VERSION: the calling tool's version line, for a drill's report; WORK (or null) the harness's folder. */
    static int knobs(Map<String, String> env, Path work, String toolVersion, PrintStream out) throws Failure {
        Knobs knobs;
        try {
            knobs = Knobs.parse(env);
        } catch (Failure bad) {
            drillCannotJudge(env, bad.getMessage(), toolVersion);
            throw bad;
        }
        out.print(knobs.toNulRecord());
        if (work != null) {
            out.print("run.verify_against=" + verifyAgainst(knobs, work) + "\0");
        }
        String sslPassword = knobs.get("server.sslpassword");
        if (work != null && sslPassword != null) {
            out.print("server.service_file=" + ServiceFile.write(work, sslPassword) + "\0");
        }
        out.flush();
        return 0;
    }

    /**
     * What every verify of the run is anchored to (SPEC 9.3): the expectation
     * read in the backups' snapshot (WORK/expected.json), or the SMOKE_SINCE
     * checkpoint once one exists.
     */
    static String verifyAgainst(Knobs knobs, Path work) {
        return "1".equals(knobs.get("since.found")) ? "--since=" + knobs.get("SMOKE_SINCE")
                : "--expect=" + work.resolve("expected.json");
    }

    /**
     * A drill (SMOKE_DRILL=1) writes its report.json on every exit: when a
     * knob stops it before anything ran, "passed": false and the reason,
     * signed with SMOKE_SIGNING_KEY when that key can be read.
     */
    private static void drillCannotJudge(Map<String, String> env, String reason, String toolVersion) {
        String reports = env.getOrDefault("SMOKE_REPORT_DIR", "");
        if (!"1".equals(env.get("SMOKE_DRILL")) || reports.isEmpty()) {
            return;
        }
        LedgerOptions ledger = new LedgerOptions();
        String ledgerFile = env.getOrDefault("SMOKE_LEDGER", "");
        ledger.ledger = ledgerFile.isEmpty() ? null : Path.of(ledgerFile).toAbsolutePath();
        String key = env.getOrDefault("SMOKE_SIGNING_KEY", "");
        ledger.signingKey = key.isEmpty() || !Files.isReadable(Path.of(key)) ? null : Path.of(key);
        DrillOptions options = new DrillOptions();
        String method = env.getOrDefault("SMOKE_METHODS", "");
        options.method = method.isEmpty() ? "none" : Knobs.printable(method);
        options.cannotJudge = reason;
        options.reportDir = Path.of(reports);
        try {
            // The harness reads stdout as the knobs' answer: the report goes to the file only.
            DrillVerify.unjudged(ledger, options, toolVersion, new PrintStream(java.io.OutputStream.nullOutputStream()));
        } catch (Failure expected) {
            // the knob's failure is what the harness reports
        }
    }

    /**
     * 0 every combination passed, 3 one failed, 1 none ran; the reason on
     * stderr. TOOL_VERSION names the tool in the report when the harness
     * ran this one (no SMOKE_TOOL).
     */
    static int report(Path runRecord, Path reportDir, Path checkpoint, String toolVersion, PrintStream out,
            PrintStream err) throws Failure {
        if (runRecord == null) {
            throw new Failure("--mode=report needs --run-record=DIR (the harness's work folder)");
        }
        if (Files.isRegularFile(runRecord.resolve(DRILL_REPORT))) {
            out.writeBytes(drillPassLine(JudgeModes.readJson(runRecord.resolve(DRILL_REPORT), "--run-record"))
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            return 0;
        }
        RunRecord record = RunRecord.read(runRecord);
        if (!record.facts().isEmpty() && record.fact("tool") == null) {
            record.facts().put("tool", toolVersion); // no SMOKE_TOOL: the tool is this one
        }
        int status = report(record, reportDir, out, err);
        if (status == RunRecord.EXIT_PASSED) {
            if (checkpoint != null) {
                writeCheckpoint(record.expectation(), checkpoint, err);
            }
            out.writeBytes(passLine(record.expectation()).getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
        return status;
    }

    /** The last line of a passing run's stdout; U+2026 as UTF-8 whatever the locale. */
    static String passLine(JsonNode expected) {
        String head = expected.path("chain_head_hash").asText("");
        return "PASS  rows=" + Judgement.text(expected.path("row_count")) + "  chain_head="
                + head.substring(0, Math.min(16, head.length())) + "\u2026  verifier=clean\n";
    }

    /** The last line of a passing drill's stdout, from its report.json. */
    static String drillPassLine(JsonNode report) {
        JsonNode restored = report.path("restored");
        String head = restored.path("chain_head_hash").asText("");
        return "PASS  drill=" + report.path("method").asText() + "  rows=" + Judgement.text(restored.path("row_count"))
                + "  chain_head=" + head.substring(0, Math.min(16, head.length())) + "\u2026  checkpoint="
                + Judgement.text(report.path("ledger").path("relied_on")) + " of "
                + Judgement.text(report.path("ledger").path("entries")) + "  verifier=clean\n";
    }

    /** This run's expectation becomes the next checkpoint: written beside FILE and renamed, never half written. */
    static void writeCheckpoint(JsonNode expected, Path file, PrintStream err) throws Failure {
        ObjectNode checkpoint = RunRecord.JSON.createObjectNode();
        checkpoint.set("row_count", expected.path("row_count"));
        checkpoint.set("chain_head_hash", expected.path("chain_head_hash"));
        try {
            RunRecord.replace(file, (checkpoint.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Failure("cannot write the next checkpoint to SMOKE_SINCE=" + file);
        }
        err.println("checkpoint: " + file + " now at row " + Judgement.text(expected.path("row_count"))
                + "; the next run hashes only what comes after it");
    }

    static int report(RunRecord record, Path reportDir, PrintStream out, PrintStream err) throws Failure {
        SummaryTable.write(record, out);
        out.flush();
        if (reportDir != null) {
            try {
                Files.createDirectories(reportDir);
            } catch (IOException e) {
                throw new Failure("cannot make " + reportDir + ": " + Failure.reasonAt(e, reportDir));
            }
            write(reportDir.resolve("report.json"), ReportJson.toText(record));
            write(reportDir.resolve("junit.xml"), JunitXml.of(record));
        }
        if (record.exitStatus() != RunRecord.EXIT_PASSED) {
            err.println(FailureReport.PREFIX + record.verdictLine());
        }
        return record.exitStatus();
    }

    static void write(Path file, String text) throws Failure {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Failure("cannot write " + file + ": " + Failure.reason(e));
        }
    }
}
