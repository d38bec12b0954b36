// Which ledger entries lie on a restored server's timeline history (SPEC
// section 9.10), with the positions of a real failover reproduced on
// PostgreSQL 15 (red-team review 10): a primary on timeline 1, its standby
// promoted to timeline 2 at 0/6002AA8, the old primary going on on timeline 1
// (a checkpoint recorded there at 0/7275390, then three rows no later
// checkpoint holds), the new primary's checkpoints on timeline 2; a backup
// taken on timeline 1 restored to 0/60060E0 on timeline 2. No database but
// in the last test.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TimelineHistoryTest {

    static LedgerEntry entry(long timeline, String walLsn, long rows, String time) {
        return new LedgerEntry(Instant.parse(time), "7450000000000000001", "app", "public", timeline, walLsn, rows,
                "ab".repeat(32), rows - 1, null, Map.of(), null, null, null);
    }

    /** The ledger of the failover, as --mode=checkpoint recorded it (timeline, wal_lsn, row_count, time). */
    static final List<LedgerEntry> FAILOVER = List.of(
            entry(1, "0/19566A8", 10, "2026-12-07T15:06:10.649076Z"),
            entry(1, "0/6002AA8", 15, "2026-12-07T15:06:16.355250Z"),
            entry(1, "0/7275390", 15, "2026-12-07T15:06:17.982523Z"), // the old primary, after the fork
            entry(2, "0/6002B88", 15, "2026-12-07T15:06:20.843347Z"),
            entry(2, "0/60060E0", 20, "2026-12-07T15:06:21.571993Z"),
            entry(2, "0/6007448", 25, "2026-12-07T15:06:22.291919Z"));

    /** pg_wal/00000003.history of pgBackRest's restore of the timeline-1 backup to LSN 0/60060E0. */
    static final TimelineHistory TO_THE_TARGET = TimelineHistory.of(3,
            "1\t0/6002AA8\tno recovery target specified\n\n2\t0/6006108\tafter LSN 0/60060E0\n\n", 1L);

    /**
     * Barman's restore of that backup to 15:06:19 without --target-tli: it copied timeline 1's WAL
     * only, and PostgreSQL, heading for timeline 2, replayed timeline 1's segments past the fork in
     * place of the missing ones, 18 rows (the old primary's three), yet wrote this history.
     */
    static final TimelineHistory ABANDONED_BRANCH = TimelineHistory.of(3,
            "1\t0/6002AA8\tno recovery target specified\n\n2\t0/8000EE0\tbefore 2026-12-07 15:07:08.114622+00\n\n",
            1L);

    private static List<Integer> numbers(List<LedgerEntry> entries) {
        return entries.stream().map(entry -> FAILOVER.indexOf(entry) + 1).toList();
    }

    @Test
    void theOldPrimarysCheckpointAfterTheForkIsNoPositionOfTheNewTimeline() {
        // Checkpoint 6 (timeline 2, 0/6007448) lies past the end of the replay, on the same branch.
        assertEquals(List.of(true, true, false, true, true, true),
                FAILOVER.stream().map(entry -> TO_THE_TARGET.places(entry, FAILOVER)).toList());
        assertEquals("timeline 3 (from 1 up to 0/6002AA8, 2 up to 0/6006108)", TO_THE_TARGET.describe());
        assertEquals("0/6006108", TO_THE_TARGET.replayEnd());
    }

    @Test
    void anExactRestoreToAnLsnOnTheNewTimelineIsNotBracketedByTheOldPrimarysCheckpoint() {
        DrillJudge.Target target = new DrillJudge.Target(null, "0/60060E0", null);
        // Relied on: the newest entry placed at or before the target (20 rows); the restore holds 20.
        assertEquals(List.of(1, 2, 4, 5), numbers(TO_THE_TARGET.placedAtOrBefore(FAILOVER, "0/60060E0")));
        // Compared by LSN alone, the old primary's 0/7275390 was "after" the target, and the entry after it
        // (15 rows) the bracket: 'restored past the target: the restore holds 20 rows, checkpoint 4 of 6,
        // recorded at 2026-12-07T15:06:20.843347Z after the recovery target, held only 15'.
        assertNull(DrillJudge.countedAfter(FAILOVER, TO_THE_TARGET, target)); // checkpoint 6: no entry after it
        assertEquals(List.of(1, 2, 4, 5), numbers(TO_THE_TARGET.replayedPast(FAILOVER)));
        // A time target is bracketed by time, on every branch: each entry extends the one before.
        assertEquals(5, FAILOVER.indexOf(DrillJudge.countedAfter(FAILOVER, TO_THE_TARGET,
                new DrillJudge.Target(Instant.parse("2026-12-07T15:06:19Z"), null, null))) + 1);
    }

    /**
     * An idle audit log (100 rows) on PostgreSQL 15, reproduced: checkpoint 1, 25 seconds, the recovery
     * target LSN 0/3000060 (the insert position then), one row inserted into another table, checkpoint 2;
     * the backup restored to the target and promoted. Its replay ended at 0/30000A0 (after the insert,
     * before its commit); checkpoint 2, at 0/30000C8 on timeline 1, lies past that end on the live
     * server's history. The promoted server stood at 0/3000118 on its own timeline 2 (the WAL of its
     * promotion), numerically past checkpoint 2: compared with it, checkpoint 2 was held and
     * '--max-rpo=20s' met ('max_rpo: met (20s)'), though the restore holds only checkpoint 1, 25 seconds old.
     */
    @Test
    void aCheckpointPastTheEndOfReplayIsNotHeldByThePromotedServersPosition() {
        List<LedgerEntry> idle = List.of(entry(1, "0/3000028", 100, "2026-12-07T16:18:41.054770Z"),
                entry(1, "0/30000C8", 100, "2026-12-07T16:19:06.430312Z"));
        TimelineHistory toTheTarget = TimelineHistory.of(2, "1\t0/30000A0\tafter LSN 0/3000060\n", 1L);
        assertEquals(List.of(true, true), idle.stream().map(entry -> toTheTarget.places(entry, idle)).toList());
        assertEquals(List.of(true, false), idle.stream()
                .map(entry -> DrillJudge.holds(entry, 100, toTheTarget.placer(idle), toTheTarget, "0/3000118")).toList());
        // Rows the restore lacks, or a checkpoint another branch recorded, are not held either.
        assertFalse(DrillJudge.holds(idle.get(0), 99, toTheTarget.placer(idle), toTheTarget, "0/3000118"));
        // Replayed to the end of the archive: its replay passed checkpoint 2, which is held.
        TimelineHistory toTheEnd = TimelineHistory.of(2, "1\t0/3000150\tno recovery target specified\n", 1L);
        assertTrue(DrillJudge.holds(idle.get(1), 100, toTheEnd.placer(idle), toTheEnd, "0/30001C8"));
        // No history (timeline 1, no promotion): the server's position is one of the live history.
        TimelineHistory sameTimeline = TimelineHistory.of(1, null, 1L);
        assertEquals(List.of(true, false), idle.stream()
                .map(entry -> DrillJudge.holds(entry, 100, sameTimeline.placer(idle), sameTimeline, "0/30000A0"))
                .toList());
        assertTrue(DrillJudge.holds(idle.get(1), 100, sameTimeline.placer(idle), sameTimeline, "0/30000C8"));
    }

    @Test
    void aRestoreThatReplayedTheAbandonedBranchLacksACheckpointItsHistoryReplayedPast() {
        // Its history says timeline 2 up to 0/8000EE0: checkpoints 5 and 6 (timeline 2, 0/60060E0 and
        // 0/6007448, 20 and 25 rows) were replayed past, and the restore holds 18 rows. By the time
        // target alone it passed.
        List<LedgerEntry> replayed = ABANDONED_BRANCH.replayedPast(FAILOVER);
        assertEquals(List.of(1, 2, 4, 5, 6), numbers(replayed));
        assertEquals(FAILOVER.get(4), replayed.stream().filter(entry -> entry.rowCount() > 18).findFirst().orElseThrow());
        assertFalse(ABANDONED_BRANCH.places(FAILOVER.get(2), FAILOVER));
    }

    @Test
    void aRestoreFromAnArchiveWithoutTheNewTimelineLeftTheLiveServersHistory() {
        // The timeline-1 backup restored to LSN 0/60060E0 from an archive without timeline 2 (its WAL and
        // 00000002.history): recovery went on along timeline 1, past the fork, made a timeline 2 of its own
        // at 0/6008190 and held 15 rows; every verdict passed ('checkpoints 4, 5, 6 of 6 on another branch').
        TimelineHistory history = TimelineHistory.of(2, "1\t0/6008190\tafter LSN 0/60060E0\n", 1L);
        assertEquals(List.of(true, true, true, false, false, false),
                FAILOVER.stream().map(entry -> history.places(entry, FAILOVER)).toList());
        assertEquals(FAILOVER.get(3), history.leftBehindBy(FAILOVER));
        // Restores that followed timeline 2 are on the live server's history.
        assertNull(TO_THE_TARGET.leftBehindBy(FAILOVER));
        assertNull(ABANDONED_BRANCH.leftBehindBy(FAILOVER));
        // A live server that switched after the end of the replay: its checkpoints' LSNs are past it.
        TimelineHistory early = TimelineHistory.of(3, "1\t0/6000000\tafter LSN 0/5FFFFF0\n", 1L);
        assertNull(early.leftBehindBy(FAILOVER));
        assertNull(TimelineHistory.unknown(2).leftBehindBy(FAILOVER));
    }

    @Test
    void anInsertPositionJustPastThePageHeaderAtTheSwitchPointIsOnTheOldTimeline() {
        // The first reproduction: the standby promoted at 0/5000000, the primary's last checkpoint before it
        // read its insert position 0/5000028, past the segment's 40-byte page header: nothing after the fork.
        // A server on timeline 2 whose backup was taken on timeline 2 (no promotion of its own).
        TimelineHistory history = TimelineHistory.of(2, "1\t0/5000000\tno recovery target specified\n", 2L);
        List<LedgerEntry> ledger = List.of(entry(1, "0/5000028", 15, "2026-12-07T15:04:49.186767Z"),
                entry(1, "0/5000030", 15, "2026-12-07T15:04:49.913082Z"),
                entry(2, "0/5000140", 15, "2026-12-07T15:04:51.996416Z"),
                entry(2, "0/4FFFFF8", 15, "2026-12-07T15:04:52Z"));
        assertEquals(List.of(true, false, true, false),
                ledger.stream().map(entry -> history.places(entry, ledger)).toList());
        // A restore that made timeline 2 from a backup of timeline 1: timeline 1 goes on past its end there.
        // Its own timeline 2 holds no checkpoint: a live timeline 2 is another branch.
        TimelineHistory restored = TimelineHistory.of(2, "1\t0/5000000\tafter LSN 0/4FFFFF0\n", 1L);
        assertEquals(List.of(true, true, false, false),
                ledger.stream().map(entry -> restored.places(entry, ledger)).toList());
        assertTrue(TimelineHistory.atOrBefore("0/6002AA8", "0/6002AA8"));
        assertFalse(TimelineHistory.atOrBefore("0/6002AB0", "0/6002AA8"));
        assertTrue(TimelineHistory.atOrBefore("0/6002018", "0/6002000"));
    }

    @Test
    void withoutItsHistoryOnlyTheServersOwnTimelineOrALedgerOfOneTimelineIsPlaced() {
        TimelineHistory unknown = TimelineHistory.unknown(2);
        assertEquals(List.of(false, false, false, true, true, true),
                FAILOVER.stream().map(entry -> unknown.places(entry, FAILOVER)).toList());
        List<LedgerEntry> oneTimeline = FAILOVER.subList(0, 3);
        assertTrue(oneTimeline.stream().allMatch(entry -> unknown.places(entry, oneTimeline)));
        assertNull(unknown.replayEnd());
        assertEquals(List.of(), unknown.replayedPast(FAILOVER));
        // The grant it asks for is the one read() checks: one on pg_read_binary_file(text) alone left
        // has_function_privilege of the four-argument form false (PostgreSQL 15), the history unread.
        assertEquals("timeline 2 (its history not readable: grant EXECUTE on pg_read_binary_file(text, bigint,"
                + " bigint, boolean))", unknown.describe());
    }

    @Test
    void timelineOneHasNoHistoryAndNoEndOfReplay() {
        TimelineHistory first = TimelineHistory.of(1, null, null);
        assertTrue(first.places(FAILOVER.get(2), FAILOVER));
        assertFalse(first.places(FAILOVER.get(3), FAILOVER));
        assertNull(first.replayEnd());
        assertEquals("timeline 1", first.describe());
        assertEquals("not a timeline history line: one 0/1 x",
                assertThrows(IllegalArgumentException.class, () -> TimelineHistory.of(2, "one 0/1 x", null)).getMessage());
    }

    @Test
    void theHistoryIsReadFromTheServerWhenItHasOne() throws Exception {
        String database = Support.scratchDatabase();
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = CheckpointLedgerTest.connector(database, deadline);
            assertEquals(TimelineHistory.of(1, null, 1L), TimelineHistory.read(connector, 1, 1L));
            // The suite's cluster never switched: no pg_wal/00000002.history to read.
            assertEquals(TimelineHistory.unknown(2), TimelineHistory.read(connector, 2, null));
        }
    }

    /**
     * A switch's reason holds a restore point's name, whatever its bytes (a LATIN1 cluster's); read as UTF-8
     * text, such a history failed the drill with "invalid byte sequence for encoding UTF8".
     */
    @Test
    void aHistoryWhoseReasonIsNotUtf8IsRead() throws Exception {
        String database = Support.scratchDatabase();
        Path history;
        try (Connection connection = Support.connect(database); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SELECT pg_catalog.current_setting('data_directory')")) {
            row.next();
            history = Path.of(row.getString(1), "pg_wal", "0000007D.history"); // a timeline the suite never has
        }
        byte[] latin1 = "1\t0/3000A28\tafter restore point \"caf\u00e9\"\n".getBytes(StandardCharsets.ISO_8859_1);
        Files.write(history, latin1);
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            assertEquals(TimelineHistory.of(125, "1 0/3000A28", null),
                    TimelineHistory.read(CheckpointLedgerTest.connector(database, deadline), 125, null));
        } finally {
            Files.delete(history);
        }
    }
}
