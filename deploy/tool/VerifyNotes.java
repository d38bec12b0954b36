// The lines of stderr that go with a verify snapshot: what its JSON says
// that a reader of the log should not miss.

import java.util.ArrayList;
import java.util.List;

final class VerifyNotes {
    private VerifyNotes() {}

    /** What a verify snapshot says that a reader of the log should not miss: one line each for stderr. */
    static List<String> of(Snapshot snapshot) {
        List<String> notes = new ArrayList<>();
        if (snapshot.shadowSchemas() != null) {
            notes.add("warning: " + String.join(", ", snapshot.shadowSchemas()) + " also hold"
                    + (snapshot.shadowSchemas().size() == 1 ? "s" : "") + " audit_events or audit_chain_head:"
                    + " a session whose search_path lists it first sees those tables instead; name the audit"
                    + " schema with --schema (shadow_schemas in the snapshot)");
        }
        if (snapshot.verifierMissing() != null) {
            notes.add("warning: audit_events_verify_chain() is missing: only the client's verdict is given"
                    + " (verifier_missing in the snapshot; the integrity fingerprint no longer lists it)");
        }
        if (snapshot.chainHeadHash() == null) {
            notes.add("warning: audit_chain_head has no row with id = 1: the chain has no sentinel");
        }
        if (snapshot.unhashedColumns() != null) {
            boolean one = snapshot.unhashedColumns().size() == 1;
            notes.add("warning: audit_events column" + (one ? " " : "s ") + String.join(", ", snapshot.unhashedColumns())
                    + (one ? " is" : " are") + " outside the hash: rewriting " + (one ? "it" : "them")
                    + " leaves the chain clean"
                    + " (unhashed_columns in the snapshot; --fail-on-unhashed makes it fatal)");
        }
        if (snapshot.missingTriggers() != null) {
            notes.add("warning: audit_events has no enabled " + String.join(", no enabled ", snapshot.missingTriggers())
                    + " (missing_triggers in the snapshot)");
        }
        if (snapshot.integrityChanges() != null) {
            snapshot.integrityChanges().forEach(change -> notes.add("expectation: the anchor's integrity fingerprint"
                    + " no longer holds: " + change));
        }
        IncrementalVerify.Report incremental = snapshot.incremental();
        if (incremental != null && incremental.earlierRowsChanged()) {
            notes.add("client verification: the checkpoint's chain had " + incremental.sincePosition()
                    + " rows before position " + incremental.sincePosition() + ", the table now holds "
                    + incremental.earlierRows() + " rows besides those walked: rows before the checkpoint were"
                    + " inserted or deleted (earlier_rows in the snapshot); verify without --since to find them");
        }
        Snapshot.Client client = snapshot.client();
        if (client != null && client.likelyCause() != null) {
            notes.add("client verification: " + client.breakKind() + " at " + client.firstBreakId() + " position "
                    + client.firstBreakPos() + ": " + client.likelyCause());
        }
        if (client != null && client.ambiguity() != null) {
            notes.add("client verification: " + client.ambiguousRows() + " ambiguous row"
                    + (client.ambiguousRows() == 1 ? "" : "s") + ", whose payload another row could share;"
                    + " the first, " + client.firstAmbiguousId() + ": " + client.ambiguity());
        }
        return notes;
    }
}
