// The restored server's timeline history (SPEC section 9.10): which ledger
// entries lie on the WAL it replayed, so that their LSNs may be compared with
// its own, and where its replay ended.

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Predicate;

/**
 * A WAL position is a timeline and an LSN: an LSN of one timeline says
 * nothing about another branch. After a failover or a restore that became
 * the primary, the old timeline goes on from the fork point (its WAL may be
 * archived too), and its LSNs pass the new timeline's: a checkpoint recorded
 * there is not on the new timeline's history, whatever its LSN.
 *
 * The restored server's history file (pg_wal/TTTTTTTT.history of its
 * timeline, written when it was promoted) names every timeline its WAL came
 * from and the LSN where each one ended (its switch point): parents lists
 * them oldest first. A ledger entry lies on that history when its timeline is
 * one of them (or the server's own) and its wal_lsn within that timeline's
 * stretch of it. lastGoesOn: the last of them, where the replay ended when
 * the restore made the server's timeline, goes on past that end on the live
 * server (a PITR's target lies there), and the server's own timeline holds
 * no checkpoint; not when the backup was taken on the server's own timeline
 * (a snapshot that recovered from a crash, no promotion): then every parent
 * ended at its switch point, and the server's timeline is the live one. known is false when the history could not be read (the role
 * may not run pg_read_binary_file): then only entries of the server's own
 * timeline are placed, or every entry when the whole ledger was recorded on
 * one timeline (no switch witnessed).
 */
record TimelineHistory(long current, List<Switch> parents, boolean known, boolean lastGoesOn) {

    /** A timeline of the history and the LSN where it ended (the next one began). */
    record Switch(long timeline, String endLsn) {}

    /**
     * The first WAL page header of a segment is 40 bytes (24 on other pages), and an insert
     * position is past it: an entry recorded at a page's start plus its header, on the
     * timeline that ended at that page's start, wrote nothing after the switch point.
     */
    static final long WAL_PAGE = 8192;
    static final long LONG_PAGE_HEADER = 40;

    /**
     * The function read() runs, as a privilege names it: EXECUTE is granted per signature, and one on
     * pg_read_binary_file(text) does not let a role run this one.
     */
    static final String READ_FUNCTION = "pg_read_binary_file(text, bigint, bigint, boolean)";

    /** More than a history file of a thousand timelines holds. */
    static final long MAX_BYTES = 1 << 20;

    /**
     * HISTORYFILE null: a server that never switched timelines (timeline 1). BACKUPTIMELINE: the
     * backup's START TIMELINE, null when not known.
     */
    static TimelineHistory of(long current, String historyFile, Long backupTimeline) {
        List<Switch> parents = new ArrayList<>();
        if (historyFile != null) {
            for (String line : historyFile.split("\n")) {
                String[] fields = line.strip().split("\\s+");
                if (fields.length < 2 || fields[0].isEmpty() || fields[0].startsWith("#")) {
                    continue;
                }
                if (!fields[0].matches("[0-9]{1,10}") || !LedgerEntry.LSN.matcher(fields[1]).matches()) {
                    throw new IllegalArgumentException("not a timeline history line: " + line.strip());
                }
                parents.add(new Switch(Long.parseLong(fields[0]), fields[1]));
            }
        }
        return new TimelineHistory(current, List.copyOf(parents), true,
                backupTimeline == null || backupTimeline != current);
    }

    static TimelineHistory unknown(long current) {
        return new TimelineHistory(current, List.of(), false, false);
    }

    /**
     * Reads pg_wal/TTTTTTTT.history of timeline CURRENT on the server (a superuser's, or
     * a role granted EXECUTE on READ_FUNCTION); timeline 1 has none.
     * unknown() when the role may not read it or it is not there.
     */
    static TimelineHistory read(Connector connector, long current, Long backupTimeline) throws Failure {
        if (current <= 1) {
            return of(current, null, backupTimeline);
        }
        String file = String.format("pg_wal/%08X.history", current);
        // The form with missing_ok (PostgreSQL 9.5 on): a file that is not there is NULL, as an unreadable one.
        // Its bytes as hex, decoded here: a reason (a restore point's name) need not be text of any encoding.
        String sql = "SELECT CASE WHEN pg_catalog.has_function_privilege("
                + "'pg_catalog." + READ_FUNCTION + "', 'EXECUTE')"
                + " THEN pg_catalog.encode(pg_catalog.pg_read_binary_file('" + file + "', 0, " + MAX_BYTES
                + ", true), 'hex') END";
        String doing = "reading the restored server's " + file;
        String text;
        try (Connection connection = connector.withSearchPath(Connector.CATALOG_ONLY).open()) {
            connection.setReadOnly(true);
            text = Sql.queryOne(connection, sql, connector.deadline(), doing);
        } catch (SQLException e) {
            throw connector.deadline().failure(doing, e);
        }
        if (text == null) {
            return unknown(current);
        }
        try { // the fields read are ASCII; the reasons' bytes are kept as they are
            return of(current, new String(HexFormat.of().parseHex(text), StandardCharsets.ISO_8859_1), backupTimeline);
        } catch (IllegalArgumentException e) {
            throw new Failure(DrillVerify.CANNOT_JUDGE + "the restored server's " + file + " is not a timeline history: "
                    + e.getMessage());
        }
    }

    /** Where the server's own timeline began: the end of the WAL it replayed; null when not known. */
    String replayEnd() {
        return known && !parents.isEmpty() ? parents.get(parents.size() - 1).endLsn() : null;
    }

    /**
     * Whether ENTRY's wal_lsn is a position of this history, so that it may be compared with
     * the server's positions (its backup's start, its recovery target, its end of replay).
     * ENTRIES: the whole ledger (without a known history, one timeline in it places all).
     */
    boolean places(LedgerEntry entry, List<LedgerEntry> entries) {
        return placer(entries).test(entry);
    }

    /**
     * places() for the entries of ENTRIES, the ledger read once: a loop over the ledger asks it of
     * every entry, and without a known history each answer would read the whole ledger again.
     */
    Predicate<LedgerEntry> placer(List<LedgerEntry> entries) {
        if (!known) {
            boolean oneTimeline = entries.stream().map(LedgerEntry::timeline).distinct().count() <= 1;
            return entry -> entry.timeline() == current || oneTimeline;
        }
        return this::placesOnHistory;
    }

    private boolean placesOnHistory(LedgerEntry entry) {
        String start = "0/0";
        for (int i = 0; i < parents.size(); i++) {
            Switch parent = parents.get(i);
            if (parent.timeline() == entry.timeline()) {
                // The timeline the replay ended on goes on past that end on the live server: the same branch.
                boolean goesOn = lastGoesOn && i == parents.size() - 1;
                return LedgerEntry.compareLsn(entry.walLsn(), start) >= 0
                        && (goesOn || atOrBefore(entry.walLsn(), parent.endLsn()));
            }
            start = parent.endLsn();
        }
        // A timeline the restore made holds no checkpoint (a live timeline of the same number is another branch).
        return entry.timeline() == current && (!lastGoesOn || parents.isEmpty())
                && LedgerEntry.compareLsn(entry.walLsn(), start) >= 0;
    }

    /** LSN at or before END, or only the page header that starts at END past it (nothing written after END). */
    static boolean atOrBefore(String lsn, String end) {
        long position = LedgerEntry.lsnValue(lsn);
        long limit = LedgerEntry.lsnValue(end);
        return Long.compareUnsigned(position, limit) <= 0
                || limit % WAL_PAGE == 0 && Long.compareUnsigned(position - limit, LONG_PAGE_HEADER) <= 0;
    }

    /** The entries this history places with wal_lsn at or before LSN, oldest first. */
    List<LedgerEntry> placedAtOrBefore(List<LedgerEntry> entries, String lsn) {
        return entries.stream().filter(placedAnd(entries, entry -> LedgerEntry.compareLsn(entry.walLsn(), lsn) <= 0))
                .toList();
    }

    /**
     * The entries the server replayed past (placed, wal_lsn at or before the end of its
     * replay): it holds every row they counted, committed before their wal_lsn. None when
     * the end of replay is not known.
     */
    List<LedgerEntry> replayedPast(List<LedgerEntry> entries) {
        String end = replayEnd();
        return end == null ? List.of()
                : entries.stream().filter(placedAnd(entries, entry -> atOrBefore(entry.walLsn(), end))).toList();
    }

    /**
     * The first entry recorded after every entry this history places, off it, at an LSN at or before the
     * end of the replay: the live server was last seen on another branch, which began before that LSN,
     * so before the replay ended; the restore went on along the old one. An archive without the new
     * timeline's history file does that (the restore makes a timeline of its own, often of the same
     * number as the live one). Null when there is none, or the end of replay is not known.
     */
    LedgerEntry leftBehindBy(List<LedgerEntry> entries) {
        String end = replayEnd();
        if (end == null) {
            return null;
        }
        Predicate<LedgerEntry> placed = placer(entries);
        int newestPlaced = -1;
        for (int i = 0; i < entries.size(); i++) {
            if (placed.test(entries.get(i))) {
                newestPlaced = i;
            }
        }
        for (LedgerEntry entry : entries.subList(newestPlaced + 1, entries.size())) {
            if (LedgerEntry.compareLsn(entry.walLsn(), end) <= 0) {
                return entry;
            }
        }
        return null;
    }

    Predicate<LedgerEntry> placedAnd(List<LedgerEntry> entries, Predicate<LedgerEntry> test) {
        return placer(entries).and(test);
    }

    /** "timeline 3 (from 1 up to 0/6002AA8, 2 up to 0/8000EE0)"; how the verdicts name it. */
    String describe() {
        if (!known) {
            return "timeline " + current + " (its history not readable: grant EXECUTE on " + READ_FUNCTION + ")";
        }
        if (parents.isEmpty()) {
            return "timeline " + current;
        }
        List<String> from = new ArrayList<>();
        parents.forEach(parent -> from.add(parent.timeline() + " up to " + parent.endLsn()));
        return "timeline " + current + " (from " + String.join(", ", from) + ")";
    }
}
