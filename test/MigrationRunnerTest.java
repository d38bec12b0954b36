// The migration runner of SPEC section 5, through --mode=workload.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MigrationRunnerTest {
    static final List<String> OUR_MIGRATIONS = List.of(
            "000001_audit_events.up.sql", "000002_audit_append_only.up.sql",
            "000003_audit_hash_chain.up.sql", "000004_audit_verify_chain.up.sql",
            "000005_audit_chain_position.up.sql", "000006_audit_chain_statement_head.up.sql",
            "000007_audit_chain_skipped_inserts.up.sql", "000008_audit_pin_search_path.up.sql",
            "000009_audit_verify_chain_parallel.up.sql", "000010_audit_verify_chain_two_passes.up.sql",
            "000011_audit_chain_definer.up.sql", "000012_audit_verify_chain_cheaper_passes.up.sql",
            "000013_audit_verify_chain_heap_order.up.sql", "000014_audit_verify_chain_heap_runs.up.sql",
            "000015_audit_verify_chain_run_starts.up.sql", "000016_audit_pin_catalog_first.up.sql",
            "000017_audit_payload_as_stored.up.sql", "000018_audit_chain_pending_or_dropped.up.sql",
            "000019_audit_chain_flush_own_table.up.sql", "000020_audit_chain_keep_arriving_hash.up.sql",
            "000021_audit_chain_lock_by_statement.up.sql", "000022_audit_pin_quoted_schema.up.sql");

    @TempDir Path folder;

    /** A copy of our migrations plus extra files, so each test can add its own. */
    private Path ourMigrationsPlus(String... namesAndContents) throws Exception {
        for (Path file : Files.list(Support.MIGRATIONS).toList()) {
            Files.copy(file, folder.resolve(file.getFileName()));
        }
        for (int i = 0; i < namesAndContents.length; i += 2) {
            Support.write(folder.resolve(namesAndContents[i]), namesAndContents[i + 1]);
        }
        return folder;
    }

    private static Support.Result workload(String database, Path migrations, int rows) {
        return workload(database, migrations, rows, "audit-smoke-");
    }

    private static Support.Result workload(String database, Path migrations, int rows, String idPrefix) {
        return Support.tool("--mode=workload", "--db-url=" + Support.url(database),
                "--migrations-path=" + migrations, "--rows=" + rows, "--id-prefix=" + idPrefix);
    }

    /** workload(DATABASE, MIGRATIONS, ROWS), which must fail (exit 1). */
    private static Support.Result failedWorkload(String database, Path migrations, int rows) {
        var result = workload(database, migrations, rows);
        assertEquals(1, result.exit(), result.describe());
        return result;
    }

    private static List<String> ledger(String database) throws Exception {
        return Support.rows(database, "SELECT version FROM schema_migrations ORDER BY version");
    }

    /** What workload prints when FILE, run after this project's migrations, fails with ERROR. */
    static String failedAfterOurMigrations(String file, String error) {
        return "backupsmoke: failed to execute migration " + file + ": " + error + "; this run applied "
                + OUR_MIGRATIONS.get(0) + " … " + OUR_MIGRATIONS.get(OUR_MIGRATIONS.size() - 1) + " ("
                + OUR_MIGRATIONS.size() + " files) before it (recorded in schema_migrations): fix it and rerun to"
                + " continue from " + file + ", or undo them with their .down.sql files, newest first, and delete"
                + " their rows from schema_migrations\n";
    }

    @Test
    void ledgerRecordsEveryAppliedFileByItsFullName() throws Exception {
        String database = Support.migratedWithWorkload(1);
        assertEquals(OUR_MIGRATIONS, ledger(database));
        assertEquals("version|text|NO|applied_at|timestamp with time zone|NO", String.join("|", Support.rows(database,
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                        + "WHERE table_name = 'schema_migrations' ORDER BY ordinal_position")));
    }

    @Test
    void rerunSkipsAppliedFilesAndExtendsTheChain() throws Exception {
        String database = Support.migratedWithWorkload(24);
        String firstApplied = Support.one(database, "SELECT max(applied_at) FROM schema_migrations");
        var second = workload(database, Support.MIGRATIONS, 24, "second-run-");
        assertEquals(0, second.exit(), second.describe());
        assertEquals(firstApplied, Support.one(database, "SELECT max(applied_at) FROM schema_migrations"));
        assertEquals("48", Support.one(database, "SELECT count(*) FROM audit_events"));
        assertEquals("-1|48", Support.one(database, "SELECT first_break_pos, row_count FROM audit_events_verify_chain()"));
    }

    @Test
    void rerunWithTheSameIdsSaysWhatToDo() throws Exception {
        String database = Support.migratedWithWorkload(3);
        var again = failedWorkload(database, Support.MIGRATIONS, 3);
        assertEquals("backupsmoke: inserting audit rows failed: rows with ids audit-smoke-0000… already exist in this "
                + "database (duplicate key value violates unique constraint \"audit_events_pkey\" (Key (id)="
                + "(audit-smoke-0000) already exists.)); use a fresh database or another --id-prefix; no audit row was committed; "
                + "the batch in flight (ids audit-smoke-0000 to audit-smoke-0002) was rolled back\n", again.err());
        assertEquals("3", Support.one(database, "SELECT count(*) FROM audit_events"));
    }

    @Test
    void ourMigrationsAreIdempotentWhenRunAgainWithoutTheLedger() throws Exception {
        String database = Support.migratedWithWorkload(5);
        Support.execute(database, "DELETE FROM schema_migrations");
        var again = workload(database, Support.MIGRATIONS, 5, "again-");
        assertEquals(0, again.exit(), again.describe());
        assertEquals(OUR_MIGRATIONS, ledger(database));
        assertEquals("-1|10", Support.one(database, "SELECT first_break_pos, row_count FROM audit_events_verify_chain()"));
    }

    @Test
    void filesRunInLexicalNotNumericOrder() throws Exception {
        // "10_..." sorts before "9_...": 9 depends on the table 10 creates.
        Path migrations = ourMigrationsPlus(
                "9_use.up.sql", "INSERT INTO ordering_probe VALUES ('nine');",
                "10_create.up.sql", "CREATE TABLE ordering_probe (step TEXT);");
        String database = Support.scratchDatabase();
        var result = workload(database, migrations, 0);
        assertEquals(0, result.exit(), result.describe());
        assertEquals("nine", Support.one(database, "SELECT step FROM ordering_probe"));
        List<String> expected = new java.util.ArrayList<>(OUR_MIGRATIONS);
        expected.addAll(List.of("10_create.up.sql", "9_use.up.sql"));
        assertEquals(expected, Support.rows(database, "SELECT version FROM schema_migrations ORDER BY applied_at, version"));
    }

    @Test
    void downFilesSeedFilesAndFoldersAreIgnored() throws Exception {
        Path migrations = ourMigrationsPlus(
                "000100_probe.down.sql", "SELECT must_not_run();",
                "seed.sql", "SELECT must_not_run();",
                "notes.txt", "SELECT must_not_run();",
                "000101_folder.up.sql/inner.up.sql", "SELECT must_not_run();");
        String database = Support.scratchDatabase();
        var result = workload(database, migrations, 1);
        assertEquals(0, result.exit(), result.describe());
        assertEquals(OUR_MIGRATIONS, ledger(database));
    }

    @Test
    void aFailingFileAppliesNothingIsNotRecordedAndIsRetriedAfterTheFix() throws Exception {
        String broken = """
                CREATE TABLE half_applied (x INT);
                DO $$ BEGIN PERFORM 1; END $$;
                SELECT no_such_column
                  FROM audit_events;
                """;
        Path migrations = ourMigrationsPlus("000100_broken.up.sql", broken, "000101_after.up.sql",
                "CREATE TABLE after_broken (x INT);");
        String database = Support.scratchDatabase();
        var failed = failedWorkload(database, migrations, 3);
        assertEquals(failedAfterOurMigrations("000100_broken.up.sql",
                "column \"no_such_column\" does not exist (line 3)"), failed.err());
        assertEquals("", failed.out());
        assertEquals("null|null", Support.one(database, "SELECT to_regclass('half_applied'), to_regclass('after_broken')"));
        assertEquals(OUR_MIGRATIONS, ledger(database));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM audit_events"));

        Support.write(migrations.resolve("000100_broken.up.sql"), "CREATE TABLE half_applied (x INT);");
        var fixed = workload(database, migrations, 3);
        assertEquals(0, fixed.exit(), fixed.describe());
        assertEquals("half_applied|after_broken", Support.one(database,
                "SELECT to_regclass('half_applied'), to_regclass('after_broken')"));
        assertTrue(ledger(database).containsAll(List.of("000100_broken.up.sql", "000101_after.up.sql")));
    }

    @Test
    void aFileWithItsOwnTransactionsRunsAsWritten() throws Exception {
        Path migrations = ourMigrationsPlus("000100_own_tx.up.sql", """
                BEGIN;
                CREATE TABLE first_tx (x INT);
                COMMIT;
                BEGIN;
                CREATE TABLE second_tx (x INT);
                COMMIT;
                """);
        String database = Support.scratchDatabase();
        var result = workload(database, migrations, 1);
        assertEquals(0, result.exit(), result.describe());
        assertEquals("first_tx|second_tx", Support.one(database, "SELECT to_regclass('first_tx'), to_regclass('second_tx')"));
    }

    @Test
    void aFileThatFailsInsideItsOwnTransactionLeavesNothingOfThatTransaction() throws Exception {
        Path migrations = ourMigrationsPlus("000100_own_tx.up.sql", """
                BEGIN;
                CREATE TABLE inside_tx (x INT);
                SELECT missing_column FROM inside_tx;
                COMMIT;
                """);
        String database = Support.scratchDatabase();
        var result = failedWorkload(database, migrations, 1);
        assertEquals(failedAfterOurMigrations("000100_own_tx.up.sql",
                "column \"missing_column\" does not exist (line 3)"), result.err());
        assertEquals("null", Support.one(database, "SELECT to_regclass('inside_tx')"));
        assertEquals(OUR_MIGRATIONS, ledger(database));
    }

    @Test
    void missingFolderIsReportedByPath() throws Exception {
        String database = Support.scratchDatabase();
        var result = failedWorkload(database, folder.resolve("nope"), 1);
        assertEquals("backupsmoke: migrations directory not found: " + folder.resolve("nope") + "\n", result.err());
    }

    @Test
    void aFolderWithoutUpFilesSaysSoAndTouchesNothing() throws Exception {
        Support.write(folder.resolve("000001_x.down.sql"), "SELECT must_not_run();");
        Support.write(folder.resolve("seed.sql"), "SELECT must_not_run();");
        String database = Support.scratchDatabase();
        var result = failedWorkload(database, folder, 1);
        assertEquals("backupsmoke: migrations directory " + folder + " holds no *.up.sql files: point --migrations-path"
                + " (MIGRATIONS_PATH for the harness) at the folder with your migrations\n", result.err());
        assertEquals("null", Support.one(database, "SELECT to_regclass('schema_migrations')"));
    }

    @Test
    void aLedgerOfGolangMigrateIsRecognisedBeforeAnythingRuns() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database,
                "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
                "INSERT INTO schema_migrations VALUES (47, false)");
        var result = failedWorkload(database, Support.MIGRATIONS, 1);
        assertEquals("backupsmoke: schema_migrations in this database is golang-migrate's ledger (version bigint, "
                + "dirty boolean), not BackupSmoke's (version text, applied_at timestamp with time zone); nothing was "
                + "run: migrate this database with that tool and use --mode=verify, or run the workload on a fresh "
                + "database\n", result.err());
        assertEquals("", result.out());
        assertEquals("null|47|f", Support.one(database, "SELECT to_regclass('audit_events'), version, dirty "
                + "FROM schema_migrations"));

        Support.execute(database, "DROP TABLE schema_migrations",
                "CREATE TABLE schema_migrations (id serial, name text, run_on timestamp)");
        var other = failedWorkload(database, Support.MIGRATIONS, 1);
        assertTrue(other.err().startsWith("backupsmoke: schema_migrations in this database is another tool's ledger "
                + "(id integer, name text, run_on timestamp without time zone), not BackupSmoke's"), other.err());
    }

    @Test
    @Tag("e2e")
    void concurrentRunnersQueueOnTheAdvisoryLock() throws Exception {
        String database = Support.scratchDatabase();
        try (Connection holder = Support.connect(database); Statement statement = holder.createStatement()) {
            statement.execute("SELECT pg_advisory_lock(7283164759461502341)");
            // Two processes, as two deploy jobs would be: in-process runs take turns.
            CompletableFuture<Support.Result> first = CompletableFuture.supplyAsync(() -> Support.launched(Map.of(),
                    "--mode=workload", "--db-url=" + Support.url(database), "--rows=10", "--id-prefix=first-"));
            CompletableFuture<Support.Result> second = CompletableFuture.supplyAsync(() -> Support.launched(Map.of(),
                    "--mode=workload", "--db-url=" + Support.url(database), "--rows=10", "--id-prefix=second-"));
            awaitLockWaiters(database, 2);
            // While the lock is held, neither runner has created anything.
            assertEquals("null", Support.one(database, "SELECT to_regclass('schema_migrations')"));
            statement.execute("SELECT pg_advisory_unlock(7283164759461502341)");
            assertEquals(0, first.join().exit(), first.join().describe());
            assertEquals(0, second.join().exit(), second.join().describe());
        }
        assertEquals(OUR_MIGRATIONS, ledger(database));
        // One genesis row and every other row with a predecessor of its own: no fork.
        assertEquals("20|19|1", Support.one(database, "SELECT count(*), count(DISTINCT prev_hash), "
                + "count(*) FILTER (WHERE prev_hash IS NULL) FROM audit_events"));
    }

    /** Waits until the given number of sessions wait for an advisory lock on the database. */
    private static void awaitLockWaiters(String database, int waiters) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            String waiting = Support.one(database, "SELECT count(*) FROM pg_locks l JOIN pg_database d "
                    + "ON d.oid = l.database WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = '"
                    + database + "'");
            if (Integer.parseInt(waiting) >= waiters) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the runners never queued on the advisory lock");
    }

    @Test
    void aFailedRunSaysWhatItAppliedBeforeAndHowToGoOn() {
        assertEquals("nothing was applied in this run: fix it and rerun", MigrationRunner.howToGoOn("000003_x.up.sql", List.of()));
        assertEquals("this run applied 000002_y.up.sql before it (recorded in schema_migrations): fix it and rerun to "
                + "continue from 000003_x.up.sql, or undo them with their .down.sql files, newest first, and delete their "
                + "rows from schema_migrations", MigrationRunner.howToGoOn("000003_x.up.sql", List.of("000002_y.up.sql")));
    }
}
