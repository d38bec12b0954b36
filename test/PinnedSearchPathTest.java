// Issue 11 item 1, the migrations' side: every function of ours pins
// `search_path = pg_catalog, <its own schema>, pg_temp` (000016; 000008 had
// `<its own schema>, pg_catalog`), so a schema that comes first in a
// session's path (one named after the role, or a database-wide
// search_path), a temporary table or a namesake of a built-in function
// cannot change what the trigger writes or the verifier reads.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PinnedSearchPathTest {
    static final List<String> OUR_FUNCTIONS = List.of("audit_events_canonical_payload", "audit_events_chain_begin",
            "audit_events_chain_flush", "audit_events_chain_hash", "audit_events_chain_lock",
            "audit_events_reject_change", "audit_events_reject_truncate", "audit_events_row_hash",
            "audit_events_verify_chain", "audit_events_verify_chain_first_modified");

    /**
     * The row trigger (000011) is the one exception: a pin cost as much as the
     * hash on every row, so it names pg_catalog.* and its own schema instead.
     */
    static final String UNPINNED = "audit_events_chain_hash";

    static List<String> pins(String database, String schema) throws Exception {
        return Support.rows(database, "SELECT p.proname || ' ' || coalesce((SELECT c FROM unnest(p.proconfig) AS c "
                + "WHERE c LIKE 'search_path=%'), 'unpinned') FROM pg_proc p "
                + "WHERE p.pronamespace = '" + schema + "'::regnamespace AND p.proname LIKE 'audit_events%' ORDER BY 1");
    }

    static List<String> expectedPins(String schema) {
        return OUR_FUNCTIONS.stream().map(name -> name + " "
                + (name.equals(UNPINNED) ? "unpinned" : "search_path=pg_catalog, " + schema + ", pg_temp")).toList();
    }

    /**
     * A role with INSERT (and CREATE in the schema, which every role had in
     * public up to PostgreSQL 14) made a temporary audit_chain_head for
     * everyone and a split_part() of its own: the chain's SECURITY DEFINER
     * functions, pinned to `public, pg_catalog`, searched pg_temp first and
     * the schema before pg_catalog, so they linked the role's row to the
     * temporary table's head and ran its split_part() with their owner's
     * rights (red-team review). 000016 searches pg_catalog first, pg_temp last.
     */
    @Test
    void aTemporarySentinelOrAFunctionOfTheSameNameChangesNothingTheChainFunctionsDo() throws Exception {
        String database = Support.migratedWithWorkload(3);
        String role = "inserter_" + database;
        String head = Support.one(database, "SELECT row_hash FROM audit_chain_head");
        Support.execute(database, "CREATE ROLE " + role, "GRANT USAGE, CREATE ON SCHEMA public TO " + role,
                "GRANT INSERT ON audit_events TO " + role);
        try {
            Support.execute(database, "SET ROLE " + role,
                    "CREATE TEMPORARY TABLE audit_chain_head (id INTEGER PRIMARY KEY, row_hash TEXT NOT NULL,"
                            + " updated_at TIMESTAMPTZ)",
                    "GRANT ALL ON audit_chain_head TO PUBLIC",
                    "INSERT INTO audit_chain_head VALUES (1, repeat('f', 64), NOW())",
                    "CREATE FUNCTION public.split_part(TEXT, TEXT, INTEGER) RETURNS TEXT LANGUAGE sql"
                            + " AS $$ SELECT pg_catalog.split_part($1, $2, $3) || current_user $$",
                    "INSERT INTO public.audit_events (id, actor, actor_type, action, resource_type, resource_id)"
                            + " VALUES ('late', 'a', 'User', 'act', 'rt', 'ri')");
            assertEquals(head, Support.one(database, "SELECT prev_hash FROM audit_events WHERE id = 'late'"));
            assertEquals("t", Support.one(database, "SELECT (SELECT row_hash FROM audit_chain_head)"
                    + " = (SELECT row_hash FROM audit_events WHERE id = 'late')"));
            assertEquals("null|-1|4", Support.one(database,
                    "SELECT first_break_id, first_break_pos, row_count FROM public.audit_events_verify_chain()"));
        } finally {
            Support.execute(database, "DROP OWNED BY " + role);
            Support.execute("postgres", "DROP ROLE " + role);
        }
    }

    @Test
    void migration000016sDownRestoresTheEarlierPins() throws Exception {
        String database = Support.migratedWithWorkload(0);
        Support.execute(database, java.nio.file.Files.readString(
                Support.MIGRATIONS.resolve("000016_audit_pin_catalog_first.down.sql")));
        assertEquals(OUR_FUNCTIONS.stream().map(name -> name + " "
                + (name.equals(UNPINNED) ? "unpinned" : "search_path=public, pg_catalog")).toList(),
                pins(database, "public"));
    }

    /**
     * 000016 looked its schema up as SQL reads a name: a schema whose name needs quotes kept the old pins
     * ("Tenant") or failed the migration ("Audit Log"). Both are pinned like any other now.
     */
    @Test
    void aSchemaWhoseNameNeedsQuotesIsPinnedLikeAnyOther() throws Exception {
        for (String schema : List.of("Tenant", "Audit Log")) {
            String database = Support.scratchDatabase();
            Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--schema=" + schema, "--rows=2");
            String quoted = "\"" + schema + "\"";
            assertEquals(expectedPins(quoted), pins(database, quoted), schema);
        }
    }

    /** A database 000016 left with the old pins in "Tenant" gets 000016's from 000022, nothing else changed. */
    @Test
    void migration000022PinsWhat000016MissedInAQuotedSchema(@TempDir Path before000022) throws Exception {
        String lookup = "p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n"
                + " WHERE n.nspname = pg_catalog.current_schema())";
        try (var files = Files.list(Support.MIGRATIONS)) {
            for (Path file : files.filter(f -> f.getFileName().toString().compareTo("000022") < 0).toList()) {
                String text = Files.readString(file);
                assertTrue(!file.getFileName().toString().startsWith("000016") || text.contains(lookup), file.toString());
                // 000016 as it was before it was edited: its schema looked up as SQL reads a name.
                Files.writeString(before000022.resolve(file.getFileName()), text.replace(lookup,
                        "p.pronamespace = pg_catalog.to_regnamespace(pg_catalog.current_schema())"));
            }
        }
        String database = Support.scratchDatabase();
        String url = "--db-url=" + Support.url(database);
        Support.toolOk("--mode=workload", url, "--schema=Tenant", "--rows=2", "--migrations-path=" + before000022);
        assertEquals("audit_events_canonical_payload search_path=\"Tenant\", pg_catalog",
                pins(database, "\"Tenant\"").get(0));
        Support.toolOk("--mode=workload", url, "--schema=Tenant", "--rows=0");
        assertEquals(expectedPins("\"Tenant\""), pins(database, "\"Tenant\""));
        assertEquals("2", Support.one(database, "SELECT row_count FROM \"Tenant\".audit_events_verify_chain()"));
    }

    @Test
    void everyFunctionIsPinnedToItsOwnSchemaAndStillHashesTheTestVectors() throws Exception {
        String database = Support.migratedWithWorkload(0);
        assertEquals(expectedPins("public"), pins(database, "public"));
        SchemaTest.insertTestVectors(database);
        SchemaTest.assertTestVectorHashes(database);
        // audit_events_row_hash() no longer needs pgcrypto on its path.
        assertEquals("3", Support.one(database, "SELECT count(*) FROM audit_events WHERE row_hash = "
                + "audit_events_row_hash(prev_hash, id, actor, actor_type, action, resource_type, resource_id, details, "
                + "\"timestamp\", event_category)"));
    }

    @Test
    void aShadowSchemaNamedAfterTheRoleChangesNothingTheTriggerAndVerifierRead() throws Exception {
        String database = Support.migratedWithWorkload(5);
        String shadow = Support.USER;
        String headBefore = Support.one(database, "SELECT row_hash FROM public.audit_chain_head");
        Support.execute(database,
                "CREATE SCHEMA \"" + shadow + "\"",
                "CREATE TABLE \"" + shadow + "\".audit_events AS SELECT * FROM public.audit_events",
                "CREATE TABLE \"" + shadow + "\".audit_chain_head AS SELECT * FROM public.audit_chain_head");
        assertEquals(shadow, Support.one(database, "SELECT current_schema()"));

        // The trigger links to and advances the real sentinel, not the copy's.
        Support.execute(database, "INSERT INTO public.audit_events (id, actor, actor_type, action, resource_type, "
                + "resource_id) VALUES ('late', 'a', 'User', 'act', 'rt', 'ri')");
        assertEquals(headBefore, Support.one(database, "SELECT prev_hash FROM public.audit_events WHERE id = 'late'"));
        assertEquals("t|" + headBefore, Support.one(database, "SELECT (SELECT row_hash FROM public.audit_chain_head) = "
                + "(SELECT row_hash FROM public.audit_events WHERE id = 'late'), (SELECT row_hash FROM audit_chain_head)"));

        // Tampering with the real table shows although the copy is clean.
        Support.execute(database,
                "ALTER TABLE public.audit_events DISABLE TRIGGER audit_events_append_only",
                "DELETE FROM public.audit_events WHERE id = 'audit-smoke-0002'",
                "ALTER TABLE public.audit_events ENABLE TRIGGER audit_events_append_only");
        assertEquals("audit-smoke-0003|2|3", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM public.audit_events_verify_chain()"));
        Support.execute(database, "ALTER DATABASE " + database + " SET search_path = \"" + shadow + "\", public");
        assertEquals("audit-smoke-0003|2|3", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM public.audit_events_verify_chain()"));
    }

    @Test
    void migrationsRunInAnotherSchemaPinThatSchema() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database, "CREATE SCHEMA tenant");
        // The tool never takes the session's search_path for where to install: --schema says it.
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--schema=tenant", "--rows=4");
        assertEquals(expectedPins("tenant"), pins(database, "tenant"));
        // A session on another path still links and verifies in tenant.
        Support.execute(database,
                "CREATE TABLE public.audit_chain_head (id INTEGER PRIMARY KEY, row_hash TEXT NOT NULL, updated_at TIMESTAMPTZ)",
                "INSERT INTO public.audit_chain_head VALUES (1, 'decoy', NOW())",
                "INSERT INTO tenant.audit_events (id, actor, actor_type, action, resource_type, resource_id) "
                        + "VALUES ('late', 'a', 'User', 'act', 'rt', 'ri')");
        assertEquals("null|-1|5", Support.one(database,
                "SELECT first_break_id, first_break_pos, row_count FROM tenant.audit_events_verify_chain()"));
        assertEquals("decoy", Support.one(database, "SELECT row_hash FROM public.audit_chain_head"));
    }
}
