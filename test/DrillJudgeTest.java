// --mode=drill-verify's judgement (issue 17 item 2, SPEC section 9.10), in-process
// against the suite's cluster: a restored backup is simulated by a copy of the
// live database (CREATE DATABASE … TEMPLATE, same cluster, so the same
// system_identifier) taken at the moment of the "backup".

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DrillJudgeTest {
    @TempDir Path folder;

    private final Deadline deadline = new Deadline(Duration.ofMinutes(2));
    private Path ledger;

    @AfterEach
    void stopDeadline() {
        deadline.close();
    }

    private LedgerEntry checkpoint(String database) throws Exception {
        ledger = folder.resolve("ledger.jsonl");
        LedgerEntry entry = CheckpointRecorder.run(CheckpointLedgerTest.connector(database, deadline),
                new CheckpointRecorder.Request(ledger, null, null, null));
        Thread.sleep(5);  // the next event is strictly later than the entry
        return entry;
    }

    /** The "backup": a copy of the live database as it is now. */
    private static String restoredCopyOf(String live) throws Exception {
        String copy = live + "_restored_" + System.nanoTime() % 100000;
        Support.execute("postgres", "CREATE DATABASE " + copy + " TEMPLATE " + live);
        return copy;
    }

    private static Instant instantNow() throws Exception {
        Thread.sleep(5);
        Instant now = Instant.now();
        Thread.sleep(5);
        return now;
    }

    private DrillJudge.Request request(Instant backupStart, Duration maxRpo, Instant targetTime) {
        return new DrillJudge.Request(ledger, "backupsmoke test", "test",
                new DrillJudge.Backup(null, null, backupStart, null, null, null, null), maxRpo,
                new DrillJudge.Target(targetTime, null, null), null);
    }

    private DrillJudge.Findings judge(String restored, String live, DrillJudge.Request request, Instant now)
            throws Exception {
        return DrillJudge.judge(CheckpointLedgerTest.connector(restored, deadline),
                live == null ? null : CheckpointLedgerTest.connector(live, deadline), request, null, now);
    }

    @Test
    void aRestoreHoldingTheCheckpointBeforeTheBackupPassesAndMeasuresTheRpo() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        DrillJudge.Findings findings = judge(restored, live, request(backupStart, Duration.ofHours(1), null),
                second.time().plusSeconds(60));
        assertNull(findings.failure);
        assertEquals(first, findings.reliedOn);
        assertEquals(1, findings.reliedNumber);
        assertEquals(Map.of(
                "ledger", "intact, 2 entries",
                "system_identifier", "the ledger's",
                "server_verdict", "clean",
                "client_verdict", "clean",
                "checkpoint", "holds checkpoint 1 of 2",
                "later_checkpoints", "0 reached, all match",
                "integrity", "as in checkpoint 2 of 2",
                "catalog", "as in checkpoint 1 of 2 (" + first.catalogDigest() + ")",
                "live", "the restored chain is a prefix of the live chain (30 rows)",
                "max_rpo", "met (1h)"), findings.verdicts);
        assertEquals(new Rpo(6, null, "live").rows(), findings.rpo.rows());
        assertEquals("live", findings.rpo.reference());

        DrillJudge.Findings againstLedger = judge(restored, null, request(backupStart, null, null), Instant.now());
        assertEquals(new Rpo(6, Duration.between(first.time(), second.time()).toMillis() / 1000.0, "ledger"),
                againstLedger.rpo);
    }

    @Test
    void aRestoreLackingTheCheckpointBeforeTheBackupFails() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        String restored = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        DrillJudge.Findings findings = judge(restored, null, request(instantNow(), null, null), Instant.now());
        assertEquals("rollback or lost rows: the restore lacks checkpoint 2 of 2 (head " + second.chainHeadHash()
                + " at position 29); it holds 24 rows", findings.failure);
        assertEquals(6, findings.rpo.rows());
    }

    @Test
    void aRestoreThatIsNotAPrefixOfTheLiveChainFailsNamingTheFork() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        String head11 = CheckpointLedgerTest.hashAt(live, "audit-smoke-0011");
        CheckpointLedgerTest.asReplica(live, "DELETE FROM audit_events WHERE id > 'audit-smoke-0011'",
                "UPDATE audit_chain_head SET row_hash = '" + head11 + "' WHERE id = 1");
        CheckpointLedgerTest.grow(live, 20, "fork-", deadline);
        DrillJudge.Findings findings = judge(restored, live, request(backupStart, null, null), Instant.now());
        assertEquals("fork at position 12: the restored chain is not a prefix of the live chain", findings.failure);
    }

    @Test
    void aRestoreOlderThanMaxRpoFails() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        Instant now = second.time().plus(Duration.ofHours(1));
        DrillJudge.Findings tooOld = judge(restored, null, request(backupStart, Duration.ofMinutes(30), null), now);
        assertEquals("RPO exceeded: the restore holds 24 rows, checkpoint 2 of 2, recorded at " + second.time()
                + " (more than 30m ago), held 30", tooOld.failure);
        DrillJudge.Findings recentEnough = judge(restored, null, request(backupStart, Duration.ofHours(2), null), now);
        assertNull(recentEnough.failure);
        assertEquals("met (2h)", recentEnough.verdicts.get("max_rpo"));
    }

    @Test
    void aRowRewrittenInTheRestoreFails() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        CheckpointLedgerTest.asReplica(restored,
                "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0005'");
        DrillJudge.Findings findings = judge(restored, null, request(backupStart, null, null), Instant.now());
        assertEquals("the restored chain: a row was changed: the chain breaks at position 5 (row audit-smoke-0005,"
                + " modified), at or before the head of checkpoint 1 of 1 (position 23)", findings.failure);
    }

    @Test
    void aRestoreOfAnotherClusterFailsNamingBothIdentifiers() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        Files.writeString(ledger, Files.readString(ledger).replace(
                "\"system_identifier\":\"" + first.systemIdentifier() + "\"",
                "\"system_identifier\":\"7000000000000000001\""));
        DrillJudge.Findings findings = judge(restored, null, request(backupStart, null, null), Instant.now());
        assertEquals("another cluster: the restored server's system_identifier is " + first.systemIdentifier()
                + ", the ledger's checkpoint 1 of 1 was recorded on system_identifier 7000000000000000001",
                findings.failure);
    }

    @Test
    void pitrToATimeIsBracketedByTheLedgerAndARestoreToLatestFails() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant target = instantNow();
        LedgerEntry afterTarget = checkpoint(live);
        String atTarget = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        checkpoint(live);
        String latest = restoredCopyOf(live);
        Instant backupStart = target.minusSeconds(3600);
        DrillJudge.Findings good = judge(atTarget, null, request(backupStart, null, target), Instant.now());
        assertNull(good.failure);
        assertEquals(Map.of("target", target.toString(), "bracket_before", "checkpoint 1 of 3",
                "bracket_after", "checkpoint 2 of 3", "proof", "ledger_bracket"), good.pitr);
        DrillJudge.Findings pastTarget = judge(latest, null, request(backupStart, null, target), Instant.now());
        assertEquals("restored past the target: the restore holds 30 rows, checkpoint 2 of 3, recorded at "
                + afterTarget.time() + " after the recovery target, held only 24", pastTarget.failure);
    }

    @Test
    void theBackupsStartLsnChoosesTheEntryReliedOn() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        String restored = restoredCopyOf(live);
        DrillJudge.Request byLsn = new DrillJudge.Request(ledger, "backupsmoke test", "test",
                new DrillJudge.Backup(null, null, null, first.walLsn(), null, null, null), null,
                new DrillJudge.Target(null, null, null), null);
        DrillJudge.Findings findings = judge(restored, null, byLsn, Instant.now());
        assertNull(findings.failure);
        assertEquals(first, findings.reliedOn);
        assertEquals("1 reached, all match", findings.verdicts.get("later_checkpoints"));
        assertEquals(new Rpo(0, 0.0, "ledger"), findings.rpo);
        assertEquals(second.rowCount(), findings.snapshot.rowCount());
    }

    /** A restore whose audit schema was changed as DDL would change it, judged against one clean checkpoint. */
    private String catalogFailure(String... ddl) throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        Support.execute(restored, ddl);
        return judge(restored, null, request(backupStart, null, null), Instant.now()).failure;
    }

    @Test
    void aRestoreMissingAnIndexFailsNamingIt() throws Exception {
        assertEquals("the catalog of the audit schema public differs from checkpoint 1 of 1: index"
                + " public.idx_audit_events_actor: missing after the restore (checkpoint: \"on public.audit_events"
                + " using btree (actor)\")", catalogFailure("DROP INDEX idx_audit_events_actor"));
    }

    @Test
    void aRestoreWithAnAddedColumnFailsNamingIt() throws Exception {
        assertEquals("the catalog of the audit schema public differs from checkpoint 1 of 1: table"
                + " public.audit_events: column note: not in the checkpoint (restored: \"note text\")",
                catalogFailure("ALTER TABLE audit_events ADD COLUMN note text"));
    }

    @Test
    void aRestoreWithAChangedConstraintFailsNamingIt() throws Exception {
        assertEquals("the catalog of the audit schema public differs from checkpoint 1 of 1: constraint"
                + " public.audit_events.audit_events_event_category_check: checkpoint \"check (event_category)\","
                + " restored \"check (event_category) not valid\"",
                catalogFailure("ALTER TABLE audit_events DROP CONSTRAINT audit_events_event_category_check,"
                        + " ADD CONSTRAINT audit_events_event_category_check"
                        + " CHECK (event_category IN ('cert_lifecycle', 'auth', 'config', 'other')) NOT VALID"));
    }

    @Test
    void manyCatalogDifferencesAreCountedAfterTheFirst() throws Exception {
        String failure = catalogFailure("DROP INDEX idx_audit_events_actor", "DROP INDEX idx_audit_events_action",
                "DROP INDEX idx_audit_events_timestamp", "DROP INDEX idx_audit_events_resource");
        assertTrue(failure.startsWith("the catalog of the audit schema public differs from checkpoint 1 of 1: index"
                + " public.idx_audit_events_action: missing after the restore"), failure);
        assertTrue(failure.endsWith("; and 1 more"), failure);
    }

    /**
     * A migration after the backup: the restore is judged against the entry
     * it relies on, not the ledger's last (whose catalog has the new column),
     * and a restore that reached the migration passes against that later entry.
     */
    @Test
    void aMigrationAfterTheBackupIsNotHeldAgainstTheRestore() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        Support.execute(live, "ALTER TABLE audit_events ADD COLUMN note text");
        LedgerEntry second = checkpoint(live);
        assertTrue(!first.catalog().equals(second.catalog()));
        DrillJudge.Findings findings = judge(restored, null, request(backupStart, null, null), Instant.now());
        assertNull(findings.failure);
        assertEquals("as in checkpoint 1 of 2 (" + first.catalogDigest() + ")", findings.verdicts.get("catalog"));

        String migrated = restoredCopyOf(live);
        DrillJudge.Findings reachedIt = judge(migrated, null, request(backupStart, null, null), Instant.now());
        assertNull(reachedIt.failure);
        assertEquals("as in checkpoint 2 of 2 (" + second.catalogDigest() + ")", reachedIt.verdicts.get("catalog"));
    }

    /**
     * A ledger written before the catalog was recorded: its lines hold no
     * catalog, still verify and chain, a new checkpoint extends them, and a
     * drill relying on an old line says the catalog was not compared.
     */
    @Test
    void aLedgerOfLinesWithoutTheCatalogStillWorks() throws Exception {
        String live = Support.migratedWithWorkload(24);
        Ed25519Keys keys = Ed25519Keys.readPrivate(LedgerTest.newKey(folder));
        LedgerEntry recorded = checkpoint(live);
        LedgerEntry old = new LedgerEntry(recorded.time(), recorded.systemIdentifier(), recorded.database(),
                recorded.schema(), recorded.timeline(), recorded.walLsn(), recorded.rowCount(),
                recorded.chainHeadHash(), recorded.headPosition(), null, recorded.integrity(), null, null)
                .signedWith(keys);
        Files.writeString(ledger, old.line() + "\n");
        assertTrue(!old.line().contains("catalog"), old.line());
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);

        DrillJudge.Findings findings = DrillJudge.judge(CheckpointLedgerTest.connector(restored, deadline), null,
                request(backupStart, null, null), keys, Instant.now());
        assertNull(findings.failure);
        assertEquals("not recorded in checkpoint 1 of 1 (a line older than the field): not compared",
                findings.verdicts.get("catalog"));
        assertEquals("intact, 1 entries, signatures verified", findings.verdicts.get("ledger"));

        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry next = CheckpointRecorder.run(CheckpointLedgerTest.connector(live, deadline),
                new CheckpointRecorder.Request(ledger, null, keys, null));
        assertEquals(LedgerEntry.digestOf(old.line()), next.prevDigest());
        assertEquals(old.line(), Files.readAllLines(ledger).get(0));
        assertTrue(next.line().contains("\"catalog_sha256\":\"" + next.catalogDigest() + "\",\"catalog\":{"),
                next.line());
    }

    @Test
    void noEntryBeforeTheBackupCannotBeJudged() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        Failure failure = assertThrows(Failure.class, () -> judge(live, null,
                request(first.time().minusSeconds(1), null, null), Instant.now()));
        assertTrue(!(failure instanceof Refusal));
        assertEquals("cannot judge: no entry of the ledger " + ledger + " was recorded before the backup's start "
                + first.time().minusSeconds(1) + " (run --mode=checkpoint before each backup)", failure.getMessage());
    }
}
