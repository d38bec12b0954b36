// The drill's evidence (issue 17 item 4, SPEC section 9.10): RPO arithmetic,
// metrics.prom and report.json as pure logic, then the command as a scheduler
// runs it: exit 0 / 3 / 1, report.json.sig verified by openssl, metrics.prom.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DrillEvidenceTest {
    @TempDir Path folder;

    static final Instant T0 = Instant.parse("2026-12-05T01:00:00Z");

    @Test
    void rpoCountsTheLackingRowsAndTheTimeSinceTheNewestEntryTheRestoreHolds() {
        assertEquals(new Rpo(6, 5400.25, "ledger"),
                Rpo.between(24, T0, 30, T0.plusMillis(5_400_250), "ledger"));
        assertEquals(new Rpo(0, 0.0, "live"), Rpo.between(30, T0, 30, T0.plusSeconds(99), "live"));
        assertEquals(new Rpo(0, 0.0, "live"), Rpo.between(31, T0, 30, T0, "live"));
        assertEquals(new Rpo(30, null, "ledger"), Rpo.between(0, null, 30, T0, "ledger"));
        assertEquals(new Rpo(2, 0.0, "ledger"), Rpo.between(28, T0.plusSeconds(5), 30, T0, "ledger"));
    }

    @Test
    void durationsAreNamedInTheirLargestExactUnit() {
        assertEquals("26h", DrillJudge.describe(Duration.ofHours(26)));
        assertEquals("90m", DrillJudge.describe(Duration.ofMinutes(90)));
        assertEquals("45s", DrillJudge.describe(Duration.ofSeconds(45)));
    }

    @Test
    void metricsAreInTheTextfileFormatLabelledByMethod() {
        assertEquals("""
                # HELP backupsmoke_drill_success 1 when the last restore drill passed, 0 when it did not.
                # TYPE backupsmoke_drill_success gauge
                backupsmoke_drill_success{method="pgbackrest"} 1
                # HELP backupsmoke_drill_last_run_timestamp_seconds When the last restore drill was judged.
                # TYPE backupsmoke_drill_last_run_timestamp_seconds gauge
                backupsmoke_drill_last_run_timestamp_seconds{method="pgbackrest"} 1796432400.25
                # HELP backupsmoke_restore_seconds How long the last drill's restore took.
                # TYPE backupsmoke_restore_seconds gauge
                backupsmoke_restore_seconds{method="pgbackrest"} 42.5
                # HELP backupsmoke_rpo_rows Audit rows the restored backup lacks.
                # TYPE backupsmoke_rpo_rows gauge
                backupsmoke_rpo_rows{method="pgbackrest"} 6
                # HELP backupsmoke_rpo_seconds How far the restored backup is behind, in seconds.
                # TYPE backupsmoke_rpo_seconds gauge
                backupsmoke_rpo_seconds{method="pgbackrest"} 5400
                """, DrillEvidence.metrics("pgbackrest", true, T0.plusMillis(250), 42.5,
                new Rpo(6, 5400.0, "ledger")));
        assertEquals("""
                # HELP backupsmoke_drill_success 1 when the last restore drill passed, 0 when it did not.
                # TYPE backupsmoke_drill_success gauge
                backupsmoke_drill_success{method="say \\"hi\\""} 0
                # HELP backupsmoke_drill_last_run_timestamp_seconds When the last restore drill was judged.
                # TYPE backupsmoke_drill_last_run_timestamp_seconds gauge
                backupsmoke_drill_last_run_timestamp_seconds{method="say \\"hi\\""} 1796432400
                """, DrillEvidence.metrics("say \"hi\"", false, T0, null, null));
    }

    @Test
    void aReportOfADrillThatCouldNotBeJudgedSaysNotPassed() {
        DrillJudge.Request request = new DrillJudge.Request(Path.of("/srv/ledger.jsonl"), "backupsmoke 0.1.0",
                "barman", new DrillJudge.Backup("20261205T010000", null, T0, "0/3000028", null, 1L, "7412"),
                null, new DrillJudge.Target(null, null, null), 61.5, null);
        DrillJudge.Findings findings = new DrillJudge.Findings();
        findings.failure = "cannot judge: no entry";
        assertEquals("""
                {
                  "tool": "backupsmoke 0.1.0",
                  "method": "barman",
                  "judged_at": "2026-12-05T01:00:00Z",
                  "passed": false,
                  "failure": "cannot judge: no entry",
                  "ledger": {
                    "file": "/srv/ledger.jsonl",
                    "entries": 0
                  },
                  "backup": {
                    "id": "20261205T010000",
                    "label": null,
                    "start_time": "2026-12-05T01:00:00Z",
                    "start_lsn": "0/3000028",
                    "stop_lsn": null,
                    "timeline": 1,
                    "system_identifier": "7412"
                  },
                  "rto_seconds": 61.5,
                  "verdicts": { }
                }
                """, DrillEvidence.reportJson(request, findings, T0));
    }

    /**
     * An unexpected error while judging (here an RPO of 2^63 ms: the time of
     * an unsigned ledger's line, which anyone who can write the file writes)
     * still replaces the report folder's evidence with a drill that could not
     * be judged: it exited before writing any, and the last run's passing
     * report.json and backupsmoke_drill_success 1 stayed as this run's.
     */
    @Test
    void anUnexpectedErrorStillReplacesTheLastRunsEvidence() throws Exception {
        String live = Support.migratedWithWorkload(24);
        Path ledger = folder.resolve("ledger.jsonl");
        Support.toolOk("--mode=checkpoint", "--db-url=" + Support.url(live), "--ledger=" + ledger);
        String firstLine = Files.readString(ledger).strip();
        LedgerEntry first = LedgerEntry.parse(firstLine);
        LedgerEntry farFuture = new LedgerEntry(Instant.parse("+999999999-12-31T23:59:59Z"), first.systemIdentifier(),
                first.database(), first.schema(), first.timeline(), first.walLsn(), 30, first.chainHeadHash(), 29,
                LedgerEntry.digestOf(firstLine), first.integrity(), null, null, null);
        Files.writeString(ledger, firstLine + "\n" + farFuture.line() + "\n");
        Path reports = Files.createDirectories(folder.resolve("reports"));
        Files.writeString(reports.resolve("report.json"), "{\"passed\": true}\n");
        Files.writeString(reports.resolve("metrics.prom"), "backupsmoke_drill_success{method=\"command\"} 1\n");

        var crashed = Support.tool("--mode=drill-verify", "--db-url=" + Support.url(live), "--ledger=" + ledger,
                "--backup-start=" + first.time().plusSeconds(1), "--report-dir=" + reports);
        assertEquals(1, crashed.exit(), crashed.describe());
        assertEquals("backupsmoke: unexpected error: java.lang.ArithmeticException: long overflow (run with --verbose"
                + " for the stack trace)\n", crashed.err());
        String report = Files.readString(reports.resolve("report.json"));
        assertEquals(report, crashed.out());
        assertTrue(report.contains("\n  \"passed\": false,\n  \"failure\": \"cannot judge: unexpected error:"
                + " java.lang.ArithmeticException: long overflow\",\n"), report);
        assertTrue(Files.readString(reports.resolve("metrics.prom"))
                .contains("\nbackupsmoke_drill_success{method=\"command\"} 0\n"));
    }

    /** The drill through the command, as a scheduler runs it: pass (0), verdict failed (3), cannot judge (1). */
    @Test
    void theCommandSignsItsReportWritesMetricsAndExits0Or3Or1() throws Exception {
        String live = Support.migratedWithWorkload(24);
        Path ledger = folder.resolve("ledger.jsonl");
        Path key = LedgerTest.newKey(folder);
        Support.toolOk("--mode=checkpoint", "--db-url=" + Support.url(live), "--ledger=" + ledger,
                "--signing-key=" + key);
        Thread.sleep(5);
        String backupStart = Instant.now().toString();
        // The "restore" is the ledger's database itself, named as a restore keeps it; the live one goes on as a copy.
        String restored = live;
        String liveCopy = live + "_live";
        Support.execute("postgres", "CREATE DATABASE " + liveCopy + " TEMPLATE " + live);
        Path reports = folder.resolve("reports");
        String[] drill = {"--mode=drill-verify", "--db-url=" + Support.url(restored), "--ledger=" + ledger,
                "--signing-key=" + key, "--backup-start=" + backupStart, "--method=pgbackrest",
                "--restore-seconds=12.5", "--live-url=" + Support.url(liveCopy), "--report-dir=" + reports};

        var passed = Support.tool(drill);
        assertEquals(0, passed.exit(), passed.describe());
        String report = Files.readString(reports.resolve("report.json"));
        assertEquals(report, passed.out());
        assertTrue(report.contains("\n  \"passed\": true,\n"), report);
        assertTrue(report.contains("\n  \"rpo_rows\": 0,\n  \"rpo_seconds\": 0.0,\n"), report);
        LedgerTest.assertOpensslVerifies(folder, key, Files.readAllBytes(reports.resolve("report.json")),
                Files.readAllBytes(reports.resolve("report.json.sig")));
        String metrics = Files.readString(reports.resolve("metrics.prom"));
        assertTrue(metrics.contains("\nbackupsmoke_drill_success{method=\"pgbackrest\"} 1\n"), metrics);
        assertTrue(metrics.contains("\nbackupsmoke_restore_seconds{method=\"pgbackrest\"} 12.5\n"), metrics);
        assertTrue(metrics.contains("\nbackupsmoke_rpo_rows{method=\"pgbackrest\"} 0\n"), metrics);

        // Another database than the ledger's (SMOKE_DRILL_DATABASE named wrong): not the backup's fault.
        String[] anotherDatabase = drill.clone();
        anotherDatabase[1] = "--db-url=" + Support.url(liveCopy);
        Support.refused(1, "cannot judge: the restored database is " + liveCopy + ", the ledger's checkpoint 1 of 1"
                + " was recorded on database " + live + " (connect to that database of the restore:"
                + " SMOKE_DRILL_DATABASE, --db-url)", anotherDatabase);
        assertTrue(Files.readString(reports.resolve("report.json")).contains("\n  \"passed\": false,\n"));

        CheckpointLedgerTest.asReplica(restored, "DELETE FROM audit_events WHERE id = 'audit-smoke-0007'");
        Support.refused(3, "the restored chain: a row was deleted: the chain breaks at position 7 (row"
                + " audit-smoke-0008, missing_predecessor), at or before the head of checkpoint 1 of 1 (position 23)",
                drill);
        assertTrue(Files.readString(reports.resolve("report.json")).contains("\n  \"passed\": false,\n"));
        assertTrue(Files.readString(reports.resolve("metrics.prom"))
                .contains("\nbackupsmoke_drill_success{method=\"pgbackrest\"} 0\n"));

        drill[4] = "--backup-start=2000-01-01T00:00:00Z";
        Support.refused(1, "cannot judge: no entry of the ledger " + ledger + " was recorded before the"
                + " backup's start 2000-01-01T00:00:00Z (run --mode=checkpoint before each backup)", drill);
        String unjudgedReport = Files.readString(reports.resolve("report.json"));
        assertTrue(unjudgedReport.contains("\n  \"passed\": false,\n  \"failure\": \"cannot judge: no entry of the ledger "),
                unjudgedReport);
    }
}
