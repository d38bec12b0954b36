// The timeline a checkpoint recorded on a standby carries (SPEC section 9.10),
// reproduced on PostgreSQL 15: a primary on timeline 1, its standby S1 and a
// standby S2 cascaded from S1. S1 was promoted at 0/309D3B8; five rows were
// added on it; S2 followed and replayed them to 0/309FF88, its last
// restartpoint still on timeline 1. The entry recorded there said timeline 1,
// and a drill of S1's backup failed it as "another branch" (a false alarm).
// The pure decision first, then the cascade itself (e2e).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StandbyTimelineTest {
    static final String CANNOT = "cannot tell which timeline this standby replays (its last restartpoint's, 1, lags a"
            + " timeline switch until its next restartpoint): ";

    /** S2's receiver after the failover, as pg_stat_wal_receiver showed it to postgres. */
    static final ServerPosition.Receiver STREAMING_2 =
            new ServerPosition.Receiver(8453, "streaming", 2L, "0/3000000");

    @Test
    void aStreamingStandbyReplaysTheTimelineItsReceiverStreams() throws Failure {
        assertEquals(2, ServerPosition.replayTimeline(1, "0/309FF88", STREAMING_2));
        // At the start of the stream: the segment before the switch is on both timelines.
        assertEquals(2, ServerPosition.replayTimeline(1, "0/3000000", STREAMING_2));
        // Replay behind a stream that began on the restartpoint's timeline: no switch since then.
        assertEquals(1, ServerPosition.replayTimeline(1, "0/2FFFFF8",
                new ServerPosition.Receiver(8453, "streaming", 1L, "0/3000000")));
    }

    @Test
    void aStandbyWhoseTimelineCannotBeToldIsNamedWithTheReason() {
        assertEquals(CANNOT + "it streams no WAL (no WAL receiver); record the checkpoint on the primary",
                cannot(ServerPosition.Receiver.NONE, "0/309FF88"));
        assertEquals(CANNOT + "pg_stat_wal_receiver shows its WAL receiver only to pg_read_all_stats (or pg_monitor);"
                + " grant it, or record the checkpoint on the primary",
                cannot(new ServerPosition.Receiver(8453, null, null, null), "0/309FF88"));
        assertEquals(CANNOT + "its WAL receiver is waiting, not streaming; retry, or record the checkpoint on the"
                + " primary", cannot(new ServerPosition.Receiver(8453, "waiting", 2L, "0/3000000"), "0/309FF88"));
        assertEquals(CANNOT + "it replayed up to 0/2FFFFF8, before its WAL receiver's stream of timeline 2 from"
                + " 0/3000000; retry once replay passes it, or record the checkpoint on the primary",
                cannot(STREAMING_2, "0/2FFFFF8"));
    }

    private static String cannot(ServerPosition.Receiver receiver, String replayLsn) {
        return assertThrows(Failure.class, () -> ServerPosition.replayTimeline(1, replayLsn, receiver)).getMessage();
    }

    @Test
    void theEntryOnTheStreamedTimelineIsOnTheRestoredHistory() {
        // S1's backup restored and promoted to timeline 3.
        TimelineHistory restored = TimelineHistory.of(3,
                "1\t0/309D3B8\tno recovery target specified\n2\t0/3100000\tno recovery target specified\n", 2L);
        LedgerEntry before = TimelineHistoryTest.entry(1, "0/309D3B8", 10, "2026-12-07T17:40:01Z");
        LedgerEntry asRecorded = TimelineHistoryTest.entry(1, "0/309FF88", 15, "2026-12-07T17:41:10Z");
        LedgerEntry asStreamed = TimelineHistoryTest.entry(2, "0/309FF88", 15, "2026-12-07T17:41:10Z");
        assertEquals(asRecorded, restored.leftBehindBy(List.of(before, asRecorded))); // "another branch"
        assertTrue(restored.places(asStreamed, List.of(before, asStreamed)));
        assertNull(restored.leftBehindBy(List.of(before, asStreamed)));
    }

    // ------------------------------------------------------------ the cascade itself

    @TempDir Path folder;

    /**
     * Primary, S1 from it, S2 from S1 (a base backup of a standby needs full_page_writes); checkpoint_timeout
     * long enough that S2 makes no restartpoint.
     */
    @Test
    @Tag("e2e")
    void aCheckpointOnACascadedStandbyAfterAFailoverCarriesTheNewTimeline() throws Exception {
        List<String> clusters = new ArrayList<>();
        try {
            Map<String, String> primary = Support.startCluster("checkpoint_timeout = '1h'\nfull_page_writes = on");
            clusters.add(primary.get("PGC_DIR"));
            Map<String, String> s1 = standbyOf(primary, clusters);
            Map<String, String> s2 = standbyOf(s1, clusters);
            String primaryUrl = url(primary, "postgres");
            assertEquals(0, Support.tool("--mode=workload", "--db-url=" + primaryUrl, "--rows=10").exit());
            awaitReplay(primary, s2);
            Path ledger = folder.resolve("ledger.jsonl");
            Support.Result first = Support.tool("--mode=checkpoint", "--db-url=" + url(s2, "postgres"),
                    "--ledger=" + ledger);
            assertEquals(0, first.exit(), first.describe());
            assertTrue(first.out().contains("\"timeline\":1,"), first.out());

            owner(s1, "pg_ctl", "promote", "-D", s1.get("PGC_DATA"), "-w", "-s");
            String s1Url = url(s1, "postgres");
            Support.Result added = Support.tool("--mode=workload", "--db-url=" + s1Url, "--rows=5",
                    "--id-prefix=after-");
            assertEquals(0, added.exit(), added.describe());
            execute(s1, "CREATE ROLE unmonitored LOGIN PASSWORD 'not-a-secret'", "GRANT pg_read_all_data TO unmonitored",
                    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO unmonitored");
            awaitReplay(s1, s2);
            assertEquals("1", queryOne(s2, "SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()"));
            Support.Result second = Support.tool("--mode=checkpoint", "--db-url=" + url(s2, "postgres"),
                    "--ledger=" + ledger);
            assertEquals(0, second.exit(), second.describe());
            assertTrue(second.out().contains("\"timeline\":2,") && second.out().contains("\"row_count\":15,"),
                    second.out());

            String before = Files.readString(ledger);
            Support.Result unmonitored = Support.tool("--mode=checkpoint", "--db-url=" + url(s2, "unmonitored:not-a-secret"),
                    "--ledger=" + ledger);
            assertEquals(1, unmonitored.exit(), unmonitored.describe());
            assertEquals("backupsmoke: " + CANNOT + "pg_stat_wal_receiver shows its WAL receiver only to"
                    + " pg_read_all_stats (or pg_monitor); grant it, or record the checkpoint on the primary",
                    unmonitored.err().strip());
            Support.stopCluster(s1.get("PGC_DIR")); // S2 streams no more
            Support.Result alone = Support.tool("--mode=checkpoint", "--db-url=" + url(s2, "postgres"),
                    "--ledger=" + ledger);
            assertEquals(1, alone.exit(), alone.describe());
            assertEquals("backupsmoke: " + CANNOT + "it streams no WAL (no WAL receiver); record the checkpoint on"
                    + " the primary", alone.err().strip());
            assertEquals(before, Files.readString(ledger));
        } finally {
            clusters.forEach(Support::stopCluster);
        }
    }

    /** A standby of UPSTREAM: pg_basebackup -R into its folder, started as a cluster of its own. */
    private static Map<String, String> standbyOf(Map<String, String> upstream, List<String> clusters) {
        Path base = Path.of(upstream.get("PGC_DIR"), "base-" + clusters.size());
        owner(upstream, "pg_basebackup", "-h", "127.0.0.1", "-p", upstream.get("PGC_PORT"), "-U", "postgres",
                "-D", base.toString(), "-R", "-X", "stream", "-c", "fast");
        Support.Result started = Support.run(List.of("bash", "-c", "source deploy/lib/pg-cluster.sh && pgc_start_copy"
                + " \"$1\" && printf 'PGC_%s=%s\\n' DIR \"$PGC_DIR\" DATA \"$PGC_DATA\" PORT \"$PGC_PORT\"", "-",
                base.toString()), Map.of(), Support.REPO, 120);
        Map<String, String> assigned = new java.util.HashMap<>();
        started.out().lines().filter(line -> line.startsWith("PGC_")).forEach(line ->
                assigned.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1)));
        if (assigned.containsKey("PGC_DIR")) {
            clusters.add(assigned.get("PGC_DIR"));
        }
        assertEquals(0, started.exit(), started.describe());
        return assigned;
    }

    /** A server program of the cluster's binaries, as the owner of its folder (PostgreSQL refuses root). */
    private static void owner(Map<String, String> cluster, String program, String... args) {
        List<String> command = new ArrayList<>(List.of(Support.REPO.resolve("deploy/bin/as-owner").toString(),
                cluster.get("PGC_DIR"), bindir() + "/" + program));
        command.addAll(List.of(args));
        Support.Result result = Support.run(command, Map.of(), Path.of(cluster.get("PGC_DIR")), 120);
        assertEquals(0, result.exit(), result.describe());
    }

    private static String bindir() {
        return Support.run(List.of("bash", "deploy/lib/pg-cluster.sh", "bindir"), Map.of(), Support.REPO, 30)
                .out().strip();
    }

    private static String url(Map<String, String> cluster, String user) {
        return "postgres://" + user + "@127.0.0.1:" + cluster.get("PGC_PORT") + "/postgres";
    }

    /** The one value SQL answers on CLUSTER's postgres database. */
    private static String queryOne(Map<String, String> cluster, String sql) throws Exception {
        try (java.sql.Connection connection = connect(cluster); java.sql.Statement statement = connection.createStatement();
                java.sql.ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getString(1);
        }
    }

    private static void execute(Map<String, String> cluster, String... statements) throws Exception {
        try (java.sql.Connection connection = connect(cluster); java.sql.Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }

    private static java.sql.Connection connect(Map<String, String> cluster) throws Exception {
        return java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + cluster.get("PGC_PORT")
                + "/postgres?user=postgres");
    }

    /** Until STANDBY has replayed UPSTREAM's insert position now. */
    private static void awaitReplay(Map<String, String> upstream, Map<String, String> standby) throws Exception {
        String target = queryOne(upstream, "SELECT pg_catalog.pg_current_wal_insert_lsn()::text");
        for (int i = 0; i < 300; i++) {
            if ("t".equals(queryOne(standby, "SELECT pg_catalog.pg_last_wal_replay_lsn() >= '" + target + "'::pg_lsn"))) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the standby did not replay up to " + target + " within 30 s");
    }
}
