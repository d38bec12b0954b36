// ArchiveNow (--mode=archive-now): the order of WAL file names, and the mode
// against a cluster of its own (pg-cluster.sh) whose archive_command first
// fails, then succeeds, in process.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ArchiveNowTest {
    private static final String SEGMENT = "000000010000000000000003";

    @Test
    void aSegmentIsArchivedOnceTheArchiverReachedItOrWentPast() {
        assertFalse(ArchiveNow.archivedUpTo(null, SEGMENT));
        assertFalse(ArchiveNow.archivedUpTo("000000010000000000000002", SEGMENT));
        assertTrue(ArchiveNow.archivedUpTo(SEGMENT, SEGMENT));
        assertTrue(ArchiveNow.archivedUpTo("000000010000000000000004", SEGMENT));
        assertTrue(ArchiveNow.archivedUpTo("000000020000000000000001", SEGMENT)); // a later timeline
        assertFalse(ArchiveNow.archivedUpTo("000000010000000000000002.partial", SEGMENT));
        assertTrue(ArchiveNow.archivedUpTo(SEGMENT + ".partial", SEGMENT));
    }

    @Test
    void theReasonNamesTheSegmentTheWaitAndTheLastFailure() {
        assertEquals("WAL segment " + SEGMENT + " was not archived within 60 s: 000000010000000000000002 failed last",
                ArchiveNow.notArchived(SEGMENT, 60, "000000010000000000000002"));
        assertEquals("WAL segment " + SEGMENT + " was not archived within 1 s: no archive_command failed",
                ArchiveNow.notArchived(SEGMENT, 1, null));
    }

    @Test
    void theModeWaitsForTheArchiverAndNamesTheSegmentItFailedOn() throws Exception {
        Map<String, String> assigned = Support.startCluster("archive_mode = on\narchive_command = 'false'");
        String url = "postgres://postgres@127.0.0.1:" + assigned.get("PGC_PORT") + "/postgres?sslmode=disable";
        try {
            var failing = Support.tool("--mode=archive-now", "--db-url=" + url, "--archive-timeout=1");
            assertEquals(1, failing.exit(), failing.describe());
            assertTrue(failing.err().matches("backupsmoke: WAL segment ([0-9A-F]{24}) was not archived within 1 s: "
                    + "\\1 failed last\n"), failing.err());
            try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:"
                    + assigned.get("PGC_PORT") + "/postgres?user=postgres&sslmode=disable");
                    Statement statement = connection.createStatement()) {
                statement.execute("ALTER SYSTEM SET archive_command = 'true'");
                statement.execute("SELECT pg_catalog.pg_reload_conf()");
            }
            var archived = Support.tool("--mode=archive-now", "--db-url=" + url);
            assertEquals(0, archived.exit(), archived.describe());
            assertEquals("", archived.out() + archived.err());
        } finally {
            Support.stopCluster(assigned.get("PGC_DIR"));
        }
    }

    @Test
    void aServerThatArchivesNothingFailsAtOnceSayingSo() {
        Support.refused(1, "archive_mode is off on this server: no WAL segment is archived"
                + " (--mode=physical-setup turns it on)", "--mode=archive-now", "--db-url=" + Support.url("postgres"));
    }

    @Test
    void aTimeoutUnderOneSecondIsRefused() {
        Support.refused(1, "--archive-timeout must be at least 1 second, got 0",
                "--mode=archive-now", "--db-url=" + Support.url("postgres"), "--archive-timeout=0");
    }

    @Test
    void itsTimeoutIsItsOwnFlag() {
        Support.usageError("--archive-timeout applies to --mode=archive-now only",
                "--mode=switch-wal", "--archive-timeout=5", "--db-url=" + Support.url("postgres"));
    }
}
