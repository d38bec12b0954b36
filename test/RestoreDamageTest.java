// What the round trip finds when a restore comes back damaged, on the
// database tier: the "restored" database is a copy of a migrated 24-row
// source (CREATE DATABASE … TEMPLATE), damaged afterwards as a privileged
// user would, and the tool is asked what the harness asks it, in process:
// --mode=verify --expect on the copy, then --mode=judge with the expectation,
// that snapshot and the workload's. Each test checks the one reason the
// harness would print after "::error::backup-restore-smoke: ".
//
// That the harness turns such a verdict into "::error::" and exit 3 is
// checked end to end once per kind: HarnessTest (a lost row, an altered row)
// and BackupMethodsTest (a dropped trigger, through the integrity fingerprint).
// Every judge line on fixtures: RoundTripJudgeTest.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestoreDamageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String CHAIN_TRIGGER = "trigger audit_events_chain on public.audit_events";
    static final String VERIFIER = "verifier public.audit_events_verify_chain()";

    @TempDir Path temp;

    /** The workload snapshot of the source (the harness's pre.json), kept for the integrity fingerprint. */
    private JsonNode workload;

    /**
     * A 24-row source, its copy damaged by SQL (with the append-only trigger off, as pg_restore's
     * owner could), verified and judged as the harness does; returns the judge's reason.
     */
    private String judgedAfter(String damage) throws Exception {
        String source = Support.scratchDatabase();
        Support.Result written = Support.toolOk("--mode=workload", "--db-url=" + Support.url(source), "--rows=24",
                "--start-time=" + Support.FIXED_START);
        Path pre = Support.write(temp.resolve("pre.json"), written.out());
        workload = JSON.readTree(pre.toFile());
        // The expectation as the harness reads it in the backup's snapshot.
        Path expected = Support.write(temp.resolve("expected.json"), "{\"row_count\": "
                + Support.one(source, "SELECT count(*) FROM audit_events") + ", \"chain_head_hash\": \""
                + Support.one(source, "SELECT row_hash FROM audit_chain_head WHERE id = 1") + "\"}\n");
        String restored = source + "_restored";
        Support.execute("postgres", "CREATE DATABASE " + restored + " TEMPLATE " + source);
        Support.tamper(restored, damage);

        Support.Result verified = Support.tool("--mode=verify", "--db-url=" + Support.url(restored),
                "--expect=" + expected);
        assertEquals(0, verified.exit(), verified.describe());
        Path post = Support.write(temp.resolve("post.json"), verified.out());
        Support.Result judged = Support.tool("--mode=judge", "--expect=" + expected, "--snapshot=" + post,
                "--workload-snapshot=" + pre);
        assertEquals(3, judged.exit(), judged.describe());
        JsonNode verdict = JSON.readTree(judged.out());
        assertEquals("fail", verdict.get("verdict").asText(), judged.out());
        return verdict.get("reason").asText();
    }

    /** Issue 18 item 10: named as missing, not as "client and server verifiers disagree: client clean, server clean". */
    @Test
    void aRestoreThatLosesTheVerifierFunctionIsNamedAsSuch() throws Exception {
        assertEquals("the server's verifier function audit_events_verify_chain() is missing from the restored database:"
                + " only the client's walk judged the chain", judgedAfter("DROP FUNCTION audit_events_verify_chain()"));
    }

    @Test
    void aVerifierRiggedToSayCleanIsOutvotedByTheClientsWalk() throws Exception {
        assertEquals("client verification: modified at audit-smoke-0009 position 9", judgedAfter("""
                CREATE OR REPLACE FUNCTION audit_events_verify_chain(
                    OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
                LANGUAGE sql STABLE AS $$ SELECT NULL::TEXT, -1, (SELECT count(*)::INT FROM audit_events) $$;
                UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0009';"""));
    }

    @Test
    void aChainTriggerLeftDisabledIsNamedWithBothStates() throws Exception {
        String reason = judgedAfter("ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain");
        String before = workload.get("integrity").get(CHAIN_TRIGGER).asText();
        assertTrue(before.matches("enabled BEFORE INSERT public\\.audit_events_chain_hash\\(\\) sha256:[0-9a-f]{64}"),
                before);
        assertEquals("integrity machinery changed by the restore: " + CHAIN_TRIGGER + ": " + before + " -> "
                + before.replace("enabled ", "disabled "), reason);
    }

    @Test
    void aVerifierFunctionWithAnotherSettingIsNamedWithBothFingerprints() throws Exception {
        String reason = judgedAfter("ALTER FUNCTION audit_events_verify_chain() SET search_path = pg_catalog, public");
        String before = workload.get("integrity").get(VERIFIER).asText();
        assertTrue(before.matches("sha256:[0-9a-f]{64}"), before);
        var changed = Pattern.compile(Pattern.quote("integrity machinery changed by the restore: " + VERIFIER + ": "
                + before + " -> ") + "(sha256:[0-9a-f]{64})").matcher(reason);
        assertTrue(changed.matches(), reason);
        assertNotEquals(before, changed.group(1));
    }
}
