// The bound on the whole run (--timeout, SPEC section 2).

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * When the time is up it aborts the open connections, so whatever statement
 * is running fails at once and the caller reports the timeout instead of the
 * resulting I/O error.
 */
final class Deadline implements AutoCloseable {
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
            try {
                connection.abort(Runnable::run);
            } catch (SQLException ignored) {
                // Going away anyway.
            }
            throw timedOut(doing);
        }
        watched.add(connection);
        return connection;
    }

    /** Fails with the timeout message once the time is up: called between phases. */
    void check(String doing) throws Failure {
        if (hasExpired()) {
            throw timedOut(doing);
        }
    }

    private synchronized void expire() {
        expired.set(true);
        for (Connection connection : watched) {
            try {
                connection.abort(Runnable::run);
            } catch (SQLException ignored) {
                // Already closed: nothing left to interrupt.
            }
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
