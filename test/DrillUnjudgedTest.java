// drill-verify's evidence of a drill that ended before there was a restore
// to judge (--restore-failed, --cannot-judge: SPEC 9.10), and the backup's
// facts read from the backup_label a restore leaves (--backup-label-file):
// in process, without a database.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DrillUnjudgedTest {
    @TempDir Path folder;

    private Path label() throws Exception {
        return Files.writeString(folder.resolve("backup_label"), """
                START WAL LOCATION: 0/5000028 (file 000000010000000000000005)
                CHECKPOINT LOCATION: 0/5000060
                BACKUP METHOD: streamed
                BACKUP FROM: primary
                START TIME: 2026-12-05 16:32:16 UTC
                LABEL: pgBackRest backup started at 2026-12-05 16:32:16.59021+00
                START TIMELINE: 1
                """);
    }

    private JsonNode report() throws Exception {
        return new ObjectMapper().readTree(folder.resolve("report/report.json").toFile());
    }

    @Test
    void aRestoreThatFailedIsReportedWithoutConnectingAndExitsThree() throws Exception {
        var result = Support.refused(3, "the restored server is paused in recovery", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger.jsonl"), "--method=pgbackrest",
                "--report-dir=" + folder.resolve("report"), "--backup-label-file=" + label(),
                "--backup-system-identifier=7715858619524972889",
                "--restore-failed=the restored server is paused in recovery");
        JsonNode report = report();
        assertEquals(false, report.get("passed").asBoolean());
        assertEquals("the restored server is paused in recovery", report.get("failure").asText());
        assertEquals("0/5000028", report.get("backup").get("start_lsn").asText());
        assertEquals("2026-12-05T16:32:16Z", report.get("backup").get("start_time").asText());
        assertEquals(1, report.get("backup").get("timeline").asInt());
        assertEquals("pgBackRest backup started at 2026-12-05 16:32:16.59021+00", report.get("backup").get("label").asText());
        assertEquals("7715858619524972889", report.get("backup").get("system_identifier").asText());
        assertTrue(report.get("restored") == null, report.toString());
        assertTrue(Files.readString(folder.resolve("report/metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"pgbackrest\"} 0\n"));
        assertEquals(result.out(), Files.readString(folder.resolve("report/report.json")));
    }

    @Test
    void theBackupsSystemIdentifierIsReadFromItsControldata() throws Exception {
        Path controldata = Files.writeString(folder.resolve("controldata"),
                "pg_control version number:            1700\nDatabase system identifier:           7715858619524972889\n");
        var result = Support.tool("--mode=drill-verify", "--ledger=" + folder.resolve("ledger.jsonl"),
                "--report-dir=" + folder.resolve("report"), "--backup-controldata=" + controldata,
                "--restore-failed=the restore failed");
        assertEquals(3, result.exit(), result.describe());
        assertEquals("7715858619524972889", report().get("backup").get("system_identifier").asText());
    }

    @Test
    void aDrillThatCouldNotRunSaysCannotJudgeAndExitsOne() throws Exception {
        Support.refused(1, "cannot judge: no server binaries", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger.jsonl"), "--report-dir=" + folder.resolve("report"),
                "--cannot-judge=no server binaries");
        assertEquals("cannot judge: no server binaries", report().get("failure").asText());
        assertEquals(0, report().get("ledger").get("entries").asInt());
        assertTrue(report().get("backup").get("start_lsn").isNull(), report().toString());
    }

    /**
     * A backup_label the judge cannot read (a START TIMELINE of 0, a START TIME in an unknown zone: whoever
     * writes the repository can write it) still replaces the report folder's evidence: the last run's passing
     * report.json and its metrics stayed there as this run's before. With --restore-failed too: the drill
     * cannot be judged, its line the label's.
     */
    @Test
    void aBackupLabelThatCannotBeReadStillReplacesTheLastRunsEvidence() throws Exception {
        Path reports = Files.createDirectories(folder.resolve("report"));
        Files.writeString(reports.resolve("report.json"), "{\"passed\": true}\n");
        Files.writeString(reports.resolve("metrics.prom"), "backupsmoke_drill_success{method=\"pgbackrest\"} 1\n");
        Path unreadable = Files.writeString(folder.resolve("backup_label"),
                Files.readString(label()).replace("START TIMELINE: 1", "START TIMELINE: 0"));
        Support.refused(1, "--backup-timeline must be 1 or more, got 0", "--mode=drill-verify",
                "--db-url=postgres://nobody@127.0.0.1:1/none", "--ledger=" + folder.resolve("ledger.jsonl"),
                "--method=pgbackrest", "--report-dir=" + reports, "--backup-label-file=" + unreadable);
        assertEquals(false, report().get("passed").asBoolean());
        assertEquals("cannot judge: --backup-timeline must be 1 or more, got 0", report().get("failure").asText());
        assertEquals("0/5000028", report().get("backup").get("start_lsn").asText());
        assertTrue(Files.readString(reports.resolve("metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"pgbackrest\"} 0\n"));

        Files.writeString(reports.resolve("report.json"), "{\"passed\": true}\n");
        Support.refused(1, "--backup-timeline must be 1 or more, got 0", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger.jsonl"), "--report-dir=" + reports,
                "--backup-label-file=" + unreadable, "--restore-failed=the restore failed");
        assertEquals("cannot judge: --backup-timeline must be 1 or more, got 0", report().get("failure").asText());
        assertEquals("0/5000028", report().get("backup").get("start_lsn").asText());
    }

    @Test
    void theRestoreFlagsBelongToDrillVerifyOnly() {
        var result = Support.tool("--mode=verify", "--db-url=postgres://x@127.0.0.1:1/x",
                "--backup-label-file=backup_label");
        assertEquals(2, result.exit(), result.describe());
        assertTrue(result.err().contains("--backup-label-file applies to --mode=drill-verify only"), result.err());
    }
}
