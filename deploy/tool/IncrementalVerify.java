// --since FILE (SPEC section 9.8): verify only what was appended after a
// checkpoint, a snapshot recorded earlier outside the database. The row at
// the checkpoint's position must still carry the checkpoint's head, and every
// later row must link from it and hash correctly, up to the sentinel. Rows
// before the checkpoint are trusted, not read; only their number is checked.

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

final class IncrementalVerify {
    private IncrementalVerify() {}

    /** A snapshot recorded earlier: its head was the hash of the row at position rowCount-1. */
    record Checkpoint(String head, long rowCount) {
        long position() {
            return rowCount - 1;
        }

        static Checkpoint read(Path file) throws Failure {
            JsonNode snapshot;
            try {
                snapshot = new ObjectMapper().readTree(Files.readString(file));
            } catch (IOException e) {
                throw new Failure("cannot read --since " + file + ": " + Failure.reason(e));
            }
            if (snapshot == null || !snapshot.path("chain_head_hash").isTextual()
                    || !snapshot.path("row_count").isIntegralNumber()) {
                throw new Failure("--since " + file + " is not a snapshot: it needs chain_head_hash and row_count");
            }
            String head = snapshot.get("chain_head_hash").asText();
            long rowCount = snapshot.get("row_count").asLong();
            if (rowCount < 1 || !head.matches("[0-9a-f]{64}")) {
                throw new Failure("--since " + file + " records an empty chain (row_count " + rowCount
                        + "): verify the whole chain instead");
            }
            return new Checkpoint(head, rowCount);
        }
    }

    /** The "incremental" object of the snapshot (SPEC section 9.8). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonPropertyOrder({"since_position", "since_head", "checkpoint_found", "rows_hashed", "earlier_rows",
            "earlier_rows_rehashed", "server_verifier"})
    record Report(long sincePosition, String sinceHead, boolean checkpointFound, long rowsHashed, Long earlierRows,
                  boolean earlierRowsRehashed, String serverVerifier) {
        /** The chain had sincePosition rows before the checkpoint's; any other number was inserted or deleted. */
        boolean earlierRowsChanged() {
            return earlierRows != null && earlierRows != sincePosition;
        }
    }

    /** The client's verdict, positions counted from the chain's start, and what this run did. */
    record Result(ChainWalker.Verdict verdict, Report report) {}

    /**
     * Finds the checkpoint's row by the chain position our trigger records
     * (chain_seq): the row just before the first row that links from the
     * checkpoint's head, or the last row when nothing was appended. Then
     * walks it and every row after it (and any row with no position, which
     * someone inserted behind the trigger's back) in position order, the
     * checkpoint's row standing in for the genesis row. The rows it does not
     * read (rowCount, the snapshot's COUNT(*), less those it reads) must be
     * as many as the chain had before the checkpoint: a row inserted with
     * an old position or deleted from before the checkpoint breaks the
     * walk there (expectation_mismatch), though what those rows hold is
     * not read.
     */
    static Result walk(Connection connection, AuditSchema schema, Checkpoint checkpoint, String sentinel,
                       boolean serverRuns, long rowCount, Deadline deadline) throws Failure {
        String doing = "reading audit_events after the --since checkpoint";
        String table = schema.qualified("audit_events");
        Long checkpointSeq = checkpointPosition(connection, table, checkpoint, deadline, doing);
        String serverVerifier = serverRuns ? "run" : "skipped";
        if (checkpointSeq == null) {
            ChainWalker.Verdict notFound = new ChainWalker.Verdict((int) checkpoint.position(), ChainWalker.BROKEN,
                    null, (int) checkpoint.position(), ChainWalker.EXPECTATION_MISMATCH, false, 0, null);
            return new Result(notFound, new Report(checkpoint.position(), checkpoint.head(), false, 0, null, false,
                    serverVerifier));
        }
        CopyRows rows = CopyRows.inChainOrder(connection, table, checkpointSeq,
                e -> Sql.schemaAwareFailure(deadline, doing, e));
        ChainWalker.RowSource fromCheckpoint = (rehash, sink) -> {
            boolean[] first = {true};
            rows.stream(rehash, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                sink.row(id, first[0] ? null : prevHash, rowHash, recomputed, ambiguous);
                first[0] = false;
            });
        };
        ChainWalker walker = new ChainWalker(sentinel, ChainWalker.Expectation.NONE);
        long[] read = {0};
        fromCheckpoint.stream(true, (id, prevHash, rowHash, recomputed, ambiguous) -> {
            read[0]++;
            walker.add(id, prevHash, rowHash, recomputed, ambiguous);
        });
        ChainWalker.Verdict verdict = walker.verdict(fromCheckpoint);
        Report report = new Report(checkpoint.position(), checkpoint.head(), true, verdict.walked(),
                rowCount - read[0], false, serverVerifier);
        return new Result(fromChainStart(verdict, checkpoint, report), report);
    }

    /**
     * The walk's verdict with positions counted from the chain's start; a
     * clean walk breaks at the checkpoint when the rows before it were not
     * as many as the checkpoint says.
     */
    private static ChainWalker.Verdict fromChainStart(ChainWalker.Verdict verdict, Checkpoint checkpoint,
                                                      Report report) {
        int offset = (int) checkpoint.position();
        if (!verdict.isBroken() && report.earlierRowsChanged()) {
            return new ChainWalker.Verdict(offset + verdict.walked(), ChainWalker.BROKEN, null, offset,
                    ChainWalker.EXPECTATION_MISMATCH, verdict.sentinelMatches(), verdict.ambiguousRows(), null);
        }
        return new ChainWalker.Verdict(offset + verdict.walked(), verdict.verdict(),
                verdict.firstBreakId(), verdict.firstBreakPos() == null ? null : offset + verdict.firstBreakPos(),
                verdict.breakKind(), verdict.sentinelMatches(), verdict.ambiguousRows(), null);
    }

    /** The checkpoint row's chain_seq when it still carries the checkpoint's head; null when it does not. */
    private static Long checkpointPosition(Connection connection, String table, Checkpoint checkpoint,
                                           Deadline deadline, String doing) throws Failure {
        if (!CopyRows.hasChainPosition(connection, table, deadline, doing)) {
            throw new Failure("--since needs the chain position column audit_events.chain_seq (our migration"
                    + " 000005) to find the checkpoint without reading the whole chain; verify without --since");
        }
        String sql = "SELECT chain_seq, row_hash FROM " + table
                + " WHERE chain_seq < coalesce((SELECT min(chain_seq) FROM " + table + " WHERE prev_hash = ?::text),"
                + " 9223372036854775807) ORDER BY chain_seq DESC LIMIT 1";
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, checkpoint.head());
            try (ResultSet row = statement.executeQuery()) {
                return row.next() && checkpoint.head().equals(row.getString(2)) ? row.getLong(1) : null;
            }
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, doing, e);
        }
    }
}
