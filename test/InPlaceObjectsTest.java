// The in-place mode's decisions (InPlace.java, --mode=in-place-check and
// in-place-wipe), which the harness asks instead of reading migrations and
// catalogs in bash: what the migrations declare (pure, from files), and
// against the suite's server in process what a database holds beyond that,
// whose audit rows are somebody's, and what the wipe drops. The harness's
// own in-place runs: HarnessTest, SinceHarnessTest.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InPlaceObjectsTest {
    @TempDir Path temp;

    private static Set<String> described(Set<InPlace.Declared> declared) {
        return declared.stream().map(object -> object.kind() + " " + object.name()).collect(Collectors.toSet());
    }

    @Test
    void theMigrationsDeclareWhatTheyCreateWhateverTheSpelling() throws Exception {
        Files.writeString(temp.resolve("000001_first.up.sql"), """
                CREATE TABLE audit_events (id TEXT);
                create table if not exists "Mixed"."Case" (x int);
                CREATE OR REPLACE FUNCTION
                  Public.Chain_Hash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
                -- CREATE TABLE commented_out (x int);
                CREATE UNLOGGED TABLE\tlog_copy (x int);
                """);
        Files.writeString(temp.resolve("000002_second.up.sql"), """
                CREATE MATERIALIZED VIEW totals AS SELECT 1;
                CREATE SEQUENCE numbers;
                CREATE PROCEDURE tidy() LANGUAGE sql AS 'SELECT 1';
                CREATE DOMAIN positive AS int CHECK (VALUE > 0);
                CREATE TYPE mood AS ENUM ('ok');
                """);
        Files.writeString(temp.resolve("000001_first.down.sql"), "CREATE TABLE only_down (x int);");
        assertEquals(Set.of("table schema_migrations", "table audit_events", "table Mixed.Case",
                "routine public.chain_hash", "table log_copy", "relation totals", "relation numbers", "routine tidy",
                "type positive", "type mood"), described(InPlace.declared(temp)));
    }

    @Test
    void theProjectsMigrationsDeclareTheAuditLogAndItsMachinery() throws Exception {
        Set<String> declared = described(InPlace.declared(Support.MIGRATIONS));
        assertTrue(declared.containsAll(List.of("table audit_events", "table audit_chain_head",
                "routine audit_events_verify_chain", "routine audit_events_chain_hash")), declared.toString());
    }

    /** A database migrated by the project's migrations, with ROWS of the workload's, all in process. */
    private static String migrated(int rows) throws Exception {
        String database = Support.scratchDatabase();
        ChainTriggerTest.migrate(database, "public", Support.MIGRATIONS);
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            CheckpointLedgerTest.grow(database, rows, "audit-smoke-", deadline);
        }
        return database;
    }

    private static int check(String database) throws Exception {
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            return InPlace.check(connector, Support.MIGRATIONS,
                    new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        }
    }

    /** Null when the check passes; else its exit status and the line the command prints for the refusal. */
    private static String refusal(String database) throws Exception {
        try {
            int status = check(database);
            return status == 0 ? null : String.valueOf(status);
        } catch (Refusal refused) {
            return Refusal.EXIT + " backupsmoke: " + refused.getMessage() + "\n";
        }
    }

    /** The command checks against the migrations of --migrations-path (which other modes refuse). */
    @Test
    void theCommandReadsTheMigrationsOfMigrationsPath() throws Exception {
        String database = migrated(1);
        String url = "--db-url=" + Support.url(database);
        var ours = Support.tool("--mode=in-place-check", url, "--migrations-path=" + Support.MIGRATIONS);
        assertEquals(0, ours.exit(), ours.describe());
        Path none = Files.createDirectories(temp.resolve("none"));
        var elsewhere = Support.tool("--mode=in-place-check", url, "--migrations-path=" + none);
        assertEquals(3, elsewhere.exit(), elsewhere.describe());
        assertTrue(elsewhere.err().startsWith("backupsmoke: SMOKE_IN_PLACE=1 refused: database " + database
                + " holds objects the migrations in " + none + " do not create: table public.audit_chain_head, "),
                elsewhere.err());
    }

    @Test
    void aDatabaseHoldingOnlyTheMigrationsAndSmokeRowsMayBeWiped() throws Exception {
        assertNull(refusal(migrated(3)));
        assertNull(refusal(Support.scratchDatabase()), "an empty database");
    }

    @Test
    void anyOtherObjectIsRefusedNamingEachInTheOrderTheyWouldBeDropped() throws Exception {
        String database = migrated(1);
        Support.execute(database, "CREATE TABLE customers (id INT)", "CREATE VIEW recent AS SELECT 1 AS one",
                "CREATE FUNCTION helper(a int) RETURNS int LANGUAGE sql AS 'SELECT a'", "CREATE TYPE colour AS ENUM ('red')");
        assertEquals("3 backupsmoke: SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in "
                + Support.MIGRATIONS + " do not create: table public.customers, relation public.recent, "
                + "routine public.helper(a integer), type public.colour\n", refusal(database));
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_class WHERE relname = 'customers'"),
                "nothing was changed");
    }

    /** The migrations name their objects unqualified: in another schema a namesake is the user's, kept. */
    @Test
    void aNamesakeInAnotherSchemaIsTheUsersAndRefused() throws Exception {
        String database = migrated(1);
        Support.execute(database, "CREATE SCHEMA reports", "CREATE TABLE reports.audit_events (x int)",
                "INSERT INTO reports.audit_events VALUES (42)",
                "CREATE FUNCTION reports.audit_events_row_hash(x int) RETURNS int LANGUAGE sql AS 'SELECT x'");
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in "
                + Support.MIGRATIONS + " do not create: table reports.audit_events, "
                + "routine reports.audit_events_row_hash(x integer)";
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals("42", Support.one(database, "SELECT x FROM reports.audit_events"), "nothing was changed");
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_row_hash'"
                + " AND pronamespace = 'reports'::regnamespace"));
    }

    @Test
    void aRoutinesInputTypesAreReadAsTheServerSpellsThem() throws Exception {
        String text = "f(p_a TEXT, OUT b INT, p_c double precision DEFAULT 1.5, timestamp with time zone,"
                + " VARIADIC p_d numeric(10,2)[] ) RETURNS int";
        String arguments = InPlace.argumentList(text, 2);
        assertEquals("p_a TEXT, OUT b INT, p_c double precision DEFAULT 1.5, timestamp with time zone,"
                + " VARIADIC p_d numeric(10,2)[] ", arguments);
        try (Connection connection = Support.connect(Support.scratchDatabase())) {
            assertEquals("text, double precision, timestamp with time zone, numeric[]",
                    InPlace.inputTypes(connection, arguments, new java.util.HashMap<>()));
            assertNull(InPlace.inputTypes(connection, "p_a no_such_type", new java.util.HashMap<>()));
        }
    }

    /** A routine is the migrations' by its name and its argument types: a user's overload is refused and kept. */
    @Test
    void aUsersOverloadOfTheMigrationsRoutineIsRefusedAndKept() throws Exception {
        assertUsersRoutineRefusedAndKept("CREATE FUNCTION audit_events_verify_chain(p_from bigint) RETURNS bigint"
                + " LANGUAGE sql AS 'SELECT p_from'", "do not create: routine public.audit_events_verify_chain(p_from bigint)",
                "SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_verify_chain'", "2");
    }

    /**
     * A migrated database with a routine of the user's, made by CREATE: the check and the wipe refuse it,
     * "... holds objects the migrations in DIR " followed by WHY, and KEPT_QUERY still answers KEPT.
     */
    private static void assertUsersRoutineRefusedAndKept(String create, String why, String keptQuery, String kept)
            throws Exception {
        String database = migrated(1);
        Support.execute(database, create);
        assertRefusedAndKept(database, "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the"
                + " migrations in " + Support.MIGRATIONS + " " + why, keptQuery, kept);
    }

    /** The check and the wipe of DATABASE refuse it saying REFUSED, and KEPT_QUERY still answers KEPT. */
    private static void assertRefusedAndKept(String database, String refused, String keptQuery, String kept)
            throws Exception {
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals(kept, Support.one(database, keptQuery), "nothing was changed");
    }

    /** The restore gives its tables to the harness's role without grants: another owner, or a grant, is refused. */
    @Test
    void anotherOwnerOrAGrantOnTheMigrationsObjectsIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        String app = "app_" + database;
        Support.execute(database, "CREATE ROLE " + app, "ALTER TABLE audit_events OWNER TO " + app,
                "GRANT SELECT ON audit_chain_head TO " + app, "GRANT SELECT ON audit_events TO PUBLIC",
                "ALTER FUNCTION audit_events_chain_begin() OWNER TO " + app);
        try {
            String refused = "SMOKE_IN_PLACE=1 refused: in database " + database + " the restore (pg_restore"
                    + " --no-owner --no-acl) would not give back the owner or the privileges of routine"
                    + " public.audit_events_chain_begin() (owner " + app + "), table public.audit_chain_head"
                    + " (privileges granted), table public.audit_events (owner " + app + ", privileges granted)";
            assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
            assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
            assertEquals(app, Support.one(database,
                    "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'"));
        } finally {
            Support.execute(database, "REASSIGN OWNED BY " + app + " TO CURRENT_USER", "DROP OWNED BY " + app,
                    "DROP ROLE " + app);
        }
    }

    /**
     * A grant on a column, or EXECUTE granted on a routine, is the user's too:
     * the wipe took it and the restore (--no-acl) did not give it back. The
     * migrations' own REVOKE FROM PUBLIC is no grant.
     */
    @Test
    void aColumnGrantOrAnExecuteGrantOnTheMigrationsObjectsIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        String auditor = "auditor_" + database;
        Support.execute(database, "CREATE ROLE " + auditor, "GRANT SELECT (id, actor) ON audit_events TO " + auditor,
                "GRANT EXECUTE ON FUNCTION audit_events_verify_chain() TO " + auditor);
        try {
            String refused = "SMOKE_IN_PLACE=1 refused: in database " + database + " the restore (pg_restore"
                    + " --no-owner --no-acl) would not give back the owner or the privileges of routine"
                    + " public.audit_events_verify_chain(OUT first_break_id text, OUT first_break_pos integer,"
                    + " OUT row_count integer) (privileges granted), table public.audit_events (privileges granted)";
            assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
            assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
            assertEquals("{" + auditor + "=r/" + Support.one(database, "SELECT current_user") + "}", Support.one(
                    database, "SELECT attacl FROM pg_attribute WHERE attrelid = 'audit_events'::regclass"
                            + " AND attname = 'id'"), "nothing was changed");
        } finally {
            Support.execute(database, "DROP OWNED BY " + auditor, "DROP ROLE " + auditor);
        }
    }

    /** What the user hangs on the migrations' tables, which the wipe's CASCADE would take, is refused and kept. */
    @Test
    void whatTheUserAddedToTheMigrationsTablesIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        Support.execute(database, "CREATE INDEX my_index ON audit_events (resource_id, actor)",
                "CREATE TRIGGER my_trigger BEFORE DELETE ON audit_chain_head FOR EACH ROW"
                        + " EXECUTE FUNCTION audit_events_reject_change()",
                "CREATE POLICY my_policy ON audit_events USING (true)",
                "CREATE RULE my_rule AS ON UPDATE TO audit_chain_head DO ALSO NOTIFY chain",
                "CREATE STATISTICS my_stats ON actor, action FROM audit_events",
                "SET client_min_messages = error", "CREATE PUBLICATION my_pub FOR TABLE audit_events");
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in "
                + Support.MIGRATIONS + " do not create: index public.my_index, trigger my_trigger on"
                + " public.audit_chain_head, policy my_policy on public.audit_events, rule my_rule on"
                + " public.audit_chain_head, statistics public.my_stats,"
                + " publication my_pub (table public.audit_events)";
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_publication_rel"), "nothing was changed");
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_class WHERE relname = 'my_index'"));
    }

    /**
     * A cast (or an operator, an operator class, ...) on the migrations' row
     * types or routines went with them in the wipe's CASCADE, unnamed, and
     * the workload made them anew without it: it is refused and kept.
     */
    @Test
    void aCastOnTheMigrationsRowTypeIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        Support.execute(database, "CREATE CAST (audit_events AS text) WITH INOUT");
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in "
                + Support.MIGRATIONS + " do not create: cast (public.audit_events AS pg_catalog.text)";
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals("1", Support.one(database,
                "SELECT count(*) FROM pg_cast WHERE castsource = 'audit_events'::regtype"), "nothing was changed");
    }

    /**
     * A column, or a comment, added to the migrations' own tables: the wipe dropped the table and the
     * workload made it again without them, the column's data lost, and the run passed (reproduced as a
     * non-superuser on PostgreSQL 15). Both are refused now, nothing changed.
     */
    @Test
    void aColumnOrACommentAddedToTheMigrationsTablesIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        Support.execute(database, "ALTER TABLE audit_events ADD COLUMN note text",
                "COMMENT ON TABLE audit_events IS 'mine'", "COMMENT ON COLUMN audit_chain_head.id IS 'mine too'");
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " holds what the migrations do not make"
                + " on their own objects, which the wipe would take with them: column public.audit_events.note,"
                + " comment on column public.audit_chain_head.id, comment on table public.audit_events";
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_attribute"
                + " WHERE attrelid = 'audit_events'::regclass AND attname = 'note'"), "nothing was changed");
    }

    /**
     * A constraint (CHECK, UNIQUE, FOREIGN KEY, EXCLUDE; named or not), a constraint of theirs renamed, or
     * a NOT NULL added to the migrations' own tables: the wipe dropped the table with it and the workload
     * made it again without it, and the run passed (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aConstraintOrANotNullAddedToTheMigrationsTablesIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        Support.execute(database, "ALTER TABLE audit_events ADD CONSTRAINT mine CHECK (actor <> '')",
                "ALTER TABLE audit_events ADD CHECK (action <> '')", "ALTER TABLE audit_events ADD UNIQUE (resource_id, row_hash)",
                "ALTER TABLE audit_events ADD CONSTRAINT head_fk FOREIGN KEY (chain_seq) REFERENCES audit_chain_head (id)"
                        + " NOT VALID",
                "ALTER TABLE audit_chain_head ADD CONSTRAINT one_head EXCLUDE USING btree (id WITH =)",
                "ALTER TABLE audit_chain_head RENAME CONSTRAINT audit_chain_head_id_check TO only_one",
                "ALTER TABLE audit_events ALTER COLUMN details SET NOT NULL");
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " holds what the migrations do not make"
                + " on their own objects, which the wipe would take with them: constraint public.audit_chain_head.one_head,"
                + " constraint public.audit_chain_head.only_one, constraint public.audit_events.audit_events_action_check,"
                + " constraint public.audit_events.audit_events_resource_id_row_hash_key,"
                + " constraint public.audit_events.head_fk, constraint public.audit_events.mine,"
                + " not null on column public.audit_events.details";
        assertEquals("3 backupsmoke: " + refused + "\n", refusal(database));
        assertEquals(refused, assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals(List.of("audit_chain_head_pkey", "one_head", "only_one", "audit_events_action_check",
                "audit_events_event_category_check", "audit_events_pkey", "audit_events_resource_id_row_hash_key",
                "head_fk", "mine"), Support.rows(database, "SELECT conname FROM pg_constraint WHERE conrelid IN"
                + " ('audit_events'::regclass, 'audit_chain_head'::regclass) ORDER BY conrelid DESC, conname"),
                "nothing was changed");
        assertEquals("t|1", Support.one(database, "SELECT attnotnull, (SELECT count(*) FROM audit_events)"
                + " FROM pg_attribute WHERE attrelid = 'audit_events'::regclass AND attname = 'details'"));
    }

    /**
     * The migrations' own constraints pass, those PostgreSQL names (audit_events_pkey,
     * audit_chain_head_id_check) too, whichever schema holds them; one added there is refused by it.
     */
    @Test
    void theMigrationsOwnConstraintsPassInTheirSchemaWhicheverItIs() throws Exception {
        String database = Support.scratchDatabase();
        String url = "--db-url=" + Support.url(database);
        var workload = Support.tool("--mode=workload", "--rows=2", "--schema=tenant", url,
                "--migrations-path=" + Support.MIGRATIONS);
        assertEquals(0, workload.exit(), workload.describe());
        assertEquals(List.of("tenant.audit_chain_head|audit_chain_head_id_check",
                "tenant.audit_chain_head|audit_chain_head_pkey", "tenant.audit_events|audit_events_event_category_check",
                "tenant.audit_events|audit_events_pkey", "tenant.schema_migrations|schema_migrations_pkey"),
                Support.rows(database, "SELECT conrelid::regclass::text, conname FROM pg_constraint"
                        + " WHERE connamespace = 'tenant'::regnamespace ORDER BY conrelid::regclass::text COLLATE \"C\", conname COLLATE \"C\""));
        assertNull(refusal(database));
        Support.execute(database, "ALTER TABLE tenant.audit_chain_head ADD CHECK (row_hash <> 'x')");
        assertEquals("3 backupsmoke: SMOKE_IN_PLACE=1 refused: database " + database + " holds what the migrations do"
                + " not make on their own objects, which the wipe would take with them:"
                + " constraint tenant.audit_chain_head.audit_chain_head_row_hash_check\n", refusal(database));
    }

    /**
     * The constraints and NOT NULLs the migrations' SQL makes are, to the name, what a real server made of
     * it: named or left to PostgreSQL (a name cut to 63 bytes, a label numbered when taken, a CHECK named
     * after the one column it reads), in CREATE TABLE or ALTER TABLE; and the check passes.
     */
    @Test
    void theMigrationsConstraintsAreNamedAsTheServerNamesThem() throws Exception {
        String table = "a_table_whose_name_is_long_enough_to_be_cut_by_postgresql_x";
        String sql = "CREATE TABLE " + table + " (\n"
                + "    id BIGINT PRIMARY KEY,\n"
                + "    code TEXT NOT NULL UNIQUE CHECK (code <> 'low'),\n"
                + "    parent BIGINT REFERENCES " + table + " (id),\n"
                + "    low INT, high INT,\n"
                + "    note TEXT DEFAULT 'check unique not null',\n"
                + "    CHECK (low < high), CHECK (low > 0), CHECK (low < 100),\n"
                + "    CONSTRAINT named_pair UNIQUE (low, high),\n"
                + "    UNIQUE (high, parent),\n"
                + "    EXCLUDE USING btree (code WITH =)\n"
                + ");\n"
                + "CREATE TABLE IF NOT EXISTS \"Quoted\" (\"Mixed\" INT, other INT, PRIMARY KEY (\"Mixed\", other));\n"
                + "ALTER TABLE \"Quoted\" ADD COLUMN IF NOT EXISTS extra TEXT, ADD CHECK (other > 0),\n"
                + "    ADD CONSTRAINT later_check CHECK (extra <> ''), ALTER COLUMN extra SET NOT NULL;\n"
                + "ALTER TABLE \"Quoted\" RENAME CONSTRAINT later_check TO renamed_check;\n";
        Path migrations = Files.createDirectories(temp.resolve("constraints"));
        Files.writeString(migrations.resolve("000001_constraints.up.sql"), sql);
        String database = Support.scratchDatabase();
        Support.execute(database, sql);
        TableDefinitions made = TableDefinitions.of(sql);
        // later_check too: the SQL declares that name (its RENAME leaves no constraint of it)
        assertEquals(Support.rows(database, "SELECT name FROM (SELECT c.relname || '.' || k.conname FROM pg_constraint k"
                + " JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = 'public'::regnamespace"
                + " UNION SELECT 'Quoted.later_check') made(name) ORDER BY name COLLATE \"C\""),
                List.copyOf(made.constraints()));
        assertEquals(Set.copyOf(Support.rows(database, "SELECT c.relname || '.' || a.attname FROM pg_attribute a"
                + " JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace"
                + " AND c.relkind = 'r' AND a.attnum > 0 AND a.attnotnull")), made.notNull());
        assertTrue(made.constraints().containsAll(List.of("Quoted.renamed_check", table + "."
                + "a_table_whose_name_is_long_enough_to_be_cut_by_postg_low_check1")), made.constraints().toString());
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            assertEquals(0, InPlace.check(connector, migrations,
                    new java.io.PrintStream(java.io.OutputStream.nullOutputStream())));
        }
    }

    /** The refusal of a database whose migrations' own objects were changed, naming CHANGES. */
    private static String changedRefusal(String database, String changes) {
        return "SMOKE_IN_PLACE=1 refused: database " + database + " holds the migrations' own objects changed from"
                + " what the migrations make, which the wipe and the workload would undo: " + changes;
    }

    /**
     * A database migrated by our migrations, then CHANGES made to their objects: the check and the wipe
     * refuse it naming CHANGED, and KEPT_QUERY still answers KEPT (nothing was changed).
     */
    private static void assertChangesRefusedAndKept(List<String> changes, String changed, String keptQuery,
            String kept) throws Exception {
        String database = migrated(1);
        Support.execute(database, changes.toArray(String[]::new));
        assertRefusedAndKept(database, changedRefusal(database, changed), keptQuery, kept);
    }

    /**
     * A column of the migrations' whose type, default, collation or identity the user changed, or whose
     * NOT NULL they dropped: the wipe took the change and the workload made the column as the migrations
     * do, and the run passed (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aColumnOfTheMigrationsChangedOrItsNotNullDroppedIsRefusedAndKept() throws Exception {
        assertChangesRefusedAndKept(List.of("ALTER TABLE audit_events ALTER COLUMN actor TYPE text",
                "ALTER TABLE audit_chain_head ALTER COLUMN row_hash SET DEFAULT 'x'",
                "ALTER TABLE audit_events ALTER COLUMN id TYPE text COLLATE \"C\"",
                "ALTER TABLE audit_chain_head ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
                "ALTER TABLE audit_events ALTER COLUMN resource_id DROP NOT NULL"),
                "collation of column public.audit_events.id (pg_catalog.\"C\"; the migrations make default),"
                + " default of column public.audit_chain_head.row_hash ('x'::text; the migrations make ''::text),"
                + " identity of column public.audit_chain_head.id (generated always; the migrations make none),"
                + " not null of column public.audit_events.resource_id (null allowed; the migrations make not null),"
                + " type of column public.audit_events.actor (text; the migrations make character varying(255))",
                "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull, ', '"
                        + " ORDER BY attname) FROM pg_attribute WHERE attrelid = 'audit_events'::regclass"
                        + " AND attname IN ('actor', 'resource_id')",
                "actor text true, resource_id character varying(255) false");
    }

    /**
     * A constraint or an index of the migrations' dropped and made again by the user under its name with
     * another definition, or a trigger of theirs dropped: the wipe and the workload put the migrations'
     * back, and the run passed (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aConstraintOrAnIndexRedefinedUnderTheMigrationsNameOrATriggerDroppedIsRefusedAndKept() throws Exception {
        assertChangesRefusedAndKept(List.of("ALTER TABLE audit_chain_head DROP CONSTRAINT audit_chain_head_id_check",
                "ALTER TABLE audit_chain_head ADD CONSTRAINT audit_chain_head_id_check CHECK (id BETWEEN 1 AND 5)",
                "DROP INDEX idx_audit_events_actor", "CREATE INDEX idx_audit_events_actor ON audit_events (actor, action)",
                "DROP TRIGGER audit_events_no_truncate ON audit_events"),
                "definition of constraint public.audit_chain_head.audit_chain_head_id_check"
                + " (CHECK (((id >= 1) AND (id <= 5))); the migrations make CHECK ((id = 1))),"
                + " definition of index public.idx_audit_events_actor,"
                + " trigger audit_events_no_truncate on public.audit_events dropped",
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'audit_chain_head_id_check'",
                "CHECK (((id >= 1) AND (id <= 5)))");
    }

    /**
     * A trigger of the migrations' disabled, row security or a storage parameter set on their table, one of
     * their routines replaced under its signature: undone by the wipe and the workload, and the run passed
     * (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aTriggerDisabledATableSettingOrARoutineReplacedIsRefusedAndKept() throws Exception {
        assertChangesRefusedAndKept(List.of("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                "ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY", "ALTER TABLE audit_chain_head SET (fillfactor = 50)",
                "CREATE OR REPLACE FUNCTION audit_events_reject_truncate() RETURNS trigger LANGUAGE plpgsql"
                        + " AS $$ BEGIN RETURN NULL; END $$"),
                "definition of routine public.audit_events_reject_truncate(),"
                + " row level security of table public.audit_events (enabled; the migrations make disabled),"
                + " state of trigger audit_events_append_only on public.audit_events (disabled;"
                + " the migrations make enabled), storage parameters of table public.audit_chain_head"
                + " (fillfactor=50; the migrations make none)",
                "SELECT tgenabled::text || ' ' || (SELECT relrowsecurity FROM pg_class WHERE oid = 'audit_events'::regclass)"
                        + " FROM pg_trigger WHERE tgname = 'audit_events_append_only'",
                "D true");
    }

    /**
     * The migrations are run again in a schema of the check's own, in a transaction it rolls back: nothing
     * of it is left, and the audit schema's functions, which 000008 pins anew in every chain's schema, are as
     * they were. In a schema other than public too, where a change is named in it.
     */
    @Test
    void theMigrationsReferenceLeavesNothingBehind() throws Exception {
        String database = Support.scratchDatabase();
        var workload = Support.tool("--mode=workload", "--rows=1", "--schema=tenant", "--db-url=" + Support.url(database),
                "--migrations-path=" + Support.MIGRATIONS);
        assertEquals(0, workload.exit(), workload.describe());
        String functions = "SELECT p.oid::regprocedure || ' ' || coalesce(array_to_string(proconfig, ' '), '') || ' '"
                + " || md5(prosrc) FROM pg_proc p WHERE pronamespace = 'tenant'::regnamespace ORDER BY 1";
        List<String> before = Support.rows(database, functions);
        assertNull(refusal(database));
        assertEquals(before, Support.rows(database, functions));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%backupsmoke%'"));
        // A column named like a word of their SQL, which the text alone took for theirs, is seen too.
        Support.execute(database, "ALTER TABLE tenant.audit_events ALTER COLUMN details SET DEFAULT '{}'",
                "ALTER TABLE tenant.audit_chain_head ADD COLUMN actor text");
        assertEquals("3 backupsmoke: " + changedRefusal(database, "column tenant.audit_chain_head.actor added,"
                + " default of column tenant.audit_events.details ('{}'::jsonb; the migrations make none)") + "\n",
                refusal(database));
    }

    /**
     * A column's storage, statistics target or options, a table clustered on one of the migrations' indexes, a
     * storage parameter of the table's TOAST table: undone by the wipe and the workload, and the check
     * passed (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aColumnsStorageStatisticsOrOptionsAClusteringOrAToastParameterChangedIsRefusedAndKept() throws Exception {
        assertChangesRefusedAndKept(List.of("ALTER TABLE audit_events SET (toast.autovacuum_enabled = false)",
                "ALTER TABLE audit_events ALTER COLUMN details SET STORAGE MAIN",
                "ALTER TABLE audit_events ALTER COLUMN actor SET STATISTICS 1000",
                "ALTER TABLE audit_events ALTER COLUMN action SET (n_distinct = 40)",
                "ALTER TABLE audit_events CLUSTER ON idx_audit_events_actor"),
                "clustering of index public.idx_audit_events_actor (clustered; the migrations make not clustered),"
                + " options of column public.audit_events.action (n_distinct=40; the migrations make none),"
                + " statistics target of column public.audit_events.actor (1000; the migrations make default),"
                + " storage of column public.audit_events.details (main; the migrations make extended),"
                + " storage parameters of table public.audit_events (toast.autovacuum_enabled=false;"
                + " the migrations make none)",
                "SELECT (SELECT reloptions::text FROM pg_class WHERE oid = (SELECT reltoastrelid FROM pg_class"
                        + " WHERE oid = 'audit_events'::regclass)) || ' ' || (SELECT attstorage::text FROM pg_attribute"
                        + " WHERE attrelid = 'audit_events'::regclass AND attname = 'details')",
                "{autovacuum_enabled=false} m");
    }

    /**
     * A column's compression, the chain position's sequence's settings, or the index a table's replica
     * identity names: the check passed them, and the wipe and the workload undid them (reproduced on
     * PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aColumnsCompressionASequencesSettingsOrTheReplicaIdentitysIndexChangedIsRefusedAndKept() throws Exception {
        assertChangesRefusedAndKept(List.of("ALTER TABLE audit_events ALTER COLUMN details SET COMPRESSION pglz",
                "ALTER SEQUENCE audit_events_chain_seq INCREMENT BY 2 CACHE 10 CYCLE",
                "ALTER TABLE audit_events REPLICA IDENTITY USING INDEX audit_events_pkey"),
                "compression of column public.audit_events.details (pglz; the migrations make default),"
                + " replica identity of table public.audit_events (index public.audit_events_pkey;"
                + " the migrations make default),"
                + " settings of sequence public.audit_events_chain_seq (as bigint increment 2 minvalue 1"
                + " maxvalue 9223372036854775807 start 1 cache 10 cycle; the migrations make as bigint increment 1"
                + " minvalue 1 maxvalue 9223372036854775807 start 1 cache 1 no cycle)",
                "SELECT seqincrement || ' ' || seqcycle FROM pg_sequence WHERE seqrelid = 'audit_events_chain_seq'::regclass",
                "2 true");
    }

    /**
     * The statistics target of an expression's column in an index the migrations make: the check passed it,
     * and the wipe and the workload undid it (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void anIndexExpressionsStatisticsTargetChangedIsRefusedAndKept() throws Exception {
        Path migrations = Support.ourMigrations(temp.resolve("with-expression-index"));
        Files.writeString(migrations.resolve("000099_actor_lower.up.sql"),
                "CREATE INDEX IF NOT EXISTS idx_audit_events_actor_lower ON audit_events (lower(actor));\n");
        Files.writeString(migrations.resolve("000099_actor_lower.down.sql"), "DROP INDEX IF EXISTS idx_audit_events_actor_lower;\n");
        String database = Support.scratchDatabase();
        ChainTriggerTest.migrate(database, "public", migrations);
        String url = "--db-url=" + Support.url(database);
        assertEquals(0, Support.tool("--mode=in-place-check", url, "--migrations-path=" + migrations).exit());

        Support.execute(database, "ALTER INDEX idx_audit_events_actor_lower ALTER COLUMN 1 SET STATISTICS 500");
        var refused = Support.tool("--mode=in-place-check", url, "--migrations-path=" + migrations);
        assertEquals(3, refused.exit(), refused.describe());
        assertEquals("backupsmoke: " + changedRefusal(database, "statistics targets of index"
                + " public.idx_audit_events_actor_lower (1=500; the migrations make default)") + "\n", refused.err());
        assertEquals("500", Support.one(database, "SELECT attstattarget FROM pg_attribute"
                + " WHERE attrelid = 'idx_audit_events_actor_lower'::regclass"));
    }

    /**
     * A routine of the user's named like one a migration makes and a later one drops again (000009's
     * audit_events_verify_chain_walk(), dropped by 000010): taken for the migrations' own, the check passed
     * and the wipe dropped it (reproduced on PostgreSQL 15). Refused now, kept.
     */
    @Test
    void aUsersRoutineNamedLikeOneTheMigrationsDropAgainIsRefusedAndKept() throws Exception {
        assertUsersRoutineRefusedAndKept("CREATE FUNCTION audit_events_verify_chain_walk() RETURNS int LANGUAGE sql"
                + " AS 'SELECT 7'", "name but the ones it records do not"
                + " leave (a later one drops them, or one not run yet makes them): routine"
                + " public.audit_events_verify_chain_walk()", "SELECT audit_events_verify_chain_walk()", "7");
    }

    /**
     * A database migrated up to 000016, holding a routine of the user's named like one 000021 (not run there
     * yet) makes: the wipe took it for the migrations'. Refused now, kept.
     */
    @Test
    void aUsersRoutineNamedLikeOneAMigrationNotRunYetMakesIsRefusedAndKept() throws Exception {
        Path upTo000016 = Support.ourMigrationsBefore(temp.resolve("up-to-000016"), "000017");
        String database = Support.scratchDatabase();
        ChainTriggerTest.migrate(database, "public", upTo000016);
        Support.execute(database, "CREATE FUNCTION audit_events_chain_lock() RETURNS int LANGUAGE sql AS 'SELECT 9'");
        assertRefusedAndKept(database, "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the"
                + " migrations in " + Support.MIGRATIONS + " name but the ones it records do not leave (a later one"
                + " drops them, or one not run yet makes them): routine public.audit_events_chain_lock()",
                "SELECT audit_events_chain_lock()", "9");
    }

    /**
     * A schema whose name needs quotes ("Tenant"): pg_get_functiondef writes its routines' search_path as
     * 'Tenant', and 000016, which reads the schema's name with to_regnamespace(), pins nothing there; the
     * reference, in backupsmoke_reference_PID, was pinned and spelled '"Tenant"', and every routine was
     * refused as changed (reproduced on PostgreSQL 15). It passes now, and a routine changed there is seen.
     */
    @Test
    void aSchemaWhoseNameNeedsQuotesPassesAndItsChangesAreSeen() throws Exception {
        String database = Support.scratchDatabase();
        ChainTriggerTest.migrate(database, "\"Tenant\"", Support.MIGRATIONS);
        assertNull(refusal(database));
        Support.execute(database, "ALTER FUNCTION \"Tenant\".audit_events_reject_truncate() SET search_path = public");
        assertEquals("3 backupsmoke: " + changedRefusal(database,
                "definition of routine \"Tenant\".audit_events_reject_truncate()") + "\n", refusal(database));
        assertEquals("Tenant_backupsmoke_reference_42", MigrationsReference.referenceName("Tenant", 42));
        assertEquals("x".repeat(33) + "_backupsmoke_reference_1234567",
                MigrationsReference.referenceName("x".repeat(63), 1234567), "cut to 63 bytes");
    }

    /**
     * A check whose reference is cancelled (here by pg_cancel_backend while it waits for a lock on a chain's
     * function, which 000008 re-pins; the tool's own Ctrl-C sends the same cancel) passed, saying only that
     * the objects went uncompared (reproduced on PostgreSQL 15). It fails now; nothing is left behind.
     */
    @Test
    void aCancelledReferenceFailsTheCheckInsteadOfPassingIt() throws Exception {
        String database = migrated(1);
        assertEquals("building the migrations' reference failed: canceling statement due to user request",
                failureBehind(database, "ALTER FUNCTION audit_events_verify_chain() SET work_mem = '64kB'",
                        () -> check(database), other -> Support.execute("postgres", "SELECT pg_cancel_backend(pid)"
                                + " FROM pg_stat_activity WHERE datname = '" + database + "' AND wait_event_type = 'Lock'")));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%backupsmoke%'"));
    }

    /**
     * Migrations the reference cannot run (one that commits on its own, which would commit the reference;
     * as much as a role without CREATE on the database) leave the migrations' objects unseen: the check and
     * the wipe refuse, as on anything else they cannot read, and nothing is dropped or left behind.
     */
    @Test
    void migrationsTheReferenceCannotRunAreRefusedNamingWhy() throws Exception {
        Path migrations = Files.createDirectories(temp.resolve("committing"));
        Files.writeString(migrations.resolve("000001_t.up.sql"), "CREATE TABLE t (id int); COMMIT;");
        String database = Support.scratchDatabase();
        ChainTriggerTest.migrate(database, "public", migrations);
        String refused = "SMOKE_IN_PLACE=1 refused: database " + database + " cannot be checked for changes to the"
                + " migrations' own objects, which the wipe would undo: running the migrations again in a schema of"
                + " their own, to compare with, failed (EXECUTE of transaction commands is not implemented); the role"
                + " needs CREATE on the database and the migrations must run inside a transaction";
        var check = Support.tool("--mode=in-place-check", "--db-url=" + Support.url(database),
                "--migrations-path=" + migrations);
        assertEquals(3, check.exit(), check.describe());
        assertEquals("", check.out());
        assertEquals("backupsmoke: " + refused + "\n", check.err());
        Refusal wipeRefused = assertThrows(Refusal.class, () -> wipe(database, migrations));
        assertEquals(refused, wipeRefused.getMessage());
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_class WHERE relname = 't'"), "t is kept");
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%backupsmoke%'"));
    }

    @Test
    void theMigrationsOwnColumnsAreWordsOfTheirSql() {
        // Every word, inside double quotes too (lower-cased), and the quoted names as written.
        assertEquals(Set.of("create", "table", "t", "id", "int", "my", "col", "x", "y", "My Col", "x\"y"),
                InPlace.identifiersOf("CREATE TABLE t (id int, \"My Col\" int, \"x\"\"y\" int)"));
    }

    @Test
    void anAuditRowTheSmokeTestDidNotWriteIsRefusedEvenWithALookAlikeId() throws Exception {
        String database = migrated(2);
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, "
                + "details, \"timestamp\") VALUES ('audit-smoke-continuity-0001', 'alice', 'User', 'invoice.pay', "
                + "'invoice', 'inv-7', '{}', now())");
        assertEquals("3 backupsmoke: SMOKE_IN_PLACE=1 refused: audit_events in " + database
                + " holds 1 row(s) not written by this smoke test\n", refusal(database));
    }

    /** --mode=in-place-wipe's exit status and its answer (NUL-separated say= entries, NULs shown as |). */
    private static String wipe(String database) throws Exception {
        return wipe(database, Support.MIGRATIONS);
    }

    /** wipe(DATABASE) against the MIGRATIONS given. */
    private static String wipe(String database, Path migrations) throws Exception {
        var answer = new java.io.ByteArrayOutputStream();
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            int status = InPlace.wipe(connector, migrations, new java.io.PrintStream(answer));
            return status + " " + answer.toString(java.nio.charset.StandardCharsets.UTF_8).replace('\0', '|');
        }
    }

    /** Until a session of DATABASE waits for a lock (the wipe, behind an open transaction): 30 s at most. */
    private static void awaitLockWait(String database) throws Exception {
        for (int tries = 0; tries < 300; tries++) {
            if (!Support.one("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + database
                    + "' AND wait_event_type = 'Lock'").equals("0")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no session of " + database + " waits for a lock");
    }

    /** What another session does, given its connection, once a run waits for it. */
    private interface WhileWaited {
        void run(Connection other) throws Exception;
    }

    /**
     * The message RUN (a check or a wipe of DATABASE) fails with when another session, in a transaction,
     * ran HOLDING first, and did THEN once RUN waited for it; that session's transaction ends rolled back
     * unless THEN committed it.
     */
    private static String failureBehind(String database, String holding, java.util.concurrent.Callable<?> run,
            WhileWaited then) throws Exception {
        var running = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (Connection other = Support.connect(database)) {
            other.setAutoCommit(false);
            other.createStatement().execute(holding);
            var ran = running.submit(run);
            awaitLockWait(database);
            then.run(other);
            var failed = assertThrows(java.util.concurrent.ExecutionException.class, ran::get);
            other.rollback();
            return failed.getCause().getMessage();
        } finally {
            running.shutdownNow();
        }
    }

    /** A row another session commits while the wipe waits for it is seen by the check, refused and kept. */
    @Test
    void aRowCommittedWhileTheWipeWaitsIsRefusedAndKept() throws Exception {
        String database = migrated(1);
        assertEquals("SMOKE_IN_PLACE=1 refused: audit_events in " + database
                + " holds 1 row(s) not written by this smoke test", failureBehind(database,
                "INSERT INTO audit_events (id, actor, actor_type, action, resource_type,"
                + " resource_id, details, \"timestamp\") VALUES ('inv-7-paid', 'alice', 'User', 'invoice.pay',"
                + " 'invoice', 'inv-7', '{}', now())", () -> wipe(database), Connection::commit));
        assertEquals("1", Support.one(database, "SELECT count(*) FROM audit_events WHERE actor = 'alice'"));
    }

    @Test
    void theWipeDropsWhatTheMigrationsDeclareAndKeepsExtensions() throws Exception {
        String database = migrated(2);
        assertEquals("0 say=confirmed: no tables in " + database + "|", wipe(database));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                + "c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')"));
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                + "p.pronamespace WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE "
                + "d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')"));
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'"));
        try (Connection connection = Support.connect(database)) {
            assertEquals(List.of(), InPlace.objects(connection), "nothing of the migrations is left");
        }
    }

    /** The wipe checks first, changing nothing when the check refuses; a table left after it fails it. */
    @Test
    void theWipeRefusesWhatTheCheckRefusesAndATableLeftFailsIt() throws Exception {
        String database = migrated(1);
        Support.execute(database, "CREATE SCHEMA other", "CREATE TABLE other.kept (id int)");
        assertEquals("SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in "
                + Support.MIGRATIONS + " do not create: table other.kept",
                assertThrows(Refusal.class, () -> wipe(database)).getMessage());
        assertEquals("1", Support.one(database, "SELECT count(*) FROM pg_class WHERE relname = 'audit_events'"),
                "nothing was changed");
        String leftOver = Support.scratchDatabase();
        Support.execute(leftOver, "CREATE TABLE kept (id int)");
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(leftOver), Map.of()), 10, deadline);
            var said = new java.io.ByteArrayOutputStream();
            assertEquals("wipe left 1 table(s) in " + leftOver, assertThrows(Failure.class,
                    () -> SourceServer.confirmNoTables(connector, leftOver, new java.io.PrintStream(said))).getMessage());
            assertEquals("", said.toString(), "nothing confirmed");
        }
    }
}
