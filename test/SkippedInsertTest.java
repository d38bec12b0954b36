// Issue 11 item 2: rows the chain trigger linked but PostgreSQL then did not
// insert (INSERT … ON CONFLICT DO NOTHING, a later BEFORE trigger returning
// NULL) must leave the chain clean on both verdicts, also on databases built
// with the earlier migrations and upgraded by the runner.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class SkippedInsertTest {
    static final String COLUMNS = "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id) VALUES ";

    /** The values of one audit row with the given id. */
    static String row(String id) {
        return "('" + id + "', 'app', 'User', 'certificate.issue', 'certificate', 'mc-1')";
    }

    /** Idempotent application writes: single-row, a duplicate in the middle, with and without a conflict target. */
    static void idempotentWrites(String database) throws SQLException {
        Support.execute(database,
                COLUMNS + row("a"),
                COLUMNS + row("a") + " ON CONFLICT (id) DO NOTHING",
                COLUMNS + row("b"),
                COLUMNS + row("c") + ", " + row("a") + ", " + row("d") + " ON CONFLICT (id) DO NOTHING",
                COLUMNS + row("b") + " ON CONFLICT DO NOTHING",
                COLUMNS + row("e") + ", " + row("b") + " ON CONFLICT DO NOTHING",
                COLUMNS + row("f") + ", " + row("f") + ", " + row("c") + " ON CONFLICT DO NOTHING",
                COLUMNS + row("g"));
    }

    /** Both verdicts clean through the tool, the sentinel on the newest row, the rows linked in this order. */
    static void assertCleanChain(String database, String... idsInChainOrder) throws SQLException {
        var verify = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(0, verify.exit(), verify.describe());
        assertTrue(verify.out().contains("\"first_break_pos\": -1,"), verify.out());
        assertTrue(verify.out().contains("\"verdict\": \"clean\","), verify.out());
        assertEquals("null|-1|" + idsInChainOrder.length,
                Support.one(database, "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()"));
        assertEquals(List.of(String.join(",", idsInChainOrder)),
                Support.rows(database, "SELECT string_agg(id, ',' ORDER BY chain_seq) FROM audit_events"));
        assertEquals("t", Support.one(database, "SELECT (SELECT row_hash FROM audit_chain_head WHERE id = 1) = "
                + "(SELECT row_hash FROM audit_events ORDER BY chain_seq DESC LIMIT 1)"));
    }

    @Test
    void onConflictDoNothingKeepsTheChainClean() throws Exception {
        String database = Support.migratedWithWorkload(0);
        idempotentWrites(database);
        assertCleanChain(database, "a", "b", "c", "d", "e", "f", "g");
    }

    @Test
    void aLaterBeforeTriggerThatDropsRowsKeepsTheChainClean() throws Exception {
        String database = Support.migratedWithWorkload(0);
        Support.execute(database, """
                CREATE FUNCTION drop_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RETURN CASE WHEN NEW.id LIKE 'draft%' THEN NULL ELSE NEW END;
                END $$""",
                // Named to fire after audit_events_chain (triggers fire in name order).
                "CREATE TRIGGER audit_events_z_drafts BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION drop_drafts()",
                COLUMNS + row("a") + ", " + row("draft1") + ", " + row("b") + ", " + row("draft2"),
                COLUMNS + row("draft3"),
                COLUMNS + row("c"));
        assertCleanChain(database, "a", "b", "c");
    }

    @Test
    void concurrentIdempotentWritersKeepTheChainClean() throws Exception {
        String database = Support.migratedWithWorkload(0);
        List<CompletableFuture<Integer>> writers = new ArrayList<>();
        for (String writer : List.of("w1", "w2")) {
            writers.add(CompletableFuture.supplyAsync(() -> overlappingWrites(database, writer, "READ COMMITTED")));
        }
        writers.add(CompletableFuture.supplyAsync(() -> overlappingWrites(database, "w3", "REPEATABLE READ")));
        writers.forEach(CompletableFuture::join);
        String rows = Support.one(database, "SELECT count(*) FROM audit_events");
        assertEquals("null|-1|" + rows,
                Support.one(database, "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()"));
        assertEquals("t", Support.one(database, "SELECT (SELECT row_hash FROM audit_chain_head WHERE id = 1) = "
                + "(SELECT row_hash FROM audit_events ORDER BY chain_seq DESC LIMIT 1)"));
    }

    /**
     * 40 transactions, each a row of this writer's own and two ids every
     * writer also writes; a REPEATABLE READ writer may lose the sentinel to
     * another with a serialization failure, which rolls back its transaction.
     * Returns how many transactions committed.
     */
    private static int overlappingWrites(String database, String writer, String isolation) {
        int committed = 0;
        try (Connection connection = Support.connect(database); Statement statement = connection.createStatement()) {
            for (int i = 0; i < 40; i++) {
                try {
                    statement.execute("BEGIN ISOLATION LEVEL " + isolation);
                    statement.execute(COLUMNS + row("shared-" + i) + ", " + row(writer + "-" + i) + ", "
                            + row("shared-" + (i + 1)) + " ON CONFLICT DO NOTHING");
                    statement.execute("COMMIT");
                    committed++;
                } catch (SQLException e) {
                    if (!"40001".equals(e.getSQLState())) {
                        throw e;
                    }
                    statement.execute("ROLLBACK");
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(writer + ": " + e.getMessage(), e);
        }
        return committed;
    }

    /** The upgrade path: a database built with the first migrations gets the fixed trigger from the runner. */
    @Test
    void upgradingFromTheRowByRowTriggerOf000003InstallsTheFix() throws Exception {
        assertUpgradeFixes(3);
    }

    @Test
    void upgradingFromTheStatementHeadOf000006InstallsTheFix() throws Exception {
        assertUpgradeFixes(6);
    }

    private static void assertUpgradeFixes(int migrationsApplied) throws Exception {
        String database = Support.scratchDatabase();
        applyAndRecord(database, MigrationRunnerTest.OUR_MIGRATIONS.subList(0, migrationsApplied));
        Support.execute(database, COLUMNS + row("before-1"), COLUMNS + row("before-2"));

        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=1", "--id-prefix=upgraded-");
        idempotentWrites(database);
        assertCleanChain(database, "before-1", "before-2", "upgraded-0000", "a", "b", "c", "d", "e", "f", "g");
    }

    /** Applies and records the named migrations the way the runner does, as an older release left the database. */
    static void applyAndRecord(String database, List<String> names) throws Exception {
        Properties properties = new Properties();
        properties.setProperty("user", Support.USER);
        properties.setProperty("preferQueryMode", "simple");
        try (Connection connection = DriverManager.getConnection(
                "jdbc:postgresql://" + Support.HOST + ":" + Support.PORT + "/" + database, properties);
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, "
                    + "applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())");
            for (String name : names) {
                statement.execute(Files.readString(Support.MIGRATIONS.resolve(name), StandardCharsets.UTF_8));
                statement.execute("INSERT INTO schema_migrations (version) VALUES ('" + name + "')");
            }
        }
    }
}
