// The bound on the whole run (--timeout, SPEC section 2).

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.postgresql.PGConnection;

/**
 * When the time is up (or the run is interrupted) it asks the server to
 * cancel whatever statement each open connection is running (the protocol's
 * cancel request), so the statement fails at once with the server's own
 * error, which proves it rolled back, and nothing is left running on the
 * server. A connection whose statement does not answer within CANCEL_GRACE
 * is aborted. Every statement is bounded on the server too (boundStatements):
 * it ends even when the tool is killed before it can cancel anything.
 */
final class Deadline implements AutoCloseable {
    /** How long a cancelled statement has to report back before its connection is cut. */
    static final Duration CANCEL_GRACE = Duration.ofSeconds(3);
    /**
     * The server's bounds end this long after the run's deadline, so the
     * client's cancel normally comes first (and is reported as the timeout);
     * the server's bound is the backstop for a client that can no longer send it.
     */
    static final long SERVER_BOUND_MARGIN_MILLIS = 1000;

    private final Duration limit;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "backupsmoke-deadline");
        thread.setDaemon(true);
        return thread;
    });
    private final List<Connection> watched = new ArrayList<>();
    private final AtomicBoolean expired = new AtomicBoolean();
    private final long endsAtNanos;

    Deadline(Duration limit) {
        this.limit = limit;
        this.endsAtNanos = System.nanoTime() + limit.toNanos();
        timer.schedule(this::expire, limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    boolean hasExpired() {
        return expired.get() || remainingMillis() <= 0;
    }

    long remainingMillis() {
        return TimeUnit.NANOSECONDS.toMillis(endsAtNanos - System.nanoTime());
    }

    /**
     * Watches a new connection; one that arrives after the time is up is
     * closed at once and the run fails with the timeout message, so no phase
     * starts past the deadline.
     */
    synchronized Connection watch(Connection connection, String doing) throws Failure {
        if (hasExpired()) {
            abort(connection);
            throw timedOut(doing);
        }
        watched.removeIf(Deadline::isClosed);
        watched.add(connection);
        return connection;
    }

    /** Fails with the timeout message once the time is up: called between phases. */
    void check(String doing) throws Failure {
        if (hasExpired()) {
            throw timedOut(doing);
        }
    }

    /**
     * Bounds the connection's next statements on the server by the time left
     * (statement_timeout, and lock_timeout for a statement that waits for a
     * lock): called when a connection opens and before each workload batch.
     */
    void boundStatements(Connection connection, String doing) throws Failure {
        String bound = Long.toString(Math.max(1, remainingMillis()) + SERVER_BOUND_MARGIN_MILLIS);
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_catalog.set_config('statement_timeout', ?, false),"
                        + " pg_catalog.set_config('lock_timeout', ?, false)")) {
            statement.setString(1, bound);
            statement.setString(2, bound);
            statement.execute();
        } catch (SQLException e) {
            throw failure(doing, e);
        }
    }

    private void expire() {
        expired.set(true);
        cancelRunning();
        timer.schedule(this::abortAll, CANCEL_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * For an interrupted run (SIGINT, SIGTERM): cancels every running
     * statement and waits until their connections are closed, so the caller
     * has seen how each statement ended before the process goes; a connection
     * still open after CANCEL_GRACE is aborted. Cancels again while it waits:
     * a statement sent just after a cancel request is not touched by it.
     */
    void stopStatements() {
        cancelUntil(this::allClosed, this::cancelRunning);
        abortAll();
    }

    /**
     * Runs CANCEL every 500 ms until ENDED holds, at most CANCEL_GRACE:
     * cancelling again while it waits, as a statement sent just after a
     * cancel request is not touched by it.
     */
    static void cancelUntil(BooleanSupplier ended, Runnable cancel) {
        long giveUpAt = System.nanoTime() + CANCEL_GRACE.toNanos();
        long nextCancel = 0;
        while (System.nanoTime() < giveUpAt && !ended.getAsBoolean()) {
            if (System.nanoTime() >= nextCancel) {
                cancel.run();
                nextCancel = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
    }

    /** The protocol's cancel request for whatever each open connection runs (none: no effect). */
    synchronized void cancelRunning() {
        for (Connection connection : watched) {
            if (!isClosed(connection)) {
                cancel(connection);
            }
        }
    }

    /** The protocol's cancel request for whatever CONNECTION runs (none: no effect). */
    static void cancel(Connection connection) {
        try {
            connection.unwrap(PGConnection.class).cancelQuery();
        } catch (SQLException ignored) {
            // The server is unreachable: aborting the connection is all that is left.
        }
    }

    private synchronized boolean allClosed() {
        return watched.stream().allMatch(Deadline::isClosed);
    }

    private synchronized void abortAll() {
        for (Connection connection : watched) {
            abort(connection);
        }
    }

    static void abort(Connection connection) {
        try {
            connection.abort(Runnable::run);
        } catch (SQLException ignored) {
            // Already closed: nothing left to interrupt.
        }
    }

    private static boolean isClosed(Connection connection) {
        try {
            return connection.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    /** Turns an error caused by the deadline into the timeout message. */
    Failure failure(String doing, SQLException cause) {
        if (hasExpired()) {
            return timedOut(doing);
        }
        return new Failure(doing + " failed: " + Sql.oneLine(cause));
    }

    Failure timedOut(String doing) {
        return new Failure("timed out after " + describe(limit) + " while " + doing
                + " (raise the bound with --timeout)");
    }

    static String describe(Duration duration) {
        if (duration.toMillis() % 1000 != 0) {
            return duration.toMillis() + "ms";
        }
        return duration.toSeconds() + "s";
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
