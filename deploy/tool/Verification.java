// --mode=verify: both verdicts on the chain, read in one snapshot of the
// database (SPEC sections 3 and 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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
        return run(connector, expectation, clientVerify, null, true);
    }

    /**
     * With a checkpoint (--since), the client walks only the rows from the
     * checkpoint on (IncrementalVerify), and the server's verifier, which
     * always walks the whole chain, runs only when serverVerify is set.
     */
    static Snapshot run(Connector connector, ChainWalker.Expectation expectation, boolean clientVerify,
                        IncrementalVerify.Checkpoint checkpoint, boolean serverVerify) throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open()) {
            beginReadOnlySnapshot(connection);
            SchemaCheck.require(connection, deadline);
            Snapshot snapshot = Snapshot.read(connection, PHASE, deadline);
            String sentinel = snapshot.chainHeadHash();
            CompletableFuture<ChainWalker.Verdict> client = null;
            IncrementalVerify.Report[] incremental = new IncrementalVerify.Report[1];
            if (clientVerify) {
                Walk walk = checkpoint == null
                        ? walkConnection -> ClientVerifier.run(walkConnection, sentinel, expectation, deadline)
                        : walkConnection -> {
                            var result = IncrementalVerify.walk(walkConnection, checkpoint, sentinel, serverVerify,
                                    deadline);
                            incremental[0] = result.report();
                            return result.verdict();
                        };
                client = walkInSnapshot(connector, exportSnapshot(connection, deadline), walk);
            }
            ServerVerdict server = serverVerify ? ServerVerifier.run(connection, deadline) : null;
            if (server != null) {
                snapshot = snapshot.withServerVerdict(server);
            }
            if (client != null) {
                snapshot = snapshot.withClient(Snapshot.Client.of(joinWalk(client), server));
            }
            if (incremental[0] != null) {
                snapshot = snapshot.withIncremental(incremental[0]);
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

    /** A client walk over the rows a connection sees. */
    interface Walk {
        ChainWalker.Verdict on(Connection connection) throws Failure;
    }

    /** The client walk on its own connection and thread, in the snapshot the server's side reads. */
    private static CompletableFuture<ChainWalker.Verdict> walkInSnapshot(Connector connector, String snapshotId,
            Walk walk) throws Failure {
        Deadline deadline = connector.deadline();
        Connection walkConnection = connector.open();
        return CompletableFuture.supplyAsync(() -> {
            try (walkConnection; Statement statement = walkConnection.createStatement()) {
                beginReadOnlySnapshot(walkConnection);
                statement.execute("SET TRANSACTION SNAPSHOT '" + snapshotId + "'");
                ChainWalker.Verdict verdict = walk.on(walkConnection);
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
     * streamed through COPY (CopyRows); the walker keeps only what rows out
     * of link order need, and reads them again in the same transaction when
     * there are such rows.
     */
    static final class ClientVerifier {
        static ChainWalker.Verdict run(Connection connection, String sentinel, ChainWalker.Expectation expectation,
                                       Deadline deadline) throws Failure {
            String doing = "reading audit_events for client verification";
            CopyRows rows = new CopyRows(connection, "FROM audit_events", e -> Sql.schemaAwareFailure(deadline, doing, e));
            ChainWalker walker = new ChainWalker(sentinel, expectation);
            rows.stream(true, walker::add);
            return walker.verdict(rows);
        }
    }
}
