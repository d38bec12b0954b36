// Where a server is in its history, as a ledger entry records it (SPEC
// section 9.10): which cluster, which timeline, which WAL position, when.

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;

/**
 * database is current_database(); systemIdentifier is pg_control_system()'s, the same in every physical
 * copy of the cluster and different in any other; on a standby the timeline
 * is the last checkpoint's and the LSN the last replayed one. On a primary
 * the LSN is the insert position: every commit the chain read saw lies
 * before it, even while the WAL writer has yet to write it out (the write
 * position can lag a commit made without waiting for the flush). Reading the
 * control functions needs EXECUTE on pg_control_system and
 * pg_control_checkpoint: PUBLIC's by default, else a grant or pg_monitor.
 */
record ServerPosition(String database, String systemIdentifier, long timeline, String walLsn, boolean inRecovery, Instant time) {

    /**
     * Values are printed by their types' own output (format's %s) and the
     * timeline's hex read in Java, never through a cast to text or bit: a
     * superuser's CREATE CAST (bigint AS text) in the database read would
     * answer such a cast with another cluster's identifier.
     */
    static final String SQL = """
            SELECT pg_catalog.current_database()::text,
                   pg_catalog.format('%s', (SELECT system_identifier FROM pg_catalog.pg_control_system())),
                   CASE WHEN pg_catalog.pg_is_in_recovery()
                        THEN pg_catalog.to_hex((SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))
                        ELSE pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END,
                   pg_catalog.format('%s', CASE WHEN pg_catalog.pg_is_in_recovery()
                                                THEN pg_catalog.pg_last_wal_replay_lsn()
                                                ELSE pg_catalog.pg_current_wal_insert_lsn() END),
                   pg_catalog.pg_is_in_recovery(),
                   pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            """;

    /** Read in a read-only transaction of its own, after the chain was read. */
    static ServerPosition read(Connector connector) throws Failure {
        Deadline deadline = connector.deadline();
        String doing = "reading the server's system identifier, timeline and WAL position";
        try (Connection connection = connector.open()) {
            connection.setReadOnly(true);
            try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(SQL)) {
                row.next();
                return new ServerPosition(row.getString(1), row.getString(2), Long.parseLong(row.getString(3), 16),
                        row.getString(4), row.getBoolean(5), Instant.parse(row.getString(6)));
            }
        } catch (SQLException e) {
            throw deadline.failure(doing, e);
        }
    }
}
