// The point-in-time exactness check (PitrRows, --mode=pitr-check) in process
// against the test server: a restore that stopped early names the missing
// rows of workload A, one that ignored its target the rows of workload B.
// The harness's PITR runs (PhysicalBackupTest) go through the mode.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PitrRowsTest {

    static PitrRows read(String database) throws Failure {
        try (Deadline deadline = new Deadline(Duration.ofMinutes(1))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            return PitrRows.read(connector, "audit-smoke-", 24, "pitr-b-");
        }
    }

    @Test
    void aRestoreThatStoppedEarlyNamesTheMissingRowsOfWorkloadA() throws Exception {
        String database = Support.scratchDatabase();
        assertEquals("the restore stopped early: audit_events does not exist (recovery ended before workload A created it)",
                read(database).reason());
        Support.execute(database, "CREATE TABLE audit_events (id TEXT PRIMARY KEY)",
                "INSERT INTO audit_events SELECT 'audit-smoke-' || lpad(i::text, 4, '0') FROM generate_series(0, 20) AS i");
        assertEquals("the restore stopped early: 3 row(s) of workload A are missing (audit-smoke-0021 … audit-smoke-0023)",
                read(database).reason());
        Support.execute(database, "INSERT INTO audit_events VALUES ('audit-smoke-0021'), ('audit-smoke-0022'), ('audit-smoke-0023')");
        assertNull(read(database).reason());
        assertEquals("{\"verdict\":\"pass\",\"reason\":null,\"say\":[]}\n", read(database).judgement().toJson());
    }

    @Test
    void aRestoreThatIgnoredItsTargetNamesTheRowsWrittenAfterIt() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database, "CREATE TABLE audit_events (id TEXT PRIMARY KEY)",
                "INSERT INTO audit_events SELECT 'audit-smoke-' || lpad(i::text, 4, '0') FROM generate_series(0, 23) AS i",
                "INSERT INTO audit_events SELECT 'pitr-b-' || lpad(i::text, 4, '0') FROM generate_series(0, 7) AS i");
        PitrRows rows = read(database);
        assertEquals("the restore ignored its target: 8 row(s) written after it came back (pitr-b-0000 … pitr-b-0007)",
                rows.reason());
        assertEquals(3, rows.judgement().exitCode());
    }

    /** The command reads workload A's rows from --id-prefix and --rows (which other modes refuse). */
    @Test
    void theCommandTakesWorkloadAFromIdPrefixAndRows() throws Exception {
        String url = "--db-url=" + Support.url(Support.migratedWithWorkload(3));
        var exact = Support.tool("--mode=pitr-check", url, "--id-prefix=audit-smoke-", "--rows=3",
                "--later-prefix=pitr-b-");
        assertEquals(0, exact.exit(), exact.describe());
        assertEquals("{\"verdict\":\"pass\",\"reason\":null,\"say\":[]}\n", exact.out());
        var early = Support.tool("--mode=pitr-check", url, "--id-prefix=audit-smoke-", "--rows=4",
                "--later-prefix=pitr-b-");
        assertEquals(3, early.exit(), early.describe());
        assertEquals("{\"verdict\":\"fail\",\"reason\":\"the restore stopped early: 1 row(s) of workload A are"
                + " missing (audit-smoke-0003 … audit-smoke-0003)\",\"say\":[]}\n", early.out());
        var otherPrefix = Support.tool("--mode=pitr-check", url, "--id-prefix=audit-smoke-00", "--rows=1",
                "--later-prefix=audit-smoke-0002");
        assertEquals(3, otherPrefix.exit(), otherPrefix.describe());
        assertTrue(otherPrefix.out().contains("1 row(s) written after it came back (audit-smoke-0002"),
                otherPrefix.out());
    }
}
