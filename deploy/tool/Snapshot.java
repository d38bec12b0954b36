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
        "verifier_walked", "verifier_missing", "shadow_schemas", "other_audit_schemas", "unhashed_columns",
        "missing_triggers", "integrity_changes", "client", "incremental", "integrity"})
record Snapshot(String phase, long rowCount, @JsonInclude(JsonInclude.Include.ALWAYS) String chainHeadHash,
                String firstBreakId, Integer firstBreakPos, Integer verifierWalked, Boolean verifierMissing,
                List<String> shadowSchemas, List<String> otherAuditSchemas, List<String> unhashedColumns,
                List<String> missingTriggers, List<String> integrityChanges, Client client,
                IncrementalVerify.Report incremental, Map<String, String> integrity) {

    /**
     * row_count and chain_head_hash in one statement, so one snapshot of the
     * database: with writers at work the pair is a state the chain really
     * was in (the head is the hash of the row_count-th row).
     */
    static Snapshot read(Connection connection, AuditSchema schema, String phase, Deadline deadline) throws Failure {
        return read(connection, schema, phase, "(SELECT count(*) FROM " + schema.qualified("audit_events") + ")",
                "counting audit_events and reading audit_chain_head", deadline);
    }

    /**
     * chain_head_hash alone, for a run that reads every row of audit_events
     * in the same snapshot anyway (verify's client walk): withRowCount then
     * gives the rows it read, and the table is not scanned once more just
     * to count them. The statement still names audit_events, which takes
     * its share lock as count(*) did: no TRUNCATE or table rewrite (neither
     * keeps the rows an older snapshot sees) can commit before the rows are
     * read.
     */
    static Snapshot readHead(Connection connection, AuditSchema schema, String phase, Deadline deadline)
            throws Failure {
        return read(connection, schema, phase, "coalesce((SELECT -1 FROM " + schema.qualified("audit_events")
                + " LIMIT 0), -1)", "locking audit_events and reading audit_chain_head", deadline);
    }

    private static Snapshot read(Connection connection, AuditSchema schema, String phase, String rowCount,
                                 String doing, Deadline deadline) throws Failure {
        String sql = "SELECT " + rowCount + ","
                + " (SELECT row_hash FROM " + schema.qualified("audit_chain_head") + " WHERE id = 1)";
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return new Snapshot(phase, row.getLong(1), row.getString(2), null, null, null, null,
                    nullIfEmpty(schema.shadows()), nullIfEmpty(schema.otherChains()), null, null, null, null, null,
                    null);
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, doing, e);
        }
    }

    Snapshot withRowCount(long rows) {
        return new Snapshot(phase, rows, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked, verifierMissing,
                shadowSchemas, otherAuditSchemas, unhashedColumns, missingTriggers, integrityChanges, client,
                incremental, integrity);
    }

    private static List<String> nullIfEmpty(List<String> list) {
        return list == null || list.isEmpty() ? null : list;
    }

    /** first_break_pos is always present in verify (-1 when clean); verifier_walked only when non-zero. */
    Snapshot withServerVerdict(Verification.ServerVerdict verdict) {
        if (verdict.isMissing()) {
            return new Snapshot(phase, rowCount, chainHeadHash, null, null, null, true, shadowSchemas,
                    otherAuditSchemas, unhashedColumns, missingTriggers, integrityChanges, client, incremental,
                    integrity);
        }
        return new Snapshot(phase, rowCount, chainHeadHash, verdict.firstBreakId(), verdict.firstBreakPos(),
                verdict.walked() == 0 ? null : verdict.walked(), null, shadowSchemas, otherAuditSchemas,
                unhashedColumns, missingTriggers, integrityChanges, client, incremental, integrity);
    }

    Snapshot withClient(Client report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, otherAuditSchemas, unhashedColumns, missingTriggers,
                integrityChanges, report, incremental, integrity);
    }

    Snapshot withIncremental(IncrementalVerify.Report report) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, otherAuditSchemas, unhashedColumns, missingTriggers,
                integrityChanges, client, report, integrity);
    }

    Snapshot withIntegrity(Map<String, String> fingerprint) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, otherAuditSchemas, unhashedColumns, missingTriggers,
                integrityChanges, client, incremental, fingerprint);
    }

    /**
     * What verify found about the machinery around the chain (issue 18 items
     * 8 and 9): columns outside the hash, protections missing, and the
     * differences from the anchor's fingerprint; empty lists are left out.
     */
    Snapshot withFindings(List<String> unhashed, List<String> missing, List<String> changes) {
        return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                verifierMissing, shadowSchemas, otherAuditSchemas, nullIfEmpty(unhashed), nullIfEmpty(missing),
                nullIfEmpty(changes), client, incremental, integrity);
    }

    /**
     * Whether --fail-on-break should fail: either verdict broken (an unmet
     * expectation breaks the client's), the machinery unlike the anchor's
     * fingerprint or lacking the append-only row triggers, no server verdict, no
     * sentinel, or other schemas that could stand in for the audit tables.
     */
    boolean isBroken() {
        return whyBroken() != null;
    }

    /** The first reason --fail-on-break fails, as one line for stderr; null when it does not. */
    @JsonIgnore
    String whyBroken() {
        if (firstBreakId != null) {
            return "the server's verifier breaks at " + firstBreakId + " position " + firstBreakPos;
        }
        if (client != null && ChainWalker.BROKEN.equals(client.verdict())) {
            String where = (client.firstBreakId() == null ? "" : " at " + client.firstBreakId())
                    + (client.firstBreakPos() == null ? "" : " position " + client.firstBreakPos());
            return ChainWalker.EXPECTATION_MISMATCH.equals(client.breakKind())
                    ? "the chain does not hold the expected rows: expectation_mismatch" + where
                    : "client verification: " + client.breakKind() + where;
        }
        if (integrityChanges != null) {
            return "the integrity machinery is not the anchor's: " + String.join("; ", integrityChanges);
        }
        List<String> required = missingTriggers == null ? List.of()
                : missingTriggers.stream().filter(ChainFindings::isRequired).toList();
        if (!required.isEmpty()) {
            return "audit_events is not append-only: no enabled " + String.join(", no enabled ", required);
        }
        if (verifierMissing != null) {
            return "audit_events_verify_chain() is missing: no server verdict";
        }
        if (chainHeadHash == null) {
            return "audit_chain_head has no row with id = 1: the chain has no sentinel";
        }
        if (shadowSchemas != null) {
            return String.join(", ", shadowSchemas) + " also hold" + (shadowSchemas.size() == 1 ? "s" : "")
                    + " audit_events or audit_chain_head";
        }
        return null;
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
                  @JsonIgnore String ambiguity, Boolean agreesWithServer, Boolean expectationsMet, Long extraRows) {

        /**
         * agrees_with_server compares the two verdicts on the chain: an
         * anchor the chain does not meet (expectation_mismatch, which the
         * walker reports only on an otherwise clean chain) is no
         * disagreement, as the server's verifier knows no anchor.
         */
        static Client of(ChainWalker.Verdict client, Verification.ServerVerdict server) {
            boolean chainBroken = client.isBroken() && !ChainWalker.EXPECTATION_MISMATCH.equals(client.breakKind());
            return new Client(client.walked(), client.verdict(), client.firstBreakId(), client.firstBreakPos(),
                    client.breakKind(), null, client.sentinelMatches(), client.ambiguousRows(), null, null,
                    server == null || server.isMissing() ? null : chainBroken == server.isBroken(),
                    client.expectationsMet(),
                    null);
        }

        /**
         * What only verify adds to the walker's verdict: the first ambiguous row and why it is
         * ambiguous (for stderr), the likely cause of the break (for stderr), the rows past an exact anchor.
         */
        Client withVerifyFacts(String firstAmbiguousId, String ambiguity, String likelyCause, Long extraRows) {
            return new Client(walked, verdict, firstBreakId, firstBreakPos, breakKind, likelyCause, sentinelMatches,
                    ambiguousRows, firstAmbiguousId, ambiguity, agreesWithServer, expectationsMet, extraRows);
        }

        Client withExpectationsMet(boolean met) {
            return new Client(walked, verdict, firstBreakId, firstBreakPos, breakKind, likelyCause, sentinelMatches,
                    ambiguousRows, firstAmbiguousId, ambiguity, agreesWithServer, met, extraRows);
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
