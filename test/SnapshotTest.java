// The snapshot of SPEC section 3, byte for byte, for workload and for verify
// (clean, broken in the middle, broken at the very first row, empty chain).

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SnapshotTest {

    /**
     * verify's snapshot reads the head without counting the rows (its walk counts them), but still locks
     * audit_events as count(*) did: no TRUNCATE or rewrite, which older snapshots do not survive, can
     * commit before the rows are read.
     */
    @Test
    void readingTheHeadAloneHoldsTheTablesShareLock() throws Exception {
        String database = Support.migratedWithWorkload(3);
        try (java.sql.Connection connection = Support.connectInTransaction(database);
             Deadline deadline = new Deadline(java.time.Duration.ofMinutes(1))) {
            AuditSchema schema = AuditSchema.resolve(connection, null, deadline);
            Snapshot head = Snapshot.readHead(connection, schema, "verify", deadline);
            assertEquals(Support.one(database, "SELECT row_hash FROM audit_chain_head WHERE id = 1"),
                    head.chainHeadHash());
            try (var statement = connection.createStatement();
                 var lock = statement.executeQuery("SELECT mode FROM pg_catalog.pg_locks WHERE pid ="
                         + " pg_catalog.pg_backend_pid() AND relation = 'audit_events'::regclass AND granted")) {
                assertEquals(true, lock.next());
                assertEquals("AccessShareLock", lock.getString(1));
            }
            connection.rollback();
        }
    }

    @Test
    void workloadSnapshotIsExact() throws Exception {
        String database = Support.scratchDatabase();
        var result = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database),
                "--start-time=" + Support.FIXED_START);
        assertEquals(Support.snapshotJson("workload", 24, Support.FIXED_HEAD_24), Support.withoutIntegrity(result.out()));
        assertEquals("", result.err());
    }

    @Test
    void workloadRowsFollowTheSpec() throws Exception {
        String database = Support.migratedWithWorkload(6);
        assertEquals(java.util.List.of(
                "audit-smoke-0000|smoke-actor|User|certificate.issue|certificate|mc-smoke|{}|2026-05-16T12:00:00.000000Z|cert_lifecycle",
                "audit-smoke-0001|smoke-actor|User|certificate.renew|certificate|mc-smoke|{}|2026-05-16T12:00:00.000001Z|cert_lifecycle",
                "audit-smoke-0002|smoke-actor|User|certificate.revoke|certificate|mc-smoke|{}|2026-05-16T12:00:00.000002Z|cert_lifecycle",
                "audit-smoke-0003|smoke-actor|User|auth.login|session|sess-smoke|{}|2026-05-16T12:00:00.000003Z|cert_lifecycle",
                "audit-smoke-0004|smoke-actor|User|certificate.issue|certificate|mc-smoke|{}|2026-05-16T12:00:00.000004Z|cert_lifecycle",
                "audit-smoke-0005|smoke-actor|User|certificate.renew|certificate|mc-smoke|{}|2026-05-16T12:00:00.000005Z|cert_lifecycle"),
                Support.rows(database, "SELECT id, actor, actor_type, action, resource_type, resource_id, details, "
                        + "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), event_category "
                        + "FROM audit_events ORDER BY id"));
    }

    @Test
    void theBatchSizeDoesNotChangeTheChain() throws Exception {
        String oneByOne = Support.scratchDatabase();
        String batched = Support.scratchDatabase();
        var single = Support.toolOk("--mode=workload", "--db-url=" + Support.url(oneByOne), "--rows=60",
                "--batch-rows=1", "--start-time=" + Support.FIXED_START);
        var defaults = Support.toolOk("--mode=workload", "--db-url=" + Support.url(batched), "--rows=60",
                "--start-time=" + Support.FIXED_START);
        assertEquals(defaults.out(), single.out());
        String rows = "SELECT id, prev_hash, row_hash, chain_seq FROM audit_events ORDER BY chain_seq";
        assertEquals(Support.rows(batched, rows), Support.rows(oneByOne, rows));
    }

    @Test
    void idsKeepAllDigitsPastFourAndTimesStrictlyIncrease() throws Exception {
        String database = Support.migratedWithWorkload(10_002);
        assertEquals("audit-smoke-10001", Support.one(database,
                "SELECT id FROM audit_events ORDER BY \"timestamp\" DESC LIMIT 1"));
        assertEquals("10002", Support.one(database, "SELECT count(DISTINCT \"timestamp\") FROM audit_events"));
    }

    @Test
    void verifySnapshotOfACleanChainIsExact() throws Exception {
        String database = Support.migratedWithWorkload(24);
        assertEquals(Support.snapshotJson("verify", 24, Support.FIXED_HEAD_24,
                "\"first_break_pos\": -1", "\"verifier_walked\": 24", Support.cleanClientJson(24)),
                Support.verifySnapshot(database));
    }

    /** The change, and the position of the row it is made to. */
    static Stream<Arguments> modifiedRows() {
        return Stream.of(Arguments.of("actor = 'mallory'", 7), Arguments.of("details = '{\"forged\": true}'", 0));
    }

    /** A break in the middle, and one at the very first row, which keeps position 0 (not -1, "no break"). */
    @ParameterizedTest(name = "a row modified at position {1} ({0})")
    @MethodSource("modifiedRows")
    void verifySnapshotOfAModifiedRowIsExact(String change, int position) throws Exception {
        String database = Support.migratedWithWorkload(24);
        String id = String.format("audit-smoke-%04d", position);
        Support.tamper(database, "UPDATE audit_events SET " + change + " WHERE id = '" + id + "'");
        assertEquals(Support.snapshotJson("verify", 24, Support.FIXED_HEAD_24,
                "\"first_break_id\": \"" + id + "\"", "\"first_break_pos\": " + position,
                "\"verifier_walked\": " + (position + 1),
                Support.clientJson(24, id, position, "modified", true, 0, true)),
                Support.verifySnapshot(database));
    }

    @Test
    void verifySnapshotOfAnEmptyChainOmitsVerifierWalked() throws Exception {
        String database = Support.migratedWithWorkload(0);
        assertEquals(Support.snapshotJson("verify", 0, "", "\"first_break_pos\": -1", Support.cleanClientJson(0)),
                Support.verifySnapshot(database));
    }

    @Test
    void verifyChangesNothing() throws Exception {
        String database = Support.migratedWithWorkload(5);
        String before = Support.rows(database, "SELECT * FROM audit_events ORDER BY id") + "/"
                + Support.rows(database, "SELECT * FROM audit_chain_head");
        Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        String after = Support.rows(database, "SELECT * FROM audit_events ORDER BY id") + "/"
                + Support.rows(database, "SELECT * FROM audit_chain_head");
        assertEquals(before, after);
    }
}
