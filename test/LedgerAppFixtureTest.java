// test/fixtures/ledger-app: a third application's migrations of the schema
// contract (issue 10 item 4). The tool's workload and verify must work on it
// unchanged, its hashes must match the SPEC's test vectors, and the fixture
// must keep the traits other tests rely on: varchar IN (...) checks, other
// tables written through their sequences during every workload run, a
// per-row sentinel trigger and a ("timestamp", id) verifier.

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class LedgerAppFixtureTest {
    static final String MIGRATIONS = Support.REPO.resolve("test/fixtures/ledger-app").toString();

    static String migrated() throws Exception {
        String database = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--migrations-path=" + MIGRATIONS,
                "--rows=0");
        return database;
    }

    @Test
    void workloadAndVerifyWorkUnchangedAndWriteOtherTablesThroughTheirSequences() throws Exception {
        String database = Support.scratchDatabase();
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database),
                "--migrations-path=" + MIGRATIONS, "--start-time=" + Support.FIXED_START);
        assertEquals(Support.snapshotJson("workload", 24, Support.FIXED_HEAD_24), Support.withoutIntegrity(workload.out()));
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(Support.snapshotJson("verify", 24, Support.FIXED_HEAD_24,
                "\"first_break_pos\": -1", "\"verifier_walked\": 24", SchemaTest.MISSING_TRUNCATE_TRIGGER,
                Support.cleanClientJson(24)),
                Support.withoutIntegrity(verify.out()));

        // A second run adds rows and another bookkeeping row through the sequence.
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--migrations-path=" + MIGRATIONS,
                "--rows=3", "--id-prefix=second-");
        assertEquals(List.of("1|24|audit-smoke-0000", "2|3|second-0000"), Support.rows(database,
                "SELECT batch_id, rows_ingested, first_event_id FROM audit_ingest_batches ORDER BY batch_id"));
        assertEquals("2|3|3", Support.one(database, "SELECT (SELECT last_value FROM audit_ingest_batches_batch_id_seq), "
                + "(SELECT last_value FROM accounts_account_id_seq), (SELECT last_value FROM certificates_cert_id_seq)"));
        assertEquals(List.of("001-accounts.up.sql", "002-audit-log.up.sql", "003-audit-chain.up.sql",
                "004-audit-verify.up.sql"), Support.rows(database, "SELECT version FROM schema_migrations ORDER BY version"));
    }

    @Test
    void testVectorsHoldAndTheTimeOrderVerifierRaisesItsFalseAlarm() throws Exception {
        String database = migrated();
        SchemaTest.insertTestVectors(database);
        SchemaTest.assertTestVectorHashes(database);
        // tv-0002 is earlier in time than tv-0001: this verifier walks ("timestamp", id).
        assertEquals("tv-0002|0|1", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()"));
    }

    @Test
    void fixtureKeepsTheTraitsOtherTestsRelyOn() throws Exception {
        String database = migrated();
        // Five varchar columns checked with IN (...): deparsed as = ANY (ARRAY[...]) casts.
        assertEquals("5", Support.one(database, "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                + "WHERE c.contype = 'c' AND t.relnamespace = 'public'::regnamespace "
                + "AND pg_get_constraintdef(c.oid) LIKE '%ANY%::character varying%'"));
        // Its own trigger and function names, none of ours.
        assertEquals(List.of("ledger_ingest_after_insert|ledger_count_ingest",
                "ledger_link_before_insert|ledger_chain_link",
                "ledger_write_once|ledger_forbid_rewrite"),
                Support.rows(database, "SELECT tgname, tgfoid::regproc FROM pg_trigger "
                        + "WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY tgname"));
        // Foreign keys between the application's tables.
        assertEquals(List.of("audit_ingest_batches|accounts", "certificates|accounts"), Support.rows(database,
                "SELECT conrelid::regclass, confrelid::regclass FROM pg_constraint WHERE contype = 'f' ORDER BY conrelid::regclass::text"));
        assertEquals("3|3", Support.one(database, "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM certificates)"));
    }
}
