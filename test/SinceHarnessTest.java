// SMOKE_SINCE (SPEC section 9.8): with SMOKE_IN_PLACE=1 the harness keeps a
// long-lived audit log from run to run and verifies each restore from the
// checkpoint the last passing run wrote, hashing only the newer rows. The
// same database's first run is a plain in-place round trip (SMOKE_IN_PLACE=1
// alone), which the next run finds and resets.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

/** End to end: every test runs the whole harness. */
@Tag("e2e")
class SinceHarnessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path temp;

    private Support.Result harness(String database, Path checkpoint, String... more) {
        Map<String, String> env = new HashMap<>(Support.configuredServer("PGDATABASE", database,
                "SMOKE_IN_PLACE", "1", "SMOKE_SINCE", checkpoint.toString()));
        env.putAll(Support.env(more));
        return Support.harness(temp, env);
    }

    private static String headAt(String database, int position) throws Exception {
        return Support.one(database, "SELECT row_hash FROM audit_events ORDER BY chain_seq OFFSET " + position
                + " LIMIT 1");
    }

    private static void assertPass(Support.Result result, int rows) {
        assertEquals(0, result.exit(), result.describe());
        Matcher pass = HarnessTest.PASS_LINE.matcher(Support.lastLine(result.out()));
        assertTrue(pass.matches(), result.out());
        assertEquals(String.valueOf(rows), pass.group(1), result.out());
    }

    /**
     * One database, four runs: in place without SMOKE_SINCE, then three with it (the first resets, the
     * second verifies from the checkpoint, the third has a forged one).
     */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void aLongLivedLogIsVerifiedFromTheLastRunsCheckpointAndAForgedOneFailsAndIsKept() throws Exception {
        String database = Support.scratchDatabase();
        Path checkpoint = temp.resolve("checkpoint.json");

        // SMOKE_IN_PLACE=1 alone round-trips the empty database: the restored 24 rows plus the 8 the
        // continuity check appended stay.
        var inPlace = Support.harness(temp, Support.configuredServer("PGDATABASE", database, "SMOKE_IN_PLACE", "1"));
        assertPass(inPlace, 24);
        assertEquals("32", Support.one(database, "SELECT count(*) FROM audit_events"));

        // First run with SMOKE_SINCE: no checkpoint yet, so the clean start of any in-place run (it finds
        // only what the run before left, and resets it), a full verify, and the checkpoint written.
        var first = harness(database, checkpoint);
        assertPass(first, 24);
        assertTrue(first.err().contains("in place: database " + database + " held only what the migrations create;"
                + " reset\n"), first.err());
        assertEquals(1, first.err().split("only what the migrations create", -1).length - 1, "said once: " + first.err());
        assertFalse(first.err().contains("incremental verify"), first.err());
        JsonNode written = JSON.readTree(checkpoint.toFile());
        assertEquals(24, written.get("row_count").asInt());
        assertEquals(headAt(database, 23), written.get("chain_head_hash").asText());
        assertEquals("32", Support.one(database, "SELECT count(*) FROM audit_events"));

        // Second run: the 32 rows stay, 24 more are added under this run's tag, and only
        // the rows from the checkpoint on are hashed: its own row, 8 continuity rows, 24 new.
        var second = harness(database, checkpoint);
        assertPass(second, 56);
        assertTrue(second.err().contains("in place: keeping the audit log of earlier runs; checkpoint " + checkpoint
                + " at row 24\n"), second.err());
        assertEquals(1, second.err().split("only what the migrations create", -1).length - 1, "said once: " + second.err());
        assertTrue(second.err().contains("incremental verify (SMOKE_SINCE): from position 23, 33 row(s) hashed;"
                + " the earlier rows were trusted from the checkpoint, not re-hashed\n"), second.err());
        assertEquals("64", Support.one(database, "SELECT count(*) FROM audit_events"));
        // Every row carries the tag of the run that wrote it: two runs, two tags.
        assertEquals("64", Support.one(database,
                "SELECT count(*) FROM audit_events WHERE id ~ '^audit-smoke-r[0-9]{8}t[0-9]{6}z-'"));
        assertEquals("2", Support.one(database,
                "SELECT count(DISTINCT substring(id FROM '^audit-smoke-(r[0-9]{8}t[0-9]{6}z)-')) FROM audit_events"));
        written = JSON.readTree(checkpoint.toFile());
        assertEquals(56, written.get("row_count").asInt());
        assertEquals(headAt(database, 55), written.get("chain_head_hash").asText());

        // Third run: a checkpoint whose head is not in the log fails the run, which leaves it as it was.
        String forged = "{\"row_count\": 56, \"chain_head_hash\": \"" + "ab".repeat(32) + "\"}\n";
        Files.writeString(checkpoint, forged);
        var third = harness(database, checkpoint);
        assertEquals(3, third.exit(), third.describe());
        assertTrue(third.err().contains("::error::backup-restore-smoke: the SMOKE_SINCE checkpoint " + checkpoint
                + " (row 56) is not in the restored chain: client verification: expectation_mismatch at - position 55\n"),
                third.err());
        assertFalse(third.out().contains("PASS"), third.out());
        assertEquals(forged, Files.readString(checkpoint), "a failing run must not move the checkpoint");
    }

    // SMOKE_SINCE needing SMOKE_IN_PLACE=1 and a usable checkpoint is decided by Knobs.java: see
    // KnobsTest.sinceNeedsInPlaceAndAFileThatIsACheckpoint; that a refused knob stops the harness before it
    // touches anything: HarnessTest.aKnobHoldingACommandIsRefusedNamingItAndNeverRun.
}
