// The JSON snapshot both modes print on stdout (SPEC sections 3 and 9).

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.io.IOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * The keys of SPEC section 3 in their order, then the extensions (section 9).
 * Null fields are left out, except chain_head_hash, which section 3 always
 * prints (null when the sentinel row is gone); each key is its field's name
 * in snake_case.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"phase", "row_count", "chain_head_hash", "first_break_id", "first_break_pos",
        "verifier_walked", "verifier_missing", "shadow_schemas", "client", "incremental", "integrity"})
record Snapshot(String phase, long rowCount, @JsonInclude(JsonInclude.Include.ALWAYS) String chainHeadHash,
                String firstBreakId, Integer firstBreakPos, Integer verifierWalked, Boolean verifierMissing,
                List<String> shadowSchemas, Client client, IncrementalVerify.Report incremental,
                Map<String, String> integrity) {

    /**
     * row_count and chain_head_hash in one statement, so one snapshot of the
     * database: with writers at work the pair is a state the chain really
     * was in (the head is the hash of the row_count-th row).
     */
    static Snapshot read(Connection connection, AuditSchema schema, String phase, Deadline deadline) throws Failure {
        String sql = "SELECT (SELECT count(*) FROM " + schema.qualified("audit_events") + "),"
                + " (SELECT row_hash FROM " + schema.qualified("audit_chain_head") + " WHERE id = 1)";
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(sql)) {
            row.next();
            List<String> shadows = schema.shadows().isEmpty() ? null : schema.shadows();
            return new Snapshot(phase, row.getLong(1), row.getString(2), null, null, null, null, shadows, null, null, null);
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, "counting audit_events and reading audit_chain_head", e);
        }
    }

    /** first_break_pos is always present in verify (-1 when clean); verifier_walked only when non-zero. */
    Snapshot withServerVerdict(Verification.ServerVerdict verdict) {
        if (verdict.isMissing()) {
            return new Snapshot(phase, rowCount, chainHeadHash, null, null, null, true, shadowSchemas, client,
                    incremental, integrity);
        }
        return new Snapshot(phase, rowCount, chainHeadHash, verdict.firstBreakId(), verdict.firstBreakPos(),
                verdict.walked() == 0 ? null : verdict.walked(), null, shadowSchemas, client, incremental,
                integrity);
    }

    Snapshot withClient(Client report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, report, incremental, integrity);
    }

    Snapshot withIncremental(IncrementalVerify.Report report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, client, report, integrity);
    }

    Snapshot withIntegrity(Map<String, String> fingerprint) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, client, incremental, fingerprint);
    }

    /**
     * Whether --fail-on-break should fail: either verdict broken (an unmet
     * expectation breaks the client's), no server verdict, no sentinel, or
     * other schemas that could stand in for the audit tables.
     */
    boolean isBroken() {
        return firstBreakId != null || (client != null && ChainWalker.BROKEN.equals(client.verdict()))
                || verifierMissing != null || chainHeadHash == null || shadowSchemas != null;
    }

    /** Whether --fail-on-ambiguous should fail: rows whose payload another row could share. */
    boolean hasAmbiguousRows() {
        return client != null && client.ambiguousRows() > 0;
    }

    /**
     * The "client" object of SPEC section 9.2; expectations_met is there only
     * when expectations were given, agrees_with_server only when the server
     * gave a verdict, the others as section 9 describes. likelyCause is
     * for the line verify prints on stderr, not a key.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonPropertyOrder({"walked", "verdict", "first_break_id", "first_break_pos", "break_kind",
            "sentinel_matches", "ambiguous_rows", "first_ambiguous_id", "agrees_with_server", "expectations_met",
            "extra_rows"})
    record Client(int walked, String verdict, String firstBreakId, Integer firstBreakPos, String breakKind,
                  @JsonIgnore String likelyCause, boolean sentinelMatches, int ambiguousRows, String firstAmbiguousId,
                  Boolean agreesWithServer, Boolean expectationsMet, Long extraRows) {

        static Client of(ChainWalker.Verdict client, Verification.ServerVerdict server) {
            return new Client(client.walked(), client.verdict(), client.firstBreakId(), client.firstBreakPos(),
                    client.breakKind(), null, client.sentinelMatches(), client.ambiguousRows(), null,
                    server == null || server.isMissing() ? null : client.isBroken() == server.isBroken(),
                    client.expectationsMet(),
                    null);
        }

        Client withLikelyCause(String cause) {
            return new Client(walked, verdict, firstBreakId, firstBreakPos, breakKind, cause, sentinelMatches,
                    ambiguousRows, firstAmbiguousId, agreesWithServer, expectationsMet, extraRows);
        }

        Client withExtraRows(long extra) {
            return new Client(walked, verdict, firstBreakId, firstBreakPos, breakKind, likelyCause, sentinelMatches,
                    ambiguousRows, firstAmbiguousId, agreesWithServer, expectationsMet, extra);
        }

        Client withFirstAmbiguousId(String id) {
            return new Client(walked, verdict, firstBreakId, firstBreakPos, breakKind, likelyCause, sentinelMatches,
                    ambiguousRows, id, agreesWithServer, expectationsMet, extraRows);
        }
    }

    /** Two-space indentation and "key": value, as the original Go encoder printed. */
    String toJson() {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
        printer.indentArraysWith(new DefaultIndenter("  ", "\n"));
        printer.indentObjectsWith(new DefaultIndenter("  ", "\n"));
        try {
            return new ObjectMapper().writer(printer).writeValueAsString(this) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the snapshot", e);
        }
    }
}
