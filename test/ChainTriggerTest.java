// Migration 000011's chain trigger (issue 18 items 3-6, issue 20 item 3):
// the chain stays right under row-level security and minimal grants, two
// schemas of one database migrate and chain side by side, timestamps the
// payload cannot write are refused, a partitioned audit_events is refused by
// the workload, a database built by 000010 upgrades in place and goes on
// chaining; others' casts and operators do not change what it hashes, a
// BEFORE trigger's nested audit insert is refused rather than forked, and
// only the owner may attach the sentinel's writer to a table (000017); rows
// a trigger inserts after a dropped row chain, and each schema's log keeps
// its own chain state (000018); a data-only load of a dump keeps its hashes
// or is refused (000020). Migrations run in-process through MigrationRunner.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChainTriggerTest {
    static final String INSERT = "INSERT INTO %s.audit_events (id, actor, actor_type, action, resource_type, resource_id)"
            + " VALUES ";

    /** Runs the migrations of a folder into one schema of a database, as --mode=workload --schema does. */
    static void migrate(String database, String schema, Path migrations) throws Exception {
        Support.execute(database, "CREATE SCHEMA IF NOT EXISTS " + schema);
        Properties properties = new Properties();
        properties.setProperty("user", Support.USER);
        properties.putAll(MigrationRunner.CONNECTION_PROPERTIES);
        Connection connection = DriverManager.getConnection(
                "jdbc:postgresql://" + Support.HOST + ":" + Support.PORT + "/" + database, properties);
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET search_path = " + schema);
        }
        try (Deadline deadline = new Deadline(Duration.ofMinutes(2))) {
            new MigrationRunner(migrations).run(connection, deadline);
        }
    }

    /** A scratch database with our migrations in public. */
    static String migratedPublic() throws Exception {
        String database = Support.scratchDatabase();
        migrate(database, "public", Support.MIGRATIONS);
        return database;
    }

    static String row(String id, String actor) {
        return "('" + id + "', '" + actor + "', 'User', 'certificate.issue', 'certificate', 'mc-1')";
    }

    /** The server's verdict, the ids in chain order, and whether the sentinel holds the newest row's hash. */
    static String chain(String database, String schema) throws SQLException {
        return Support.one(database, "SELECT v.first_break_id, v.first_break_pos, v.row_count FROM "
                + schema + ".audit_events_verify_chain() v") + " "
                + Support.one(database, "SELECT string_agg(id, ',' ORDER BY chain_seq) FROM " + schema + ".audit_events")
                + " " + Support.one(database, "SELECT (SELECT row_hash FROM " + schema + ".audit_chain_head) = "
                + "(SELECT row_hash FROM " + schema + ".audit_events ORDER BY chain_seq DESC LIMIT 1)");
    }

    static String cleanVerdict(int rows) {
        return "null|-1|" + rows;
    }

    @Test
    void aRoleThatSeesOnlyItsOwnRowsUnderRowLevelSecurityChainsCleanWithInsertRightsAlone() throws Exception {
        String database = migratedPublic();
        String role = database + "_app";
        Support.execute(database,
                "CREATE ROLE " + role,
                "GRANT USAGE ON SCHEMA public TO " + role,
                "GRANT INSERT ON audit_events TO " + role,
                "ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY",
                "CREATE POLICY app_inserts ON audit_events FOR INSERT TO " + role + " WITH CHECK (true)",
                "CREATE POLICY app_reads_own ON audit_events FOR SELECT TO " + role + " USING (actor = current_user)");
        // No UPDATE on audit_chain_head, nothing on the sequence, and a path without our schema.
        Support.execute(database,
                "SET ROLE " + role,
                "SET search_path = ''",
                String.format(INSERT, "public") + row("r1", "alice"),
                String.format(INSERT, "public") + row("r2", "bob"),
                String.format(INSERT, "public") + row("r3", "carol") + ", " + row("r4", "dave")
                        + ", " + row("r1", "alice") + " ON CONFLICT DO NOTHING",
                String.format(INSERT, "public") + row("r5", "erin"));
        assertEquals(cleanVerdict(5) + " r1,r2,r3,r4,r5 t", chain(database, "public"));
    }

    @Test
    void twoSchemasOfOneDatabaseMigrateAndChainSideBySide() throws Exception {
        String database = twoTenants();
        int ours = MigrationRunnerTest.OUR_MIGRATIONS.size();
        assertEquals(List.of("tenant_a|" + ours, "tenant_b|" + ours), Support.rows(database,
                "SELECT 'tenant_a', count(*) FROM tenant_a.schema_migrations UNION ALL "
                        + "SELECT 'tenant_b', count(*) FROM tenant_b.schema_migrations"));
        Support.execute(database,
                String.format(INSERT, "tenant_a") + row("a1", "x") + ", " + row("a2", "x"),
                String.format(INSERT, "tenant_b") + row("b1", "x"),
                String.format(INSERT, "tenant_a") + row("a3", "x"),
                String.format(INSERT, "tenant_b") + row("b2", "x"));
        assertEquals(cleanVerdict(3) + " a1,a2,a3 t", chain(database, "tenant_a"));
        assertEquals(cleanVerdict(2) + " b1,b2 t", chain(database, "tenant_b"));
    }

    /** A scratch database with our migrations in schema tenant_a, then in tenant_b. */
    private static String twoTenants() throws Exception {
        String database = Support.scratchDatabase();
        migrate(database, "tenant_a", Support.MIGRATIONS);
        // pgcrypto now lives in tenant_a; 000003 of tenant_b calls digest() unqualified.
        migrate(database, "tenant_b", Support.MIGRATIONS);
        return database;
    }

    /**
     * A trigger on one schema's audit_events that inserts into another's (a schema a tenant): up to 000017 the
     * two tables shared one audit_chain.state, so the copy linked to the first table's pending row and the
     * second table's flush emptied the first one's state; both chains broke. Since 000018 each table keeps its
     * own.
     */
    @Test
    void aTriggerOfOneSchemasLogInsertingIntoAnothersLeavesBothChainsWhole() throws Exception {
        String database = twoTenants();
        Support.execute(database, """
                CREATE FUNCTION public.copy_to_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                    INSERT INTO tenant_b.audit_events (id, actor, actor_type, action, resource_type, resource_id)
                    VALUES ('copy-' || NEW.id, 'sys', 'System', 'copy', 'rt', 'ri');
                    RETURN NULL;
                END $$""", "CREATE TRIGGER copy_to_b AFTER INSERT ON tenant_a.audit_events FOR EACH ROW"
                + " EXECUTE FUNCTION public.copy_to_b()",
                String.format(INSERT, "tenant_b") + row("b1", "x"),
                String.format(INSERT, "tenant_a") + row("a1", "x") + ", " + row("a2", "x"),
                String.format(INSERT, "tenant_a") + row("a3", "x"));
        assertEquals(cleanVerdict(3) + " a1,a2,a3 t", chain(database, "tenant_a"));
        assertEquals(cleanVerdict(4) + " b1,copy-a1,copy-a2,copy-a3 t", chain(database, "tenant_b"));
    }

    @Test
    void timestampsThePayloadCannotWriteAreRefusedAtInsert() throws Exception {
        String database = migratedPublic();
        for (String timestamp : List.of("infinity", "-infinity", "0044-03-15 00:00:00+00 BC",
                "0001-01-01 00:59:59+01")) {
            SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database,
                    "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, \"timestamp\")"
                            + " VALUES ('t', 'a', 'User', 'act', 'rt', 'ri', '" + timestamp + "')"));
            assertEquals("22008", refused.getSQLState(), timestamp);
            String shown = Support.one(database, "SELECT '" + timestamp + "'::timestamptz");
            assertEquals("ERROR: audit_events cannot hold timestamp " + shown + " (row t): the hash chain's payload"
                    + " writes only finite timestamps from 0001-01-01 UTC on", refused.getMessage().lines().findFirst()
                    .orElseThrow(), timestamp);
        }
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id,"
                + " \"timestamp\") VALUES ('first-day', 'a', 'User', 'act', 'rt', 'ri', '0001-01-01 00:00:00+00')");
        assertEquals(cleanVerdict(1) + " first-day t", chain(database, "public"));
    }

    /**
     * A cast from jsonb to text (a superuser's) and an ||(text, character varying) in the schema (anyone who may
     * create there) changed the text the trigger hashed, for every inserting role: the row got the hash of a
     * payload other than its own, which verify then called modified. Since 000017 the trigger hashes the row as
     * stored, whatever casts and operators others define.
     */
    @Test
    void castsAndOperatorsOfOthersDoNotChangeWhatTheTriggerHashes() throws Exception {
        String database = migratedPublic();
        Support.execute(database,
                "CREATE FUNCTION public.printed_otherwise(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT ''{}''::text'",
                "CREATE CAST (jsonb AS text) WITH FUNCTION public.printed_otherwise(jsonb)",
                "CREATE FUNCTION public.joined_otherwise(a text, b varchar) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT a'",
                "CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = varchar, FUNCTION = public.joined_otherwise)",
                "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, \"timestamp\")"
                        + " VALUES ('c1', 'alice', 'User', 'act', 'rt', 'ri', '{\"x\": 1}', '2026-05-16 12:00:00+00')");
        assertEquals("{}|", Support.one(database, "SELECT details::text || ('|'::text || actor_type) FROM audit_events"));
        assertEquals(AuditRow.sha256Hex("|c1|alice|User|act|rt|ri|{\"x\": 1}|2026-05-16T12:00:00.000000Z|cert_lifecycle"),
                Support.one(database, "SELECT row_hash FROM audit_events"));
        assertEquals(cleanVerdict(1) + " c1 t", chain(database, "public"));
    }

    /**
     * A BEFORE INSERT trigger on audit_events that inserts an audit row of its own ran after ours had linked the
     * row it fires for, which was not in yet: ours took that row for a dropped one and linked the new row to the
     * same head, a fork on a log nobody had tampered with. Since 000017 the insert is refused; from an AFTER
     * trigger, when the first row is in, both chain.
     */
    @Test
    void aBeforeTriggerInsertingAuditRowsIsRefusedAndAnAfterTriggerChains() throws Exception {
        String database = migratedPublic();
        Support.execute(database, mirrorFunction("NEW.id NOT LIKE 'mirror-%'", "NEW.id", "NEW"),
                "CREATE TRIGGER mirror BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION public.mirror()");
        SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database,
                String.format(INSERT, "public") + row("m1", "alice")));
        assertEquals("55000", refused.getSQLState());
        assertEquals("ERROR: audit_events cannot chain row mirror-m1 while the row linked before it is still in its"
                + " BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger"
                + " instead", refused.getMessage().lines().findFirst().orElseThrow());

        Support.execute(database, "DROP TRIGGER mirror ON audit_events",
                "CREATE TRIGGER mirror AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION public.mirror()",
                String.format(INSERT, "public") + row("m1", "alice") + ", " + row("m2", "bob"),
                String.format(INSERT, "public") + row("m3", "carol"));
        assertEquals(cleanVerdict(6) + " m1,m2,mirror-m1,mirror-m2,m3,mirror-m3 t", chain(database, "public"));
    }

    /**
     * 000017 refused these too (review 3): a row dropped last in its statement (ON CONFLICT DO NOTHING) looks,
     * when the next row is linked from a deeper trigger, like one still in its BEFORE triggers, so the rows an
     * AFTER trigger of that statement inserts (row or statement trigger) were refused, and so was a BEFORE
     * trigger's row whose own row it then drops, though 000016 chained all of them cleanly. Since 000018 they
     * chain, linked as after a dropped row, and only a row before that goes in after all is refused (the test
     * above).
     */
    @Test
    void rowsInsertedFromTriggersAfterADroppedRowChain() throws Exception {
        String database = migratedPublic();
        Support.execute(database, mirrorFunction("NEW.actor_type <> 'System'", "TG_LEVEL || '-' || NEW.id",
                "CASE WHEN TG_WHEN = 'BEFORE' AND NEW.id LIKE 'drop-%' THEN NULL ELSE NEW END"), """
                CREATE FUNCTION public.summary() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                    INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)
                    SELECT 'summary-' || count(*), 'sys', 'System', 'summary', 'rt', 'ri' FROM audit_events;
                    RETURN NULL;
                END $$""",
                "CREATE TRIGGER mirror AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION public.mirror()",
                "CREATE TRIGGER audit_events_a_summary AFTER INSERT ON audit_events FOR EACH STATEMENT"
                        + " WHEN (pg_catalog.pg_trigger_depth() < 1) EXECUTE FUNCTION public.summary()",
                String.format(INSERT, "public") + row("m1", "alice"),
                String.format(INSERT, "public") + row("m2", "bob") + ", " + row("m1", "alice")
                        + " ON CONFLICT (id) DO NOTHING",
                String.format(INSERT, "public") + row("m1", "alice") + " ON CONFLICT (id) DO NOTHING",
                "DROP TRIGGER mirror ON audit_events", "DROP TRIGGER audit_events_a_summary ON audit_events",
                "CREATE TRIGGER mirror BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION public.mirror()",
                String.format(INSERT, "public") + row("drop-1", "carol") + ", " + row("drop-2", "carol"));
        assertEquals(cleanVerdict(9) + " m1,mirror-ROW-m1,summary-2,m2,mirror-ROW-m2,summary-5,summary-6,"
                + "mirror-ROW-drop-1,mirror-ROW-drop-2 t", chain(database, "public"));

        // Its first row goes in after all: the next row's trigger finds out and the statement is refused.
        SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database,
                String.format(INSERT, "public") + row("m3", "dave") + ", " + row("m4", "dave")));
        assertEquals("55000", refused.getSQLState());
        assertEquals("ERROR: audit_events cannot chain row mirror-ROW-m3 while the row linked before it is still in"
                + " its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger"
                + " instead", refused.getMessage().lines().findFirst().orElseThrow());
        assertEquals(cleanVerdict(9), chain(database, "public").split(" ")[0]);
    }

    /**
     * public.mirror(), a trigger function that, for each row WHEN holds, inserts an audit row of its own,
     * 'mirror-' || ID, then returns RETURNED.
     */
    private static String mirrorFunction(String when, String id, String returned) {
        return """
                CREATE FUNCTION public.mirror() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                    IF %s THEN
                        INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)
                        VALUES ('mirror-' || %s, 'sys', 'System', 'mirror', 'rt', 'ri');
                    END IF;
                    RETURN %s;
                END $$""".formatted(when, id, returned);
    }

    /**
     * The sentinel's writer, audit_events_chain_flush(), runs as its owner and PUBLIC could execute it: a role
     * with no right on audit_events attached it to a temporary table of its own and, with audit_chain.state set,
     * wrote any hash into the sentinel and any position into the sequence. Since 000017 only its owner (and
     * those it grants) may attach it; audit_events' own trigger fires as before.
     */
    @Test
    void aRoleWithoutRightsCannotAttachTheSentinelsWriterToATableOfItsOwn() throws Exception {
        String database = migratedPublic();
        String role = roleWithUsage(database, "GRANT INSERT ON audit_events TO %s");
        SQLException refused = assertThrows(SQLException.class, () -> attachTheSentinelsWriter(database, role,
                "CREATE TEMPORARY TABLE mine (x int)", "mine"));
        assertEquals("ERROR: permission denied for function public.audit_events_chain_flush",
                refused.getMessage().lines().findFirst().orElseThrow());
        Support.execute(database, "SET ROLE " + role, String.format(INSERT, "public") + row("n1", "alice"),
                String.format(INSERT, "public") + row("n2", "bob") + ", " + row("n3", "carol"));
        assertEquals(cleanVerdict(3) + " n1,n2,n3 t", chain(database, "public"));
    }

    /**
     * A restore that leaves privileges out (pg_restore --no-acl, as the in-place harness restores) makes the
     * sentinel's writer anew with PUBLIC's EXECUTE, and the steps above wrote ffff… into the restored sentinel
     * and 999 into its sequence. Since 000019 the function refuses every table but its own schema's audit_events.
     */
    @Test
    void afterARestoreWithoutPrivilegesTheSentinelsWriterStillRefusesATableOfAnotherRole() throws Exception {
        String source = migratedPublic();
        Support.execute(source, String.format(INSERT, "public") + row("n1", "alice"));
        String restored = Support.scratchDatabase();
        Support.Result restore = Support.run(List.of("bash", "-c",
                "set -o pipefail; pg_dump -Fc \"$1\" | pg_restore --no-owner --no-acl -d \"$2\"", "restore",
                Support.url(source), Support.url(restored)), Map.of(), Support.REPO, 120);
        assertEquals(0, restore.exit(), restore.describe());
        assertEquals("t", Support.one(restored,
                "SELECT has_function_privilege('public', 'audit_events_chain_flush()', 'EXECUTE')"));
        String role = roleWithUsage(restored, "CREATE SCHEMA mine AUTHORIZATION %s");
        SQLException refused = assertThrows(SQLException.class, () -> attachTheSentinelsWriter(restored, role,
                "CREATE TABLE mine.t (x int)", "mine.t",
                "SELECT set_config('audit_chain.state_' || 'mine.t'::regclass::oid, repeat('f', 64) || '|'"
                        + " || repeat('e', 64) || '|999|' || 'mine.t'::regclass::oid || '|0|0', false)",
                "INSERT INTO mine.t VALUES (1)"));
        assertEquals("ERROR: audit_events_chain_flush() writes the sentinel of its own schema's audit_events and"
                + " fires on that table only, not on mine.t", refused.getMessage().lines().findFirst().orElseThrow());
        Support.execute(restored, String.format(INSERT, "public") + row("n2", "bob"));
        assertEquals(cleanVerdict(2) + " n1,n2 t", chain(restored, "public"));
        assertEquals("2", Support.one(restored, "SELECT last_value FROM audit_events_chain_seq"));
    }

    /**
     * Any role that may connect called audit_events_chain_begin() (which every inserting role must reach) from a
     * BEFORE INSERT trigger of a temporary table of its own and stayed in its transaction: begin() held the
     * sentinel's lock, and every insert into the log waited until its statement_timeout. Since 000021 the lock
     * is taken by a statement trigger of audit_events that fires on no other table; begin() only reads, and not
     * at all without the mark that trigger sets.
     */
    @Test
    void aRoleWithoutRightsCanNeitherHoldTheSentinelsLockNorTakeItsTrigger() throws Exception {
        String database = migratedPublic();
        Support.execute(database, String.format(INSERT, "public") + row("n1", "alice"),
                "GRANT EXECUTE ON FUNCTION audit_events_chain_lock() TO PUBLIC"); // as a restore without privileges
        String role = roleWithUsage(database);
        List<String> holdingUp = List.of("SET ROLE " + role, "CREATE TEMPORARY TABLE mine (x int)",
                "CREATE FUNCTION pg_temp.hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " PERFORM public.audit_events_chain_begin(); RETURN NEW; END $$",
                "CREATE TRIGGER hold BEFORE INSERT ON mine FOR EACH ROW EXECUTE FUNCTION pg_temp.hold()");
        SQLException unmarked = assertThrows(SQLException.class, () -> Support.execute(database,
                concat(holdingUp, "INSERT INTO mine VALUES (1)")));
        assertEquals("ERROR: audit_events cannot chain a row without the sentinel's lock, which its statement trigger"
                + " audit_events_chain_lock takes: it did not fire (logical replication's apply fires no statement"
                + " trigger, or the trigger is disabled)", unmarked.getMessage().lines().findFirst().orElseThrow());
        SQLException taken = assertThrows(SQLException.class, () -> Support.execute(database,
                concat(holdingUp.subList(0, 2), "CREATE TRIGGER lock BEFORE INSERT ON mine FOR EACH STATEMENT"
                        + " EXECUTE FUNCTION public.audit_events_chain_lock()", "INSERT INTO mine VALUES (1)")));
        assertTrue(taken.getMessage().matches("(?s)ERROR: audit_events_chain_lock\\(\\) locks the sentinel of its own"
                + " schema's audit_events and fires on that table only, not on pg_temp_\\d+\\.mine(\n.*)?"),
                taken.getMessage());
        try (Connection attacker = Support.connectInTransaction(database);
             Statement statement = attacker.createStatement()) {
            for (String sql : concat(holdingUp, "SELECT set_config('audit_chain.locked_'"
                    + " || 'public.audit_events'::regclass::oid, 'on', true)", "INSERT INTO mine VALUES (1)")) {
                statement.execute(sql);
            }
            Support.execute(database, "SET statement_timeout = '10s'",
                    String.format(INSERT, "public") + row("n2", "bob"));
            attacker.rollback();
        }
        assertEquals(cleanVerdict(2) + " n1,n2 t", chain(database, "public"));
    }

    private static String[] concat(List<String> first, String... then) {
        List<String> all = new ArrayList<>(first);
        all.addAll(List.of(then));
        return all.toArray(String[]::new);
    }

    /** A role of DATABASE's own with USAGE on schema public, then each of GRANTS (%s: the role). */
    private static String roleWithUsage(String database, String... grants) throws SQLException {
        String role = database + "_nobody";
        Support.execute(database, concat(List.of("CREATE ROLE " + role, "GRANT USAGE ON SCHEMA public TO " + role),
                java.util.Arrays.stream(grants).map(grant -> grant.formatted(role)).toArray(String[]::new)));
        return role;
    }

    /** As ROLE: CREATE makes TABLE, the sentinel's writer is attached to it, then the statements THEN. */
    private static void attachTheSentinelsWriter(String database, String role, String create, String table,
            String... then) throws SQLException {
        Support.execute(database, concat(List.of("SET ROLE " + role, create,
                "CREATE TRIGGER write_sentinel AFTER INSERT ON " + table + " FOR EACH STATEMENT"
                        + " EXECUTE FUNCTION public.audit_events_chain_flush()"), then));
    }

    /**
     * A data-only load into a schema that already has its triggers (the migrations first, then the dump's rows:
     * pg_dump --data-only --column-inserts | psql) fired the chain trigger on every row, which hashed each anew:
     * a dump with one actor changed verified clean, its trace gone. Since 000020 a row arriving with a row_hash
     * must be given that very hash: the changed dump is refused, the untouched one goes in with its hashes.
     */
    @Test
    void aDataOnlyLoadIntoAMigratedSchemaKeepsTheDumpsHashesOrIsRefused() throws Exception {
        String source = migratedPublic();
        Support.execute(source, String.format(INSERT, "public") + row("n1", "alice") + ", " + row("n2", "bob"),
                String.format(INSERT, "public") + row("n3", "carol"));
        String hashes = "SELECT string_agg(id || ':' || row_hash, ',' ORDER BY chain_seq) FROM audit_events";
        String load = "set -o pipefail; pg_dump --data-only --column-inserts -t audit_events \"$1\""
                + " | sed \"$3\" | psql -X -q -v ON_ERROR_STOP=1 -d \"$2\"";

        String changed = migratedPublic();
        Support.Result refused = Support.run(List.of("bash", "-c", load, "load", Support.url(source),
                Support.url(changed), "s/'n2', 'bob'/'n2', 'mallory'/"), Map.of(), Support.REPO, 120);
        assertEquals(3, refused.exit(), refused.describe());
        assertTrue(refused.err().contains("ERROR:  audit_events row n2 arrives with row_hash "
                + Support.one(source, "SELECT row_hash FROM audit_events WHERE id = 'n2'") + ", but the chain links"
                + " it as "), refused.describe());
        assertEquals("n1", Support.one(changed, "SELECT string_agg(id, ',') FROM audit_events"));

        String untouched = migratedPublic();
        Support.Result loaded = Support.run(List.of("bash", "-c", load, "load", Support.url(source),
                Support.url(untouched), "s/^//"), Map.of(), Support.REPO, 120);
        assertEquals(0, loaded.exit(), loaded.describe());
        assertEquals(Support.one(source, hashes), Support.one(untouched, hashes));
        assertEquals(cleanVerdict(3) + " n1,n2,n3 t", chain(untouched, "public"));
    }

    @Test
    void withoutTrackCountsTheTriggerRefusesRatherThanGuess() throws Exception {
        String database = migratedPublic();
        SQLException refused = assertThrows(SQLException.class, () -> Support.execute(database,
                "SET track_counts = off", String.format(INSERT, "public") + row("n1", "a")));
        assertEquals("ERROR: audit_events needs track_counts = on: the chain trigger tells inserted rows from skipped"
                + " ones by the transaction's insert count", refused.getMessage().lines().findFirst().orElseThrow());
    }

    @Test
    void aDatabaseBuiltByMigration10UpgradesInPlaceAndGoesOnChaining(@TempDir Path upTo10) throws Exception {
        Support.ourMigrationsBefore(upTo10, "000011");
        String database = Support.scratchDatabase();
        migrate(database, "public", upTo10);
        SchemaTest.insertTestVectors(database);
        Support.execute(database, String.format(INSERT, "public") + row("old-1", "a") + ", " + row("old-2", "a"));
        String hashesBefore = String.join(",", Support.rows(database,
                "SELECT id || ':' || row_hash FROM audit_events ORDER BY chain_seq"));

        migrate(database, "public", Support.MIGRATIONS);
        assertEquals("f", Support.one(database, "SELECT prosecdef FROM pg_proc WHERE proname = 'audit_events_chain_hash'"));
        assertEquals("t", Support.one(database, "SELECT prosecdef FROM pg_proc WHERE proname = 'audit_events_chain_begin'"));
        assertEquals(cleanVerdict(5) + " tv-0001,tv-0002,tv-0003,old-1,old-2 t", chain(database, "public"));
        Support.execute(database, String.format(INSERT, "public") + row("new-1", "a") + ", " + row("new-2", "a"));
        assertEquals(cleanVerdict(7) + " tv-0001,tv-0002,tv-0003,old-1,old-2,new-1,new-2 t", chain(database, "public"));
        assertEquals(hashesBefore, String.join(",", Support.rows(database,
                "SELECT id || ':' || row_hash FROM audit_events WHERE id NOT LIKE 'new-%' ORDER BY chain_seq")));
        assertEquals(List.of("new-1|6|old-2", "new-2|7|new-1"), Support.rows(database,
                "SELECT e.id, e.chain_seq, p.id FROM audit_events e JOIN audit_events p ON p.row_hash = e.prev_hash "
                        + "WHERE e.id LIKE 'new-%' ORDER BY e.chain_seq"));
    }

    @Test
    void theWorkloadRefusesAPartitionedAuditTableBeforeChangingAnything() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database, """
                CREATE TABLE audit_events (
                    id TEXT, actor VARCHAR(255) NOT NULL, actor_type VARCHAR(50) NOT NULL,
                    action VARCHAR(255) NOT NULL, resource_type VARCHAR(255) NOT NULL,
                    resource_id VARCHAR(255) NOT NULL, details JSONB,
                    "timestamp" TIMESTAMPTZ NOT NULL DEFAULT NOW(),
                    event_category TEXT NOT NULL DEFAULT 'cert_lifecycle', prev_hash TEXT, row_hash TEXT NOT NULL,
                    PRIMARY KEY (id, "timestamp")
                ) PARTITION BY RANGE ("timestamp")""",
                "CREATE TABLE audit_events_2026_01 PARTITION OF audit_events"
                        + " FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')");
        Support.refused(1, "audit_events in schema public is partitioned: an insert straight into a partition"
                + " would skip the chain's statement trigger and fork the chain, so the workload supports an"
                + " unpartitioned audit_events only; nothing was changed",
                "--mode=workload", "--db-url=" + Support.url(database), "--rows=1");
        assertEquals("null", Support.one(database, "SELECT to_regclass('schema_migrations')"));
    }
}
