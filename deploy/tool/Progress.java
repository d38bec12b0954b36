// What the run is doing, for the message printed when it is interrupted
// (Ctrl-C, a kill) and for failures mid-workload.

final class Progress {
    private Progress() {}

    static volatile String activity = "starting";
    static volatile long committedRows;
    static volatile boolean finished;
    /** Set while a run has something to undo when interrupted (the selftest's databases): it says so itself. */
    static volatile Runnable onInterrupt;

    static String committedSummary() {
        // The server may have committed the batch in flight just before the cut, so this is a floor.
        return committedRows == 0
                ? "no batch had been confirmed as committed"
                : "at least " + committedRows + " audit rows were committed and verify as a chain; the batch in"
                        + " flight was cut off";
    }

    /** Installed once: a run that ends without finishing says where it stopped. */
    static void reportInterruptions() {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Runnable undo = onInterrupt;
            if (!finished && undo != null) {
                undo.run();
            } else if (!finished) {
                System.err.println("backupsmoke: interrupted while " + activity
                        + (activity.equals("inserting audit rows") ? "; " + committedSummary() : ""));
            }
        }, "backupsmoke-interrupted"));
    }
}
