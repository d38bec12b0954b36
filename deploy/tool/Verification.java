// --mode=verify: both verdicts on the chain, read in one snapshot of the
// database (SPEC sections 3 and 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

final class Verification {
    private Verification() {}

    static final String PHASE = "verify";

    /**
     * Everything verify reads describes one state of the database: the counts,
     * the sentinel and the server's verdict come from one read-only REPEATABLE
     * READ transaction, and the client walks the rows on a second connection
     * that imports that transaction's snapshot. The two run side by side, so
     * the client's walk adds little to the time the server's function takes;
     * a rewritten verifier function could not write either.
     */
    static Snapshot run(Connector connector, ChainWalker.Expectation expectation, boolean clientVerify)
            throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open()) {
            beginReadOnlySnapshot(connection);
            SchemaCheck.require(connection, deadline);
            Snapshot snapshot = Snapshot.read(connection, PHASE, deadline);
            CompletableFuture<ChainWalker.Verdict> client = clientVerify
                    ? walkInSnapshot(connector, exportSnapshot(connection, deadline), snapshot, expectation)
                    : null;
            ServerVerdict server = ServerVerifier.run(connection, deadline);
            snapshot = snapshot.withServerVerdict(server);
            if (client != null) {
                snapshot = snapshot.withClient(Snapshot.Client.of(joinWalk(client), server));
            }
            snapshot = snapshot.withIntegrity(Integrity.read(connection, deadline));
            connection.rollback();
            return snapshot;
        } catch (SQLException e) {
            throw deadline.failure("setting up the verify transaction", e);
        }
    }

    private static void beginReadOnlySnapshot(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        connection.setReadOnly(true);
    }

    private static String exportSnapshot(Connection connection, Deadline deadline) throws Failure {
        return Sql.queryOne(connection, "SELECT pg_export_snapshot()", deadline, "exporting the verify snapshot");
    }

    /** The client walk on its own connection and thread, in the snapshot the server's side reads. */
    private static CompletableFuture<ChainWalker.Verdict> walkInSnapshot(Connector connector, String snapshotId,
            Snapshot snapshot, ChainWalker.Expectation expectation) throws Failure {
        Deadline deadline = connector.deadline();
        Connection walkConnection = connector.open();
        return CompletableFuture.supplyAsync(() -> {
            try (walkConnection; Statement statement = walkConnection.createStatement()) {
                beginReadOnlySnapshot(walkConnection);
                statement.execute("SET TRANSACTION SNAPSHOT '" + snapshotId + "'");
                ChainWalker.Verdict verdict = ClientVerifier.run(walkConnection, snapshot.rowCount(),
                        snapshot.chainHeadHash(), expectation, deadline);
                walkConnection.rollback();
                return verdict;
            } catch (SQLException e) {
                throw new CompletionException(deadline.failure("importing the verify snapshot", e));
            } catch (Failure e) {
                throw new CompletionException(e);
            }
        });
    }

    private static ChainWalker.Verdict joinWalk(CompletableFuture<ChainWalker.Verdict> walk) throws Failure {
        try {
            return walk.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Failure failure) {
                throw failure;
            }
            throw e;
        }
    }

    // ------------------------------------------------------------ the server's verdict

    /** What the database's own audit_events_verify_chain() reports. */
    record ServerVerdict(String firstBreakId, int firstBreakPos, int walked) {
        boolean isBroken() {
            return firstBreakId != null;
        }
    }

    static final class ServerVerifier {
        static ServerVerdict run(Connection connection, Deadline deadline) throws Failure {
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery(
                         "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()")) {
                result.next();
                return new ServerVerdict(result.getString(1), result.getInt(2), result.getInt(3));
            } catch (SQLException e) {
                throw Sql.schemaAwareFailure(deadline, "running audit_events_verify_chain()", e);
            }
        }
    }

    // ------------------------------------------------------------ the client's verdict

    /**
     * Reads the raw columns and recomputes every hash in Java, so the verdict
     * does not depend on any function in the database under test. Rows are
     * streamed through a cursor; the walker keeps only hashes and ids.
     */
    static final class ClientVerifier {
        static final int FETCH_ROWS = 10_000;

        /**
         * The timestamp comes as text in UTC with ISO dates, which this
         * transaction pins for itself (the payload must not depend on the
         * caller's settings): turning that into the payload's form is a few
         * character moves, far cheaper than parsing a timestamp a row.
         */
        static ChainWalker.Verdict run(Connection connection, long rowCount, String sentinel,
                                       ChainWalker.Expectation expectation, Deadline deadline) throws Failure {
            ChainWalker walker = new ChainWalker((int) Math.min(rowCount, Integer.MAX_VALUE - 8));
            MessageDigest sha256 = AuditRow.newSha256();
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET LOCAL TimeZone = 'UTC'");
                statement.execute("SET LOCAL DateStyle = 'ISO, YMD'");
                statement.setFetchSize(FETCH_ROWS);
                try (ResultSet row = statement.executeQuery("SELECT id, actor, actor_type, action, resource_type,"
                        + " resource_id, details::text, \"timestamp\", event_category, prev_hash, row_hash"
                        + " FROM audit_events")) {
                    while (row.next()) {
                        addRow(walker, row, sha256);
                    }
                }
            } catch (SQLException e) {
                throw Sql.schemaAwareFailure(deadline, "reading audit_events for client verification", e);
            }
            return walker.verdict(sentinel, expectation);
        }

        private static void addRow(ChainWalker walker, ResultSet row, MessageDigest sha256) throws SQLException {
            AuditRow fields = new AuditRow(row.getString(10), row.getString(1), row.getString(2), row.getString(3),
                    row.getString(4), row.getString(5), row.getString(6), row.getString(7),
                    AuditRow.utcMicrosFromIsoText(row.getString(8)), row.getString(9));
            String id = fields.id();
            walker.add(id == null ? "" : id, fields.prevHash(), row.getString(11), fields.hashOrNull(sha256),
                    fields.isAmbiguous());
        }
    }
}
