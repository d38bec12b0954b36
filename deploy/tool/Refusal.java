// A verdict, not an error: the data is not what the ledger says it must be
// (checkpoint, drill-verify). Printed as one line like any Failure, exit 3.

/** The database or the ledger fails a verdict: one line on stderr, exit 3, nothing appended. */
class Refusal extends Failure {
    static final int EXIT = 3;

    Refusal(String message) {
        super(message);
    }
}
