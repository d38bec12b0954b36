// --since FILE (issue 13.3, SPEC section 9.8): verify only the rows appended
// after a checkpoint recorded outside the database.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IncrementalVerifyTest {
    @TempDir Path folder;

    /** 24 rows, a checkpoint of them in a file, then 6 more rows (positions 24-29, ids more-0000 to more-0005). */
    private String grownSinceCheckpoint(Path checkpoint) throws Exception {
        String database = Support.migratedWithWorkload(24);
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        Support.write(checkpoint, verify.out());
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=6", "--id-prefix=more-");
        return database;
    }

    private static String clientOf(Support.Result result) {
        String out = Support.withoutIntegrity(result.out());
        int start = out.indexOf("\"client\": {");
        return start < 0 ? "" : out.substring(start, out.indexOf('}', start) + 1);
    }

    private static String incrementalOf(Support.Result result) {
        String out = result.out();
        int start = out.indexOf("\"incremental\": {");
        return start < 0 ? "" : out.substring(start, out.indexOf('}', start) + 1);
    }

    private static String incrementalJson(boolean found, int rowsHashed, String server) {
        return "\"incremental\": {\n"
                + "    \"since_position\": 23,\n"
                + "    \"since_head\": \"" + Support.FIXED_HEAD_24 + "\",\n"
                + "    \"checkpoint_found\": " + found + ",\n"
                + "    \"rows_hashed\": " + rowsHashed + ",\n"
                + "    \"earlier_rows\": 23,\n"
                + "    \"earlier_rows_rehashed\": false,\n"
                + "    \"server_verifier\": \"" + server + "\"\n"
                + "  }";
    }

    /** The client object of an incremental run: no agrees_with_server, the server did not run. */
    private static String incrementalClientJson(int walked, String breakId, Integer breakPos, String breakKind,
                                                boolean sentinelMatches) {
        return Support.clientJson(walked, breakId, breakPos, breakKind, sentinelMatches, 0, true)
                .replace(",\n    \"agrees_with_server\": true", "");
    }

    private Support.Result since(String database, Path checkpoint, String... more) {
        String[] args = new String[3 + more.length];
        args[0] = "--mode=verify";
        args[1] = "--db-url=" + Support.url(database);
        args[2] = "--since=" + checkpoint;
        System.arraycopy(more, 0, args, 3, more.length);
        return Support.tool(args);
    }

    @Test
    void aCleanChainGrownSinceTheCheckpointIsCleanAndOnlyTheNewRowsAreHashed() throws Exception {
        Path checkpoint = folder.resolve("checkpoint.json");
        String database = grownSinceCheckpoint(checkpoint);
        var result = since(database, checkpoint, "--fail-on-break");
        assertEquals(0, result.exit(), result.describe());
        assertEquals(incrementalClientJson(30, null, null, null, true), clientOf(result));
        assertEquals(incrementalJson(true, 7, "skipped"), incrementalOf(result));
        assertFalse(result.out().contains("first_break_pos"), "the server's verifier did not run: " + result.out());
    }

    @Test
    void aRowBeforeTheCheckpointIsNotSeenAndTheSnapshotSaysSo() throws Exception {
        Path checkpoint = folder.resolve("checkpoint.json");
        String database = grownSinceCheckpoint(checkpoint);
        Support.tamper(database, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0005'");
        var result = since(database, checkpoint);
        assertEquals(incrementalClientJson(30, null, null, null, true), clientOf(result));
        assertTrue(incrementalOf(result).contains("\"earlier_rows_rehashed\": false"), result.out());
        var full = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertTrue(clientOf(full).contains("\"first_break_id\": \"audit-smoke-0005\""), full.out());
    }

    @Test
    void aChangedDeletedOrForgedRowAfterTheCheckpointIsCaught() throws Exception {
        Path checkpoint = folder.resolve("checkpoint.json");
        String changed = grownSinceCheckpoint(checkpoint);
        Support.tamper(changed, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'more-0002'");
        assertEquals(incrementalClientJson(30, "more-0002", 26, "modified", true), clientOf(since(changed, checkpoint)));

        String deleted = grownSinceCheckpoint(checkpoint);
        Support.tamper(deleted, "DELETE FROM audit_events WHERE id = 'more-0003'");
        assertEquals(incrementalClientJson(29, "more-0004", 27, "missing_predecessor", true),
                clientOf(since(deleted, checkpoint)));

        String forged = grownSinceCheckpoint(checkpoint);
        Support.execute(forged, "ALTER TABLE audit_events DISABLE TRIGGER USER", """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                          "timestamp", prev_hash, row_hash)
                SELECT 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}', e."timestamp", e.row_hash,
                       audit_events_row_hash(e.row_hash, 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}',
                                             e."timestamp", 'cert_lifecycle')
                FROM audit_events e WHERE e.id = 'more-0001'""",
                "ALTER TABLE audit_events ENABLE TRIGGER USER");
        var result = since(forged, checkpoint, "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        assertEquals(incrementalClientJson(30, "forged", 26, "fork", true), clientOf(result));
    }

    @Test
    void aRowDeletedFromOrForgedIntoTheTrustedPartIsCaughtByItsCount() throws Exception {
        // Rows before the checkpoint are not read, but they must still be the
        // 23 the checkpoint's chain had before position 23.
        Path checkpoint = folder.resolve("checkpoint.json");
        String deleted = grownSinceCheckpoint(checkpoint);
        Support.tamper(deleted, "DELETE FROM audit_events WHERE id = 'audit-smoke-0005'");
        var result = since(deleted, checkpoint, "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        assertEquals(incrementalClientJson(30, null, 23, "expectation_mismatch", true), clientOf(result));
        assertTrue(incrementalOf(result).contains("\"earlier_rows\": 22,"), result.out());
        assertEquals("backupsmoke: client verification: the checkpoint's chain had 23 rows before position 23, the"
                + " table now holds 22 rows besides those walked: rows before the checkpoint were inserted or deleted"
                + " (earlier_rows in the snapshot); verify without --since to find them\n"
                + "backupsmoke: --fail-on-break: the chain does not hold the expected rows: expectation_mismatch"
                + " position 23\n", result.err());

        // A forged row given an old chain position, linked to an old row: never read, but counted.
        String forged = grownSinceCheckpoint(checkpoint);
        Support.execute(forged, "ALTER TABLE audit_events DISABLE TRIGGER USER",
                ServerVerifierTest.forged("forged-early", ServerVerifierTest.hashOf("audit-smoke-0002"), "3"),
                "ALTER TABLE audit_events ENABLE TRIGGER USER");
        var caught = since(forged, checkpoint, "--fail-on-break");
        assertEquals(3, caught.exit(), caught.describe());
        assertEquals(incrementalClientJson(30, null, 23, "expectation_mismatch", true), clientOf(caught));
        assertTrue(incrementalOf(caught).contains("\"earlier_rows\": 24,"), caught.out());
    }

    @Test
    void aCheckpointWhoseHeadIsNotInTheChainFails() throws Exception {
        Path checkpoint = folder.resolve("checkpoint.json");
        String database = grownSinceCheckpoint(checkpoint);
        Path foreign = Support.write(folder.resolve("foreign.json"),
                "{\"row_count\": 24, \"chain_head_hash\": \"" + "ab".repeat(32) + "\"}");
        var result = since(database, foreign, "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        assertEquals(incrementalClientJson(23, null, 23, "expectation_mismatch", false), clientOf(result));
        assertTrue(incrementalOf(result).contains("\"checkpoint_found\": false"), result.out());
    }

    @Test
    void theServersFullVerifierRunsWhenAskedFor() throws Exception {
        Path checkpoint = folder.resolve("checkpoint.json");
        String database = grownSinceCheckpoint(checkpoint);
        var result = since(database, checkpoint, "--full-server-verify");
        assertEquals(0, result.exit(), result.describe());
        assertTrue(result.out().contains("\"first_break_pos\": -1,\n  \"verifier_walked\": 30,"), result.out());
        assertEquals(Support.cleanClientJson(30), clientOf(result));
        assertEquals(incrementalJson(true, 7, "run"), incrementalOf(result));
    }

    @Test
    void sinceRefusesAnExpectationAndAFileThatIsNoSnapshot() throws Exception {
        String database = Support.migratedWithWorkload(1);
        Path notASnapshot = Support.write(folder.resolve("other.json"), "{\"rows\": 3}");
        var bad = since(database, notASnapshot);
        assertEquals(1, bad.exit(), bad.describe());
        assertEquals("backupsmoke: --since " + notASnapshot + " is not a snapshot: it needs chain_head_hash and"
                + " row_count\n", bad.err());
        var both = since(database, notASnapshot, "--expect-rows=1");
        assertEquals("backupsmoke: --since cannot be combined with --expect, --expect-head or --expect-rows: the"
                + " checkpoint is the anchor\n", both.err());
    }
}
