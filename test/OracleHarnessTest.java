// The harness with the semantic second oracle (SMOKE_ORACLE, default
// semantic) on another application's schema, test/fixtures/ledger-app:
// varchar columns checked with IN (...), whose CHECK deparses differently
// after a restore, and tables written through sequences. Every dump method
// and a base backup pass; SMOKE_ORACLE=text keeps the pg_dump comparison
// and its false alarm, and compares dumps larger than the tool's heap. A
// restore that loses a row of a table other than the audit log, or drops a
// constraint or an index, failing naming each: the semantic oracle's
// capture and comparison on the database tier
// (OracleTest.aLostRowFailsNamingItsTable, aDroppedConstraintFailsNamingIt,
// aDroppedIndexFailsNamingIt) and the verdict's lines (OracleComparisonTest.
// theVerdictSaysEveryLineAndJoinsTheDifferences); a failing verdict of the
// tool failing the harness: HarnessTest.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

/** End to end: every test runs the whole harness. */
@Tag("e2e")
class OracleHarnessTest {
    static final String LEDGER_APP = Support.REPO.resolve("test/fixtures/ledger-app").toString();

    @TempDir Path temp;

    private Support.Result harness(Map<String, String> env) {
        Map<String, String> environment = new HashMap<>(env);
        environment.put("MIGRATIONS_PATH", LEDGER_APP);
        return Support.harness(temp, environment);
    }

    @Test
    void everyDumpMethodAndABaseBackupPassOnAnotherApplicationsSchema() throws Exception {
        Path reports = temp.resolve("reports");
        var result = harness(Support.env("SMOKE_METHODS", "custom,directory,tar,plain,basebackup",
                "SMOKE_REPORT_DIR", reports.toString()));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).startsWith("PASS  rows=24  chain_head="), result.out());
        assertTrue(result.out().contains("\nbasebackup   15    pass     24       "), result.out());
        // report.json: the source's per-table digests, the whole database's content, not only the audit log's.
        var report = Support.run(List.of("jq", "-r", ".second_oracle.source_tables | to_entries[]"
                + " | \"\\(.key) \\(.value.rows) \\(.value.digest | test(\"^[0-9a-f]{64}$\"))\"",
                reports.resolve("report.json").toString()), Map.of(), Support.REPO, 30);
        assertEquals("""
                public.accounts 3 true
                public.audit_chain_head 1 true
                public.audit_events 24 true
                public.audit_ingest_batches 1 true
                public.certificates 3 true
                public.schema_migrations 4 true
                """, report.out(), report.describe());
        var oracles = Support.run(List.of("jq", "-r", ".combinations[] | \"\\(.name) \\(.oracle)\"",
                reports.resolve("report.json").toString()), Map.of(), Support.REPO, 30);
        assertEquals("""
                custom-pg15 compared
                directory-pg15 compared
                tar-pg15 compared
                plain-pg15 compared
                basebackup-pg15 compared
                """, oracles.out(), oracles.describe());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void theTextOracleStillComparesDumpsAndRaisesTheDeparseFalseAlarm() throws Exception {
        var result = harness(Support.configuredServer("SMOKE_ORACLE", "text", "SMOKE_APPEND_ROWS", "0"));
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: the restored database does not dump like the source: "),
                result.err());
        assertTrue(result.err().contains("ANY"), result.err());
    }

    /**
     * 50,000 audit rows dump to about 12.8 MB of text each (40,000 rows made
     * 10,245,687 bytes), more than the whole 8 MiB heap given here: held
     * whole, as the comparison once held both dumps, they ran the tool out
     * of memory ("ran out of memory", exit 3); read a line at a time
     * (DumpLines), they compare in a small part of it.
     */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void theTextOracleComparesDumpsLargerThanTheToolsHeap() throws Exception {
        var result = Support.harness(temp, Support.configuredServer("SMOKE_ORACLE", "text", "SMOKE_ROWS", "50000",
                "SMOKE_METHODS", "custom", "BACKUPSMOKE_JAVA_OPTS", "-XX:+UseSerialGC -Xmx8m"));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).startsWith("PASS  rows=50000  chain_head="), result.out());
    }
}
