// The JSON snapshot both modes print on stdout (SPEC sections 3 and 9).

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
import java.util.Map;

/**
 * The keys of SPEC section 3 in their order, then the extensions (client
 * verdict, integrity fingerprint). Null fields are left out; each key is its
 * field's name in snake_case.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"phase", "row_count", "chain_head_hash", "first_break_id", "first_break_pos",
        "verifier_walked", "client", "incremental", "integrity"})
record Snapshot(String phase, long rowCount, String chainHeadHash, String firstBreakId, Integer firstBreakPos,
                Integer verifierWalked, Client client, IncrementalVerify.Report incremental,
                Map<String, String> integrity) {

    static Snapshot read(Connection connection, String phase, Deadline deadline) throws Failure {
        String rowCount = Sql.queryOne(connection, "SELECT COUNT(*) FROM audit_events", deadline,
                "counting audit_events");
        String head = Sql.queryOne(connection, "SELECT row_hash FROM audit_chain_head WHERE id = 1", deadline,
                "reading audit_chain_head");
        return new Snapshot(phase, Long.parseLong(rowCount), head, null, null, null, null, null, null);
    }

    /** first_break_pos is always present in verify (-1 when clean); verifier_walked only when non-zero. */
    Snapshot withServerVerdict(Verification.ServerVerdict verdict) {
        return new Snapshot(phase, rowCount, chainHeadHash, verdict.firstBreakId(), verdict.firstBreakPos(),
                verdict.walked() == 0 ? null : verdict.walked(), client, incremental, integrity);
    }

    Snapshot withClient(Client report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                report, incremental, integrity);
    }

    Snapshot withIncremental(IncrementalVerify.Report report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                client, report, integrity);
    }

    Snapshot withIntegrity(Map<String, String> fingerprint) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                client, incremental, fingerprint);
    }

    /** Whether --fail-on-break should fail: either verdict broken (an unmet expectation breaks the client's). */
    boolean isBroken() {
        return firstBreakId != null || (client != null && ChainWalker.BROKEN.equals(client.verdict()));
    }

    /** The "client" object of SPEC section 9.2; expectations_met is there only when expectations were given. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonPropertyOrder({"walked", "verdict", "first_break_id", "first_break_pos", "break_kind",
            "sentinel_matches", "ambiguous_rows", "agrees_with_server", "expectations_met"})
    record Client(int walked, String verdict, String firstBreakId, Integer firstBreakPos, String breakKind,
                  boolean sentinelMatches, int ambiguousRows, Boolean agreesWithServer, Boolean expectationsMet) {

        /** server null: the server's verifier did not run (incremental verify), so there is nothing to agree with. */
        static Client of(ChainWalker.Verdict client, Verification.ServerVerdict server) {
            return new Client(client.walked(), client.verdict(), client.firstBreakId(), client.firstBreakPos(),
                    client.breakKind(), client.sentinelMatches(), client.ambiguousRows(),
                    server == null ? null : client.isBroken() == server.isBroken(), client.expectationsMet());
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
