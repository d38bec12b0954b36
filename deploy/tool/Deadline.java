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

    Deadline(Duration limit) {
        this.limit = limit;
        timer.schedule(this::expire, limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    boolean hasExpired() {
        return expired.get();
    }

    synchronized Connection watch(Connection connection) {
        watched.add(connection);
        return connection;
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
        if (expired.get()) {
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
