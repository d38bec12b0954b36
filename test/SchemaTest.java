// The schema contract of SPEC section 6 as our migrations install it: the
// test vectors, independence from session settings, the append-only rule,
// pinned search_path, and another application's migrations of the same
// contract.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class SchemaTest {
    static final String TV1 = "f0f2a4ae1b7af4848bd1b35a106e862deba5607127cde9224ccc5756dfc68cb6";
    static final String TV2 = "0d7ae46ae552729fb9c2c09eb6fa88af85bb44315907e33b8f935adff2fc7908";
    static final String TV3 = "7a92fe0b3d4bd8af7c239d3a4aca8ae29e9ff9e55f818798018dc9f86b28bfa6";

    static final String SESSION_OPTIONS = "-c TimeZone=America/New_York -c DateStyle=SQL,DMY";

    /** The three SPEC test-vector rows, inserted through the trigger in a session with unusual settings. */
    static void insertTestVectors(String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", Support.USER);
        properties.setProperty("options", SESSION_OPTIONS);
        try (Connection connection = DriverManager.getConnection(
                "jdbc:postgresql://" + Support.HOST + ":" + Support.PORT + "/" + database, properties);
             Statement statement = connection.createStatement()) {
            statement.execute("""
                    INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp")
                    VALUES ('tv-0001', 'alice', 'User', 'certificate.issue', 'certificate', 'mc-1', '{}',
                            '2026-05-16 12:00:00.000001+00')""");
            statement.execute("""
                    INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                              "timestamp", event_category)
                    VALUES ('tv-0002', 'bob', 'APIKey', 'auth.login', 'session', 'sess-9',
                            '{"z": 1, "a": [true, null, "é"], "m": {"y": 2.50, "b": "x|y"}}',
                            '2026-05-16 12:00:00.5+02', 'auth')""");
            statement.execute("""
                    INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp")
                    VALUES ('tv-0003', 'carol', 'System', 'certificate.revoke', 'certificate', 'mc-1', NULL,
                            '2026-05-16 12:00:01+00')""");
        }
    }

    static void assertTestVectorHashes(String database) throws SQLException {
        assertEquals(List.of(
                "tv-0001|null|" + TV1,
                "tv-0002|" + TV1 + "|" + TV2,
                "tv-0003|" + TV2 + "|" + TV3),
                Support.rows(database, "SELECT id, prev_hash, row_hash FROM audit_events ORDER BY id"));
        assertEquals(TV3, Support.one(database, "SELECT row_hash FROM audit_chain_head WHERE id = 1"));
    }

    @Test
    void testVectorsHashExactlyAsTheSpecSays() throws Exception {
        String database = Support.migratedWithWorkload(0);
        insertTestVectors(database);
        assertTestVectorHashes(database);
        assertEquals(TV1 + "|tv-0002|bob|APIKey|auth.login|session|sess-9|"
                        + "{\"a\": [true, null, \"é\"], \"m\": {\"b\": \"x|y\", \"y\": 2.50}, \"z\": 1}|"
                        + "2026-05-16T10:00:00.500000Z|auth",
                Support.one(database, "SELECT audit_events_canonical_payload(prev_hash, id, actor, actor_type, action, "
                        + "resource_type, resource_id, details, \"timestamp\", event_category) FROM audit_events "
                        + "WHERE id = 'tv-0002'"));
    }

    /** The client object with first_ambiguous_id, which follows ambiguous_rows when that is not 0. */
    static String withFirstAmbiguous(String clientJson, String id) {
        return clientJson.replaceFirst("(\"ambiguous_rows\": \\d+,)", "$1\n    \"first_ambiguous_id\": \"" + id + "\",");
    }

    @Test
    void testVectorsVerifyCleanOnBothSidesWithOurMigrations() throws Exception {
        // tv-0002 is earlier in time than tv-0001 although inserted later (SPEC section 6): our
        // verifier walks the chain position the trigger records, so this is no false alarm.
        // tv-0002's details hold a '|', so the client counts one ambiguous row.
        String database = Support.migratedWithWorkload(0);
        insertTestVectors(database);
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.snapshotJson("verify", 3, TV3, "\"first_break_pos\": -1", "\"verifier_walked\": 3",
                withFirstAmbiguous(Support.clientJson(3, null, null, null, true, 1, true), "tv-0002")),
                Support.withoutIntegrity(result.out()));
    }

    /** What verify reports of the applications in test/fixtures: their own columns outside the hash, no TRUNCATE trigger. */
    static final String OTHER_APP_UNHASHED = "\"unhashed_columns\": [\n    \"tenant_id\",\n    \"ingested_by\"\n  ]";
    static final String MISSING_TRUNCATE_TRIGGER =
            "\"missing_triggers\": [\n    \"BEFORE TRUNCATE trigger (no-truncate)\"\n  ]";

    @Test
    void aTimestampOrderVerifierRaisesTheFalseAlarmWhileTheClientFollowsTheLinks() throws Exception {
        String database = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0",
                "--migrations-path=" + Support.REPO.resolve("test/fixtures/other-app"));
        insertTestVectors(database);
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.snapshotJson("verify", 3, TV3,
                "\"first_break_id\": \"tv-0002\"", "\"first_break_pos\": 0", "\"verifier_walked\": 1",
                OTHER_APP_UNHASHED, MISSING_TRUNCATE_TRIGGER,
                withFirstAmbiguous(Support.clientJson(3, null, null, null, true, 1, false), "tv-0002")),
                Support.withoutIntegrity(result.out()));
    }

    @Test
    void upgradingFromTheEarlierMigrationsNumbersExistingRowsByTheirLinks(@org.junit.jupiter.api.io.TempDir Path earlier)
            throws Exception {
        for (String name : List.of("000001_audit_events.up.sql", "000002_audit_append_only.up.sql",
                "000003_audit_hash_chain.up.sql", "000004_audit_verify_chain.up.sql")) {
            Files.copy(Support.MIGRATIONS.resolve(name), earlier.resolve(name));
        }
        String database = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0", "--migrations-path=" + earlier);
        insertTestVectors(database);
        assertEquals("tv-0002|0|1", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()"));

        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=2", "--id-prefix=after-");
        assertEquals(List.of("tv-0001|1", "tv-0002|2", "tv-0003|3", "after-0000|4", "after-0001|5"),
                Support.rows(database, "SELECT id, chain_seq FROM audit_events ORDER BY chain_seq"));
        assertEquals("null|-1|5", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()"));
    }

    @Test
    void verifyGivesTheSameAnswerUnderOtherSessionSettings() throws Exception {
        String database = Support.migratedWithWorkload(24);
        String plain = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database)).out();
        String options = java.net.URLEncoder.encode(SESSION_OPTIONS, java.nio.charset.StandardCharsets.UTF_8)
                .replace("+", "%20");
        var unusual = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database) + "&options=" + options);
        assertEquals(plain, unusual.out());
        var viaEnvironment = Support.tool(Support.env("PGOPTIONS", SESSION_OPTIONS),
                "--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(plain, viaEnvironment.out(), viaEnvironment.describe());
        assertEquals(Support.snapshotJson("verify", 24, Support.FIXED_HEAD_24,
                "\"first_break_pos\": -1", "\"verifier_walked\": 24", Support.cleanClientJson(24)),
                Support.withoutIntegrity(plain));
    }

    @Test
    void workloadUnderOtherSessionSettingsWritesTheSameChain() throws Exception {
        String database = Support.scratchDatabase();
        var result = Support.tool(Support.env("PGOPTIONS", SESSION_OPTIONS), "--mode=workload",
                "--db-url=" + Support.url(database), "--start-time=" + Support.FIXED_START);
        assertEquals(Support.snapshotJson("workload", 24, Support.FIXED_HEAD_24), Support.withoutIntegrity(result.out()),
                result.describe());
    }

    @Test
    void auditRowsCannotBeUpdatedDeletedOrTruncated() throws Exception {
        String database = Support.migratedWithWorkload(3);
        for (String change : List.of(
                "UPDATE audit_events SET actor = 'x' WHERE id = 'audit-smoke-0001'",
                "DELETE FROM audit_events WHERE id = 'audit-smoke-0001'",
                "TRUNCATE audit_events")) {
            SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database, change));
            assertEquals("23514", refused.getSQLState(), change); // check_violation
            assertTrue(refused.getMessage().contains("audit_events is append-only"), refused.getMessage());
        }
        assertEquals("3", Support.one(database, "SELECT count(*) FROM audit_events"));
    }

    @Test
    void eventCategoryIsCheckedAndDefaulted() throws Exception {
        String database = Support.migratedWithWorkload(1);
        assertEquals("cert_lifecycle", Support.one(database, "SELECT event_category FROM audit_events"));
        SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database,
                "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, event_category) "
                        + "VALUES ('x', 'a', 'User', 'act', 'rt', 'ri', 'billing')"));
        assertEquals("23514", refused.getSQLState());
    }

    @Test
    void contractIndexesExist() throws Exception {
        String database = Support.migratedWithWorkload(0);
        assertEquals(List.of(
                "CREATE INDEX idx_audit_events_action ON public.audit_events USING btree (action)",
                "CREATE INDEX idx_audit_events_actor ON public.audit_events USING btree (actor)",
                "CREATE INDEX idx_audit_events_chain_seq ON public.audit_events USING btree (chain_seq)",
                "CREATE INDEX idx_audit_events_event_category ON public.audit_events USING btree (event_category)",
                "CREATE INDEX idx_audit_events_prev_hash ON public.audit_events USING btree (prev_hash)",
                "CREATE INDEX idx_audit_events_resource ON public.audit_events USING btree (resource_type, resource_id)",
                "CREATE INDEX idx_audit_events_timestamp ON public.audit_events USING btree (\"timestamp\")"),
                Support.rows(database, "SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
                        + "AND indexname LIKE 'idx_%' ORDER BY indexname"));
    }

    @Test
    void triggerWorksWithTheEmptySearchPathOfPgRestore() throws Exception {
        String database = Support.migratedWithWorkload(2);
        Support.execute(database,
                "SET search_path = ''",
                "INSERT INTO public.audit_events (id, actor, actor_type, action, resource_type, resource_id) "
                        + "VALUES ('late', 'a', 'User', 'act', 'rt', 'ri')");
        assertEquals("clean|-1|3", Support.one(database, "SELECT coalesce(first_break_id, 'clean'), first_break_pos, "
                + "row_count FROM audit_events_verify_chain()"));
        // The row trigger (000011) names pg_catalog.* and its own schema instead of a pin.
        assertEquals(List.of(PinnedSearchPathTest.UNPINNED), Support.rows(database,
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        + "WHERE n.nspname = 'public' AND p.proname LIKE 'audit_events%' "
                        + "AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')"));
    }

    /** The snapshot's "integrity" object, as printed. */
    private static String integrityOf(String snapshot) {
        return snapshot.substring(snapshot.indexOf("  \"integrity\": {"));
    }

    @Test
    void anotherApplicationsMigrationsOfTheSameContractWorkUnchanged() throws Exception {
        String database = Support.scratchDatabase();
        String migrations = Support.REPO.resolve("test/fixtures/other-app").toString();
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database),
                "--migrations-path=" + migrations, "--start-time=" + Support.FIXED_START);
        assertEquals(Support.snapshotJson("workload", 24, Support.FIXED_HEAD_24), Support.withoutIntegrity(workload.out()));
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.snapshotJson("verify", 24, Support.FIXED_HEAD_24,
                "\"first_break_pos\": -1", "\"verifier_walked\": 24", OTHER_APP_UNHASHED, MISSING_TRUNCATE_TRIGGER,
                Support.cleanClientJson(24)),
                Support.withoutIntegrity(verify.out()));
        // Both fingerprints are read with one search_path: a helper taking the application's
        // audit_events row is named (and defined) alike, so the workload's anchors the verify.
        assertTrue(workload.out().contains("\"function public.app_audit_payload(public.audit_events)\""),
                workload.out());
        assertEquals(integrityOf(workload.out()), integrityOf(verify.out()));
        assertEquals(List.of("0001_init.up.sql", "0002_chain.up.sql", "0003_verifier.up.sql"),
                Support.rows(database, "SELECT version FROM schema_migrations ORDER BY version"));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM tenants")); // seed.sql was not run

        String vectors = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(vectors), "--migrations-path=" + migrations, "--rows=0");
        insertTestVectors(vectors);
        assertTestVectorHashes(vectors);
    }
}
