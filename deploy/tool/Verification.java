// --mode=verify: both verdicts on the chain, read in one snapshot of the
// database (SPEC sections 3 and 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

final class Verification {
    private Verification() {}

    static final String PHASE = "verify";

    /**
     * What verify is asked: --schema (null: find it), the anchor, whether
     * the client walks the chain, and --expect-exact. The walk also runs
     * under --no-client-verify when an anchor is given, as the anchor can
     * only be checked on the walked chain.
     */
    record Request(String schema, ChainWalker.Expectation expectation, boolean clientWalk,
                   IncrementalVerify.Checkpoint checkpoint, boolean serverVerify,
                   Map<String, String> anchorFingerprint) {
        Request(String schema, ChainWalker.Expectation expectation, boolean clientWalk) {
            this(schema, expectation, clientWalk, null, true, null);
        }

        boolean walks() {
            return clientWalk || expectation.isGiven();
        }
    }

    /**
     * Everything verify reads describes one state of the database: the counts,
     * the sentinel and the server's verdict come from one read-only REPEATABLE
     * READ transaction, and the client walks the rows on a second connection
     * that imports that transaction's snapshot. The two run side by side, so
     * the client's walk adds little to the time the server's function takes;
     * a rewritten verifier function could not write either. Every name is
     * qualified with the audit schema, and every connection's search_path is
     * the catalogs alone (the server's verifier aside, ServerVerifier.run).
     * With a checkpoint (--since), the
     * client walks only the rows from the checkpoint on (IncrementalVerify),
     * and the server's verifier, which always walks the whole chain, runs
     * only when serverVerify is set.
     */
    static Snapshot run(Connector connector, Request request) throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open()) {
            beginReadOnlySnapshot(connection);
            AuditSchema schema = AuditSchema.resolve(connection, request.schema(), deadline);
            // The catalogs alone, whatever path the caller's connector gives: see ServerVerifier.run.
            Sql.setSearchPath(connection, Connector.CATALOG_ONLY, deadline);
            SchemaCheck.require(connection, schema, deadline);
            SchemaCheck.requireEveryRowVisible(connection, schema, deadline);
            // A client walk from the chain's start reads every row in this
            // snapshot, and counts them; any other run counts them here.
            boolean walksEveryRow = request.walks() && request.checkpoint() == null;
            Snapshot snapshot = walksEveryRow ? Snapshot.readHead(connection, schema, PHASE, deadline)
                    : Snapshot.read(connection, schema, PHASE, deadline);
            String sentinel = snapshot.chainHeadHash();
            long rowCount = snapshot.rowCount();
            IncrementalVerify.Report[] incremental = new IncrementalVerify.Report[1];
            RunningWalk client = null;
            if (request.walks()) {
                IncrementalVerify.Checkpoint checkpoint = request.checkpoint();
                Walk walk = checkpoint == null
                        ? walkConnection -> ClientVerifier.run(walkConnection, schema, sentinel,
                                request.expectation(), deadline)
                        : walkConnection -> {
                            var result = IncrementalVerify.walk(walkConnection, schema, checkpoint, sentinel,
                                    request.serverVerify(), rowCount, deadline);
                            incremental[0] = result.report();
                            return new ClientWalk(result.verdict(), null, ClientWalk.ROWS_NOT_COUNTED);
                        };
                client = walkInSnapshot(connector.withSearchPath(Connector.CATALOG_ONLY),
                        exportSnapshot(connection, deadline), walk);
                client.cancelOnFailure(connection);
            }
            ServerVerdict server = request.serverVerify() ? serverVerdictOrStop(connection, schema, client, deadline)
                    : null;
            if (server != null) {
                snapshot = snapshot.withServerVerdict(server);
            }
            if (client != null) {
                ClientWalk walk = joinWalk(client.result());
                if (walksEveryRow) {
                    snapshot = snapshot.withRowCount(walk.rowsRead());
                }
                snapshot = snapshot.withClient(clientReport(connection, schema, walk, server, sentinel,
                        request.expectation(), deadline));
            }
            if (incremental[0] != null) {
                snapshot = snapshot.withIncremental(incremental[0]);
            }
            deadline.check("fingerprinting the integrity machinery");
            Map<String, String> fingerprint = Integrity.read(connection, schema, deadline);
            snapshot = withFindings(snapshot.withIntegrity(fingerprint), connection, schema,
                    request.anchorFingerprint(), deadline);
            connection.rollback();
            return snapshot;
        } catch (SQLException e) {
            throw deadline.failure("setting up the verify transaction", e);
        }
    }

    /**
     * Columns outside the hash, missing append-only protections, and how
     * the machinery differs from the anchor's fingerprint; a difference is
     * an unmet expectation (expectations_met false) although the chain's
     * own verdict stays as walked.
     */
    private static Snapshot withFindings(Snapshot snapshot, Connection connection, AuditSchema schema,
                                         Map<String, String> anchorFingerprint, Deadline deadline) throws Failure {
        List<String> changes = anchorFingerprint == null ? List.of()
                : Integrity.changes(anchorFingerprint, snapshot.integrity());
        Snapshot found = snapshot.withFindings(ChainFindings.unhashedColumns(connection, schema, deadline),
                ChainFindings.missingProtections(connection, schema, deadline), changes);
        if (!changes.isEmpty() && found.client() != null) {
            found = found.withClient(found.client().withExpectationsMet(false));
        }
        return found;
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
        ClientWalk on(Connection connection) throws Failure;
    }

    /**
     * The server's verdict; when it fails (the deadline, an error in the
     * function), the client walk running beside it is stopped first, so a
     * failed verify leaves no statement of its own on the server. A walk
     * that failed first cancelled it (cancelOnFailure): the walk's failure
     * is then the one told.
     */
    private static ServerVerdict serverVerdictOrStop(Connection connection, AuditSchema schema, RunningWalk client,
                                                     Deadline deadline) throws Failure {
        try {
            return ServerVerifier.run(connection, schema, deadline);
        } catch (Failure | RuntimeException e) {
            if (client != null) {
                boolean walkFailedFirst = client.result().isCompletedExceptionally();
                client.stop();
                if (walkFailedFirst) {
                    joinWalk(client.result());
                }
            }
            throw e;
        }
    }

    /** A client walk under way: its result to come, and the connection it reads on. */
    private record RunningWalk(CompletableFuture<ClientWalk> result, Connection connection) {
        /**
         * Once the walk fails, the statement running on MAIN (the server's
         * verifier, minutes on a large log) is cancelled: verify fails at
         * once, with the walk's reason, instead of after the verifier's end.
         */
        void cancelOnFailure(Connection main) {
            result.whenComplete((walk, failure) -> {
                if (failure != null) {
                    Deadline.cancel(main);
                }
            });
        }

        /**
         * Cancels the walk's statement until the walk ends (it closes its
         * connection), at most Deadline.CANCEL_GRACE, then cuts the
         * connection: Deadline.stopStatements's way, for this connection
         * alone. Whatever the walk found is of no use any more.
         */
        void stop() {
            Deadline.cancelUntil(result::isDone, () -> Deadline.cancel(connection));
            Deadline.abort(connection);
        }
    }

    /** The client walk on its own connection and thread, in the snapshot the server's side reads. */
    private static RunningWalk walkInSnapshot(Connector connector, String snapshotId, Walk walk) throws Failure {
        Deadline deadline = connector.deadline();
        Connection walkConnection = connector.open();
        return new RunningWalk(CompletableFuture.supplyAsync(() -> {
            try (walkConnection; Statement statement = walkConnection.createStatement()) {
                beginReadOnlySnapshot(walkConnection);
                statement.execute("SET TRANSACTION SNAPSHOT '" + snapshotId + "'");
                ClientWalk result = walk.on(walkConnection);
                walkConnection.rollback();
                return result;
            } catch (SQLException e) {
                throw new CompletionException(deadline.failure("importing the verify snapshot", e));
            } catch (Failure e) {
                throw new CompletionException(e);
            }
        }), walkConnection);
    }

    private static ClientWalk joinWalk(CompletableFuture<ClientWalk> walk) throws Failure {
        try {
            return walk.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Failure failure) {
                throw failure;
            }
            throw e;
        }
    }

    /** The walker's verdict with what only verify can add: exact anchoring, the likely cause, the first ambiguous row. */
    private static Snapshot.Client clientReport(Connection connection, AuditSchema schema, ClientWalk walk,
            ServerVerdict server, String sentinel, ChainWalker.Expectation expectation, Deadline deadline)
            throws Failure {
        Snapshot.Client report = Snapshot.Client.of(walk.verdict(), server);
        Long extraRows = null;
        if (expectation.exact() && expectation.rows() != null && walk.verdict().walked() > expectation.rows()) {
            extraRows = walk.verdict().walked() - expectation.rows();
        }
        String likelyCause = namesAHashNoRowHas(connection, schema, report, sentinel, deadline) ? SKIPPED_INSERT : null;
        String ambiguity = walk.firstAmbiguousId() == null ? null
                : whyAmbiguous(connection, schema, walk.firstAmbiguousId(), deadline);
        return report.withVerifyFacts(walk.firstAmbiguousId(), ambiguity, likelyCause, extraRows);
    }

    /**
     * Why a row's payload could be another row's (issue 18 item 6): a
     * timestamp with no payload text (infinity), a BC date (the payload
     * omits the era, so it reads as the same date AD), or a '|' in a field.
     */
    private static String whyAmbiguous(Connection connection, AuditSchema schema, String id, Deadline deadline)
            throws Failure {
        return Sql.queryOne(connection, """
                SELECT CASE
                    WHEN NOT isfinite("timestamp") THEN
                        'its timestamp ' || "timestamp"::text || ' has no text in the payload'
                    WHEN to_char("timestamp" AT TIME ZONE 'UTC', 'BC') = 'BC' THEN
                        'its timestamp ' || to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
                        || ' BC (UTC) has the payload of the same date AD: the payload omits the era'
                    ELSE 'a field holds ''|'', the payload''s separator, unescaped'
                END
                FROM """ + schema.qualified("audit_events") + " WHERE id = ? LIMIT 1",
                deadline, "reading the first ambiguous row", id);
    }

    /** Issue 11 item 2: what an insert skipped after the chain trigger had linked it leaves behind. */
    static final String SKIPPED_INSERT = "a hash no row has: likely an insert that ON CONFLICT DO NOTHING skipped"
            + " after a chain trigger older than migration 000007 had linked it (or rows were deleted)";

    /** A link (missing_predecessor) or the sentinel (sentinel_mismatch) naming a hash no row has. */
    private static boolean namesAHashNoRowHas(Connection connection, AuditSchema schema, Snapshot.Client report,
                                              String sentinel, Deadline deadline) throws Failure {
        if (ChainWalker.MISSING_PREDECESSOR.equals(report.breakKind())) {
            return true;
        }
        if (!ChainWalker.SENTINEL_MISMATCH.equals(report.breakKind()) || sentinel == null || sentinel.isEmpty()) {
            return false;
        }
        return "f".equals(Sql.queryOne(connection, "SELECT EXISTS (SELECT 1 FROM " + schema.qualified("audit_events")
                + " WHERE row_hash = ?)", deadline, "looking for the row the sentinel names", sentinel));
    }

    // ------------------------------------------------------------ the server's verdict

    /** What the database's own audit_events_verify_chain() reports; missing when the function is gone. */
    record ServerVerdict(String firstBreakId, int firstBreakPos, int walked, boolean isMissing) {
        static final ServerVerdict MISSING = new ServerVerdict(null, -1, 0, true);

        boolean isBroken() {
            return firstBreakId != null;
        }
    }

    static final class ServerVerifier {
        /**
         * Looked up before it is called: a call that fails would abort the
         * transaction the fingerprint is still to be read in, and a dropped
         * verifier leaves the client's verdict to give. The call alone runs
         * with the audit schema on the search_path (a verifier that does not
         * pin its own may name the tables unqualified); every other query of
         * verify runs with the catalogs alone, since the schema's owner could
         * put a closer match for one of their operators or functions there
         * (an &(smallint, integer) rigged the trigger checks) and PostgreSQL
         * takes an exact match from any schema on the path.
         */
        static ServerVerdict run(Connection connection, AuditSchema schema, Deadline deadline) throws Failure {
            deadline.check("running audit_events_verify_chain()");
            String verifier = schema.qualified("audit_events_verify_chain") + "()";
            String exists = Sql.queryOne(connection, "SELECT to_regprocedure(?) IS NOT NULL", deadline,
                    "looking for audit_events_verify_chain()", verifier);
            if (!"t".equals(exists)) {
                return ServerVerdict.MISSING;
            }
            Sql.setSearchPath(connection, schema.queryPath(), deadline);
            ServerVerdict verdict;
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery(
                         "SELECT first_break_id, first_break_pos, row_count FROM " + verifier)) {
                result.next();
                verdict = new ServerVerdict(result.getString(1), result.getInt(2), result.getInt(3), false);
            } catch (SQLException e) {
                throw Sql.schemaAwareFailure(deadline, "running audit_events_verify_chain()", e);
            }
            Sql.setSearchPath(connection, Connector.CATALOG_ONLY, deadline);
            return verdict;
        }
    }

    // ------------------------------------------------------------ the client's verdict

    /**
     * The walker's verdict, the first row, in the order read, whose payload
     * another row could share, and how many rows audit_events holds (all
     * were read; ROWS_NOT_COUNTED when the walk read only some).
     */
    record ClientWalk(ChainWalker.Verdict verdict, String firstAmbiguousId, long rowsRead) {
        static final long ROWS_NOT_COUNTED = -1;
    }

    /**
     * Reads the raw columns and recomputes every hash in Java, so the verdict
     * does not depend on any function in the database under test. Rows are
     * streamed through COPY (CopyRows), in chain position order when the
     * table records one (our migrations' chain_seq) and else in its
     * physical order; the walker keeps only what rows out of link order
     * need, and reads them again in the same transaction when there are
     * such rows. In chain order a clean chain is one run of linked rows,
     * walked in one read however the heap has been reshuffled.
     */
    static final class ClientVerifier {
        static ClientWalk run(Connection connection, AuditSchema schema, String sentinel,
                              ChainWalker.Expectation expectation, Deadline deadline) throws Failure {
            String doing = "reading audit_events for client verification";
            String table = schema.qualified("audit_events");
            Function<SQLException, Failure> onError = e -> Sql.schemaAwareFailure(deadline, doing, e);
            boolean inChainOrder = CopyRows.hasChainPosition(connection, table, deadline, doing);
            if (inChainOrder && CopyRows.heapLooksInChainOrder(connection, schema.name(), deadline, doing)) {
                ClientWalk walk = walkIfOneChainInRuns(new CopyRows(connection, "FROM " + table, onError), sentinel,
                        expectation);
                if (walk != null) {
                    return walk;
                }
            }
            CopyRows rows = inChainOrder
                    ? CopyRows.inChainOrder(connection, table, null, onError)
                    : new CopyRows(connection, "FROM " + table, onError);
            ChainWalker walker = new ChainWalker(sentinel, expectation);
            String[] firstAmbiguousId = new String[1];
            rows.stream(true, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                if (ambiguous && firstAmbiguousId[0] == null) {
                    firstAmbiguousId[0] = id;
                }
                walker.add(id, prevHash, rowHash, recomputed, ambiguous);
            });
            ChainWalker.Verdict verdict = walker.verdict(rows);
            return new ClientWalk(verdict, firstAmbiguousId[0], rows.rowsInLastRead());
        }

        /**
         * The walk over the rows in the heap's own order (one sequential
         * scan, what a plain COPY of the table reads; the chain_seq index's
         * order costs the server about a fifth more), kept while the rows
         * may be one clean chain stored as a few runs out of order (a table
         * that grew while autovacuum waited on its extension lock fills a
         * spare page millions of rows later): the walker keeps the runs'
         * ends and stitches them (ChainWalker.isOneChainInRuns). Such rows
         * are a chain whatever order they are read in, so the verdict is the
         * one the walk in chain order gives. At the first modified or
         * ambiguous row, second genesis row or head naming no hash, or past
         * ChainWalker.STITCHED_RUNS runs, the read stops; null then, and
         * also when the runs do not join into one chain (a fork, a gap):
         * the caller walks in chain order, whose verdict names the break.
         */
        private static ClientWalk walkIfOneChainInRuns(CopyRows heapOrder, String sentinel,
                                                       ChainWalker.Expectation expectation) throws Failure {
            ChainWalker walker = new ChainWalker(sentinel, expectation);
            boolean readAll = heapOrder.streamUntilStopped(true, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                walker.add(id, prevHash, rowHash, recomputed, ambiguous);
                if (!walker.mayBeOneChainInRuns()) {
                    throw new CopyRows.StopReading();
                }
            });
            if (!readAll || !walker.isOneChainInRuns()) {
                walker.discard();
                return null;
            }
            return new ClientWalk(walker.verdict(heapOrder), null, heapOrder.rowsInLastRead());
        }
    }
}
