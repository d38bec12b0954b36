// Where a server is in its history, as a ledger entry records it (SPEC
// section 9.10): which cluster, which timeline, which WAL position, when.

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;

/**
 * database is current_database(); systemIdentifier is pg_control_system()'s, the same in every physical
 * copy of the cluster and different in any other. On a primary the LSN is the insert position: every
 * commit the chain read saw lies before it, even while the WAL writer has yet to write it out (the write
 * position can lag a commit made without waiting for the flush). On a standby the LSN is the last replayed
 * one, and its timeline that of the WAL receiver's stream (replayTimeline); timelineDoubt says why that
 * could not be told, else null. Reading the control functions needs EXECUTE on pg_control_system and
 * pg_control_checkpoint: PUBLIC's by default, else a grant or pg_monitor; on a standby the receiver's
 * details need pg_read_all_stats (in pg_monitor).
 */
record ServerPosition(String database, String systemIdentifier, long timeline, String walLsn, boolean inRecovery,
                      Instant time, String timelineDoubt) {

    /**
     * Values are printed by their types' own output (format's %s) and the
     * timeline's hex read in Java, never through a cast to text or bit: a
     * superuser's CREATE CAST (bigint AS text) in the database read would
     * answer such a cast with another cluster's identifier. On a standby
     * the third column is the last restartpoint's timeline.
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
                                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   receiver.pid, receiver.status, receiver.receive_start_tli,
                   pg_catalog.format('%s', receiver.receive_start_lsn)
              FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_stat_wal_receiver AS receiver ON true
            """;

    /**
     * A standby's WAL receiver as pg_stat_wal_receiver shows it: pid null when there is none; status
     * and the start of its stream null to a role without pg_read_all_stats.
     */
    record Receiver(Integer pid, String status, Long startTimeline, String startLsn) {
        static final Receiver NONE = new Receiver(null, null, null, null);
    }

    /** Read in a read-only transaction of its own, after the chain was read. */
    static ServerPosition read(Connector connector) throws Failure {
        Deadline deadline = connector.deadline();
        String doing = "reading the server's system identifier, timeline and WAL position";
        try (Connection connection = connector.open()) {
            connection.setReadOnly(true);
            try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(SQL)) {
                row.next();
                long timeline = Long.parseLong(row.getString(3), 16);
                String walLsn = row.getString(4);
                boolean inRecovery = row.getBoolean(5);
                String doubt = null;
                if (inRecovery) {
                    String startLsn = row.getString(10); // format('%s', NULL) is ''
                    Receiver receiver = new Receiver((Integer) row.getObject(7), row.getString(8),
                            row.getObject(9) == null ? null : row.getLong(9),
                            startLsn == null || startLsn.isEmpty() ? null : startLsn);
                    try {
                        timeline = replayTimeline(timeline, walLsn, receiver);
                    } catch (Failure unknown) {
                        doubt = unknown.getMessage();
                    }
                }
                return new ServerPosition(row.getString(1), row.getString(2), timeline, walLsn, inRecovery,
                        Instant.parse(row.getString(6)), doubt);
            }
        } catch (SQLException e) {
            throw deadline.failure(doing, e);
        }
    }

    /** The position's timeline, or exit 1 when this standby's could not be told. */
    long exactTimeline() throws Failure {
        if (timelineDoubt != null) {
            throw new Failure(timelineDoubt);
        }
        return timeline;
    }

    /**
     * The timeline of a standby's replayed position REPLAYLSN. PostgreSQL names none: its last
     * restartpoint's (RESTARTPOINT) lags a switch it followed until its next restartpoint, minutes after a
     * failover. A streaming receiver asked for the timeline of the WAL it streams, from its start on: a
     * position replayed at or past that start lies on it (the WAL before a switch is on both timelines),
     * and one before it on the restartpoint's when the stream began on that timeline. Otherwise the
     * timeline cannot be told (exit 1).
     */
    static long replayTimeline(long restartpoint, String replayLsn, Receiver receiver) throws Failure {
        String cannot = "cannot tell which timeline this standby replays (its last restartpoint's, " + restartpoint
                + ", lags a timeline switch until its next restartpoint): ";
        String onPrimary = "record the checkpoint on the primary";
        if (receiver.pid() == null) {
            throw new Failure(cannot + "it streams no WAL (no WAL receiver); " + onPrimary);
        }
        if (receiver.status() == null) {
            throw new Failure(cannot + "pg_stat_wal_receiver shows its WAL receiver only to pg_read_all_stats (or"
                    + " pg_monitor); grant it, or " + onPrimary);
        }
        if (!"streaming".equals(receiver.status())) {
            throw new Failure(cannot + "its WAL receiver is " + receiver.status() + ", not streaming; retry, or "
                    + onPrimary);
        }
        if (LedgerEntry.compareLsn(replayLsn, receiver.startLsn()) >= 0) {
            return receiver.startTimeline();
        }
        if (receiver.startTimeline() == restartpoint) {
            return restartpoint;
        }
        throw new Failure(cannot + "it replayed up to " + replayLsn + ", before its WAL receiver's stream of timeline "
                + receiver.startTimeline() + " from " + receiver.startLsn() + "; retry once replay passes it, or "
                + onPrimary);
    }
}
