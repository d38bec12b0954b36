// The row hash at given chain positions (0 = the genesis row), for comparing
// a chain with the ledger's entries or with another copy of itself.

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Positions are counted in the server verifier's order (chain_seq, then
 * timestamp and id), which is the link order of a clean chain. On a chain
 * both verdicts call clean, equal hashes at a position mean equal chains up
 * to it: each row's hash covers the one before.
 */
final class ChainPositions {
    private ChainPositions() {}

    /** position → row_hash for each position the chain has (missing ones are left out). */
    static Map<Long, String> hashesAt(Connection connection, AuditSchema schema, Collection<Long> positions,
                                      Deadline deadline) throws Failure {
        String sql = "SELECT position, row_hash FROM (SELECT row_number() OVER (ORDER BY chain_seq NULLS LAST,"
                + " \"timestamp\", id COLLATE \"C\") - 1 AS position, row_hash FROM "
                + schema.qualified("audit_events") + ") AS chain WHERE position = ANY (?)";
        Map<Long, String> hashes = new TreeMap<>();
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            Array wanted = connection.createArrayOf("bigint", positions.toArray());
            statement.setArray(1, wanted);
            try (ResultSet row = statement.executeQuery()) {
                while (row.next()) {
                    hashes.put(row.getLong(1), row.getString(2));
                }
            }
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, "reading row hashes at ledger positions", e);
        }
        return hashes;
    }

    /** One connection, read-only, for hashesAt on a database no transaction is open in yet. */
    static Map<Long, String> hashesAt(Connector connector, AuditSchema schema, Collection<Long> positions)
            throws Failure {
        try (Connection connection = connector.withSearchPath(Connector.CATALOG_ONLY).open()) {
            connection.setReadOnly(true);
            return hashesAt(connection, schema, positions, connector.deadline());
        } catch (SQLException e) {
            throw connector.deadline().failure("reading row hashes at ledger positions", e);
        }
    }

    /** count(*) of the audit table, read-only. */
    static long rowCount(Connector connector, AuditSchema schema) throws Failure {
        try (Connection connection = connector.open()) {
            connection.setReadOnly(true);
            return Long.parseLong(Sql.queryOne(connection, "SELECT count(*) FROM " + schema.qualified("audit_events"),
                    connector.deadline(), "counting audit_events"));
        } catch (SQLException e) {
            throw connector.deadline().failure("counting audit_events", e);
        }
    }

    /**
     * A value about the row with this hash, by an expression over the row
     * (e.g. pg_xact_commit_timestamp(xmin)); null when no row has it or the
     * value is NULL (or prints as nothing). The value is printed by its
     * type's output function (format's %s), not by a cast to text, which a
     * superuser's CREATE CAST (xid AS text) would answer instead.
     */
    static String aboutRow(Connector connector, AuditSchema schema, String rowHash, String expression)
            throws Failure {
        String sql = "SELECT (SELECT NULLIF(pg_catalog.format('%s', " + expression + "), '') FROM "
                + schema.qualified("audit_events")
                + " WHERE row_hash = ?::text LIMIT 1)";
        try (Connection connection = connector.withSearchPath(Connector.CATALOG_ONLY).open()) {
            connection.setReadOnly(true);
            return Sql.queryOne(connection, sql, connector.deadline(), "reading " + expression + " of a row", rowHash);
        } catch (SQLException e) {
            throw connector.deadline().failure("reading " + expression + " of a row", e);
        }
    }
}
