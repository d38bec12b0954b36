// --mode=drill-verify (issue 17 items 2 and 4, SPEC section 9.10): judges a
// restored backup against the checkpoint ledger of the live audit log.

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The verdicts in the order they are judged; the first that fails ends the
 * judgement (a Refusal: exit 3), a question that cannot be answered is a
 * Failure (exit 1). Every database is only read.
 */
final class DrillJudge {

    /** The backup as its tool (or the operator) describes it; null when not given. */
    record Backup(String id, String label, Instant start, String startLsn, String stopLsn, Long timeline,
                  String systemIdentifier) {}

    /** The point-in-time recovery target the restore was asked for; all null outside PITR. */
    record Target(Instant time, String lsn, Long xid) {
        boolean isGiven() {
            return time != null || lsn != null || xid != null;
        }
    }

    /** schema: the audit schema --schema names, which the ledger must record; null: the ledger's. */
    record Request(Path ledger, String toolVersion, String method, Backup backup, Duration maxRpo, Target target,
                   Double restoreSeconds, String schema) {}

    /** What the judgement found; failure is null when every verdict passed. */
    static final class Findings {
        final Map<String, String> verdicts = new LinkedHashMap<>();
        final Map<String, Object> pitr = new LinkedHashMap<>();
        String failure;
        int entryCount;
        LedgerEntry reliedOn;
        /** reliedOn's line as the ledger holds it: its digest is the next line's prev_digest. */
        String reliedLine;
        int reliedNumber;
        ServerPosition restored;
        Snapshot snapshot;
        Rpo rpo;

        boolean passed() {
            return failure == null;
        }
    }

    private final Connector restored;
    private final Connector live;
    private final Request request;
    private final Instant now;
    private final Findings findings = new Findings();
    private List<LedgerEntry> entries;
    private AuditSchema schema;
    /** The restored server's timeline history: which entries' LSNs are positions of the WAL it replayed. */
    private TimelineHistory history;
    /** The live chain's count(*), once --live-url was judged: the RPO's reference then. */
    private Long liveRowCount;

    private DrillJudge(Connector restored, Connector live, Request request, Instant now) {
        this.restored = restored;
        this.live = live;
        this.request = request;
        this.now = now;
    }

    /** live may be null; ledgerKeys (null: signatures not checked) check the ledger's signatures. */
    static Findings judge(Connector restored, Connector live, Request request, Ed25519Keys ledgerKeys, Instant now)
            throws Failure {
        DrillJudge judge = new DrillJudge(restored.readOnly(), live == null ? null : live.readOnly(), request, now);
        try {
            judge.judgeAll(ledgerKeys);
        } catch (Refusal refusal) {
            judge.findings.failure = refusal.getMessage();
        }
        judge.measureRpo();
        return judge.findings;
    }

    private void judgeAll(Ed25519Keys ledgerKeys) throws Failure {
        Ledger ledger = Ledger.read(request.ledger(), restored.deadline());
        ledger.checkVouchedFor(ledgerKeys);
        entries = ledger.entries();
        findings.entryCount = entries.size();
        findings.verdicts.put("ledger", "intact, " + entries.size() + " entries"
                + (ledgerKeys == null ? "" : ", signatures verified"));
        if (request.backup().systemIdentifier() != null && !entries.isEmpty()) {
            // Before the entry relied on is chosen: another cluster's LSNs and times bound nothing.
            LedgerCheck.requireSameCluster("the backup's", request.backup().systemIdentifier(), entries,
                    entries.get(entries.size() - 1));
        }
        // The restored server is idle: its position read before the chain is the one after it.
        // Its timeline history places the entries whose LSNs may be compared with its positions.
        findings.restored = ServerPosition.read(restored);
        history = TimelineHistory.read(restored, findings.restored.timeline(), request.backup().timeline());
        LedgerEntry relied = reliedOn();
        findings.reliedOn = relied;
        int reliedIndex = entries.indexOf(relied);
        findings.reliedLine = ledger.line(reliedIndex);
        findings.reliedNumber = reliedIndex + 1;
        LedgerCheck.requireSameCluster("the restored server's", findings.restored.systemIdentifier(), entries, relied);
        findings.verdicts.put("system_identifier", "the ledger's");
        findings.verdicts.put("timeline", timelineVerdict());
        requireLedgersDatabase(relied);
        requireLedgersSchema(relied);
        schema = LedgerCheck.schemaOf(restored, relied.schema());
        Snapshot snapshot = Verification.run(restored,
                new Verification.Request(schema.name(), LedgerCheck.expectationOf(relied), true));
        findings.snapshot = snapshot;
        LedgerCheck.requireCleanVerdicts("the restored chain", snapshot, entries, relied);
        findings.verdicts.put("server_verdict", "clean");
        findings.verdicts.put("client_verdict", "clean");
        requireHolds(relied, snapshot);
        requireLaterEntriesMatch(relied, snapshot.rowCount());
        requireReplayedEntriesHeld(snapshot.rowCount());
        requireIntegrity(relied, snapshot);
        requireCatalog(relied, snapshot.rowCount());
        if (live != null) {
            requirePrefixOfLive(snapshot);
        }
        if (request.maxRpo() != null) {
            requireMaxRpo(snapshot.rowCount());
        }
        if (request.target().isGiven()) {
            new TargetCheck().run(snapshot);
        }
    }

    /**
     * The newest entry recorded before the restore's bound: the PITR target
     * when one is given, else the backup's start (its LSN when given, which
     * no clock skew can move, else its time). Every row such an entry
     * counts was committed before the bound, so the restore must hold it.
     */
    private LedgerEntry reliedOn() throws Failure {
        Target target = request.target();
        Backup backup = request.backup();
        Predicate<LedgerEntry> before;
        String bound;
        if (target.lsn() != null) {
            before = history.placedAnd(entries, entry -> LedgerEntry.compareLsn(entry.walLsn(), target.lsn()) <= 0);
            bound = "the recovery target LSN " + target.lsn() + onHistory();
        } else if (target.time() != null) {
            before = entry -> entry.time().isBefore(target.time());
            bound = "the recovery target time " + target.time();
        } else if (backup.startLsn() != null) {
            before = history.placedAnd(entries, entry -> LedgerEntry.compareLsn(entry.walLsn(), backup.startLsn()) <= 0);
            bound = "the backup's start LSN " + backup.startLsn() + onHistory();
        } else {
            before = entry -> entry.time().isBefore(backup.start());
            bound = "the backup's start " + backup.start();
        }
        LedgerEntry newest = null;
        for (LedgerEntry entry : entries) {
            if (before.test(entry)) {
                newest = entry;
            }
        }
        if (newest == null) {
            throw new Failure("cannot judge: no entry of the ledger " + request.ledger() + " was recorded before "
                    + bound + " (run --mode=checkpoint before each backup)");
        }
        return newest;
    }

    /** How an LSN bound names the history that placed the entries, when it has more than one timeline. */
    private String onHistory() {
        return history.known() && history.parents().isEmpty() ? "" : " on the restored server's " + history.describe();
    }

    /**
     * The restored server's timeline and the entries its history leaves out: recorded on
     * another branch (an old primary that went on after a failover, a timeline a restore
     * abandoned), their LSNs are no positions of the restored WAL.
     */
    private String timelineVerdict() {
        List<String> elsewhere = new ArrayList<>();
        Predicate<LedgerEntry> placed = history.placer(entries);
        for (int i = 0; i < entries.size(); i++) {
            if (!placed.test(entries.get(i))) {
                elsewhere.add(String.valueOf(i + 1));
            }
        }
        return history.describe() + (elsewhere.isEmpty() ? "" : "; checkpoint" + (elsewhere.size() == 1 ? " " : "s ")
                + String.join(", ", elsewhere) + " of " + entries.size() + " on another branch (LSNs not compared)");
    }

    /**
     * Every entry recorded on the restored server's history at or before the end of its
     * replay (the LSN its own timeline began at) counted rows committed before that: the
     * restore holds them. A restore whose archive lacked a timeline's WAL replays the older
     * timeline's segments in its place, past the fork (PostgreSQL falls back to them), and
     * its history still names the newer one: this is where such a restore shows.
     */
    private void requireReplayedEntriesHeld(long rowCount) throws Refusal {
        List<LedgerEntry> replayed = history.replayedPast(entries);
        for (LedgerEntry entry : replayed) {
            if (entry.rowCount() > rowCount) {
                throw new Refusal("rollback or lost rows: the restore lacks " + LedgerCheck.name(entries, entry)
                        + " (head " + entry.chainHeadHash() + " at position " + entry.headPosition() + ", recorded on"
                        + " timeline " + entry.timeline() + " at " + entry.walLsn() + "), though it replayed WAL past it:"
                        + " its history is " + history.describe() + "; it holds " + rowCount + " rows (was that"
                        + " timeline's WAL missing from the archive, and an older timeline's replayed in its place?)");
            }
        }
        LedgerEntry elsewhere = history.leftBehindBy(entries);
        if (elsewhere != null) {
            throw new Refusal("another branch: the restore replayed WAL up to " + history.replayEnd() + " (its history"
                    + " is " + history.describe() + "), but the live server was last seen on another branch, "
                    + LedgerCheck.name(entries, elsewhere) + " recorded on timeline " + elsewhere.timeline() + " at "
                    + elsewhere.walLsn() + ", after every checkpoint of that history (did the archive lack timeline "
                    + elsewhere.timeline() + "'s history file?)");
        }
        if (history.replayEnd() != null) {
            findings.verdicts.put("replayed_checkpoints", replayed.size() + " recorded before the end of replay at "
                    + history.replayEnd() + ", all held");
        }
    }

    /**
     * The database connected to must be the one the ledger witnessed: another database's audit log (a
     * database named by mistake) would fail as a rollback, though the backup is not at fault. A physical
     * restore keeps every database's name. Cannot judge.
     */
    private void requireLedgersDatabase(LedgerEntry relied) throws Failure {
        if (!relied.database().equals(findings.restored.database())) {
            throw new Failure(DrillVerify.CANNOT_JUDGE + "the restored database is " + findings.restored.database()
                    + ", the ledger's " + LedgerCheck.name(entries, relied) + " was recorded on database "
                    + relied.database() + " (connect to that database of the restore: SMOKE_DRILL_DATABASE, --db-url)");
        }
    }

    /**
     * With --schema, the ledger must have witnessed that audit schema: the
     * ledger of another schema's log (another tenant's in the database,
     * signed with the same key) would have that log judged instead. Cannot
     * judge, as for another database.
     */
    private void requireLedgersSchema(LedgerEntry relied) throws Failure {
        String named = request.schema();
        if (named != null && !named.equals(relied.schema())) {
            throw new Failure(DrillVerify.CANNOT_JUDGE + "the drill judges the audit schema " + named + ", the ledger's "
                    + LedgerCheck.name(entries, relied) + " was recorded on schema " + relied.schema()
                    + " (--schema, SMOKE_DRILL_SCHEMA)");
        }
    }

    private void requireHolds(LedgerEntry relied, Snapshot snapshot) throws Refusal {
        if (Boolean.FALSE.equals(snapshot.client().expectationsMet())) {
            throw new Refusal("rollback or lost rows: the restore lacks " + LedgerCheck.name(entries, relied)
                    + " (head " + relied.chainHeadHash() + " at position " + relied.headPosition() + "); it holds "
                    + snapshot.rowCount() + " rows");
        }
        findings.verdicts.put("checkpoint", "holds " + LedgerCheck.name(entries, relied));
    }

    /** Every later entry the restore reaches (its head position within the restored chain) must match. */
    private void requireLaterEntriesMatch(LedgerEntry relied, long rowCount) throws Failure {
        List<LedgerEntry> reached = new ArrayList<>();
        for (LedgerEntry entry : entries.subList(entries.indexOf(relied) + 1, entries.size())) {
            if (entry.rowCount() <= rowCount && entry.rowCount() > 0) {
                reached.add(entry);
            }
        }
        Map<Long, String> hashes = ChainPositions.hashesAt(restored, schema,
                reached.stream().map(LedgerEntry::headPosition).toList());
        for (LedgerEntry entry : reached) {
            if (!entry.chainHeadHash().equals(hashes.get(entry.headPosition()))) {
                throw new Refusal("fork: the restored chain disagrees with " + LedgerCheck.name(entries, entry)
                        + " at position " + entry.headPosition() + " (the ledger's head " + entry.chainHeadHash()
                        + ", the restore's " + hashes.get(entry.headPosition()) + ")");
            }
        }
        findings.verdicts.put("later_checkpoints", reached.size() + " reached, all match");
    }

    /**
     * The entries recorded at a point the restore may stand at, oldest
     * first: the entry relied on, the later ones the restore reaches (it
     * holds their rows), and the first later one it does not reach (a
     * change between that entry and the end of the restore's WAL).
     */
    private List<LedgerEntry> pointsTheRestoreMayStandAt(LedgerEntry relied, long rowCount) {
        List<LedgerEntry> points = new ArrayList<>();
        for (LedgerEntry entry : entries.subList(entries.indexOf(relied), entries.size())) {
            points.add(entry);
            if (entry != relied && entry.rowCount() > rowCount) {
                break;
            }
        }
        return points;
    }

    /**
     * The integrity machinery (SPEC 9.5) must be what an entry recorded at a
     * point the restore may stand at: not the ledger's last entry, for a
     * trigger or verifier upgraded after the backup legitimately differs.
     * A failure names what differs from the newest entry the restore reaches.
     */
    private void requireIntegrity(LedgerEntry relied, Snapshot snapshot) throws Refusal {
        Map<String, String> restoredFingerprint = snapshot.integrity() == null ? Map.of() : snapshot.integrity();
        List<LedgerEntry> points = pointsTheRestoreMayStandAt(relied, snapshot.rowCount());
        for (int i = points.size() - 1; i >= 0; i--) { // the newest that matches, for the report
            LedgerEntry point = points.get(i);
            if (point.integrity().equals(restoredFingerprint)) {
                findings.verdicts.put("integrity", "as in " + LedgerCheck.name(entries, point));
                return;
            }
        }
        LedgerEntry reference = points.stream().filter(point -> point == relied
                || point.rowCount() <= snapshot.rowCount()).reduce((older, newer) -> newer).orElse(relied);
        List<String> differing = new ArrayList<>();
        reference.integrity().forEach((key, value) -> {
            if (!value.equals(restoredFingerprint.get(key))) {
                differing.add(key);
            }
        });
        restoredFingerprint.keySet().stream().filter(key -> !reference.integrity().containsKey(key))
                .forEach(differing::add);
        throw new Refusal("the integrity machinery differs from " + LedgerCheck.name(entries, reference) + ": "
                + String.join("; ", differing));
    }

    /** How many catalog differences a failure names before "and N more". */
    static final int CATALOG_DIFFERENCES_NAMED = 3;

    /**
     * The catalog inventory of the audit schema (SemanticOracle.inventory)
     * must be one an entry recorded at a point the restore may stand at
     * (pointsTheRestoreMayStandAt). Not the ledger's last entry: a schema
     * migrated after the restore's point legitimately differs. Entries are compared by catalog_sha256; those without one
     * (lines older than the field) are passed over, and when none has one
     * there is nothing to compare. A failure names the first differences
     * from the newest entry the restore reaches, whose inventory the ledger
     * holds (LedgerCheck.inventoryOf).
     */
    private void requireCatalog(LedgerEntry relied, long rowCount) throws Failure {
        List<LedgerEntry> candidates = new ArrayList<>();
        LedgerEntry newestReached = null;
        for (LedgerEntry entry : pointsTheRestoreMayStandAt(relied, rowCount)) {
            if (entry.catalogSha256() != null) {
                candidates.add(entry);
                if (entry == relied || entry.rowCount() <= rowCount) {
                    newestReached = entry;
                }
            }
        }
        if (candidates.isEmpty()) {
            findings.verdicts.put("catalog", "not recorded in " + LedgerCheck.name(entries, relied)
                    + " (a line older than the field): not compared");
            return;
        }
        com.fasterxml.jackson.databind.node.ObjectNode inventory = SemanticOracle.inventory(restored, schema.name());
        String restoredSha256 = LedgerEntry.catalogDigest(inventory);
        for (LedgerEntry candidate : candidates) {
            if (candidate.catalogSha256().equals(restoredSha256)) {
                findings.verdicts.put("catalog", "as in " + LedgerCheck.name(entries, candidate) + " ("
                        + restoredSha256 + ")");
                return;
            }
        }
        LedgerEntry reference = newestReached != null ? newestReached : candidates.get(0);
        com.fasterxml.jackson.databind.JsonNode recorded = LedgerCheck.inventoryOf(entries, reference);
        List<String> differences = recorded == null ? List.of()
                : OracleComparison.differences(recorded, inventory).stream()
                        .filter(line -> !line.startsWith(OracleComparison.NOTE)).map(DrillJudge::asCheckpoint).toList();
        String named = String.join("; ", differences.subList(0, Math.min(differences.size(),
                CATALOG_DIFFERENCES_NAMED)));
        if (differences.size() > CATALOG_DIFFERENCES_NAMED) {
            named += "; and " + (differences.size() - CATALOG_DIFFERENCES_NAMED) + " more";
        }
        throw new Refusal("the catalog of the audit schema " + schema.name() + " differs from "
                + LedgerCheck.name(entries, reference) + ": " + (differences.isEmpty()
                        ? "catalog_sha256 " + reference.catalogSha256() + " recorded, " + restoredSha256 + " restored"
                        + (recorded == null ? " (no line of the ledger holds that inventory)" : "")
                        : named));
    }

    /** OracleComparison's line with the checkpoint in the place of its "source". */
    static String asCheckpoint(String line) {
        return line.replace(": missing after the restore (source: ", ": missing after the restore (checkpoint: ")
                .replace(": not in the source (restored: ", ": not in the checkpoint (restored: ")
                .replace(": source ", ": checkpoint ");
    }

    /**
     * The live chain must continue the restored one: the same hash at the
     * restored head's position (each hash covers every row before it); when
     * not, the first differing position, found by bisection.
     */
    private void requirePrefixOfLive(Snapshot snapshot) throws Failure {
        ServerPosition livePosition = ServerPosition.read(live);
        LedgerCheck.requireSameCluster("the live server's", livePosition.systemIdentifier(), entries,
                findings.reliedOn);
        long restoredRows = snapshot.rowCount();
        long liveRows = ChainPositions.rowCount(live, schema);
        if (liveRows < restoredRows) {
            throw new Refusal("fork: the restore holds " + restoredRows + " rows, the live chain only " + liveRows
                    + " (the live database was rolled back, or this is not its backup)");
        }
        if (restoredRows > 0 && !sameHashAt(restoredRows - 1)) {
            long low = 0;
            long high = restoredRows - 1;
            while (low < high) {
                long middle = (low + high) / 2;
                if (sameHashAt(middle)) {
                    low = middle + 1;
                } else {
                    high = middle;
                }
            }
            throw new Refusal("fork at position " + low + ": the restored chain is not a prefix of the live chain");
        }
        findings.verdicts.put("live", "the restored chain is a prefix of the live chain (" + liveRows + " rows)");
        liveRowCount = liveRows;
    }

    /** A row's commit time as an ISO instant; NULL when it was not recorded. */
    static final String COMMITTED_AT = committedAt("xmin");

    /** The commit time of transaction XID (an SQL expression) as an ISO instant; NULL when it was not recorded. */
    static String committedAt(String xid) {
        return "pg_catalog.to_char(pg_catalog.pg_xact_commit_timestamp(" + xid + ") AT TIME ZONE 'UTC',"
                + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    }

    /** 26h, 90m, 45s: the largest unit that states the duration exactly. */
    static String describe(Duration duration) {
        long seconds = duration.toSeconds();
        if (seconds % 3600 == 0) {
            return seconds / 3600 + "h";
        }
        return seconds % 60 == 0 ? seconds / 60 + "m" : seconds + "s";
    }

    private boolean sameHashAt(long position) throws Failure {
        String restoredHash = ChainPositions.hashesAt(restored, schema, List.of(position)).get(position);
        String liveHash = ChainPositions.hashesAt(live, schema, List.of(position)).get(position);
        return restoredHash != null && restoredHash.equals(liveHash);
    }

    /**
     * The restore must hold the newest entry recorded at or before now -
     * DURATION (a backup job that stopped fails), and an entry recorded
     * since (holds: its rows and its WAL position): else nothing shows it
     * is younger than DURATION (checkpoints that stopped with the backups,
     * or a ledger cut short, held the newest entry of a ledger as old as
     * the backup; an idle audit log's checkpoints, the newest of them).
     */
    private void requireMaxRpo(long rowCount) throws Refusal {
        Instant cutoff = now.minus(request.maxRpo());
        LedgerEntry required = null;
        LedgerEntry newestHeld = findings.reliedOn; // its rows are held (requireHolds)
        Predicate<LedgerEntry> placed = history.placer(entries);
        for (LedgerEntry entry : entries) {
            if (!entry.time().isAfter(cutoff)) {
                required = entry;
            }
            if (holds(entry, rowCount, placed, history, findings.restored.walLsn())) {
                newestHeld = entry;
            }
        }
        if (required != null && rowCount < required.rowCount()) {
            throw new Refusal("RPO exceeded: the restore holds " + rowCount + " rows, " + LedgerCheck.name(entries,
                    required) + ", recorded at " + required.time() + " (more than " + describe(request.maxRpo())
                    + " ago), held " + required.rowCount());
        }
        if (newestHeld.time().isBefore(cutoff)) {
            boolean newestOfAll = newestHeld == entries.get(entries.size() - 1);
            throw new Refusal("RPO exceeded: the newest checkpoint the restore holds, " + LedgerCheck.name(entries,
                    newestHeld) + ", was recorded at " + newestHeld.time() + " (more than " + describe(request.maxRpo())
                    + " ago)" + (newestOfAll ? "; the ledger holds none since (are checkpoints still recorded?)" : ""));
        }
        findings.verdicts.put("max_rpo", "met (" + describe(request.maxRpo()) + ")");
    }

    /**
     * Whether the restore holds ENTRY (one PLACED: history.placer): its rows (a later entry reached
     * matched, requireLaterEntriesMatch) and its WAL position, which the restore reaches
     * only when it replayed past it. Rows alone dated an idle audit log's old backup by
     * the newest checkpoint. An entry on a timeline the restore replayed is compared with
     * the end of its replay when the history names it: the restored server's own position
     * (RESTOREDLSN) is then on the timeline it made at that end, whose LSNs are no positions
     * of the live server's; past that end by the WAL of its promotion, it passed an idle
     * log's checkpoint recorded a few records after a PITR target.
     */
    static boolean holds(LedgerEntry entry, long rowCount, Predicate<LedgerEntry> placed, TimelineHistory history,
                         String restoredLsn) {
        if (entry.rowCount() > rowCount || !placed.test(entry)) {
            return false;
        }
        String end = history.replayEnd();
        return end != null && entry.timeline() != history.current()
                ? TimelineHistory.atOrBefore(entry.walLsn(), end)
                : LedgerEntry.compareLsn(entry.walLsn(), restoredLsn) <= 0;
    }

    /**
     * rpo_rows and rpo_seconds against the live head (with --live-url) or
     * the ledger's newest entry; the restore is dated by the newest ledger
     * entry it holds.
     */
    private void measureRpo() {
        if (findings.snapshot == null || entries == null) {
            return;
        }
        long restoredRows = findings.snapshot.rowCount();
        Instant restoredTime = null;
        for (LedgerEntry entry : entries) {
            if (entry.rowCount() <= restoredRows) {
                restoredTime = entry.time();
            }
        }
        LedgerEntry newest = entries.get(entries.size() - 1);
        findings.rpo = liveRowCount != null
                ? Rpo.between(restoredRows, restoredTime, liveRowCount, now, "live")
                : Rpo.between(restoredRows, restoredTime, newest.rowCount(), newest.time(), "ledger");
    }

    /**
     * The first entry that counted its rows after the target. An entry counts first and reads its time
     * and WAL position after (the chain walk and catalog inventory between): the first one recorded after
     * the target may have counted before it, missing rows committed before the target. The ledger is
     * locked while an entry is recorded, so the next one counted after that one's time: after the target.
     * By LSN only an entry the restored server's history places is recorded after the target: the LSN of
     * another branch (an old primary that went on after a failover) says nothing about this one. The
     * rows of the next one, whatever its branch, are at least that one's: each entry extends the last.
     */
    static LedgerEntry countedAfter(List<LedgerEntry> entries, TimelineHistory history, Target target) {
        Predicate<LedgerEntry> placed = history.placer(entries);
        for (int i = 0; i < entries.size() - 1; i++) {
            LedgerEntry entry = entries.get(i);
            boolean recordedAfter = target.lsn() != null
                    ? placed.test(entry) && LedgerEntry.compareLsn(entry.walLsn(), target.lsn()) > 0
                    : entry.time().isAfter(target.time());
            if (recordedAfter) {
                return entries.get(i + 1);
            }
        }
        return null;
    }

    /**
     * PITR: the restored head must be the last row committed before the
     * target. With track_commit_timestamp on, the head's commit time proves
     * it is not past the target (and, with --live-url, the next live row's
     * that it is not short of it); otherwise the ledger brackets it: the
     * restore holds every entry recorded before the target (reliedOn) and
     * no more rows than the first entry recorded after it.
     */
    private final class TargetCheck {
        void run(Snapshot snapshot) throws Failure {
            Target target = request.target();
            long rowCount = snapshot.rowCount();
            String head = snapshot.chainHeadHash();
            findings.pitr.put("target", target.time() != null ? target.time().toString()
                    : target.lsn() != null ? target.lsn() : target.xid().toString());
            String proof = "ledger_bracket";
            if (target.xid() != null) {
                proof = byTransaction(target.xid(), head, rowCount);
            } else if (target.time() != null && commitTimestampsOn(restored)) {
                proof = byCommitTime(target.time(), head, rowCount);
            }
            bracketByLedger(target, rowCount);
            findings.pitr.put("proof", proof);
            findings.verdicts.put("pitr", "the restored head is the last row committed before the target ("
                    + proof + ")");
        }

        private String byCommitTime(Instant target, String head, long rowCount) throws Failure {
            String committed = rowCount == 0 ? null
                    : ChainPositions.aboutRow(restored, schema, head, COMMITTED_AT);
            if (committed == null) {
                return "ledger_bracket";
            }
            Instant headCommitted = Instant.parse(committed);
            findings.pitr.put("head_committed_at", headCommitted.toString());
            if (headCommitted.isAfter(target)) {
                throw new Refusal("restored past the target: the head (position " + (rowCount - 1) + ") was committed"
                        + " at " + headCommitted + ", after the recovery target " + target);
            }
            if (live != null && commitTimestampsOn(live)) {
                String next = ChainPositions.hashesAt(live, schema, List.of(rowCount)).get(rowCount);
                String nextCommitted = next == null ? null
                        : ChainPositions.aboutRow(live, schema, next, COMMITTED_AT);
                if (nextCommitted != null && !Instant.parse(nextCommitted).isAfter(target)) {
                    throw new Refusal("short of the target: the live row at position " + rowCount + " was committed at "
                            + Instant.parse(nextCommitted) + ", not after the recovery target " + target
                            + ", and the restore lacks it");
                }
            }
            return "commit_timestamp";
        }

        /** The head's inserting transaction must not be later than the target (32-bit XIDs, no wraparound). */
        private String byTransaction(long targetXid, String head, long rowCount) throws Failure {
            String xmin = rowCount == 0 ? null : ChainPositions.aboutRow(restored, schema, head, "xmin");
            if (xmin != null && Long.parseLong(xmin) > withoutEpoch(targetXid)) {
                throw new Refusal("restored past the target: the head (position " + (rowCount - 1) + ") was written by"
                        + " transaction " + xmin + ", after the recovery target XID " + targetXid);
            }
            requireTargetBegan(targetXid);
            if (xmin != null && commitTimestampsOn(restored)) {
                requireHeadCommittedByTarget(targetXid, head, rowCount);
            }
            findings.pitr.put("head_xmin", xmin);
            return "head_xmin";
        }

        /**
         * XIDs are taken in one order and committed in another: a transaction that took its XID before the
         * target and wrote its row after the target committed has the older xmin, so a restore past the target
         * ended at it unnoticed. With commit timestamps, the head must not be committed after the target.
         */
        private void requireHeadCommittedByTarget(long targetXid, String head, long rowCount) throws Failure {
            String headCommitted = ChainPositions.aboutRow(restored, schema, head, COMMITTED_AT);
            String targetCommitted;
            // The XID as a literal of its own type: no cast the restored database holds is called.
            String sql = "SELECT " + committedAt("'" + withoutEpoch(targetXid) + "'::pg_catalog.xid");
            try (var connection = restored.withSearchPath(Connector.CATALOG_ONLY).open()) {
                targetCommitted = Sql.queryOne(connection, sql, restored.deadline(),
                        "reading the target's commit time");
            } catch (java.sql.SQLException e) {
                throw restored.deadline().failure("reading the target's commit time", e);
            }
            if (headCommitted != null && targetCommitted != null
                    && Instant.parse(headCommitted).isAfter(Instant.parse(targetCommitted))) {
                throw new Refusal("restored past the target: the head (position " + (rowCount - 1) + ") was committed"
                        + " at " + Instant.parse(headCommitted) + ", after the recovery target XID " + targetXid
                        + " (committed at " + Instant.parse(targetCommitted) + ")");
            }
        }

        /**
         * A restore short of the target before it began: its head is as old as an exact restore's would be,
         * but the restored server's next transaction ID (with its epoch) is not past the target. A target
         * without its epoch on a cluster past its first wraparound cannot be placed: no verdict from it.
         */
        private void requireTargetBegan(long targetXid) throws Failure {
            long next;
            try (var connection = restored.open()) {
                next = Long.parseLong(Sql.queryOne(connection, "SELECT pg_catalog.format('%s',"
                                + " pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()))",
                        restored.deadline(), "reading the restored server's next transaction ID"));
            } catch (java.sql.SQLException e) {
                throw restored.deadline().failure("reading the restored server's next transaction ID", e);
            }
            boolean placeable = targetXid != withoutEpoch(targetXid) || next == withoutEpoch(next);
            if (placeable && Long.compareUnsigned(targetXid, next) >= 0) {
                throw new Refusal("short of the target: the restored server never began transaction " + targetXid
                        + " (the recovery target XID)");
            }
        }

        /**
         * The 32 bits xmin holds: a target as pg_current_xact_id() prints it carries its epoch above them
         * (the server's recovery_target_xid keeps these bits too), and no xmin was ever after the whole number.
         */
        private static long withoutEpoch(long xid) {
            return xid & 0xFFFFFFFFL;
        }

        private void bracketByLedger(Target target, long rowCount) throws Refusal {
            if (target.time() == null && target.lsn() == null) {
                return;
            }
            LedgerEntry after = countedAfter(entries, history, target);
            findings.pitr.put("bracket_before", LedgerCheck.name(entries, findings.reliedOn));
            if (after == null) {
                return;
            }
            findings.pitr.put("bracket_after", LedgerCheck.name(entries, after));
            if (rowCount > after.rowCount()) {
                throw new Refusal("restored past the target: the restore holds " + rowCount + " rows, "
                        + LedgerCheck.name(entries, after) + ", recorded at " + after.time()
                        + " after the recovery target, held only " + after.rowCount());
            }
        }

        private boolean commitTimestampsOn(Connector connector) throws Failure {
            try (var connection = connector.open()) {
                return "on".equals(Sql.queryOne(connection, "SELECT pg_catalog.current_setting('track_commit_timestamp')",
                        connector.deadline(), "reading track_commit_timestamp"));
            } catch (java.sql.SQLException e) {
                throw connector.deadline().failure("reading track_commit_timestamp", e);
            }
        }
    }
}
