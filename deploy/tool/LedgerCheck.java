// Whether a verified chain holds what a ledger entry recorded, and if not,
// why, in one line (SPEC section 9.10): the verdicts of --mode=checkpoint and
// --mode=drill-verify.

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

final class LedgerCheck {
    private LedgerCheck() {}

    /** The audit schema --schema names, or the one that holds the tables (AuditSchema.resolve). */
    static AuditSchema schemaOf(Connector connector, String requested) throws Failure {
        try (Connection connection = connector.open()) {
            connection.setReadOnly(true);
            return AuditSchema.resolve(connection, requested, connector.deadline());
        } catch (SQLException e) {
            throw connector.deadline().failure("looking for the schema of the audit tables", e);
        }
    }

    /** The walk's anchor: the entry's head must be the hash of the row at its position. */
    static ChainWalker.Expectation expectationOf(LedgerEntry entry) {
        return entry == null ? ChainWalker.Expectation.NONE
                : new ChainWalker.Expectation(entry.chainHeadHash(), entry.rowCount(), false);
    }

    /** "checkpoint 3 of 5" (the entry's line, the ledger's line count): how messages name an entry. */
    static String name(List<LedgerEntry> entries, LedgerEntry entry) {
        return "checkpoint " + (entries.indexOf(entry) + 1) + " of " + entries.size();
    }

    static void requireSameCluster(String what, String systemIdentifier, List<LedgerEntry> entries, LedgerEntry entry)
            throws Refusal {
        if (!entry.systemIdentifier().equals(systemIdentifier)) {
            throw new Refusal("another cluster: " + what + " system_identifier is " + systemIdentifier + ", the ledger's "
                    + name(entries, entry) + " was recorded on system_identifier " + entry.systemIdentifier());
        }
    }

    /**
     * Both verdicts clean, the verifier, the sentinel and no shadow schema:
     * else the first reason, naming the row and whether it lies before the
     * entry's head. An unmet anchor alone is left to requireHolds.
     */
    static void requireCleanVerdicts(String what, Snapshot snapshot, List<LedgerEntry> entries, LedgerEntry entry)
            throws Refusal {
        if (snapshot.verifierMissing() != null) {
            throw new Refusal(what + ": the server's verifier audit_events_verify_chain() is missing");
        }
        if (snapshot.chainHeadHash() == null) {
            throw new Refusal(what + ": the sentinel row audit_chain_head (id 1) is missing");
        }
        if (snapshot.shadowSchemas() != null) {
            throw new Refusal(what + ": other schemas also hold audit tables: "
                    + String.join(", ", snapshot.shadowSchemas()) + " (choose with --schema)");
        }
        Snapshot.Client client = snapshot.client();
        if (client != null && client.breakKind() != null
                && !ChainWalker.EXPECTATION_MISMATCH.equals(client.breakKind())) {
            throw new Refusal(what + ": " + breakCause(client.breakKind()) + ": the chain breaks at position "
                    + client.firstBreakPos() + " (row " + client.firstBreakId() + ", " + client.breakKind() + ")"
                    + beforeEntry(client.firstBreakPos(), entries, entry));
        }
        if (snapshot.firstBreakId() != null) {
            throw new Refusal(what + ": the server's verifier finds a break at position " + snapshot.firstBreakPos()
                    + " (row " + snapshot.firstBreakId() + ")" + beforeEntry(snapshot.firstBreakPos(), entries, entry));
        }
    }

    private static String breakCause(String kind) {
        return switch (kind) {
            case ChainWalker.MODIFIED -> "a row was changed";
            case ChainWalker.MISSING_PREDECESSOR -> "a row was deleted";
            case ChainWalker.FORK -> "a fork";
            default -> "the chain is broken";
        };
    }

    private static String beforeEntry(Integer position, List<LedgerEntry> entries, LedgerEntry entry) {
        if (entry == null || position == null || position > entry.headPosition()) {
            return "";
        }
        return ", at or before the head of " + name(entries, entry) + " (position " + entry.headPosition() + ")";
    }

    /**
     * A clean chain that does not hold the entry: shorter (rolled back, or
     * its newest rows deleted), or another row at the entry's position (a
     * fork: rewritten from some row on). The fork is placed between the
     * newest earlier entry the chain still holds and this one.
     */
    static Refusal notHolding(String what, long rowCount, Map<Long, String> hashesAtEntries, List<LedgerEntry> entries,
                              LedgerEntry entry, String rolledBack) {
        if (rowCount < entry.rowCount()) {
            return new Refusal(rolledBack + ": " + what + " holds " + rowCount + " rows, " + name(entries, entry)
                    + " recorded " + entry.rowCount() + " (head " + entry.chainHeadHash() + " at position "
                    + entry.headPosition() + ")");
        }
        long forkAfter = -1;
        for (LedgerEntry earlier : entries.subList(0, entries.indexOf(entry))) {
            if (earlier.chainHeadHash().equals(hashesAtEntries.get(earlier.headPosition()))) {
                forkAfter = Math.max(forkAfter, earlier.headPosition());
            }
        }
        return new Refusal("fork: " + what + " holds another row at position " + entry.headPosition() + " than the head "
                + entry.chainHeadHash() + " of " + name(entries, entry) + "; the chains part after position "
                + forkAfter + " and at or before " + entry.headPosition());
    }

    /**
     * The catalog inventory ENTRY records: its own, else that of the nearest
     * earlier entry with the same catalog_sha256 that holds one (a line
     * holds the inventory only when it changed); null when none does.
     */
    static com.fasterxml.jackson.databind.JsonNode inventoryOf(List<LedgerEntry> entries, LedgerEntry entry) {
        if (entry.catalogSha256() == null) {
            return null;
        }
        for (int i = entries.indexOf(entry); i >= 0; i--) {
            LedgerEntry earlier = entries.get(i);
            if (earlier.catalog() != null && entry.catalogSha256().equals(earlier.catalogSha256())) {
                return earlier.catalog();
            }
        }
        return null;
    }

    /** Head positions of the entries up to and including this one, for notHolding. */
    static List<Long> positionsUpTo(List<LedgerEntry> entries, LedgerEntry entry) {
        List<Long> positions = new ArrayList<>();
        for (LedgerEntry earlier : entries.subList(0, entries.indexOf(entry) + 1)) {
            positions.add(earlier.headPosition());
        }
        return positions;
    }
}
