// --mode=archive-now --db-url=URL [--archive-timeout=SECONDS] (SPEC 7,
// 9.6): closes the current WAL segment (pg_switch_wal()) and waits, polling
// pg_stat_archiver every 0.2 s, until the archiver has archived it, so what
// reads the archive next (Barman's check, a PITR restore) finds that WAL.
// The harness asks it of its throwaway cluster, as the superuser postgres.
// Exit 1 and one line when it is not archived in time, naming the segment
// the archive_command failed on last.

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import picocli.CommandLine.Option;

final class ArchiveNow {
    static final String MODE = "archive-now";
    private static final long POLL_MILLIS = 200;
    /** WAL file names (24 hex digits) sort in WAL order; a suffix (.partial, .history) is not compared. */
    private static final int SEGMENT_NAME = 24;

    private ArchiveNow() {
    }

    /** The mode's options (picocli mixin); elsewhere they are usage errors. */
    static final class Options {
        @Option(names = "--archive-timeout", paramLabel = "SECONDS", defaultValue = "60")
        int timeoutSeconds;
    }

    static int run(Options options, Connector connector) throws Failure {
        if (options.timeoutSeconds < 1) {
            throw new Failure("--archive-timeout must be at least 1 second, got " + options.timeoutSeconds);
        }
        long deadline = System.nanoTime() + options.timeoutSeconds * 1_000_000_000L;
        try (Connection connection = connector.open(); Statement statement = connection.createStatement()) {
            requireArchiving(statement);
            String segment;
            try (ResultSet row = statement.executeQuery(
                    "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())")) {
                row.next();
                segment = row.getString(1);
            }
            // Each query its own transaction: a fresh look at the archiver's statistics.
            while (true) {
                try (ResultSet row = statement.executeQuery(
                        "SELECT last_archived_wal, last_failed_wal FROM pg_catalog.pg_stat_archiver")) {
                    row.next();
                    if (archivedUpTo(row.getString(1), segment)) {
                        return 0;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new Failure(notArchived(segment, options.timeoutSeconds, row.getString(2)));
                    }
                }
                Thread.sleep(POLL_MILLIS);
            }
        } catch (SQLException e) {
            throw new Failure("cannot archive the current WAL segment: " + Sql.oneLine(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for the WAL archiver");
        }
    }

    /** Without archive_mode no segment is ever archived: say so now rather than after the wait. */
    private static void requireArchiving(Statement statement) throws SQLException, Failure {
        try (ResultSet row = statement.executeQuery("SELECT pg_catalog.current_setting('archive_mode')")) {
            row.next();
            if (row.getString(1).equals("off")) {
                throw new Failure("archive_mode is off on this server: no WAL segment is archived"
                        + " (--mode=physical-setup turns it on)");
            }
        }
    }

    /** Whether LAST_ARCHIVED (pg_stat_archiver's last_archived_wal; null: none yet) is SEGMENT or a later one. */
    static boolean archivedUpTo(String lastArchived, String segment) {
        if (lastArchived == null) {
            return false;
        }
        String name = lastArchived.substring(0, Math.min(SEGMENT_NAME, lastArchived.length()));
        return name.compareTo(segment) >= 0;
    }

    static String notArchived(String segment, int seconds, String lastFailed) {
        return "WAL segment " + segment + " was not archived within " + seconds + " s: "
                + (lastFailed == null ? "no archive_command failed" : lastFailed + " failed last");
    }
}
