// The round-trip judge (SPEC sections 7 and 9.9): the expectation recorded in
// the backup's snapshot against the verify snapshot of the restored database,
// and the continuity check after rows were appended to it. Pure logic on the
// JSON snapshots; the harness runs it through --mode=judge and acts on the
// answer. Each check stops at its first failure, with the line the harness
// has always printed for it.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

final class RoundTripJudge {
    private RoundTripJudge() {}

    static final String NO_CLIENT_WARNING =
            "warning: the verify snapshot has no client verdict; only the server's verifier was checked";

    /** Where an incremental verify started: the SMOKE_SINCE file and the row it records. */
    record Checkpoint(String file, long rows) {}

    /**
     * SPEC 7's four assertions (rows, head, no break, walked count), then the
     * checkpoint of an incremental verify, the client's verdict and its
     * agreement with the server, and the integrity machinery against the
     * workload snapshot's (when given).
     */
    static Judgement roundTrip(JsonNode expected, JsonNode workload, JsonNode post, Checkpoint since) {
        List<String> say = new ArrayList<>();
        if (isIncremental(post)) {
            say.add(incrementalLine(post.path("incremental")));
        }
        String reason = firstFailure(expected, workload, post, since, say);
        return reason == null ? Judgement.pass(say) : Judgement.fail(reason, say);
    }

    private static String firstFailure(JsonNode expected, JsonNode workload, JsonNode post, Checkpoint since,
                                       List<String> say) {
        String rows = Judgement.text(expected.path("row_count"));
        String postRows = Judgement.text(post.path("row_count"));
        if (!rows.equals(postRows)) {
            return "row_count differs: pre=" + rows + " post=" + postRows;
        }
        if (!expected.path("chain_head_hash").equals(post.path("chain_head_hash"))) {
            return "chain_head_hash differs: pre=" + Judgement.json(expected.path("chain_head_hash"))
                    + " post=" + Judgement.json(post.path("chain_head_hash"));
        }
        String broken = breakId(post);
        if (!broken.isEmpty()) {
            return "verifier reports a break at first_break_id=" + broken
                    + " first_break_pos=" + Judgement.text(post.path("first_break_pos"));
        }
        if (isIncremental(post) && !Judgement.truthy(post.path("incremental").path("checkpoint_found"))) {
            String where = since == null ? "" : " " + since.file() + " (row " + since.rows() + ")";
            return "the SMOKE_SINCE checkpoint" + where + " is not in the restored chain: client verification: "
                    + clientBreak(post);
        }
        // Under SMOKE_SINCE the server's verifier is skipped; the client's walk
        // counts its positions from the chain's start.
        String walked = Judgement.text(walked(post, IntNode.valueOf(0)));
        if (!walked.equals(rows)) {
            return "verifier walked " + walked + " rows, expected " + rows;
        }
        String client = clientFailure(post, say);
        if (client != null) {
            return client;
        }
        return workload == null ? null : machineryChange(workload, post);
    }

    /** What an incremental verify (SMOKE_SINCE) hashed, and what it trusted. */
    static String incrementalLine(JsonNode incremental) {
        return "incremental verify (SMOKE_SINCE): from position " + Judgement.text(incremental.path("since_position"))
                + ", " + Judgement.text(incremental.path("rows_hashed")) + " row(s) hashed; the earlier rows were"
                + " trusted from the checkpoint, not re-hashed";
    }

    /**
     * The client recomputes every hash and follows the links (SPEC 9.2): its
     * verdict must be clean, and it must agree with the server's verifier,
     * which must be there to agree with.
     */
    private static String clientFailure(JsonNode post, List<String> say) {
        if (!post.has("client")) {
            say.add(NO_CLIENT_WARNING);
            return null;
        }
        if (!"clean".equals(Judgement.text(post.path("client").path("verdict")))) {
            return "client verification: " + clientBreak(post);
        }
        // Incremental: the server's verifier did not run, so there is nothing to agree with.
        if (isIncremental(post)) {
            return null;
        }
        if (Judgement.truthy(post.path("verifier_missing"))) {
            return "the server's verifier function audit_events_verify_chain() is missing from the restored"
                    + " database: only the client's walk judged the chain";
        }
        if (!Judgement.truthy(post.path("client").path("agrees_with_server"))) {
            return "client and server verifiers disagree: client clean, server "
                    + Judgement.text(Judgement.or(post.path("first_break_id"), TextNode.valueOf("clean")));
        }
        return null;
    }

    /**
     * The triggers and the verifier function must come back as they were:
     * enabled, with the same definitions and pinned settings. Names each entry
     * of the fingerprint that differs.
     */
    static String machineryChange(JsonNode workload, JsonNode post) {
        JsonNode before = workload.path("integrity");
        JsonNode after = post.path("integrity");
        TreeSet<String> names = new TreeSet<>();
        before.fieldNames().forEachRemaining(names::add);
        after.fieldNames().forEachRemaining(names::add);
        List<String> changed = new ArrayList<>();
        for (String name : names) {
            if (!before.path(name).equals(after.path(name))) {
                changed.add(name + ": " + absentOr(before.path(name)) + " -> " + absentOr(after.path(name)));
            }
        }
        return changed.isEmpty() ? null : "integrity machinery changed by the restore: " + String.join("; ", changed);
    }

    /**
     * Continuity (SMOKE_APPEND_ROWS): after APPENDED rows were added to the
     * restored database, its verify snapshot must hold the expected rows plus
     * those, unbroken, every one walked.
     */
    static Judgement continuity(JsonNode expected, JsonNode after, long appended) {
        long rows = expected.path("row_count").asLong() + appended;
        boolean holds = after.path("row_count").isIntegralNumber() && after.path("row_count").asLong() == rows
                && breakId(after).isEmpty()
                && walked(after, null) != null && walked(after, null).isIntegralNumber()
                && walked(after, null).asLong() == rows
                && "clean".equals(Judgement.text(Judgement.or(after.path("client").path("verdict"),
                        TextNode.valueOf("clean"))));
        if (holds) {
            return Judgement.pass(List.of());
        }
        ObjectNode facts = new ObjectMapper().createObjectNode();
        facts.set("row_count", nullIfMissing(after.path("row_count")));
        facts.set("first_break_id", nullIfMissing(after.path("first_break_id")));
        facts.set("verifier_walked", nullIfMissing(after.path("verifier_walked")));
        facts.set("client", nullIfMissing(after.path("client").path("break_kind")));
        return Judgement.fail("continuity: after appending " + appended + " rows the chain does not verify: "
                + facts, List.of());
    }

    private static JsonNode walked(JsonNode snapshot, JsonNode otherwise) {
        return Judgement.or(Judgement.or(snapshot.path("verifier_walked"), snapshot.path("client").path("walked")),
                otherwise);
    }

    private static String breakId(JsonNode snapshot) {
        JsonNode id = Judgement.or(snapshot.path("first_break_id"), null);
        return id == null ? "" : Judgement.text(id);
    }

    private static boolean isIncremental(JsonNode snapshot) {
        return snapshot.has("incremental");
    }

    /** "KIND at ID position POS", a dash for what the client did not name. */
    private static String clientBreak(JsonNode post) {
        JsonNode client = post.path("client");
        TextNode dash = TextNode.valueOf("-");
        return Judgement.text(client.path("break_kind")) + " at "
                + Judgement.text(Judgement.or(client.path("first_break_id"), dash)) + " position "
                + Judgement.text(Judgement.or(client.path("first_break_pos"), dash));
    }

    private static String absentOr(JsonNode value) {
        return Judgement.text(Judgement.or(value, TextNode.valueOf("absent")));
    }

    private static JsonNode nullIfMissing(JsonNode value) {
        return value.isMissingNode() ? NullNode.getInstance() : value;
    }
}
