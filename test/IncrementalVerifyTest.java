// --since FILE (issue 13.3, SPEC section 9.8): verify only the rows appended
// after a checkpoint recorded outside the database.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IncrementalVerifyTest {
    @TempDir Path folder;

    /** The file grownSinceCheckpoint() records its checkpoint in. */
    private Path checkpoint;

    @BeforeEach
    void nameTheCheckpoint() {
        checkpoint = folder.resolve("checkpoint.json");
    }

    /** 24 rows, a checkpoint of them in a file, then 6 more rows (positions 24-29, ids more-0000 to more-0005). */
    private String grownSinceCheckpoint() throws Exception {
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

    /** RESULT's client object is CLIENT and its incremental object holds INCREMENTAL (a part of it). */
    private static void assertMismatch(Support.Result result, String client, String incremental) {
        assertEquals(client, clientOf(result));
        assertTrue(incrementalOf(result).contains(incremental), result.out());
    }

    /** since(DATABASE, CHECKPOINT, "--fail-on-break"), which must exit 3: the incremental walk found a break. */
    private Support.Result brokenSince(String database, Path checkpoint) {
        var result = since(database, checkpoint, "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        return result;
    }

    @Test
    void aCleanChainGrownSinceTheCheckpointIsCleanAndOnlyTheNewRowsAreHashed() throws Exception {
        String database = grownSinceCheckpoint();
        var result = since(database, checkpoint, "--fail-on-break");
        assertEquals(0, result.exit(), result.describe());
        assertEquals(incrementalClientJson(30, null, null, null, true), clientOf(result));
        assertEquals(incrementalJson(true, 7, "skipped"), incrementalOf(result));
        assertFalse(result.out().contains("first_break_pos"), "the server's verifier did not run: " + result.out());
    }

    @Test
    void aRowBeforeTheCheckpointIsNotSeenAndTheSnapshotSaysSo() throws Exception {
        String database = grownSinceCheckpoint();
        Support.tamper(database, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0005'");
        var result = since(database, checkpoint);
        assertEquals(incrementalClientJson(30, null, null, null, true), clientOf(result));
        assertTrue(incrementalOf(result).contains("\"earlier_rows_rehashed\": false"), result.out());
        var full = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertTrue(clientOf(full).contains("\"first_break_id\": \"audit-smoke-0005\""), full.out());
    }

    @Test
    void aChangedDeletedOrForgedRowAfterTheCheckpointIsCaught() throws Exception {
        String changed = grownSinceCheckpoint();
        Support.tamper(changed, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'more-0002'");
        assertEquals(incrementalClientJson(30, "more-0002", 26, "modified", true), clientOf(since(changed, checkpoint)));

        String deleted = grownSinceCheckpoint();
        Support.tamper(deleted, "DELETE FROM audit_events WHERE id = 'more-0003'");
        assertEquals(incrementalClientJson(29, "more-0004", 27, "missing_predecessor", true),
                clientOf(since(deleted, checkpoint)));

        String forged = grownSinceCheckpoint();
        Support.execute(forged, "ALTER TABLE audit_events DISABLE TRIGGER USER", ClientVerifyTest.forgedAfter("more-0001"),
                "ALTER TABLE audit_events ENABLE TRIGGER USER");
        var result = brokenSince(forged, checkpoint);
        assertEquals(incrementalClientJson(30, "forged", 26, "fork", true), clientOf(result));
    }

    @Test
    void aRowDeletedFromOrForgedIntoTheTrustedPartIsCaughtByItsCount() throws Exception {
        // Rows before the checkpoint are not read, but they must still be the
        // 23 the checkpoint's chain had before position 23.
        String deleted = grownSinceCheckpoint();
        Support.tamper(deleted, "DELETE FROM audit_events WHERE id = 'audit-smoke-0005'");
        var result = brokenSince(deleted, checkpoint);
        assertMismatch(result, incrementalClientJson(30, null, 23, "expectation_mismatch", true),
                "\"earlier_rows\": 22,");
        assertEquals("backupsmoke: client verification: the checkpoint's chain had 23 rows before position 23, the"
                + " table now holds 22 rows besides those walked: rows before the checkpoint were inserted or deleted"
                + " (earlier_rows in the snapshot); verify without --since to find them\n"
                + "backupsmoke: --fail-on-break: the chain does not hold the expected rows: expectation_mismatch"
                + " position 23\n", result.err());

        // A forged row given an old chain position, linked to an old row: never read, but counted.
        String forged = grownSinceCheckpoint();
        Support.execute(forged, "ALTER TABLE audit_events DISABLE TRIGGER USER",
                ServerVerifierTest.forged("forged-early", ServerVerifierTest.hashOf("audit-smoke-0002"), "3"),
                "ALTER TABLE audit_events ENABLE TRIGGER USER");
        assertMismatch(brokenSince(forged, checkpoint),
                incrementalClientJson(30, null, 23, "expectation_mismatch", true), "\"earlier_rows\": 24,");
    }

    @Test
    void aCheckpointWhoseHeadIsNotInTheChainFails() throws Exception {
        String database = grownSinceCheckpoint();
        Path foreign = Support.write(folder.resolve("foreign.json"),
                "{\"row_count\": 24, \"chain_head_hash\": \"" + "ab".repeat(32) + "\"}");
        assertMismatch(brokenSince(database, foreign),
                incrementalClientJson(23, null, 23, "expectation_mismatch", false), "\"checkpoint_found\": false");
    }

    @Test
    void theServersFullVerifierRunsWhenAskedFor() throws Exception {
        String database = grownSinceCheckpoint();
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
        Support.assertRefused(1, "--since " + notASnapshot + " is not a snapshot: it needs chain_head_hash and"
                + " row_count", since(database, notASnapshot));
        var both = since(database, notASnapshot, "--expect-rows=1");
        assertEquals("backupsmoke: --since cannot be combined with --expect, --expect-head or --expect-rows: the"
                + " checkpoint is the anchor\n", both.err());
    }

    @Test
    void sinceOnALogWithoutChainPositionsSaysWhatItNeeds(@TempDir Path earlier) throws Exception {
        String database = Support.migratedWithWorkload(24);
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        Support.write(checkpoint, verify.out());
        for (String name : java.util.List.of("000001_audit_events.up.sql", "000002_audit_append_only.up.sql",
                "000003_audit_hash_chain.up.sql", "000004_audit_verify_chain.up.sql")) {
            java.nio.file.Files.copy(Support.MIGRATIONS.resolve(name), earlier.resolve(name));
        }
        String before = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(before), "--rows=2", "--migrations-path=" + earlier);

        Support.assertRefused(1, "--since needs the chain position column audit_events.chain_seq (our migration"
                + " 000005) to find the checkpoint without reading the whole chain; verify without --since",
                since(before, checkpoint));
    }
}
