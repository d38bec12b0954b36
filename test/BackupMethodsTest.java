// The backups people really take: every method, a newer major, the
// operator's own commands, continuity after the restore, and the reports.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: every test runs the whole harness. The longest of the suite, so its tests run at once
 * (each has its own folder and cluster), not one after the other in one thread.
 */
@Tag("e2e")
@Execution(ExecutionMode.CONCURRENT)
class BackupMethodsTest {
    static final Path HARNESS = Support.REPO.resolve("deploy/test/backup-restore-smoke.sh");

    /** A faithful backup and restore, written as an operator would for SMOKE_BACKUP_CMD / SMOKE_RESTORE_CMD. */
    static final String BACKUP_CMD = "pg_dump --format=custom --file=\"$SMOKE_BACKUP_DIR/db.dump\" \"$SMOKE_SOURCE_URL\"";
    static final String RESTORE_CMD = "pg_restore --exit-on-error --no-owner --dbname=\"$SMOKE_TARGET_URL\" "
            + "\"$SMOKE_BACKUP_DIR/db.dump\"";

    @TempDir Path temp;

    private Support.Result harness(Map<String, String> env) {
        return Support.harness(temp, env);
    }

    private List<String> leftovers() throws Exception {
        return Support.harnessLeftovers(temp);
    }

    private static Map<String, String> commandMethod(String restoreCommand) {
        return Map.of("SMOKE_METHODS", "command", "SMOKE_BACKUP_CMD", BACKUP_CMD, "SMOKE_RESTORE_CMD", restoreCommand);
    }

    private static String lastLine(String text) {
        return Support.lastLine(text);
    }

    @Test
    void eachWayToRestoreIntoANewerMajorPassesAndReports() throws Exception {
        Path reports = temp.resolve("reports");
        // Each way to restore (pg_restore, psql, a server of its own) into a newer major than the source's:
        // every dump method and a base backup into the source's own major are OracleHarnessTest's.
        var result = harness(Map.of("SMOKE_METHODS", "custom,plain,basebackup",
                "SMOKE_TARGET_MAJORS", "17", "SMOKE_REPORT_DIR", reports.toString(), "SMOKE_JOBS", "3"));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(HarnessTest.PASS_LINE.matcher(lastLine(result.out())).matches(), result.out());
        assertEquals(List.of(), leftovers());

        JsonNode report = new ObjectMapper().readTree(reports.resolve("report.json").toFile());
        assertTrue(report.get("passed").asBoolean());
        assertTrue(report.at("/versions/pg_dump").asText().startsWith("pg_dump (PostgreSQL) 15."), report.toString());
        assertEquals("backupsmoke 0.1.0", report.at("/versions/tool").asText());
        List<String> verdicts = new ArrayList<>();
        for (JsonNode combination : report.get("combinations")) {
            verdicts.add(combination.get("name").asText() + "=" + combination.get("verdict").asText());
            if (combination.get("verdict").asText().equals("pass")) {
                assertEquals(combination.get("expected_chain_head"), combination.get("restored_chain_head"));
                assertTrue(combination.get("backup_sha256").asText().matches("[0-9a-f]{64}"), combination.toString());
                assertTrue(combination.get("backup_bytes").asLong() > 0);
                assertTrue(combination.at("/seconds/restore").isNumber(), combination.toString());
            }
        }
        assertEquals(List.of("custom-pg17=pass", "plain-pg17=pass", "basebackup-pg17=skipped"), verdicts);
        // The semantic oracle reads any major; only SMOKE_ORACLE=text skips a target newer than pg_dump.
        assertEquals("compared", report.at("/combinations/0/oracle").asText());
        assertEquals("compared", report.at("/combinations/1/oracle").asText());
        assertEquals("a physical backup only starts under its own major (15)", report.at("/combinations/2/reason").asText());

        String junit = Files.readString(reports.resolve("junit.xml"));
        assertTrue(junit.contains("<testsuite name=\"backup-restore-smoke\" tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"1\">"), junit);
        assertTrue(junit.contains("<testcase classname=\"backup-restore-smoke\" name=\"plain-pg17\""), junit);
        assertTrue(junit.contains("<skipped message=\"a physical backup only starts under its own major (15)\"/>"), junit);
        // One number format everywhere: two decimals in the table and in junit.xml.
        assertTrue(result.out().lines().anyMatch(line -> line.matches(
                "custom {7}17 {4}pass {5}24 {7}[0-9a-f]{16}   \\d+\\.\\d\\d/\\d+\\.\\d\\d/\\d+\\.\\d\\d/\\d+\\.\\d\\d")),
                result.out());
        assertTrue(junit.lines().filter(line -> line.contains("<testcase")).allMatch(line ->
                line.matches(".* time=\"\\d+\\.\\d\\d\">.*")), junit);
    }

    @Test
    void theOperatorsOwnCommandsPassWhenFaithfulAndTheirOutputGoesToStderr() throws Exception {
        var result = harness(Map.of("SMOKE_METHODS", "command", "SMOKE_BACKUP_CMD", BACKUP_CMD + " && echo backup-chatter",
                "SMOKE_RESTORE_CMD", RESTORE_CMD + " && echo restore-chatter"));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(HarnessTest.PASS_LINE.matcher(lastLine(result.out())).matches(), result.out());
        // stdout carries only the harness's own lines.
        assertFalse(result.out().contains("chatter"), result.out());
        assertTrue(result.err().contains("backup-chatter\n") && result.err().contains("restore-chatter\n"), result.err());
    }

    @Test
    void continuityCatchesARestoreWhoseChainCannotGoOnAndTheReportKeepsEveryPhase() throws Exception {
        // The restored rows verify, but the chain position starts over: appended rows land in the middle.
        // The second oracle, asked before continuity, would name the sequence first: it is off here.
        Path reports = temp.resolve("reports");
        Map<String, String> env = new HashMap<>(commandMethod(RESTORE_CMD + " && psql -qX -d \"$SMOKE_TARGET_URL\" -c "
                + "\"SELECT setval('audit_events_chain_seq', 1)\" >/dev/null"));
        env.put("SMOKE_REPORT_DIR", reports.toString());
        env.put("SMOKE_ORACLE", "off");
        var result = harness(env);
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: continuity: after appending 8 rows the chain "
                + "does not verify: {\"row_count\":32,\"first_break_id\":\"audit-smoke-continuity-0000\""), result.err());

        // Every phase that ran is in the evidence, though the last check failed.
        JsonNode report = new ObjectMapper().readTree(reports.resolve("report.json").toFile());
        JsonNode combination = report.at("/combinations/0");
        assertEquals("fail", combination.get("verdict").asText());
        assertEquals(combination.get("expected_chain_head"), combination.get("restored_chain_head"));
        assertEquals("skipped: SMOKE_ORACLE=off", combination.get("oracle").asText());
        for (String phase : List.of("backup", "restore", "verify", "continuity")) {
            assertTrue(combination.at("/seconds/" + phase).isNumber(), combination.toString());
        }
        // The report names the run.
        assertTrue(report.get("started_at").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), report.toString());
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/hostname")).trim(), report.get("host").asText());
        assertTrue(report.get("repository_commit").asText().matches("[0-9a-f]{40}"), report.toString());
        assertEquals("0.132.1", report.at("/versions/jbang").asText());
        assertTrue(report.at("/versions/java").asText().contains("version \"17"), report.toString());
        assertFalse(report.get("passed").asBoolean());
    }

    @Test
    void aFailingRestoreCommandFailsItsCombinationAndKeepsTheRestoresSeconds() throws Exception {
        Path reports = temp.resolve("reports");
        Map<String, String> env = new HashMap<>(commandMethod("echo restoring >&2; exit 7"));
        env.put("SMOKE_REPORT_DIR", reports.toString());
        var result = harness(env);
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: restore into [^\n]* failed \\(exit 7\\)\n.*"),
                result.err());
        JsonNode combination = new ObjectMapper().readTree(reports.resolve("report.json").toFile()).at("/combinations/0");
        assertEquals("fail", combination.get("verdict").asText());
        assertTrue(combination.at("/seconds/backup").isNumber(), combination.toString());
        assertTrue(combination.at("/seconds/restore").isNumber(), combination.toString()); // timed up to the failure
        assertTrue(combination.at("/seconds/verify").isNull(), combination.toString());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void aRestoreWithoutTheChainTriggerFails() throws Exception {
        var result = harness(commandMethod(RESTORE_CMD + " && psql -qX -d \"$SMOKE_TARGET_URL\" -c "
                + "\"DROP TRIGGER audit_events_chain ON audit_events\""));
        assertEquals(3, result.exit(), result.describe());
        // The helper the trigger called (000011) is reached through it only, so it goes missing with it.
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: integrity machinery changed by the restore: "
                + "function public.audit_events_chain_begin\\(\\): sha256:[0-9a-f]{64} -> absent; "
                + "trigger audit_events_chain on public.audit_events: enabled BEFORE INSERT public.audit_events_chain_hash\\(\\)"
                + " sha256:[0-9a-f]{64} -> absent\n.*"), result.err());
    }

    @Test
    void continuityAloneCatchesALostTriggerWhenTheFingerprintIsNotCompared() throws Exception {
        // SMOKE_TOOL runs the tool without the integrity fingerprint in the verify snapshot and the second
        // oracle is off, so only the appended rows can show that the trigger did not come back.
        var result = harness(Map.of("SMOKE_METHODS", "command", "SMOKE_BACKUP_CMD", BACKUP_CMD, "SMOKE_ORACLE", "off",
                "SMOKE_RESTORE_CMD", RESTORE_CMD + " && psql -qX -d \"$SMOKE_TARGET_URL\" -c "
                        + "\"DROP TRIGGER audit_events_chain ON audit_events\"",
                "SMOKE_TOOL", "set -o pipefail; " + Support.REPO.resolve("deploy/bin/backupsmoke")
                        + " \"$@\" | jq 'del(.integrity)' #"));
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: continuity: appending 8 rows to the restored "
                + "database failed\n"), result.err());
    }

    @Test
    void aSourceNewerThanPgDumpIsRefusedPlainly() throws Exception {
        // Server binaries of major 17 (the system's, else Maven Central's, as the harness gets them) run the source.
        var found = Support.run(List.of(Support.LAUNCHER.toString(), "--mode=server-binaries", "--major=17"),
                Map.of(), Support.REPO, 600);
        assertEquals(0, found.exit(), found.describe());
        Path bindir = Path.of(found.out().trim());
        if (!Files.isDirectory(bindir)) { // the cached archive
            Path binaries = Files.createDirectories(temp.resolve("pg17"));
            var unpacked = Support.run(List.of("tar", "-xJf", bindir.toString(), "-C", binaries.toString()),
                    Map.of(), Support.REPO, 120);
            assertEquals(0, unpacked.exit(), unpacked.describe());
            Support.run(List.of("chmod", "-R", "a+rX", binaries.toString()), Map.of(), Support.REPO, 60);
            bindir = binaries.resolve("bin");
        }
        var result = harness(Map.of("SMOKE_PG_BINDIR", bindir.toString()));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: pg_dump 15 cannot dump a server of major 17 "
                + "(newer than itself): install pg_dump 17 or newer\n"), result.err());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void anotherMajorWithoutXzIsRefusedUpFrontNamingIt() throws Exception {
        // PATH holds what the harness runs before it starts anything (the tool's launcher, whose knobs refuse
        // a major missing the programs its binaries need, and what reads its reason), and mvn, but not xz.
        Path bin = Files.createDirectories(temp.resolve("bin-without-xz"));
        List<Path> links = new ArrayList<>();
        for (String program : List.of("bash", "dirname", "date", "mkdir", "mktemp", "rm", "mv", "cat", "tail", "sed",
                "cut", "sha256sum", "java", "jq", "pg_dump", "pg_restore", "psql", "pg_isready", "mvn")) {
            String path = Support.run(List.of("bash", "-c", "command -v " + program), Map.of(), Support.REPO, 30).out().trim();
            links.add(Files.createSymbolicLink(bin.resolve(program), Path.of(path)));
        }
        Support.Result result;
        try {
            result = harness(Map.of("SMOKE_TARGET_MAJORS", "15,16", "PATH", bin.toString()));
        } finally {
            for (Path link : links) {
                Files.delete(link); // ourselves: JUnit warns about every link it deletes
            }
        }
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: SMOKE_TARGET_MAJORS=15,16: PostgreSQL 16 "
                + "server binaries come from Maven Central and need xz, not on PATH\n"), result.err());
        assertFalse(result.out().contains("=== workload ==="), result.out());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void aTargetMajorOlderThanTheSourceIsRefusedUpFront() throws Exception {
        // The other method knobs are decided by Knobs.java without a server: see KnobsTest.
        var older = harness(Map.of("SMOKE_TARGET_MAJORS", "14"));
        assertEquals(1, older.exit(), older.describe());
        assertTrue(older.err().contains("::error::backup-restore-smoke: SMOKE_TARGET_MAJORS: 14 is older than the source "
                + "server (15); restores go to the same or newer majors\n"), older.err());
        assertEquals(List.of(), leftovers());
    }
}
