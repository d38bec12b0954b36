// The modes the harness asks instead of deciding in bash (SPEC 7): neither
// needs a database, so neither asks for --db-url.
//   --mode=knobs   every knob of the environment parsed and checked; the
//                  answer on stdout as NUL-separated NAME=VALUE entries.
//   --mode=report  the summary table on stdout and, with --report-dir,
//                  report.json and junit.xml, from the run record in
//                  --run-record=DIR (RunRecord); the exit status is the
//                  harness's.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

final class HarnessModes {
    static final String KNOBS = "knobs";
    static final String REPORT = "report";

    private HarnessModes() {
    }

    static boolean handles(String mode) {
        return KNOBS.equals(mode) || REPORT.equals(mode);
    }

    static int knobs(Map<String, String> env, PrintStream out) throws Failure {
        out.print(Knobs.parse(env).toNulRecord());
        out.flush();
        return 0;
    }

    /** 0 every combination passed, 3 one failed, 1 none ran; the reason on stderr. */
    static int report(Path runRecord, Path reportDir, PrintStream out, PrintStream err) throws Failure {
        if (runRecord == null) {
            throw new Failure("--mode=report needs --run-record=DIR (the harness's work folder)");
        }
        return report(RunRecord.read(runRecord), reportDir, out, err);
    }

    static int report(RunRecord record, Path reportDir, PrintStream out, PrintStream err) throws Failure {
        SummaryTable.write(record, out);
        out.flush();
        if (reportDir != null) {
            try {
                Files.createDirectories(reportDir);
            } catch (IOException e) {
                throw new Failure("cannot make " + reportDir + ": " + e.getMessage());
            }
            write(reportDir.resolve("report.json"), ReportJson.toText(record));
            write(reportDir.resolve("junit.xml"), JunitXml.of(record));
        }
        if (record.exitStatus() != RunRecord.EXIT_PASSED) {
            err.println("backupsmoke: " + record.verdictLine());
        }
        return record.exitStatus();
    }

    private static void write(Path file, String text) throws Failure {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Failure("cannot write " + file + ": " + e.getMessage());
        }
    }
}
