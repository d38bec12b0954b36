// Tampering that leaves every stored hash valid, found by a red-team review
// of verify: each one through the command users run (verify --expect
// --fail-on-break), which exited 0, chain clean and anchor met, before its fix.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashKeepingTamperTest {
    @TempDir Path folder;

    /** A 24-row log and the workload snapshot recorded before anyone touches it (the anchor). */
    private record Anchored(String database, Path snapshot) {}

    private Anchored anchoredLog() throws Exception {
        String database = Support.migratedWithWorkload(24);
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0");
        return new Anchored(database, Support.write(folder.resolve(database + ".json"), workload.out()));
    }

    private static Support.Result verify(String url, Anchored log) {
        return Support.tool("--mode=verify", "--db-url=" + url, "--expect=" + log.snapshot(), "--fail-on-break");
    }

    /**
     * RESULT exited 3 with both verdicts on audit-smoke-0005 (position 5):
     * the server's verifier broken there, the client's walk modified there.
     */
    private static void assertModifiedAtTheSixthRow(Support.Result result) {
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.out().contains("  \"first_break_id\": \"audit-smoke-0005\",\n  \"first_break_pos\": 5,\n"
                + "  \"verifier_walked\": 6,\n"), result.out());
        assertTrue(result.out().contains("    \"first_break_id\": \"audit-smoke-0005\",\n    \"first_break_pos\": 5,\n"
                + "    \"break_kind\": \"modified\",\n"), result.out());
        assertTrue(result.out().contains("\"agrees_with_server\": true"), result.out());
        assertTrue(result.err().endsWith("backupsmoke: --fail-on-break: the server's verifier breaks at"
                + " audit-smoke-0005 position 5\n"), result.err());
    }

    /**
     * TAMPER changes the sixth row (audit-smoke-0005), HIDING then makes PROBE read it back as EXPECTED
     * (the trick works), and verify still finds the row modified by both verdicts.
     */
    private void assertFoundDespite(String tamper, List<String> hiding, String probe, String expected)
            throws Exception {
        Anchored log = anchoredLog();
        Support.tamper(log.database(), tamper + " WHERE id = 'audit-smoke-0005'");
        Support.execute(log.database(), hiding.toArray(String[]::new));
        assertEquals(expected, Support.one(log.database(), probe + " FROM audit_events WHERE id = 'audit-smoke-0005'"));
        assertModifiedAtTheSixthRow(verify(Support.url(log.database()), log));
    }

    /**
     * to_char's YYYY prints a year without its era, so a row moved to the
     * same instant BC keeps its hash: any row's timestamp could be moved
     * 4,000 years back while both verdicts stayed clean. The client's walk
     * called it modified first; since migration 000017 the server's
     * verifier does too.
     */
    @Test
    void aTimestampMovedToItsEraBcIsAModifiedRow() throws Exception {
        assertFoundDespite("UPDATE audit_events SET \"timestamp\" = (to_char(\"timestamp\" AT TIME ZONE 'UTC',"
                + " 'YYYY-MM-DD HH24:MI:SS.US') || '+00 BC')::timestamptz", List.of(),
                "SELECT to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US BC')",
                "2026-05-16 12:00:00.000005 BC");
    }

    /**
     * A cast from jsonb to text (a superuser's CREATE CAST) makes
     * details::text print what it likes: changed details read back as the
     * original text, for the server's verifier (until migration 000017)
     * and, before, for the client. Both print jsonb as COPY does now.
     */
    @Test
    void aCastFromJsonbToTextDoesNotHideChangedDetails() throws Exception {
        assertFoundDespite("UPDATE audit_events SET details = '{\"amount\": 1000000}'", List.of("""
                CREATE FUNCTION public.as_recorded(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
                    SELECT CASE WHEN j = '{"amount": 1000000}' THEN '{}' ELSE pg_catalog.jsonb_out(j)::text END $$""",
                "CREATE CAST (jsonb AS text) WITH FUNCTION public.as_recorded(jsonb)"), "SELECT details::text", "{}");
    }

    /**
     * The audit schema's owner (no superuser) changed a row's actor and put
     * an ||(text, character varying) in the schema that prints the recorded
     * actor: PostgreSQL takes that exact match before pg_catalog's ||, which
     * needs the varchar converted, so the server's verifier hashed the old
     * text and called the chain clean (the client, hashing in Java, did
     * not). Since migration 000017 every piece of its payload is text.
     */
    @Test
    void anOperatorInTheAuditSchemaDoesNotHideAChangedActor() throws Exception {
        assertFoundDespite("UPDATE audit_events SET actor = 'mallory'", List.of("""
                CREATE FUNCTION public.as_recorded(a text, b varchar) RETURNS text LANGUAGE sql IMMUTABLE AS $$
                    SELECT pg_catalog.textcat(a, CASE WHEN b::text = 'mallory' THEN 'smoke-actor' ELSE b::text END) $$""",
                "CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = varchar, FUNCTION = public.as_recorded)"),
                "SELECT '|'::text || actor", "|smoke-actor");
    }

    /**
     * A policy hid a forged row from the verifying role: the role walked a
     * clean chain while every other reader saw the row. Verify now refuses
     * to judge what it cannot see whole; a role that bypasses the policy
     * sees the row and the break.
     */
    @Test
    void rowsHiddenByRowLevelSecurityAreNotJudgedClean() throws Exception {
        Anchored log = anchoredLog();
        String role = "rls_" + log.database();
        Support.execute("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD 'not-a-secret'");
        try {
            Support.execute(log.database(), "SET session_replication_role = replica", "INSERT INTO audit_events (id, actor, actor_type, action, resource_type,"
                    + " resource_id, details, prev_hash, row_hash) VALUES ('forged', 'mallory', 'User',"
                    + " 'certificate.issue', 'certificate', 'mc-1', '{}', NULL, repeat('0', 64))");
            Support.execute(log.database(), "GRANT USAGE ON SCHEMA public TO " + role,
                    "GRANT SELECT ON audit_events, audit_chain_head TO " + role,
                    "ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY",
                    "CREATE POLICY not_the_forged_row ON audit_events FOR SELECT TO " + role
                            + " USING (id <> 'forged')");
            String url = "postgres://" + role + ":not-a-secret@" + Support.HOST + ":" + Support.PORT + "/" + log.database()
                    + "?sslmode=disable";
            var hidden = verify(url, log);
            assertEquals(1, hidden.exit(), hidden.describe());
            assertEquals("backupsmoke: row-level security applies to role " + role + " on public.audit_events: its"
                    + " policies may hide rows from verify, which judges only a chain it sees whole; verify as a"
                    + " superuser, a role with BYPASSRLS, or the table's owner (without FORCE ROW LEVEL SECURITY)\n",
                    hidden.err());
            assertEquals("", hidden.out());

            var whole = verify(Support.url(log.database()), log);
            assertEquals(3, whole.exit(), whole.describe());
            assertTrue(whole.out().contains("\"break_kind\": \"multiple_genesis\""), whole.out());
        } finally {
            Support.execute(log.database(), "DROP OWNED BY " + role);
            Support.execute("postgres", "DROP ROLE " + role);
        }
    }
}
