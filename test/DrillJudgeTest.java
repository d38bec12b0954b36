// --mode=drill-verify's judgement (issue 17 item 2, SPEC section 9.10), in-process
// against the suite's cluster: a restored backup is simulated by a copy of the
// live database (CREATE DATABASE … TEMPLATE, same cluster, so the same
// system_identifier) taken at the moment of the "backup", judged under the
// live database's name as a physical restore keeps it (judgeAsRestored).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
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
        String copy = live + COPY_MARK + System.nanoTime() % 100000;
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
                new DrillJudge.Target(targetTime, null, null), null, null);
    }

    /** A cluster the test's databases are in: the suite's, or the one with commit timestamps. */
    private interface Databases {
        void execute(String database, String... statements) throws Exception;

        Connector connector(String database, Deadline deadline) throws Failure;
    }

    private static final Databases SUITE = new Databases() {
        @Override
        public void execute(String database, String... statements) throws Exception {
            Support.execute(database, statements);
        }

        @Override
        public Connector connector(String database, Deadline deadline) throws Failure {
            return CheckpointLedgerTest.connector(database, deadline);
        }
    };

    /** What restoredCopyOf (and copyOf) add to the live database's name. */
    private static final String COPY_MARK = "_restored_";

    /**
     * The judgement of RESTORED as a physical restore would be judged: a
     * copy (restoredCopyOf) under the live database's name, which a restore
     * keeps and the ledger records, the live database aside meanwhile (the
     * live connector, WITH_LIVE, reaches it there); both names given back
     * after. A database that is no copy is judged under its own name.
     */
    private DrillJudge.Findings judgeAsRestored(Databases cluster, String restored, boolean withLive,
                                                DrillJudge.Request request, Ed25519Keys keys, Instant now)
            throws Exception {
        if (!restored.contains(COPY_MARK)) {
            return DrillJudge.judge(cluster.connector(restored, deadline), null, request, keys, now);
        }
        String live = restored.substring(0, restored.indexOf(COPY_MARK));
        String aside = live + "_aside";
        cluster.execute("postgres", "ALTER DATABASE " + live + " RENAME TO " + aside,
                "ALTER DATABASE " + restored + " RENAME TO " + live);
        try {
            return DrillJudge.judge(cluster.connector(live, deadline),
                    withLive ? cluster.connector(aside, deadline) : null, request, keys, now);
        } finally {
            cluster.execute("postgres", "ALTER DATABASE " + live + " RENAME TO " + restored,
                    "ALTER DATABASE " + aside + " RENAME TO " + live);
        }
    }

    /** What backUpAfterACheckpoint() made: the live database, its first checkpoint, the backup's start and copy. */
    private String live;
    private LedgerEntry first;
    private Instant backupStart;
    private String restored;

    /** A live database of 24 rows and a checkpoint of it, then a backup: when it began, and its restored copy. */
    private void backUpAfterACheckpoint() throws Exception {
        live = Support.migratedWithWorkload(24);
        first = checkpoint(live);
        backupStart = instantNow();
        restored = restoredCopyOf(live);
    }

    /** The drill's verdict on RESTORED against the ledger alone (no live database, RPO or target), now. */
    private DrillJudge.Findings judgeAgainstTheLedger(String restored, Instant backupStart) throws Exception {
        return judge(restored, false, request(backupStart, null, null), Instant.now());
    }

    /** RESTORED judged (judgeAsRestored), with the live database it is a copy of when WITH_LIVE. */
    private DrillJudge.Findings judge(String restored, boolean withLive, DrillJudge.Request request, Instant now)
            throws Exception {
        return judgeAsRestored(SUITE, restored, withLive, request, null, now);
    }

    @Test
    void aRestoreHoldingTheCheckpointBeforeTheBackupPassesAndMeasuresTheRpo() throws Exception {
        backUpAfterACheckpoint();
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        DrillJudge.Findings findings = judge(restored, true, request(backupStart, Duration.ofHours(1), null),
                second.time().plusSeconds(60));
        assertNull(findings.failure);
        assertEquals(first, findings.reliedOn);
        assertEquals(1, findings.reliedNumber);
        assertEquals(List.of(
                "ledger=intact, 2 entries",
                "system_identifier=the ledger's",
                "timeline=timeline 1",
                "server_verdict=clean",
                "client_verdict=clean",
                "checkpoint=holds checkpoint 1 of 2",
                "later_checkpoints=0 reached, all match",
                "integrity=as in checkpoint 2 of 2",
                "catalog=as in checkpoint 1 of 2 (" + first.catalogSha256() + ")",
                "live=the restored chain is a prefix of the live chain (30 rows)",
                "max_rpo=met (1h)"), findings.verdicts.entrySet().stream().map(Object::toString).toList());
        assertEquals(new Rpo(6, null, "live").rows(), findings.rpo.rows());
        assertEquals("live", findings.rpo.reference());

        DrillJudge.Findings againstLedger = judgeAgainstTheLedger(restored, backupStart);
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
        DrillJudge.Findings findings = judge(restored, false, request(instantNow(), null, null), Instant.now());
        assertEquals("rollback or lost rows: the restore lacks checkpoint 2 of 2 (head " + second.chainHeadHash()
                + " at position 29); it holds 24 rows", findings.failure);
        assertEquals(6, findings.rpo.rows());
    }

    @Test
    void aRestoreThatIsNotAPrefixOfTheLiveChainFailsNamingTheFork() throws Exception {
        backUpAfterACheckpoint();
        String head11 = CheckpointLedgerTest.hashAt(live, "audit-smoke-0011");
        CheckpointLedgerTest.asReplica(live, "DELETE FROM audit_events WHERE id > 'audit-smoke-0011'",
                "UPDATE audit_chain_head SET row_hash = '" + head11 + "' WHERE id = 1");
        CheckpointLedgerTest.grow(live, 20, "fork-", deadline);
        DrillJudge.Findings findings = judge(restored, true, request(backupStart, null, null), Instant.now());
        assertEquals("fork at position 12: the restored chain is not a prefix of the live chain", findings.failure);
    }

    @Test
    void aRestoreOlderThanMaxRpoFails() throws Exception {
        backUpAfterACheckpoint();
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        Instant now = second.time().plus(Duration.ofHours(1));
        DrillJudge.Findings tooOld = judge(restored, false, request(backupStart, Duration.ofMinutes(30), null), now);
        assertEquals("RPO exceeded: the restore holds 24 rows, checkpoint 2 of 2, recorded at " + second.time()
                + " (more than 30m ago), held 30", tooOld.failure);
        DrillJudge.Findings recentEnough = judge(restored, false, request(backupStart, Duration.ofHours(2), null), now);
        assertNull(recentEnough.failure);
        assertEquals("met (2h)", recentEnough.verdicts.get("max_rpo"));
    }

    /**
     * With a key, a ledger of unsigned lines alone (anyone who can write the file can make one to match a
     * tampered backup) is refused; so is one where a signed line follows them (a ledger signed on by an
     * earlier version: checkpoint now refuses to), whose signature would vouch, through the chain of
     * prev_digests, for an unsigned line forged before it. Without a key both are judged as before.
     */
    @Test
    void aLedgerWithoutSignaturesIsRefusedWhenAKeyIsGiven() throws Exception {
        backUpAfterACheckpoint();
        Ed25519Keys keys = Ed25519Keys.readPrivate(LedgerTest.newKey(folder));
        DrillJudge.Findings unsigned = judgeAsRestored(SUITE, restored, false,
                request(backupStart, null, null), keys, Instant.now());
        assertEquals("the ledger " + ledger + " is broken: none of its 1 lines is signed, though a key to check"
                + " their signatures was given", unsigned.failure);
        assertNull(unsigned.snapshot, "the restored database is not read");

        String unsignedLine = Files.readString(ledger);
        String signedLine = LedgerEntry.parse(checkpoint(live).line()).signedWith(keys).line();
        Files.writeString(ledger, unsignedLine + signedLine + "\n");
        DrillJudge.Findings signedAfter = judgeAsRestored(SUITE, restored, false,
                request(backupStart, null, null), keys, Instant.now());
        assertEquals("the ledger " + ledger + " is broken: its first 1 of 2 lines are not signed, though a key to"
                + " check their signatures was given, and the signed lines after them would vouch for them; start a"
                + " new ledger for signed checkpoints", signedAfter.failure);
        assertNull(signedAfter.snapshot, "the restored database is not read");

        DrillJudge.Findings withoutKey = judgeAsRestored(SUITE, restored, false,
                request(backupStart, null, null), null, Instant.now());
        assertNull(withoutKey.failure);
        assertEquals(first, withoutKey.reliedOn);
        assertEquals("intact, 2 entries", withoutKey.verdicts.get("ledger"));
    }

    /**
     * A restore holding the ledger's newest entry, recorded more than DURATION ago (checkpoints that stopped
     * with the backups, or a ledger cut short), shows nothing younger than DURATION: it passed the RPO before.
     * A restore that lacks only entries recorded since the cutoff, none of which it holds, fails likewise.
     */
    @Test
    void aRestoreHoldingNoEntryWithinMaxRpoFails() throws Exception {
        backUpAfterACheckpoint();
        Instant now = first.time().plus(Duration.ofHours(1));
        DrillJudge.Findings staleLedger = judge(restored, false, request(backupStart, Duration.ofMinutes(30), null),
                now);
        assertEquals("RPO exceeded: the newest checkpoint the restore holds, checkpoint 1 of 1, was recorded at "
                + first.time() + " (more than 30m ago); the ledger holds none since (are checkpoints still"
                + " recorded?)", staleLedger.failure);
        DrillJudge.Findings atTheCutoff = judge(restored, false, request(backupStart, Duration.ofMinutes(30), null),
                first.time().plus(Duration.ofMinutes(30)));
        assertNull(atTheCutoff.failure);
        assertEquals("met (30m)", atTheCutoff.verdicts.get("max_rpo"));

        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        // The cutoff falls just before the second entry: the restore holds the first, older than the cutoff.
        Instant justBefore = second.time().plus(Duration.ofMinutes(30)).minusNanos(1000);
        DrillJudge.Findings lacksTheRecent = judge(restored, false,
                request(backupStart, Duration.ofMinutes(30), null), justBefore);
        assertEquals("RPO exceeded: the newest checkpoint the restore holds, checkpoint 1 of 2, was recorded at "
                + first.time() + " (more than 30m ago)", lacksTheRecent.failure);
    }

    /**
     * An idle audit log: a checkpoint recorded after the restore's WAL ends
     * (its wal_lsn past the restored server's position) holds no more rows
     * than the restore, yet the restore does not hold it. Dated by rows
     * alone, a backup older than DURATION met the RPO as long as no audit
     * row was written since (a week-old backup met 26h).
     */
    @Test
    void aCheckpointPastTheRestoresWalPositionDoesNotDateTheRestore() throws Exception {
        backUpAfterACheckpoint();
        String firstLine = Files.readString(ledger).strip();
        LedgerEntry later = new LedgerEntry(first.time().plus(Duration.ofHours(1)), first.systemIdentifier(),
                first.database(), first.schema(), first.timeline(), "FFFF/0", first.rowCount(),
                first.chainHeadHash(), first.headPosition(), LedgerEntry.digestOf(firstLine), first.integrity(),
                first.catalogSha256(), null, null);
        Files.writeString(ledger, firstLine + "\n" + later.line() + "\n");
        Instant now = later.time().plus(Duration.ofMinutes(1));
        DrillJudge.Findings findings = judge(restored, false, request(backupStart, Duration.ofMinutes(30), null), now);
        assertEquals("RPO exceeded: the newest checkpoint the restore holds, checkpoint 1 of 2, was recorded at "
                + first.time() + " (more than 30m ago)", findings.failure);
    }

    /**
     * The report names the entry relied on by the digest of its line as the ledger holds it, which the next
     * line's prev_digest repeats, not by the digest of the entry encoded again (a line of another writer, or
     * with a space, parses to the same entry).
     */
    @Test
    void theReportNamesTheEntryReliedOnByItsLinesOwnDigest() throws Exception {
        backUpAfterACheckpoint();
        String spaced = first.line().replace(",\"timeline\":", ", \"timeline\":");
        Files.writeString(ledger, spaced + "\n");
        DrillJudge.Findings findings = judgeAgainstTheLedger(restored, backupStart);
        assertNull(findings.failure);
        var report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                DrillEvidence.reportJson(request(backupStart, null, null), findings, Instant.now()));
        assertEquals(LedgerEntry.digestOf(spaced), report.get("ledger").get("relied_on_digest").asText());
    }

    /**
     * The database judged must be the one the ledger witnessed: another database's audit log (an operator's
     * SMOKE_DRILL_DATABASE or --db-url naming it) failed as "rollback or lost rows", which is not the backup's
     * fault. Cannot judge (exit 1), naming both.
     */
    @Test
    void anotherDatabaseThanTheLedgersCannotBeJudged() throws Exception {
        backUpAfterACheckpoint();
        String other = Support.migratedWithWorkload(2);
        Failure failure = assertThrows(Failure.class, () -> DrillJudge.judge(
                CheckpointLedgerTest.connector(other, deadline), null, request(backupStart, null, null), null,
                Instant.now()));
        assertTrue(!(failure instanceof Refusal));
        assertEquals("cannot judge: the restored database is " + other + ", the ledger's checkpoint 1 of 1 was"
                + " recorded on database " + live + " (connect to that database of the restore: SMOKE_DRILL_DATABASE,"
                + " --db-url)", failure.getMessage());
    }

    /**
     * The drill waits for the ledger's lock within its --timeout: a checkpoint that holds it and does not
     * end (stopped, hung) made the nightly drill wait for ever, past its bound.
     */
    @Test
    void theLedgersLockIsWaitedForWithinTheTimeout() throws Exception {
        backUpAfterACheckpoint();
        Process holding = CheckpointLedgerTest.holdingTheLock(folder, ledger);
        try (Deadline short_ = new Deadline(Duration.ofSeconds(2))) {
            Failure waited = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30),
                    () -> assertThrows(Failure.class, () -> DrillJudge.judge(
                            CheckpointLedgerTest.connector(restored, short_), null, request(backupStart, null, null),
                            null, Instant.now())));
            assertEquals("timed out after 2s while waiting for the lock of the ledger " + ledger
                    + " (another run holds it) (raise the bound with --timeout)", waited.getMessage());
        } finally {
            holding.destroyForcibly().waitFor();
        }
    }

    @Test
    void aRowRewrittenInTheRestoreFails() throws Exception {
        backUpAfterACheckpoint();
        CheckpointLedgerTest.asReplica(restored,
                "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0005'");
        DrillJudge.Findings findings = judgeAgainstTheLedger(restored, backupStart);
        assertEquals("the restored chain: a row was changed: the chain breaks at position 5 (row audit-smoke-0005,"
                + " modified), at or before the head of checkpoint 1 of 1 (position 23)", findings.failure);
    }

    @Test
    void aRestoreOfAnotherClusterFailsNamingBothIdentifiers() throws Exception {
        backUpAfterACheckpoint();
        Files.writeString(ledger, Files.readString(ledger).replace(
                "\"system_identifier\":\"" + first.systemIdentifier() + "\"",
                "\"system_identifier\":\"7000000000000000001\""));
        DrillJudge.Findings findings = judgeAgainstTheLedger(restored, backupStart);
        assertEquals("another cluster: the restored server's system_identifier is " + first.systemIdentifier()
                + ", the ledger's checkpoint 1 of 1 was recorded on system_identifier 7000000000000000001",
                findings.failure);
    }

    /**
     * The backup's own identifier (the harness reads it with pg_controldata before the restored server
     * starts) is checked first, against the ledger's newest entry: another cluster's times bound nothing.
     */
    @Test
    void aBackupOfAnotherClusterFailsNamingItsIdentifierFirst() throws Exception {
        backUpAfterACheckpoint();
        DrillJudge.Request ofAnotherCluster = new DrillJudge.Request(ledger, "backupsmoke test", "test",
                new DrillJudge.Backup(null, null, backupStart, null, null, null, "7000000000000000002"), null,
                new DrillJudge.Target(null, null, null), null, null);
        DrillJudge.Findings findings = judge(restored, false, ofAnotherCluster, Instant.now());
        assertEquals("another cluster: the backup's system_identifier is 7000000000000000002, the ledger's checkpoint"
                + " 1 of 1 was recorded on system_identifier " + first.systemIdentifier(), findings.failure);
        assertNull(findings.snapshot, "the restored database is not read");
    }

    @Test
    void pitrToATimeIsBracketedByTheLedgerAndARestoreToLatestFails() throws Exception {
        // The suite's cluster records no commit times: the ledger is the only proof.
        assertEquals("off", Support.one("postgres", "SHOW track_commit_timestamp"));
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant target = instantNow();
        LedgerEntry afterTarget = checkpoint(live);
        String atTarget = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry bracketAfter = checkpoint(live);
        CheckpointLedgerTest.grow(live, 6, "most-", deadline);
        String latest = restoredCopyOf(live);
        Instant backupStart = target.minusSeconds(3600);
        DrillJudge.Findings good = judge(atTarget, false, request(backupStart, null, target), Instant.now());
        assertNull(good.failure);
        assertEquals(Map.of("target", target.toString(), "bracket_before", "checkpoint 1 of 3",
                "bracket_after", "checkpoint 3 of 3", "proof", "ledger_bracket"), good.pitr);
        DrillJudge.Findings pastTarget = judge(latest, false, request(backupStart, null, target), Instant.now());
        assertEquals("restored past the target: the restore holds 36 rows, checkpoint 3 of 3, recorded at "
                + bracketAfter.time() + " after the recovery target, held only 30", pastTarget.failure);
        assertTrue(afterTarget.time().isAfter(target));
    }

    /**
     * An XID target as pg_current_xact_id() prints it on a cluster past its
     * first wraparound carries its epoch (2^32 and up); the server keeps its
     * low 32 bits. The head's xmin (32 bits) was compared with the whole
     * number: never after it, so a restore to latest passed.
     */
    @Test
    void anXidTargetWithItsEpochStillFailsARestorePastIt() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        long targetXid = Long.parseLong(Support.one(live, "SELECT pg_catalog.format('%s', xmin) FROM audit_events"
                + " WHERE row_hash = (SELECT row_hash FROM audit_chain_head)"));
        String atTarget = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        checkpoint(live);
        String latest = restoredCopyOf(live);
        String latestXmin = Support.one(latest, "SELECT pg_catalog.format('%s', xmin) FROM audit_events"
                + " WHERE row_hash = (SELECT row_hash FROM audit_chain_head)");
        // The suite's cluster is in epoch 0: the restore at the target is judged by the 32-bit XID, as the
        // server places it (an epoch-1 target there is one the restored server never began).
        DrillJudge.Findings good = judge(atTarget, false, xidRequest(backupStart, targetXid), Instant.now());
        assertNull(good.failure);
        assertEquals(Map.of("target", Long.toString(targetXid), "head_xmin", Long.toString(targetXid),
                "proof", "head_xmin"), good.pitr);
        long withEpoch = (1L << 32) + targetXid;
        DrillJudge.Findings pastTarget = judge(latest, false, xidRequest(backupStart, withEpoch), Instant.now());
        assertEquals("restored past the target: the head (position 29) was written by transaction " + latestXmin
                + ", after the recovery target XID " + withEpoch, pastTarget.failure);
    }

    /**
     * A restore that stopped before the target XID began (pgBackRest's
     * --type=immediate for a drill that gave an XID) holds a head older
     * than the target, as an exact one does: it passed. The restored
     * server's next transaction ID is at or before such a target.
     */
    @Test
    void anXidTargetTheRestoreNeverBeganFailsAsShortOfIt() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        Instant backupStart = instantNow();
        String restoredEarly = restoredCopyOf(live);
        long next = Long.parseLong(Support.one(restoredEarly,
                "SELECT pg_catalog.format('%s', pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()))"));
        long futureXid = next + 1_000_000;
        DrillJudge.Findings stoppedEarly = judge(restoredEarly, false, xidRequest(backupStart, futureXid),
                Instant.now());
        assertEquals("short of the target: the restored server never began transaction " + futureXid
                + " (the recovery target XID)", stoppedEarly.failure);
    }

    /**
     * A transaction that took its XID before the target's and wrote its row
     * after the target committed: a restore to the target lacks that row,
     * one past it has it as its head, with an xmin older than the target.
     * With commit timestamps, its commit time shows it past the target.
     */
    @Test
    void anXidTargetFailsAHeadWithAnOlderXidCommittedAfterIt() throws Exception {
        CommitTimestampCluster cluster = CommitTimestampCluster.get();
        String live = cluster.migratedWithWorkload(24);
        ledger = folder.resolve("ledger.jsonl");
        CheckpointRecorder.run(cluster.connector(live, deadline),
                new CheckpointRecorder.Request(ledger, null, null, null));
        Instant backupStart = instantNow();
        try (Connection late = cluster.connect(live)) {
            late.setAutoCommit(false);
            try (Statement statement = late.createStatement()) {
                statement.execute("SELECT pg_current_xact_id()");
            }
            cluster.grow(live, 1, "target-", deadline);
            Support.insert(new Workload(1, "late-", null, null), late, deadline);
            late.commit();
        }
        long targetXid = Long.parseLong(cluster.one(live, "SELECT pg_catalog.format('%s', xmin) FROM audit_events"
                + " WHERE id = 'target-0000'"));
        long lateXmin = Long.parseLong(cluster.one(live, "SELECT pg_catalog.format('%s', xmin) FROM audit_events"
                + " WHERE id = 'late-0000'"));
        assertTrue(lateXmin < targetXid, lateXmin + " took its XID before " + targetXid);
        String pastTarget = cluster.copyOf(live);
        DrillJudge.Findings findings = judgeAsRestored(cluster, pastTarget, false, xidRequest(backupStart, targetXid),
                null, Instant.now());
        assertEquals("restored past the target: the head (position 25) was committed at "
                + cluster.committedAt(live, "late-0000") + ", after the recovery target XID " + targetXid
                + " (committed at " + cluster.committedAt(live, "target-0000") + ")", findings.failure);
    }

    private DrillJudge.Request xidRequest(Instant backupStart, long targetXid) {
        return new DrillJudge.Request(ledger, "backupsmoke test", "test",
                new DrillJudge.Backup(null, null, backupStart, null, null, null, null), null,
                new DrillJudge.Target(null, null, targetXid), null, null);
    }

    /**
     * A checkpoint counts the rows first and reads its time after (its
     * chain walk and catalog inventory between): a row committed in
     * between, before a target in between, is an exact restore's own but
     * not counted. The entry after the first one recorded past the target
     * counted them: its count was taken after that one's time.
     */
    @Test
    void aRowCommittedWhileACheckpointCountedIsNotPastATargetBeforeItsTime() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry counted = checkpoint(live);
        CheckpointLedgerTest.grow(live, 3, "pre-", deadline);
        Instant target = instantNow();
        // Checkpoint 2 as it is written when its count (24 rows) came before the pre- rows' commits and its
        // time after the target.
        LedgerEntry slow = new LedgerEntry(instantNow(), counted.systemIdentifier(), counted.database(),
                counted.schema(), counted.timeline(), counted.walLsn(), counted.rowCount(), counted.chainHeadHash(),
                counted.headPosition(), LedgerEntry.digestOf(Files.readAllLines(ledger).get(0)), counted.integrity(),
                counted.catalogSha256(), null, null);
        Files.writeString(ledger, slow.line() + "\n", java.nio.file.StandardOpenOption.APPEND);
        String atTarget = restoredCopyOf(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        checkpoint(live);
        DrillJudge.Findings exact = judge(atTarget, false, request(target.minusSeconds(3600), null, target),
                Instant.now());
        assertNull(exact.failure);
        assertEquals(Map.of("target", target.toString(), "bracket_before", "checkpoint 1 of 3",
                "bracket_after", "checkpoint 3 of 3", "proof", "ledger_bracket"), exact.pitr);
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
                new DrillJudge.Target(null, null, null), null, null);
        DrillJudge.Findings findings = judge(restored, false, byLsn, Instant.now());
        assertNull(findings.failure);
        assertEquals(first, findings.reliedOn);
        assertEquals("1 reached, all match", findings.verdicts.get("later_checkpoints"));
        assertEquals(new Rpo(0, 0.0, "ledger"), findings.rpo);
        assertEquals(second.rowCount(), findings.snapshot.rowCount());
    }

    /** A restore whose audit schema was changed as DDL would change it, judged against one clean checkpoint. */
    private String catalogFailure(String... ddl) throws Exception {
        backUpAfterACheckpoint();
        Support.execute(restored, ddl);
        return judgeAgainstTheLedger(restored, backupStart).failure;
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

    /** The entry relied on holds only the digest: the differences are named from the line that holds the inventory. */
    @Test
    void aCatalogDifferenceIsNamedFromTheEarlierLineHoldingTheInventory() throws Exception {
        String live = Support.migratedWithWorkload(24);
        checkpoint(live);
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        LedgerEntry second = checkpoint(live);
        assertNull(second.catalog());
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);
        Support.execute(restored, "DROP INDEX idx_audit_events_actor");
        assertEquals("the catalog of the audit schema public differs from checkpoint 2 of 2: index"
                + " public.idx_audit_events_actor: missing after the restore (checkpoint: \"on public.audit_events"
                + " using btree (actor)\")",
                judgeAgainstTheLedger(restored, backupStart).failure);
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
        backUpAfterACheckpoint();
        Support.execute(live, "ALTER TABLE audit_events ADD COLUMN note text");
        LedgerEntry second = checkpoint(live);
        assertTrue(!first.catalogSha256().equals(second.catalogSha256()));
        assertTrue(second.catalog() != null);
        DrillJudge.Findings findings = judgeAgainstTheLedger(restored, backupStart);
        assertNull(findings.failure);
        assertEquals("as in checkpoint 1 of 2 (" + first.catalogSha256() + ")", findings.verdicts.get("catalog"));

        String migrated = restoredCopyOf(live);
        DrillJudge.Findings reachedIt = judgeAgainstTheLedger(migrated, backupStart);
        assertNull(reachedIt.failure);
        assertEquals("as in checkpoint 2 of 2 (" + second.catalogSha256() + ")", reachedIt.verdicts.get("catalog"));
    }

    @Test
    void aTriggerUpgradedAfterTheBackupIsNotHeldAgainstTheRestoreButOneLostInItIs() throws Exception {
        backUpAfterACheckpoint();
        String lostTrigger = restoredCopyOf(live);
        Support.execute(lostTrigger, "DROP TRIGGER audit_events_no_truncate ON audit_events");
        // After the backup, the live append-only trigger is upgraded (a new migration): a later checkpoint records it.
        Support.execute(live, "CREATE OR REPLACE FUNCTION audit_events_reject_truncate() RETURNS trigger"
                + " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only (v2)'; END $$");
        CheckpointLedgerTest.grow(live, 6, "more-", deadline);
        checkpoint(live);
        DrillJudge.Findings findings = judgeAgainstTheLedger(restored, backupStart);
        assertNull(findings.failure);
        assertEquals("as in checkpoint 1 of 2", findings.verdicts.get("integrity"));

        DrillJudge.Findings lost = judgeAgainstTheLedger(lostTrigger, backupStart);
        assertEquals("the integrity machinery differs from checkpoint 1 of 2:"
                + " trigger audit_events_no_truncate on public.audit_events", lost.failure);
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
                recorded.chainHeadHash(), recorded.headPosition(), null, recorded.integrity(), null, null, null)
                .signedWith(keys);
        Files.writeString(ledger, old.line() + "\n");
        assertTrue(!old.line().contains("catalog"), old.line());
        Instant backupStart = instantNow();
        String restored = restoredCopyOf(live);

        DrillJudge.Findings findings = judgeAsRestored(SUITE, restored, false,
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
        assertTrue(next.line().contains("\"catalog_sha256\":\"" + next.catalogSha256() + "\",\"catalog\":{"),
                next.line());
    }

    // ------------------------------------------------ PITR with track_commit_timestamp

    /**
     * A cluster of its own with track_commit_timestamp on (a setting only a
     * restart takes, so not the suite's cluster, whose other tests expect
     * it off), started through the suite's shell library on first use and
     * removed after the class.
     */
    private static final class CommitTimestampCluster implements Databases {
        private static CommitTimestampCluster started;
        final String dir;
        final String port;

        private CommitTimestampCluster(String dir, String port) {
            this.dir = dir;
            this.port = port;
        }

        static synchronized CommitTimestampCluster get() {
            if (started == null) {
                Map<String, String> assigned = Support.startCluster("track_commit_timestamp = on");
                started = new CommitTimestampCluster(assigned.get("PGC_DIR"), assigned.get("PGC_PORT"));
            }
            return started;
        }

        static synchronized void stop() {
            if (started != null) {
                Support.stopCluster(started.dir);
                started = null;
            }
        }

        String url(String database) {
            return "postgres://postgres@127.0.0.1:" + port + "/" + database + "?sslmode=disable";
        }

        Connection connect(String database) throws Exception {
            Properties properties = new Properties();
            properties.setProperty("user", "postgres");
            return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, properties);
        }

        @Override
        public void execute(String database, String... statements) throws Exception {
            try (Connection connection = connect(database); Statement statement = connection.createStatement()) {
                for (String sql : statements) {
                    statement.execute(sql);
                }
            }
        }

        String one(String database, String sql) throws Exception {
            try (Connection connection = connect(database); Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery(sql)) {
                assertTrue(result.next(), sql);
                return result.getString(1);
            }
        }

        String migratedWithWorkload(int rows) throws Exception {
            String database = "ct_" + System.nanoTime() % 1000000000L;
            execute("postgres", "CREATE DATABASE " + database);
            Support.toolOk("--mode=workload", "--db-url=" + url(database), "--rows=" + rows,
                    "--start-time=" + Support.FIXED_START);
            return database;
        }

        void grow(String database, int rows, String idPrefix, Deadline deadline) throws Exception {
            try (Connection connection = connect(database)) {
                Support.insert(new Workload(rows, idPrefix, null, null), connection, deadline);
            }
        }

        String copyOf(String database) throws Exception {
            String copy = database + COPY_MARK + System.nanoTime() % 100000;
            execute("postgres", "CREATE DATABASE " + copy + " TEMPLATE " + database);
            return copy;
        }

        /** A PITR simulated in a copy: the rows from FIRST_GONE on deleted, the sentinel back at the row before. */
        String recoveredTo(String database, String lastKept, String idsGone) throws Exception {
            String copy = copyOf(database);
            String head = one(copy, "SELECT row_hash FROM audit_events WHERE id = '" + lastKept + "'");
            execute(copy, "SET session_replication_role = replica", "DELETE FROM audit_events WHERE " + idsGone,
                    "UPDATE audit_chain_head SET row_hash = '" + head + "' WHERE id = 1");
            return copy;
        }

        @Override
        public Connector connector(String database, Deadline deadline) throws Failure {
            return new Connector(ConnectionTarget.parse(url(database), Map.of()), 10, deadline);
        }

        Instant committedAt(String database, String id) throws Exception {
            return Instant.parse(one(database, "SELECT " + DrillJudge.COMMITTED_AT + " FROM audit_events WHERE id = '"
                    + id + "'"));
        }
    }

    @AfterAll
    static void stopCommitTimestampCluster() {
        CommitTimestampCluster.stop();
    }

    /**
     * 24 rows and a checkpoint, 3 rows ("pre-"), the target, 6 rows
     * ("more-") and a checkpoint: the last row committed before the target
     * is pre-0002, at position 26.
     */
    private record CommitTimestampScene(CommitTimestampCluster cluster, String live, Instant target) {
        /** A copy of the live database as a recovery that kept LAST_KEPT and lost the rows IDS_GONE would leave. */
        String recoveredTo(String lastKept, String idsGone) throws Exception {
            return cluster.recoveredTo(live, lastKept, idsGone);
        }
    }

    private CommitTimestampScene commitTimestampScene() throws Exception {
        CommitTimestampCluster cluster = CommitTimestampCluster.get();
        assertEquals("on", cluster.one("postgres", "SHOW track_commit_timestamp"));
        String live = cluster.migratedWithWorkload(24);
        ledger = folder.resolve("ledger.jsonl");
        CheckpointRecorder.run(cluster.connector(live, deadline), new CheckpointRecorder.Request(ledger, null, null, null));
        cluster.grow(live, 3, "pre-", deadline);
        Instant target = instantNow();
        cluster.grow(live, 6, "more-", deadline);
        CheckpointRecorder.run(cluster.connector(live, deadline), new CheckpointRecorder.Request(ledger, null, null, null));
        return new CommitTimestampScene(cluster, live, target);
    }

    private DrillJudge.Findings judgeOn(CommitTimestampScene scene, String restored, boolean withLive) throws Exception {
        return judgeAsRestored(scene.cluster(), restored, withLive,
                request(scene.target().minusSeconds(3600), null, scene.target()), null, Instant.now());
    }

    @Test
    void pitrWithCommitTimestampsIsProvenByTheHeadsCommitTime() throws Exception {
        CommitTimestampScene scene = commitTimestampScene();
        String atTarget = scene.recoveredTo("pre-0002", "id LIKE 'more-%'");
        DrillJudge.Findings findings = judgeOn(scene, atTarget, true);
        assertNull(findings.failure);
        assertEquals(Map.of("target", scene.target().toString(), "head_committed_at",
                scene.cluster().committedAt(atTarget, "pre-0002").toString(), "bracket_before", "checkpoint 1 of 2",
                "proof", "commit_timestamp"), findings.pitr);
        assertEquals("the restored head is the last row committed before the target (commit_timestamp)",
                findings.verdicts.get("pitr"));
        // Without the live database the next row cannot be read: the head's own time still proves it.
        DrillJudge.Findings alone = judgeOn(scene, atTarget, false);
        assertNull(alone.failure);
        assertEquals("commit_timestamp", alone.pitr.get("proof"));
    }

    @Test
    void pitrWithCommitTimestampsFailsARestorePastTheTargetNamingTheHead() throws Exception {
        CommitTimestampScene scene = commitTimestampScene();
        String latest = scene.cluster().copyOf(scene.live());
        DrillJudge.Findings findings = judgeOn(scene, latest, false);
        assertEquals("restored past the target: the head (position 32) was committed at "
                + scene.cluster().committedAt(latest, "more-0005") + ", after the recovery target " + scene.target(),
                findings.failure);
    }

    @Test
    void pitrWithCommitTimestampsFailsARestoreShortOfTheTargetNamingTheRowItLacks() throws Exception {
        CommitTimestampScene scene = commitTimestampScene();
        String early = scene.recoveredTo("audit-smoke-0023", "id LIKE 'more-%' OR id LIKE 'pre-%'");
        DrillJudge.Findings findings = judgeOn(scene, early, true);
        assertEquals("short of the target: the live row at position 24 was committed at "
                + scene.cluster().committedAt(scene.live(), "pre-0000") + ", not after the recovery target " + scene.target()
                + ", and the restore lacks it", findings.failure);
    }

    /**
     * An XID target is proven by the head's xmin: a superuser's cast from
     * xid to text (in the restored database, a backup edited to carry it)
     * answered xmin::text with any number it liked. The value is now printed
     * by the type's own output.
     */
    @Test
    void aCastFromXidToTextDoesNotChangeTheHeadsXmin() throws Exception {
        String database = Support.migratedWithWorkload(3);
        String head = Support.one(database, "SELECT row_hash FROM audit_chain_head");
        String xmin = Support.one(database, "SELECT pg_catalog.format('%s', xmin) FROM audit_events"
                + " WHERE row_hash = '" + head + "'");
        Support.execute(database, "CREATE FUNCTION public.any_xid(xid) RETURNS text LANGUAGE sql AS $$ SELECT '1' $$",
                "CREATE CAST (xid AS text) WITH FUNCTION public.any_xid(xid)");
        Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
        assertEquals(xmin, ChainPositions.aboutRow(connector, new AuditSchema("public", true, java.util.List.of()),
                head, "xmin"));
    }

    /**
     * The server's identity and position as checkpoint and drill-verify
     * record and judge them: casts to text (and text to bit) that a
     * superuser added to the database read answered with another cluster's
     * identifier, timeline and LSN. Each is printed by its type now.
     */
    @Test
    void castsInTheDatabaseDoNotChangeTheServersIdentityOrPosition() throws Exception {
        String database = Support.scratchDatabase();
        String identifier = Support.one(database, "SELECT system_identifier FROM pg_catalog.pg_control_system()");
        Support.execute(database,
                "CREATE FUNCTION public.other_cluster(bigint) RETURNS text LANGUAGE sql AS $$ SELECT '42' $$",
                "CREATE CAST (bigint AS text) WITH FUNCTION public.other_cluster(bigint)",
                "CREATE FUNCTION public.other_lsn(pg_lsn) RETURNS text LANGUAGE sql AS $$ SELECT 'F/F' $$",
                "CREATE CAST (pg_lsn AS text) WITH FUNCTION public.other_lsn(pg_lsn)",
                "CREATE FUNCTION public.other_timeline(text) RETURNS bit LANGUAGE sql AS $$ SELECT B'111' $$",
                "CREATE CAST (text AS bit) WITH FUNCTION public.other_timeline(text)");
        ServerPosition position = ServerPosition.read(
                new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline));
        assertEquals(identifier, position.systemIdentifier());
        assertEquals(1, position.timeline());
        assertTrue(position.walLsn().matches("[0-9A-F]+/[0-9A-F]+") && !position.walLsn().equals("F/F"),
                position.walLsn());
    }

    /**
     * Two tenants' audit schemas in one database, each with its own ledger
     * signed with one key: t2's ledger put in place of t1's judged t2's log
     * and passed, t1's rewritten log unread, and drill-verify refused
     * --schema (exit 2). Named, the schema must be the ledger's, else the
     * drill cannot judge.
     */
    @Test
    void aLedgerOfAnotherSchemaCannotJudgeTheSchemaNamed() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database, "CREATE SCHEMA t1", "CREATE SCHEMA t2");
        String url = "--db-url=" + Support.url(database);
        Support.toolOk("--mode=workload", url, "--schema=t1", "--rows=4");
        Support.toolOk("--mode=workload", url, "--schema=t2", "--rows=4");
        Path key = LedgerTest.newKey(folder);
        Path ledgerOfT2 = folder.resolve("t2.jsonl");
        Support.toolOk("--mode=checkpoint", url, "--schema=t2", "--ledger=" + ledgerOfT2, "--signing-key=" + key);
        CheckpointLedgerTest.asReplica(database, "UPDATE t1.audit_events SET actor = 'mallory'"
                + " WHERE id = 'audit-smoke-0001'");
        String backupStart = "--backup-start=" + instantNow();

        Support.refused(1, "cannot judge: the drill judges the audit schema t1, the ledger's checkpoint 1 of 1 was"
                + " recorded on schema t2 (--schema, SMOKE_DRILL_SCHEMA)", "--mode=drill-verify", url, "--schema=t1",
                "--ledger=" + ledgerOfT2, "--signing-key=" + key, backupStart);
        Support.toolOk("--mode=drill-verify", url, "--schema=t2", "--ledger=" + ledgerOfT2, "--signing-key=" + key,
                backupStart);
    }

    @Test
    void noEntryBeforeTheBackupCannotBeJudged() throws Exception {
        String live = Support.migratedWithWorkload(24);
        LedgerEntry first = checkpoint(live);
        Failure failure = assertThrows(Failure.class, () -> judge(live, false,
                request(first.time().minusSeconds(1), null, null), Instant.now()));
        assertTrue(!(failure instanceof Refusal));
        assertEquals("cannot judge: no entry of the ledger " + ledger + " was recorded before the backup's start "
                + first.time().minusSeconds(1) + " (run --mode=checkpoint before each backup)", failure.getMessage());
    }
}
