// The round-trip judge (RoundTripJudge, --mode=judge) on JSON fixtures, in
// process: every failure line the harness prints for a round trip and for
// continuity, and the verdict's JSON and exit code.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoundTripJudgeTest {
    static final String HEAD = "03101834d4c1101d1104bd5fc473ee0b14490bb25b74fc100a9eb72b6bb06a38";
    static final String OTHER = "f".repeat(64);
    static final String INTEGRITY = "\"integrity\": {\"trigger audit_events_chain\": \"enabled sha256:aa\","
            + " \"verifier public.audit_events_verify_chain()\": \"sha256:bb\"}";
    static final String EXPECTED = "{\"row_count\": 24, \"chain_head_hash\": \"" + HEAD + "\"}";
    static final String WORKLOAD = "{\"phase\": \"workload\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD
            + "\", " + INTEGRITY + "}";
    static final String CLEAN_CLIENT = "\"client\": {\"walked\": 24, \"verdict\": \"clean\", \"sentinel_matches\": true,"
            + " \"ambiguous_rows\": 0, \"agrees_with_server\": true}";

    @TempDir Path temp;

    static JsonNode json(String text) throws Exception {
        return new ObjectMapper().readTree(text);
    }

    /** A verify snapshot of 24 clean rows with HEAD, its fields replaced or added by FIELDS ("key": value). */
    static String post(String... fields) {
        StringBuilder json = new StringBuilder("{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD
                + "\", \"first_break_pos\": -1, \"verifier_walked\": 24, " + CLEAN_CLIENT + ", " + INTEGRITY);
        for (String field : fields) {
            json.append(", ").append(field);
        }
        return json.append("}").toString();
    }

    static String reason(String post) throws Exception {
        return RoundTripJudge.roundTrip(json(EXPECTED), json(WORKLOAD), json(post), null).reason();
    }

    @Test
    void aFaithfulRestorePasses() throws Exception {
        Judgement verdict = RoundTripJudge.roundTrip(json(EXPECTED), json(WORKLOAD), json(post()), null);
        assertNull(verdict.reason());
        assertEquals("{\"verdict\":\"pass\",\"reason\":null,\"say\":[]}\n", verdict.toJson());
        assertEquals(0, verdict.exitCode());
    }

    @Test
    void lostRowsFailOnTheRowCount() throws Exception {
        assertEquals("row_count differs: pre=24 post=23", reason(post("\"row_count\": 23")));
    }

    @Test
    void theHarnesssLinesStayOneLineWhateverARowsIdHolds() throws Exception {
        // Red-team review 8: the harness prints each say line, and the reason as its ::error:: line; an id (TEXT, the
        // application's rows under SMOKE_SINCE) holding a line break printed a line of its own, a workflow command.
        String reason = reason(post("\"first_break_id\": \"x\\n::error::y\"", "\"first_break_pos\": 9"));
        assertEquals("say=at x?::error::y\0verdict=fail\0part=round_trip\0reason=verifier reports a break at "
                + "first_break_id=x?::error::y first_break_pos=9\0",
                Judgement.fail(reason, List.of("at x\n::error::y")).toNul("round_trip"));
    }

    @Test
    void anotherHeadFailsQuotingBothHeads() throws Exception {
        assertEquals("chain_head_hash differs: pre=\"" + HEAD + "\" post=\"" + OTHER + "\"",
                reason(post("\"chain_head_hash\": \"" + OTHER + "\"")));
        assertEquals("chain_head_hash differs: pre=\"" + HEAD + "\" post=null", reason(post("\"chain_head_hash\": null")));
    }

    @Test
    void aBreakFailsNamingItsRowAndPosition() throws Exception {
        assertEquals("verifier reports a break at first_break_id=audit-smoke-0009 first_break_pos=9",
                reason(post("\"first_break_id\": \"audit-smoke-0009\"", "\"first_break_pos\": 9")));
    }

    @Test
    void aShortWalkFailsOnTheWalkedCount() throws Exception {
        assertEquals("verifier walked 21 rows, expected 24", reason(post("\"verifier_walked\": 21")));
    }

    @Test
    void withoutAServerWalkTheClientsWalkCounts() throws Exception {
        String clientOnly = "{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD + "\","
                + " \"client\": {\"walked\": 20, \"verdict\": \"clean\"}, \"incremental\": {\"checkpoint_found\": true}}";
        assertEquals("verifier walked 20 rows, expected 24", reason(clientOnly));
    }

    @Test
    void aBrokenClientVerdictFailsNamingTheBreak() throws Exception {
        assertEquals("client verification: modified at audit-smoke-0009 position 9",
                reason(post("\"client\": {\"walked\": 24, \"verdict\": \"broken\", \"first_break_id\": \"audit-smoke-0009\","
                        + " \"first_break_pos\": 9, \"break_kind\": \"modified\"}")));
        assertEquals("client verification: sentinel_mismatch at - position -",
                reason(post("\"client\": {\"walked\": 24, \"verdict\": \"broken\", \"break_kind\": \"sentinel_mismatch\"}")));
    }

    @Test
    void verifiersThatDisagreeFail() throws Exception {
        assertEquals("client and server verifiers disagree: client clean, server clean",
                reason(post("\"client\": {\"walked\": 24, \"verdict\": \"clean\", \"agrees_with_server\": false}")));
    }

    /** Issue 18 item 10: a missing verifier function is named, not reported as a disagreement. */
    @Test
    void aMissingVerifierFunctionIsNamed() throws Exception {
        String missing = "{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD + "\","
                + " \"verifier_missing\": true, \"client\": {\"walked\": 24, \"verdict\": \"clean\"}, " + INTEGRITY + "}";
        assertEquals("the server's verifier function audit_events_verify_chain() is missing from the restored database:"
                + " only the client's walk judged the chain", reason(missing));
    }

    @Test
    void withoutAClientVerdictOnlyAWarningIsSaid() throws Exception {
        String serverOnly = "{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD + "\","
                + " \"first_break_pos\": -1, \"verifier_walked\": 24, " + INTEGRITY + "}";
        Judgement verdict = RoundTripJudge.roundTrip(json(EXPECTED), json(WORKLOAD), json(serverOnly), null);
        assertNull(verdict.reason());
        assertEquals(List.of("warning: the verify snapshot has no client verdict; only the server's verifier was checked"),
                verdict.say());
    }

    @Test
    void aChangedOrLostPieceOfMachineryIsNamedWithBothSides() throws Exception {
        assertEquals("integrity machinery changed by the restore: trigger audit_events_chain: enabled sha256:aa"
                        + " -> disabled sha256:aa",
                reason(post("\"integrity\": {\"trigger audit_events_chain\": \"disabled sha256:aa\","
                        + " \"verifier public.audit_events_verify_chain()\": \"sha256:bb\"}")));
        assertEquals("integrity machinery changed by the restore: trigger audit_events_chain: enabled sha256:aa -> absent;"
                        + " verifier public.audit_events_verify_chain(): sha256:bb -> sha256:cc",
                reason(post("\"integrity\": {\"verifier public.audit_events_verify_chain()\": \"sha256:cc\"}")));
    }

    @Test
    void aCheckpointMissingFromTheRestoredChainFailsNamingIt() throws Exception {
        String lost = "{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \"" + HEAD + "\","
                + " \"client\": {\"walked\": 24, \"verdict\": \"broken\", \"first_break_id\": \"audit-smoke-0011\","
                + " \"first_break_pos\": 11, \"break_kind\": \"expectation_mismatch\"},"
                + " \"incremental\": {\"checkpoint_found\": false}}";
        assertEquals("the SMOKE_SINCE checkpoint /var/smoke/checkpoint.json (row 12) is not in the restored chain:"
                        + " client verification: expectation_mismatch at audit-smoke-0011 position 11",
                RoundTripJudge.roundTrip(json(EXPECTED), null, json(lost),
                        new RoundTripJudge.Checkpoint("/var/smoke/checkpoint.json", 12)).reason());
    }

    @Test
    void continuityPassesWhenTheAppendedRowsChainOn() throws Exception {
        String after = "{\"row_count\": 32, \"verifier_walked\": 32, \"client\": {\"walked\": 32, \"verdict\": \"clean\"}}";
        assertNull(RoundTripJudge.continuity(json(EXPECTED), json(after), 8).reason());
    }

    @Test
    void continuityFailsShowingWhatTheVerifySaw() throws Exception {
        String broken = "{\"row_count\": 32, \"first_break_id\": \"continuity-0000\", \"verifier_walked\": 24,"
                + " \"client\": {\"walked\": 32, \"verdict\": \"broken\", \"break_kind\": \"missing_predecessor\"}}";
        assertEquals("continuity: after appending 8 rows the chain does not verify: {\"row_count\":32,"
                        + "\"first_break_id\":\"continuity-0000\",\"verifier_walked\":24,\"client\":\"missing_predecessor\"}",
                RoundTripJudge.continuity(json(EXPECTED), json(broken), 8).reason());
        String short1 = "{\"row_count\": 31, \"verifier_walked\": 31}";
        assertEquals("continuity: after appending 8 rows the chain does not verify: {\"row_count\":31,"
                        + "\"first_break_id\":null,\"verifier_walked\":31,\"client\":null}",
                RoundTripJudge.continuity(json(EXPECTED), json(short1), 8).reason());
    }

    /** --mode=judge in process: the parts given are judged in order, the first failure is the answer. */
    @Test
    void theModeJudgesThePartsGivenAndPrintsOneVerdict() throws Exception {
        JudgeModes modes = new JudgeModes();
        modes.snapshot = Support.write(temp.resolve("post.json"), post("\"row_count\": 23"));
        modes.workloadSnapshot = Support.write(temp.resolve("pre.json"), WORKLOAD);
        Path expect = Support.write(temp.resolve("expected.json"), EXPECTED);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit = modes.judge(expect, null, new PrintStream(out, true, StandardCharsets.UTF_8));
        assertEquals(3, exit);
        assertEquals("{\"verdict\":\"fail\",\"reason\":\"row_count differs: pre=24 post=23\",\"part\":\"round_trip\","
                + "\"say\":[]}\n", out.toString(StandardCharsets.UTF_8));
        Failure noExpectation = org.junit.jupiter.api.Assertions.assertThrows(Failure.class,
                () -> modes.judge(null, null, System.out));
        assertEquals("--mode=judge needs --expect FILE (the expectation) with --snapshot or --continuity",
                noExpectation.getMessage());
    }

    /** The harness asks continuity and the oracle in one question: the answer names the part that failed. */
    @Test
    void oneQuestionForContinuityAndTheOracleNamesThePartThatFailed() throws Exception {
        Path expect = Support.write(temp.resolve("expected.json"), EXPECTED);
        JudgeModes modes = new JudgeModes();
        modes.continuity = Support.write(temp.resolve("after.json"), "{\"row_count\": 31, \"verifier_walked\": 31}");
        modes.appended = 8;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(3, modes.judge(expect, null, new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("\"part\":\"continuity\""), out.toString());
        modes.continuity = Support.write(temp.resolve("after.json"), "{\"row_count\": 32, \"verifier_walked\": 32}");
        out.reset();
        assertEquals(0, modes.judge(expect, null, new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertEquals("{\"verdict\":\"pass\",\"reason\":null,\"say\":[]}\n", out.toString(StandardCharsets.UTF_8));
    }

    /** The harness's form of the answer (--nul): say lines, then verdict, part and reason, each NUL-ended. */
    @Test
    void theHarnessReadsTheVerdictAsNulSeparatedEntries() throws Exception {
        JudgeModes modes = new JudgeModes();
        modes.nul = true;
        modes.snapshot = Support.write(temp.resolve("post.json"), post("\"row_count\": 23"));
        Path expect = Support.write(temp.resolve("expected.json"), EXPECTED);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(3, modes.judge(expect, null, new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertEquals("verdict=fail\0part=round_trip\0reason=row_count differs: pre=24 post=23\0",
                out.toString(StandardCharsets.UTF_8));
        assertEquals("say=a line\0verdict=pass\0part=\0reason=\0",
                Judgement.pass(List.of("a line")).toNul(null));
        assertNull(ModeFlagsTest.groupRefusal("pitr-check", "--nul"));
        assertEquals("--nul applies to --mode=judge and --mode=pitr-check only",
                ModeFlagsTest.groupRefusal("verify", "--nul"));
    }

    /** A workload or verify that printed no snapshot fails the round trip, naming the mode and showing its output. */
    @Test
    void whatIsNotASnapshotFailsNamingTheModeThatPrintedIt() throws Exception {
        JudgeModes modes = new JudgeModes();
        modes.snapshot = Support.write(temp.resolve("post.json"), post());
        modes.workloadSnapshot = Support.write(temp.resolve("pre.json"), "oops\n{\"row_count\": 1}");
        Path expect = Support.write(temp.resolve("expected.json"), EXPECTED);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        modes.nul = true;
        assertEquals(3, modes.judge(expect, null, new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertEquals("say=BackupSmoke --mode=workload output was:\0say=oops\0say={\"row_count\": 1}\0verdict=fail\0"
                + "part=round_trip\0reason=BackupSmoke --mode=workload did not print one JSON snapshot with row_count"
                + " and chain_head_hash\0", out.toString(StandardCharsets.UTF_8));
        assertEquals("BackupSmoke --mode=verify did not print one JSON snapshot with row_count and chain_head_hash",
                JudgeModes.notASnapshot(Support.write(temp.resolve("empty.json"), ""), "verify").reason());
        assertEquals("BackupSmoke --mode=verify did not print one JSON snapshot with row_count and chain_head_hash",
                JudgeModes.notASnapshot(Support.write(temp.resolve("two.json"), EXPECTED + EXPECTED), "verify")
                        .reason());
        assertEquals("BackupSmoke --mode=verify did not print one JSON snapshot with row_count and chain_head_hash",
                JudgeModes.notASnapshot(Support.write(temp.resolve("text.json"),
                        "{\"row_count\": \"24\", \"chain_head_hash\": \"ab\"}"), "verify").reason());
        assertTrue(JudgeModes.notASnapshot(Support.write(temp.resolve("ok.json"), EXPECTED), "verify").passed());
    }

    /** What an incremental verify hashed is said by the judge, before any verdict. */
    @Test
    void anIncrementalVerifyIsSaidWithWhatItHashed() throws Exception {
        JsonNode post = json(post("\"incremental\": {\"since_position\": 23, \"rows_hashed\": 33,"
                + " \"checkpoint_found\": true}"));
        assertEquals("incremental verify (SMOKE_SINCE): from position 23, 33 row(s) hashed; the earlier rows were"
                + " trusted from the checkpoint, not re-hashed",
                RoundTripJudge.roundTrip(json(EXPECTED), null, post, null).say().get(0));
    }

    @Test
    void eachModesFlagsAreRefusedInTheOtherModes() throws Exception {
        assertNull(ModeFlagsTest.groupRefusal("judge", "--snapshot=x.json"));
        assertEquals("--snapshot applies to --mode=judge only", ModeFlagsTest.groupRefusal("verify", "--snapshot=x.json"));
        assertEquals("--later-prefix applies to --mode=pitr-check only",
                ModeFlagsTest.groupRefusal("judge", "--later-prefix=b-"));
        assertEquals("--snapshot-id applies to --mode=oracle-capture only",
                ModeFlagsTest.groupRefusal("workload", "--snapshot-id=00000003-0000001B-1"));
        // Through the command line: exit 2, the line first.
        assertEquals("--snapshot applies to --mode=judge only", ModeFlagsTest.refusal("--mode=verify", "--snapshot=x.json"));
        Failure noLaterPrefix = org.junit.jupiter.api.Assertions.assertThrows(Failure.class,
                () -> new JudgeModes().checkPitr(null, "audit-smoke-", 24, System.out));
        assertEquals("--mode=pitr-check needs --later-prefix (the ids written after the recovery target)",
                noLaterPrefix.getMessage());
    }

    /** Through the launcher: no --db-url or DATABASE_URL needed, one verdict on stdout, exit 3 on a failure. */
    @Test
    @org.junit.jupiter.api.Tag("e2e")
    void theLauncherJudgesWithoutADatabase() throws Exception {
        Path expect = Support.write(temp.resolve("expected.json"), EXPECTED);
        Path post = Support.write(temp.resolve("post.json"), post("\"first_break_id\": \"audit-smoke-0009\"",
                "\"first_break_pos\": 9"));
        var result = Support.tool("--mode=judge", "--expect=" + expect, "--snapshot=" + post);
        assertEquals(3, result.exit(), result.describe());
        assertEquals("{\"verdict\":\"fail\",\"reason\":\"verifier reports a break at first_break_id=audit-smoke-0009"
                + " first_break_pos=9\",\"part\":\"round_trip\",\"say\":[]}\n", result.out());
        assertEquals("", result.err());
        Support.usageError("--fail-on-break applies to --mode=verify only",
                "--mode=judge", "--snapshot=" + post, "--fail-on-break");
    }
}
