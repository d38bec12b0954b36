// Which findings of a verify snapshot make the run exit 3 (SPEC section 9.4),
// and the one line on stderr that says why.

/** --fail-on-break, --fail-on-ambiguous and --fail-on-unhashed. */
record FatalVerdicts(boolean onBreak, boolean onAmbiguous, boolean onUnhashed) {

    /** The first fatal finding as one line ("--fail-on-break: …"), or null when none is fatal. */
    String firstOf(Snapshot snapshot) {
        String broken = onBreak ? snapshot.whyBroken() : null;
        if (broken != null) {
            return "--fail-on-break: " + broken;
        }
        Snapshot.Client client = snapshot.client();
        if (onAmbiguous && snapshot.hasAmbiguousRows()) {
            return "--fail-on-ambiguous: " + client.ambiguousRows() + " ambiguous row"
                    + (client.ambiguousRows() == 1 ? "" : "s") + ", the first " + client.firstAmbiguousId();
        }
        if (onUnhashed && snapshot.unhashedColumns() != null) {
            return "--fail-on-unhashed: audit_events columns outside the hash: "
                    + String.join(", ", snapshot.unhashedColumns());
        }
        return null;
    }
}
