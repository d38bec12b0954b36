// Small helpers every query uses: the server's error on one line, one-value
// queries, and failures that say when the database was never migrated.

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

final class Sql {
    private Sql() {}

    /** Work that runs inside one transaction. */
    interface Work {
        void run() throws SQLException;
    }

    /**
     * Runs work in one transaction on a connection and commits it, or rolls
     * it back and rethrows; the connection's autocommit is put back as it was.
     */
    static void inTransaction(Connection connection, Work work) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try {
            work.run();
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    /** The server's message with its detail, or the driver's, on one line. */
    static String oneLine(SQLException e) {
        String message = e.getMessage();
        if (e instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            ServerErrorMessage server = psql.getServerErrorMessage();
            message = server.getMessage();
            if (server.getDetail() != null) {
                message += " (" + server.getDetail() + ")";
            }
            if (server.getHint() != null) {
                message += " (hint: " + server.getHint() + ")";
            }
        } else if (message == null || message.equals("The connection attempt failed.")) {
            // The driver's generic words; the cause (unknown host, timeout, ...) says what happened.
            message = describeCause(e.getCause() != null ? e.getCause() : e);
        }
        return message.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    /**
     * Whether a statement run in autocommit provably did not commit: the
     * server answered it with an error, which ends its transaction without a
     * commit. A broken connection (class 08) or a terminated backend (57P…)
     * proves nothing: the commit may have happened just before.
     */
    static boolean endedWithoutCommit(SQLException e) {
        String state = e.getSQLState();
        return e instanceof PSQLException psql && psql.getServerErrorMessage() != null && state != null
                && !state.startsWith("08") && !state.startsWith("57P");
    }

    private static String describeCause(Throwable cause) {
        if (cause instanceof java.net.UnknownHostException) {
            return "unknown host " + cause.getMessage();
        }
        if (cause instanceof java.net.SocketTimeoutException) {
            return "no answer from the server in time (" + cause.getMessage() + "; see --connect-timeout)";
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    /** Sets the session's search_path to PATH (for the rest of the session, not only the transaction). */
    static void setSearchPath(Connection connection, String path, Deadline deadline) throws Failure {
        queryOne(connection, "SELECT pg_catalog.set_config('search_path', ?, false)", deadline,
                "setting the search_path to " + path, path);
    }

    /** The first column of a query's one row, as text; no row at all is a failure. Parameters are text. */
    static String queryOne(Connection connection, String sql, Deadline deadline, String doing, String... parameters)
            throws Failure {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                statement.setString(i + 1, parameters[i]);
            }
            try (ResultSet result = statement.executeQuery()) {
                if (!result.next()) {
                    throw new Failure(doing + " failed: the query returned no row (" + sql + ")");
                }
                return result.getString(1);
            }
        } catch (SQLException e) {
            throw schemaAwareFailure(deadline, doing, e);
        }
    }

    /** Missing tables or functions mean the database was never migrated: say so. */
    static Failure schemaAwareFailure(Deadline deadline, String doing, SQLException e) {
        String state = e.getSQLState();
        // undefined_table, undefined_function, undefined_column
        if ("42P01".equals(state) || "42883".equals(state) || "42703".equals(state)) {
            return new Failure(doing + " failed: " + oneLine(e)
                    + "; this database lacks the audit chain schema: run --mode=workload (the migrations) first");
        }
        return deadline.failure(doing, e);
    }
}
