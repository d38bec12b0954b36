// Client-side verification, anchoring, --fail-on-break and --mode=selftest
// through the tool, against real tampering on a real server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

class ClientVerifyTest {
    @TempDir Path folder;

    private static String clientOf(Support.Result result) {
        String out = Support.withoutIntegrity(result.out());
        int start = out.indexOf("\"client\": {");
        return start < 0 ? "" : out.substring(start, out.indexOf('}', start) + 1);
    }

    /**
     * An INSERT of a row "forged" whose prev_hash is the hash of row ID and whose row_hash is right for
     * it: a fork at ID's successor (run with the chain trigger off, which would link it to the head).
     */
    static String forgedAfter(String id) {
        return """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                          "timestamp", prev_hash, row_hash)
                SELECT 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}', e."timestamp", e.row_hash,
                       audit_events_row_hash(e.row_hash, 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}',
                                             e."timestamp", 'cert_lifecycle')
                FROM audit_events e WHERE e.id = '""" + id + "'";
    }

    @Test
    void deletedNewestRowsPassTheServerButNotTheClient() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Support.tamper(database, "DELETE FROM audit_events WHERE id > 'audit-smoke-0020'");
        assertEquals(Support.snapshotJson("verify", 21, Support.FIXED_HEAD_24,
                "\"first_break_pos\": -1", "\"verifier_walked\": 21",
                Support.clientJson(21, "audit-smoke-0020", 20, "sentinel_mismatch", false, 0, false)),
                Support.verifySnapshot(database));
    }

    @Test
    void aForgedRowIsAForkAtItsClaimedPosition() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Support.execute(database, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain",
                forgedAfter("audit-smoke-0004"),
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain");
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.clientJson(24, "forged", 5, "fork", true, 0, true), clientOf(result));
    }

    @Test
    void aTimestampWithoutUtcTextIsAModifiedRowNotACrash() throws Exception {
        String database = Support.migratedWithWorkload(10);
        Support.tamper(database, "UPDATE audit_events SET \"timestamp\" = 'infinity' WHERE id = 'audit-smoke-0005'");
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        // Issue 18 item 6: a timestamp the payload cannot express is also ambiguous, and said so.
        assertEquals(Support.clientJson(10, "audit-smoke-0005", 5, "modified", true, 1, true).replace(
                "\"ambiguous_rows\": 1,\n", "\"ambiguous_rows\": 1,\n    \"first_ambiguous_id\": \"audit-smoke-0005\",\n"),
                clientOf(result));
        assertEquals("backupsmoke: client verification: 1 ambiguous row, whose payload another row could share;"
                + " the first, audit-smoke-0005: its timestamp infinity has no text in the payload\n", result.err());
    }

    @Test
    void failOnBreakExits3AndStillPrintsTheSnapshot() throws Exception {
        String database = Support.migratedWithWorkload(24);
        var clean = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(0, clean.exit(), clean.describe());
        Support.tamper(database, "UPDATE audit_events SET resource_id = 'mc-other' WHERE id = 'audit-smoke-0012'");
        var broken = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(3, broken.exit(), broken.describe());
        assertEquals(Support.clientJson(24, "audit-smoke-0012", 12, "modified", true, 0, true), clientOf(broken));
        var lenient = Support.tool("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(0, lenient.exit(), "without --fail-on-break verify exits 0 whatever the verdict");
    }

    @Test
    void anExpectationFromAWorkloadSnapshotHoldsOnTheSameChain() throws Exception {
        String database = Support.scratchDatabase();
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--start-time=" + Support.FIXED_START);
        Path snapshot = Support.write(folder.resolve("pre.json"), workload.out());
        var result = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--expect=" + snapshot,
                "--fail-on-break");
        assertEquals(0, result.exit(), result.describe());
        assertTrue(clientOf(result).contains("\"expectations_met\": true"), clientOf(result));
    }

    @Test
    void aConsistentlyRewrittenTailIsCaughtOnlyByTheAnchor() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Support.tamper(database, """
                DO $$
                DECLARE r RECORD; prev TEXT := (SELECT row_hash FROM audit_events WHERE id = 'audit-smoke-0019'); h TEXT;
                BEGIN
                    FOR r IN SELECT * FROM audit_events WHERE id > 'audit-smoke-0019' ORDER BY id LOOP
                        h := audit_events_row_hash(prev, r.id, 'mallory', r.actor_type, r.action, r.resource_type,
                                                   r.resource_id, r.details, r."timestamp", r.event_category);
                        UPDATE audit_events SET actor = 'mallory', prev_hash = prev, row_hash = h WHERE id = r.id;
                        prev := h;
                    END LOOP;
                    UPDATE audit_chain_head SET row_hash = prev WHERE id = 1;
                END $$""");
        var unanchored = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(0, unanchored.exit(), unanchored.describe());
        var anchored = Support.tool("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break",
                "--expect-head=" + Support.FIXED_HEAD_24, "--expect-rows=24");
        assertEquals(3, anchored.exit(), anchored.describe());
        // The server's verdict (clean) agrees on the chain; the anchor is the client's alone (issue 18 item 10).
        assertEquals(Support.clientJson(24, "audit-smoke-0023", 23, "expectation_mismatch", true, 0, true, false),
                clientOf(anchored));
    }

    @Test
    void malformedExpectationsAreRefused() throws Exception {
        String database = Support.migratedWithWorkload(1);
        Support.refused(1, "--expect-head must be a chain head: 64 lowercase hex digits (or empty for an empty "
                + "chain), got \"ABC\"", "--mode=verify", "--db-url=" + Support.url(database), "--expect-head=ABC");
        Path notASnapshot = Support.write(folder.resolve("other.json"), "{\"rows\": 3}");
        Support.refused(1, "--expect " + notASnapshot + " is not a snapshot: it needs chain_head_hash and "
                + "row_count", "--mode=verify", "--db-url=" + Support.url(database), "--expect=" + notASnapshot);
    }

    @Test
    void noClientVerifyLeavesOnlyTheServersVerdict() throws Exception {
        String database = Support.migratedWithWorkload(3);
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database), "--no-client-verify");
        assertFalse(result.out().contains("\"client\""), result.out());
    }

    @Test
    void integrityFingerprintNamesEveryTriggerAndTheVerifier() throws Exception {
        String database = Support.migratedWithWorkload(1);
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        String definitionHash = Support.one(database, "SELECT encode(sha256(convert_to(pg_get_functiondef("
                + "'audit_events_chain_hash()'::regprocedure), 'UTF8')), 'hex')");
        assertTrue(result.out().contains("\"trigger audit_events_chain on public.audit_events\": \"enabled BEFORE INSERT "
                + "public.audit_events_chain_hash() sha256:" + definitionHash + "\""), result.out());
        assertTrue(result.out().contains("\"trigger audit_events_append_only on public.audit_events\": \"enabled BEFORE UPDATE DELETE "
                + "public.audit_events_reject_change() sha256:"), result.out());
        assertTrue(result.out().contains("\"verifier public.audit_events_verify_chain()\": \"sha256:"), result.out());
        Support.execute(database, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain");
        var disabled = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertTrue(disabled.out().contains("\"trigger audit_events_chain on public.audit_events\": \"disabled BEFORE INSERT"), disabled.out());
    }

    @Test
    void integrityFingerprintCoversTheHelpersTheVerifierCalls() throws Exception {
        // Our verifier hands its hashing to audit_events_verify_chain_first_modified():
        // a rigged helper changes the server's verdict as surely as a rigged
        // verifier, so the fingerprint must change with it.
        String database = Support.migratedWithWorkload(1);
        String helper = "\"function public.audit_events_verify_chain_first_modified()\": \"sha256:";
        String before = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database)).out();
        String walkHash = Support.one(database, "SELECT encode(sha256(convert_to(pg_get_functiondef("
                + "'audit_events_verify_chain_first_modified()'::regprocedure), 'UTF8')), 'hex')");
        assertTrue(before.contains(helper + walkHash + "\""), before);
        Support.execute(database, "CREATE OR REPLACE FUNCTION audit_events_verify_chain_first_modified()"
                + " RETURNS SETOF TEXT LANGUAGE sql AS $$ SELECT NULL::text WHERE false $$");
        String after = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database)).out();
        assertTrue(after.contains(helper), after);
        assertFalse(after.contains(helper + walkHash + "\""), after);
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void selftestCatchesEveryTamperingAndKeepsTheControlsClean() throws Exception {
        List<String> before = Support.databases();
        var result = Support.tool("--mode=selftest", "--db-url=" + Support.url("postgres"));
        assertEquals(0, result.exit(), result.describe());
        List<String> lines = result.out().lines().toList();
        assertEquals(List.of(
                "change one field of a middle row|modified audit-smoke-0007@7|ok",
                "delete a middle row|missing_predecessor audit-smoke-0011@10|ok",
                "delete the newest rows|sentinel_mismatch audit-smoke-0020@20|ok",
                "delete the genesis row|no_genesis audit-smoke-0001@0|ok",
                "insert a forged row claiming an existing predecessor|fork forged-0001@11|ok",
                "truncate timestamps to milliseconds|modified audit-smoke-0001@1|ok",
                "rig the server verifier, then change a row|modified audit-smoke-0015@15|ok",
                "rewrite the sentinel|sentinel_mismatch audit-smoke-0023@23|ok",
                "rewrite tail and sentinel consistently, no anchor|clean|ok",
                "rewrite tail and sentinel consistently, anchored|expectation_mismatch audit-smoke-0023@23|ok",
                "control: backdated insert|clean|ok",
                "control: two writers commit in reversed order|clean|ok",
                "control: a field containing '|'|clean, 1 ambiguous|ok"),
                lines.subList(1, lines.size() - 1).stream().map(ClientVerifyTest::caseClientAndResult).toList());
        assertTrue(lines.get(lines.size() - 2).matches("control: a field containing '\\|'\\s+clean, 1 ambiguous\\s+"
                + "clean, 1 ambiguous\\s+clean\\s+ok"), lines.get(lines.size() - 2));
        assertEquals("selftest: all 13 cases behaved as expected", lines.get(lines.size() - 1));
        assertEquals(before, Support.databases());
    }

    /** "case  expected  client  server  ok" -> "case|client|ok", columns being two or more spaces apart. */
    private static String caseClientAndResult(String line) {
        String[] columns = line.split(" {2,}");
        return columns[0] + "|" + columns[2] + "|" + columns[columns.length - 1];
    }
}
