// What the run is doing, for the message printed when it is interrupted
// (Ctrl-C, a kill) and for failures mid-workload.

import java.util.concurrent.TimeUnit;

final class Progress {
    private Progress() {}

    static volatile String activity = "starting";
    static volatile long committedRows;
    static volatile boolean finished;
    /** Set by the shutdown hook: the failure the main thread meets next is the interruption, reported there. */
    static volatile boolean interrupted;
    /** Set while a run has something to undo when interrupted (the selftest's databases): it says so itself. */
    static volatile Runnable onInterrupt;
    /** Cancels the run's running statements and waits for them to end (Deadline.stopStatements). */
    static volatile Runnable stopStatements;

    static final String INSERTING = "inserting audit rows";

    /** How the workload's batch in flight ended, as far as the tool can prove. */
    enum Batch { NONE, RUNNING, ROLLED_BACK, UNKNOWN }

    private static volatile Batch batch = Batch.NONE;
    private static volatile String batchFirstId;
    private static volatile String batchLastId;

    /** Back to a fresh run's state: the tests run many commands in one JVM. */
    static void reset() {
        activity = "starting";
        committedRows = 0;
        interrupted = false;
        onInterrupt = null;
        stopStatements = null;
        batch = Batch.NONE;
        batchFirstId = null;
        batchLastId = null;
    }

    /** A workload starts: nothing written yet. */
    static void workloadStarted() {
        committedRows = 0;
        batch = Batch.NONE;
    }

    /** A batch (one statement and transaction) with these ids is about to be sent. */
    static void batchStarted(String firstId, String lastId) {
        batchFirstId = firstId;
        batchLastId = lastId;
        batch = Batch.RUNNING;
    }

    /** The server confirmed the commit: the run has written this many rows in all. */
    static void batchCommitted(long rowsSoFar) {
        committedRows = rowsSoFar;
        batch = Batch.NONE;
    }

    /** The batch was never sent. */
    static void batchNotSent() {
        batch = Batch.NONE;
    }

    /**
     * The batch failed: rolledBack when the server answered with an error
     * (a failed statement in autocommit ends its transaction without a
     * commit), otherwise (the connection broke) its fate is unknown.
     */
    static void batchFailed(boolean rolledBack) {
        batch = rolledBack ? Batch.ROLLED_BACK : Batch.UNKNOWN;
    }

    /** What the workload wrote: only what the server confirmed or proved is stated as fact. */
    static String committedSummary() {
        Batch state = batch;
        String inFlight = "the batch in flight (ids " + batchFirstId + " to " + batchLastId + ")";
        return switch (state) {
            case NONE -> committedRows == 0 ? "no audit row was committed" : committed();
            case ROLLED_BACK -> (committedRows == 0 ? "no audit row was committed" : committed())
                    + "; " + inFlight + " was rolled back";
            case RUNNING, UNKNOWN -> (committedRows == 0 ? "no earlier batch was committed" : committed())
                    + "; " + inFlight + " may have committed, all or nothing: look for id " + batchFirstId;
        };
    }

    private static String committed() {
        return committedRows + " audit rows were committed and verify as a chain";
    }

    /**
     * Installed once: a run that ends without finishing cancels what it runs
     * on the server, waits to learn how it ended, and says where it stopped.
     */
    static void reportInterruptions() {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (finished) {
                return;
            }
            interrupted = true;
            Runnable undo = onInterrupt;
            if (undo != null) {
                undo.run();
                return;
            }
            Runnable stop = stopStatements;
            if (stop != null) {
                stop.run();
            }
            awaitBatchOutcome();
            System.err.println(FailureReport.PREFIX + "interrupted while " + activity
                    + (activity.equals(INSERTING) ? "; " + committedSummary() : ""));
        }, "backupsmoke-interrupted"));
    }

    /** The workload thread records how its cancelled batch ended just after the server answers. */
    private static void awaitBatchOutcome() {
        long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (batch == Batch.RUNNING && System.nanoTime() < giveUpAt) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** An OutOfMemoryError anywhere in the causes: reported as the memory line below, not a Java error. */
    static boolean causedByMemory(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }

    /** What to say when the heap ran out: where, how big it is, and how to raise it. */
    static String outOfMemory() {
        return "ran out of memory while " + activity + " (the JVM's heap is "
                + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB: raise it with BACKUPSMOKE_JAVA_OPTS, see"
                + " deploy/docs/tool.md \"Memory\")";
    }

    /**
     * A failure no thread caught (a helper thread's): one line, the running
     * statements cancelled, exit 1, as for any other unexpected error.
     */
    static void reportUncaught(Thread thread, Throwable failure) {
        System.err.println(FailureReport.PREFIX + (causedByMemory(failure) ? outOfMemory()
                : "unexpected error in thread " + thread.getName() + ": "
                        + failure.toString().replaceAll("\\s*\\R\\s*", " ")));
        Runnable stop = stopStatements;
        if (stop != null) {
            stop.run();
        }
        Runtime.getRuntime().halt(1);
    }
}
