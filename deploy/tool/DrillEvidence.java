// The drill's evidence (issue 17 item 4, SPEC section 9.10): report.json, its
// Ed25519 signature report.json.sig, and metrics.prom for node_exporter's
// textfile collector. An auditor checks them without us:
//   openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in report.json -sigfile report.json.sig

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

final class DrillEvidence {
    private DrillEvidence() {}

    static final String REPORT = "report.json";
    static final String SIGNATURE = "report.json.sig";
    static final String METRICS = "metrics.prom";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The report: tool, method, when, passed and the failure; the ledger
     * entry relied on (its line as recorded, and its digest); the backup as
     * given or read from its files (DrillOptions: its id the one the restore
     * said it restored); the restored server and chain; rto_seconds (as given),
     * rpo_rows, rpo_seconds; each verdict judged; the PITR proof.
     */
    static String reportJson(DrillJudge.Request request, DrillJudge.Findings findings, Instant judgedAt) {
        ObjectNode report = JSON.createObjectNode();
        report.put("tool", request.toolVersion());
        report.put("method", request.method());
        report.put("judged_at", judgedAt.toString());
        report.put("passed", findings.passed());
        report.put("failure", findings.failure);
        ObjectNode ledger = report.putObject("ledger");
        ledger.put("file", request.ledger() == null ? null : request.ledger().toString());
        ledger.put("entries", findings.entryCount);
        if (findings.reliedOn != null) {
            ledger.put("relied_on", findings.reliedNumber);
            // The exact line, not the entry encoded again: an auditor finds its digest in the ledger.
            ledger.put("relied_on_digest", LedgerEntry.digestOf(findings.reliedLine));
            ledger.set("relied_on_entry", parse(findings.reliedLine));
        }
        report.set("backup", backup(request.backup()));
        if (findings.restored != null && findings.snapshot != null) {
            ObjectNode restored = report.putObject("restored");
            restored.put("system_identifier", findings.restored.systemIdentifier());
            restored.put("timeline", findings.restored.timeline());
            restored.put("wal_lsn", findings.restored.walLsn());
            restored.put("row_count", findings.snapshot.rowCount());
            restored.put("chain_head_hash", findings.snapshot.chainHeadHash());
            restored.put("head_position", findings.snapshot.rowCount() - 1);
        }
        putNumber(report, "rto_seconds", request.restoreSeconds());
        if (findings.rpo != null) {
            report.put("rpo_rows", findings.rpo.rows());
            putNumber(report, "rpo_seconds", findings.rpo.seconds());
            report.put("rpo_reference", findings.rpo.reference());
        }
        ObjectNode verdicts = report.putObject("verdicts");
        findings.verdicts.forEach(verdicts::put);
        if (!findings.pitr.isEmpty()) {
            report.set("pitr", JSON.valueToTree(findings.pitr));
        }
        return pretty(report);
    }

    /** Two-space indentation and "key": value, as the snapshot prints. */
    private static String pretty(JsonNode node) {
        var printer = new com.fasterxml.jackson.core.util.DefaultPrettyPrinter()
                .withSeparators(com.fasterxml.jackson.core.util.Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(com.fasterxml.jackson.core.util.Separators.Spacing.AFTER));
        printer.indentArraysWith(new com.fasterxml.jackson.core.util.DefaultIndenter("  ", "\n"));
        printer.indentObjectsWith(new com.fasterxml.jackson.core.util.DefaultIndenter("  ", "\n"));
        try {
            return JSON.writer(printer).writeValueAsString(node) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the report", e);
        }
    }

    private static ObjectNode backup(DrillJudge.Backup backup) {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", backup.id());
        node.put("label", backup.label());
        node.put("start_time", backup.start() == null ? null : backup.start().toString());
        node.put("start_lsn", backup.startLsn());
        node.put("stop_lsn", backup.stopLsn());
        node.put("timeline", backup.timeline());
        node.put("system_identifier", backup.systemIdentifier());
        return node;
    }

    private static void putNumber(ObjectNode node, String key, Double value) {
        if (value != null) {
            node.put(key, BigDecimal.valueOf(value));
        }
    }

    private static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new IllegalStateException("a ledger line that parsed once no longer parses", e);
        }
    }

    /**
     * node_exporter textfile format, one gauge per metric labelled by
     * method; backupsmoke_restore_seconds and the RPO only when known.
     */
    static String metrics(String method, boolean passed, Instant judgedAt, Double restoreSeconds, Rpo rpo) {
        StringBuilder text = new StringBuilder();
        String labels = "{method=\"" + method.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"}";
        gauge(text, "backupsmoke_drill_success", "1 when the last restore drill passed, 0 when it did not.",
                labels, passed ? "1" : "0");
        gauge(text, "backupsmoke_drill_last_run_timestamp_seconds", "When the last restore drill was judged.",
                labels, number(judgedAt.toEpochMilli() / 1000.0));
        if (restoreSeconds != null) {
            gauge(text, "backupsmoke_restore_seconds", "How long the last drill's restore took.", labels,
                    number(restoreSeconds));
        }
        if (rpo != null) {
            gauge(text, "backupsmoke_rpo_rows", "Audit rows the restored backup lacks.", labels,
                    Long.toString(rpo.rows()));
            if (rpo.seconds() != null) {
                gauge(text, "backupsmoke_rpo_seconds", "How far the restored backup is behind, in seconds.", labels,
                        number(rpo.seconds()));
            }
        }
        return text.toString();
    }

    private static void gauge(StringBuilder text, String name, String help, String labels, String value) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" gauge\n")
                .append(name).append(labels).append(' ').append(value).append('\n');
    }

    private static String number(double value) {
        return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }

    /** Each file written beside and renamed into place, so a reader never sees half of one. */
    static void write(Path folder, String reportJson, Ed25519Keys signingKeys, String metricsText) throws Failure {
        try {
            Files.createDirectories(folder);
            byte[] report = reportJson.getBytes(StandardCharsets.UTF_8);
            RunRecord.replace(folder.resolve(REPORT), report);
            if (signingKeys != null) {
                RunRecord.replace(folder.resolve(SIGNATURE), signingKeys.sign(report));
            }
            RunRecord.replace(folder.resolve(METRICS), metricsText.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Failure("cannot write the drill's evidence into " + folder + ": " + Failure.reasonAt(e, folder));
        }
    }
}
