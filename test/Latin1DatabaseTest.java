// A LATIN1 database (CREATE DATABASE ... ENCODING 'LATIN1'), the legacy kind
// that holds audit logs: our migrations install there, the workload and
// verify work on rows with é and ü, and a user's migration keeps its literal
// text exactly (SPEC section 5).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Latin1DatabaseTest {
    static final String NO_EURO_IN_LATIN1 =
            "character with byte sequence 0xe2 0x82 0xac in encoding \"UTF8\" has no equivalent in encoding \"LATIN1\"";

    @TempDir Path folder;
    private String database;

    /** A new LATIN1 database, dropped after the test. */
    private String latin1Database() throws SQLException {
        database = "latin1_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
        Support.execute("postgres", "CREATE DATABASE " + database
                + " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        return database;
    }

    @AfterEach
    void dropTheDatabase() throws SQLException {
        if (database != null) {
            Support.execute("postgres", "DROP DATABASE " + database);
        }
    }

    private static void workload(String database, Path migrations) {
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--migrations-path=" + migrations,
                "--rows=10", "--start-time=" + Support.FIXED_START);
    }

    /** Two rows with é and ü, at fixed times after the workload's ten. */
    private static void insertAccentedRows(String database) throws SQLException {
        Support.execute(database, """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp")
                VALUES ('audit-smoke-0010', 'José Müller', 'User', 'certificate.issue', 'certificate', 'résumé',
                        '{"note": "über"}', '2026-05-16T13:00:00Z')""", """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp")
                VALUES ('audit-smoke-0011', 'Zoë', 'User', 'certificate.renew', 'certificate', 'naïve',
                        '{}', '2026-05-16T13:00:01Z')""");
    }

    /** The same workload and rows on a UTF8 database: its chain head, which the LATIN1 one must equal. */
    private static String utf8Head() throws SQLException {
        String utf8 = Support.scratchDatabase();
        workload(utf8, Support.MIGRATIONS);
        insertAccentedRows(utf8);
        return Support.one(utf8, "SELECT row_hash FROM audit_chain_head");
    }

    @Test
    void ourMigrationsWorkloadAndVerifyWorkOnALatin1Database() throws Exception {
        String latin1 = latin1Database();
        workload(latin1, Support.MIGRATIONS);
        assertEquals(MigrationRunnerTest.OUR_MIGRATIONS, Support.rows(latin1,
                "SELECT version FROM schema_migrations ORDER BY version"));
        insertAccentedRows(latin1);
        SQLException euro = assertThrows(SQLException.class, () -> Support.execute(latin1, """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)
                VALUES ('euro', '€', 'User', 'x', 'y', 'z')"""));
        assertEquals("ERROR: " + NO_EURO_IN_LATIN1, euro.getMessage());
        assertEquals("José Müller|résumé|{\"note\": \"über\"}", Support.one(latin1,
                "SELECT actor || '|' || resource_id || '|' || details FROM audit_events WHERE id = 'audit-smoke-0010'"));
        // The trigger hashes convert_to(payload, 'UTF8'), the client the payload's UTF-8: the same head as on UTF8.
        String head = utf8Head();
        assertEquals(Support.snapshotJson("verify", 12, head, "\"first_break_pos\": -1", "\"verifier_walked\": 12",
                Support.cleanClientJson(12)), Support.verifySnapshot(latin1));

        Support.tamper(latin1, "UPDATE audit_events SET actor = 'Jose Muller' WHERE id = 'audit-smoke-0010'");
        assertEquals(Support.snapshotJson("verify", 12, head, "\"first_break_id\": \"audit-smoke-0010\"",
                "\"first_break_pos\": 10", "\"verifier_walked\": 11",
                Support.clientJson(12, "audit-smoke-0010", 10, "modified", true, 0, true)),
                Support.verifySnapshot(latin1));
    }

    @Test
    void aUsersMigrationKeepsItsLiteralTextAndFailsOnlyOnTextOutsideComments() throws Exception {
        Support.ourMigrations(folder);
        Support.write(folder.resolve("000100_note.up.sql"), """
                -- € in a comment is sent as '?' /* and € here too */
                CREATE TABLE latin_note (t text);
                INSERT INTO latin_note VALUES ('é /* ü */ -- ö'), (E'\\'-- ß');
                """);
        Support.write(folder.resolve("000101_euro_in_a_body.up.sql"), """
                DO $$ BEGIN -- € inside a dollar-quoted body is the function's source, sent as it is
                END $$;
                """);
        String latin1 = latin1Database();
        var result = Support.tool("--mode=workload", "--db-url=" + Support.url(latin1),
                "--migrations-path=" + folder, "--rows=10");
        assertEquals(1, result.exit(), result.describe());
        List<String> ours = MigrationRunnerTest.OUR_MIGRATIONS;
        assertEquals(MigrationRunnerTest.failedAfterOurMigrations("000101_euro_in_a_body.up.sql", NO_EURO_IN_LATIN1)
                .replace(ours.get(ours.size() - 1) + " (" + ours.size() + " files)",
                        "000100_note.up.sql (" + (ours.size() + 1) + " files)"),
                result.err());
        assertEquals(List.of("'-- ß", "é /* ü */ -- ö"), Support.rows(latin1, "SELECT t FROM latin_note ORDER BY t"));
    }
}
