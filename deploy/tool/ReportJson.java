// report.json (SPEC 9.6): what ran, where and with what, whether it
// passed, and every combination's result record as it was written.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

final class ReportJson {
    private ReportJson() {
    }

    /** The report; "passed" is false when a combination failed or none ran (skipped ones never pass). */
    static ObjectNode of(RunRecord record) throws Failure {
        ObjectNode report = RunRecord.JSON.createObjectNode();
        report.put("gate", "backup-restore-smoke");
        report.put("started_at", record.fact("started_at"));
        report.put("finished_at", record.fact("finished_at"));
        report.put("host", record.fact("host"));
        report.put("repository_commit", record.fact("repository_commit"));
        ObjectNode versions = report.putObject("versions");
        for (String program : new String[] {"tool", "jbang", "java", "pg_dump", "source_server"}) {
            versions.put(program, record.fact(program));
        }
        report.put("passed", record.passed());
        report.put("outcome", outcome(record));
        report.set("second_oracle", secondOracle(record));
        ArrayNode combinations = report.putArray("combinations");
        record.combinations().forEach(combinations::add);
        return report;
    }

    /** passed, failed, or nothing_ran (every combination skipped, or none planned). */
    static String outcome(RunRecord record) {
        return switch (record.exitStatus()) {
            case RunRecord.EXIT_PASSED -> "passed";
            case RunRecord.EXIT_FAILED -> "failed";
            default -> "nothing_ran";
        };
    }

    private static JsonNode secondOracle(RunRecord record) throws Failure {
        String oracle = record.fact("second_oracle");
        if (oracle == null) {
            return RunRecord.JSON.nullNode();
        }
        try {
            return RunRecord.JSON.readTree(oracle);
        } catch (IOException e) {
            throw new Failure("run.facts: second_oracle is not JSON: " + Knobs.printable(oracle));
        }
    }

    static String toText(RunRecord record) throws Failure {
        return of(record).toPrettyString() + "\n";
    }
}
