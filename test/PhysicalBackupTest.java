// Physical backups and point-in-time recovery through the harness (issue 9,
// SPEC 9.6): pgBackRest, Barman and pg_basebackup with the harness's WAL
// archive on the throwaway cluster, with and without PITR; the operator's
// own restores through command-cluster and command-url; and the negative
// controls: a restore left paused in recovery, a PITR restore that ignores
// its target. Each run leaves no process and no file behind.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
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
class PhysicalBackupTest {
    static final Path HARNESS = Support.REPO.resolve("deploy/test/backup-restore-smoke.sh");

    @TempDir Path temp;

    /** Runs the harness on its own throwaway cluster with reports in temp/report. */
    private Support.Result harness(Map<String, String> env) {
        Map<String, String> environment = new HashMap<>(env);
        environment.put("SMOKE_REPORT_DIR", temp.resolve("report").toString());
        return Support.harness(temp, environment);
    }

    private JsonNode combination(String name) throws Exception {
        JsonNode report = new ObjectMapper().readTree(temp.resolve("report/report.json").toFile());
        for (JsonNode combination : report.get("combinations")) {
            if (combination.get("name").asText().equals(name)) {
                return combination;
            }
        }
        throw new AssertionError("no combination " + name + " in " + report);
    }

    /** Nothing of the run is left: no file in its TMPDIR, no process naming the test's folder. */
    private void assertNothingLeft() throws Exception {
        assertEquals(List.of(), Support.harnessLeftovers(temp));
        String folder = temp.toString();
        List<String> processes = ProcessHandle.allProcesses()
                .map(process -> process.info().commandLine().orElse(""))
                .filter(command -> command.contains(folder))
                .toList();
        assertEquals(List.of(), processes, "no process of the run still runs");
    }

    private static void assertPassed(Support.Result result) {
        assertEquals(0, result.exit(), result.describe());
        List<String> lines = result.out().lines().toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("PASS  rows=24  chain_head="), result.out());
    }

    /** The evidence every repository-based method leaves per combination. */
    private void assertBackupEvidence(JsonNode combination, String verdictKey) {
        JsonNode physical = combination.get("evidence").get("physical");
        assertTrue(physical.get("backup_id").isTextual(), physical.toString());
        assertTrue(physical.get("start_lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), physical.toString());
        assertTrue(physical.get("stop_lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), physical.toString());
        assertEquals(1, physical.get("timeline").asInt(), physical.toString());
        assertEquals("passed", physical.get("tool_verdict").get(verdictKey).asText(), physical.toString());
        assertTrue(combination.get("seconds").get("restore").asDouble() > 0, combination.toString());
    }

    @Test
    void pgBackRestBarmanAndBaseBackupRestoreExactlyToThePointInTime() throws Exception {
        var result = harness(Map.of("SMOKE_METHODS", "pgbackrest,barman,basebackup", "SMOKE_PITR", "1"));
        assertPassed(result);
        for (String method : List.of("pgbackrest", "barman", "basebackup")) {
            JsonNode combination = combination(method + "-pg15");
            assertEquals("pass", combination.get("verdict").asText(), combination.toString());
            JsonNode pitr = combination.get("evidence").get("pitr");
            assertEquals("time", pitr.get("target_kind").asText(), pitr.toString());
            assertTrue(pitr.get("target").get("time").asText().matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d+\\+00"),
                    pitr.toString());
            assertEquals(8, pitr.get("rpo_rows").asInt(), pitr.toString());
            assertEquals(2, combination.get("evidence").get("physical").get("restored_timeline").asInt(), combination.toString());
            assertTrue(combination.get("evidence").get("physical").get("end_of_recovery_lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"),
                    combination.toString());
            assertTrue(combination.get("evidence").get("physical").get("recovery_stop").asText().startsWith("recovery stopping before commit"),
                    combination.toString());
        }
        assertBackupEvidence(combination("pgbackrest-pg15"), "verify");
        assertBackupEvidence(combination("barman-pg15"), "check_backup");
        assertBackupEvidence(combination("basebackup-pg15"), "pg_verifybackup");
        // A repository holds these backups, not a file of ours: no hash is claimed for them.
        assertTrue(combination("pgbackrest-pg15").get("backup_sha256").isNull());
        assertTrue(combination("barman-pg15").get("backup_sha256").isNull());
        assertTrue(combination("pgbackrest-pg15").get("backup_bytes").asLong() > 0);
        assertNothingLeft();
    }

    // SMOKE_PITR=1 refusing a logical method is decided by Knobs.java: see
    // KnobsTest.methodsAreCheckedAgainstTheTableAndWhatTheyNeed.

    /** Issue 18 item 11: a restore of another cluster (a wrong stanza) is named as such, not as a missing database. */
    @Test
    void aRestoreOfAnotherClusterIsNamedBySystemIdentifier() throws Exception {
        // The "restore" is a new cluster of its own (initdb: as good as a backup of another server, and a
        // second rather than a copy of the suite's server); it writes down its system identifier.
        Path restoredId = temp.resolve("restored-system-identifier");
        var result = harness(Map.of("SMOKE_METHODS", "command-cluster", "SMOKE_BACKUP_CMD", "true",
                "SMOKE_RESTORE_CMD", """
                        set -eu
                        initdb=("$SMOKE_PG_BINDIR/initdb" --no-sync -D "$SMOKE_RESTORE_PGDATA")
                        owner=$(stat -c %%U "$SMOKE_RESTORE_PGDATA")
                        if [ "$(id -un)" = "$owner" ]; then "${initdb[@]}"; else runuser -u "$owner" -- "${initdb[@]}"; fi >/dev/null
                        "$SMOKE_PG_BINDIR/pg_controldata" "$SMOKE_RESTORE_PGDATA" \\
                          | sed -n 's/^Database system identifier: *//p' >"%s"
                        """.formatted(restoredId)));
        assertEquals(3, result.exit(), result.describe());
        String otherId = java.nio.file.Files.readString(restoredId).trim();
        assertTrue(otherId.matches("\\d+"), otherId);
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: the restore is of another cluster: its system "
                + "identifier is " + otherId + ", the source's is \\d+ \\(a backup of another server: check the stanza or "
                + "server the restore reads\\)\n.*"), result.err());
        assertTrue(!result.err().contains("does not exist"), result.err());
        assertNothingLeft();
    }

    // Asking for pg_switch_wal() before calling it: PhysicalModesTest.theRightToSwitchWalIsAskedForBeforeItIsUsed.

    /** cron's PATH, which lacks /usr/sbin and its runuser: what a nightly drill run as root has. */
    private static final Map<String, String> CRON_PATH = Map.of("PATH", "/usr/bin:/bin");

    /**
     * Issue 18 item 11: run as root, a repository command runs as the repository's owner (deploy/bin/as-owner),
     * also from cron.
     */
    @Test
    void repositoryCommandsRunAsTheRepositorysOwner() throws Exception {
        // The owner must be able to enter the test's folder.
        java.nio.file.Files.setPosixFilePermissions(temp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path repository = java.nio.file.Files.createDirectories(temp.resolve("repository"));
        var root = Support.run(List.of("id", "-u"), Map.of(), Support.REPO, 30);
        org.junit.jupiter.api.Assumptions.assumeTrue(root.out().trim().equals("0"), "only root hands commands over");
        Support.run(List.of("chown", "postgres", repository.toString()), Map.of(), Support.REPO, 30);
        var asOwner = Support.run(List.of("deploy/bin/as-owner", repository.toString(), "bash", "-c",
                "id -un; touch \"$0/backup.info\"", repository.toString()), CRON_PATH, Support.REPO, 30);
        assertEquals(0, asOwner.exit(), asOwner.describe());
        assertEquals("postgres\n", asOwner.out());
        assertEquals("postgres", java.nio.file.Files.getOwner(repository.resolve("backup.info")).getName());
    }

    /** Run as root from cron, a throwaway cluster still starts as its unprivileged owner (runuser in /usr/sbin). */
    @Test
    void aThrowawayClusterStartsUnderCronsPath() {
        var root = Support.run(List.of("id", "-u"), Map.of(), Support.REPO, 30);
        org.junit.jupiter.api.Assumptions.assumeTrue(root.out().trim().equals("0"), "only root hands the server over");
        var started = Support.run(List.of("bash", "deploy/lib/pg-cluster.sh", "start"), CRON_PATH, Support.REPO, 120);
        String dir = started.out().lines().filter(line -> line.startsWith("PGC_DIR=")).map(line -> line.substring(8))
                .findFirst().orElse(null);
        try {
            assertEquals(0, started.exit(), started.describe());
            assertEquals("", started.err());
        } finally {
            if (dir != null) {
                Support.stopCluster(dir);
            }
        }
    }

    /** A base backup as the operator's backup; restores that fill a data directory or start their own server. */
    private Map<String, String> operatorCommands(String clusterRestore, String urlRestore) {
        String repo = Support.REPO.toString();
        return Map.of(
                "SMOKE_BACKUP_CMD", "pg_basebackup -d \"$SMOKE_SOURCE_URL\" -D \"$SMOKE_BACKUP_DIR/base\" -X stream -c fast",
                "SMOKE_RESTORE_CMD", """
                        set -eu
                        if [ -n "${SMOKE_RESTORE_PGDATA:-}" ]; then
                          cp -a "$SMOKE_BACKUP_DIR/base/." "$SMOKE_RESTORE_PGDATA/"
                          %s
                        else
                          # A server of its own, from a copy that neither archives nor keeps the source's socket.
                          staging=$(mktemp -d "$TMPDIR/own-staging.XXXXXX")
                          cp -a "$SMOKE_BACKUP_DIR/base/." "$staging/"
                          echo "archive_mode = off" >>"$staging/postgresql.conf"
                          %s
                          . "%s/deploy/lib/pg-cluster.sh"
                          pgc_start_copy "$staging" >&2
                          rm -rf "$staging"
                          printf '%%s\\n' "$PGC_DIR" >"%s"
                          printf 'postgres://postgres@127.0.0.1:%%s/%%s?sslmode=disable\\n' "$PGC_PORT" "$SMOKE_SOURCE_DB" >"$SMOKE_RESTORED_URL_FILE"
                        fi
                        """.formatted(clusterRestore, urlRestore, repo, temp.resolve("own-server")),
                "SMOKE_TEARDOWN_CMD", "bash %s/deploy/lib/pg-cluster.sh stop \"$(cat %s)\""
                        .formatted(repo, temp.resolve("own-server")));
    }

    @Test
    void withoutPitrTheOperatorsOwnPhysicalRestoresPass() throws Exception {
        // pgBackRest's and Barman's restores of their latest backup without a target: DrillHarnessTest's
        // theLatestBackupPassesWithSignedEvidenceAndNothingChanged and theBarmanBackupPasses (the same
        // --mode=restore-command); with a target, the test above.
        Map<String, String> env = new HashMap<>(operatorCommands(":", ":"));
        env.put("SMOKE_METHODS", "command-cluster,command-url");
        var result = harness(env);
        assertPassed(result);
        for (String name : List.of("command-cluster-pg15", "command-url-pg15")) {
            assertEquals("pass", combination(name).get("verdict").asText(), combination(name).toString());
            assertTrue(combination(name).get("evidence").get("pitr").isNull(), combination(name).toString());
        }
        // The operator's own commands put their backup where we cannot see it: no size either.
        for (String name : List.of("command-cluster-pg15", "command-url-pg15")) {
            assertTrue(combination(name).get("backup_sha256").isNull(), combination(name).toString());
            assertTrue(combination(name).get("backup_bytes").isNull(), combination(name).toString());
        }
        assertTrue(result.err().contains("wipe: skipped: every method restores into a server of its own"), result.err());
        assertNothingLeft();
    }

    @Test
    void aRestorePausedInRecoveryAndAPitrRestoreToLatestFailNamingWhy() throws Exception {
        // command-cluster: stops at the target but pauses there (PostgreSQL's default action).
        String paused = """
                printf "restore_command = 'cp %s/%%f %%p'\\nrecovery_target_time = '%s'\\n" \\
                  "$SMOKE_WAL_ARCHIVE" "$SMOKE_RECOVERY_TARGET_TIME" >>"$SMOKE_RESTORE_PGDATA/postgresql.conf"
                touch "$SMOKE_RESTORE_PGDATA/recovery.signal\"
                """;
        // command-url: replays the whole archive, ignoring the target.
        String latest = """
                printf "restore_command = 'cp %s/%%f %%p'\\n" "$SMOKE_WAL_ARCHIVE" >>"$staging/postgresql.conf"
                touch "$staging/recovery.signal\"
                """;
        Map<String, String> env = new HashMap<>(operatorCommands(paused, latest));
        env.put("SMOKE_METHODS", "command-cluster,command-url");
        env.put("SMOKE_PITR", "1");
        var result = harness(env);
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: [command-cluster-pg15] the restored server is paused"
                + " in recovery (pg_is_wal_replay_paused() = true)"), result.err());
        assertTrue(result.err().contains("::error::backup-restore-smoke: [command-url-pg15] the restore ignored its target:"
                + " 8 row(s) written after it came back (pitr-b-0000 … pitr-b-0007)"), result.err());
        assertTrue(!result.out().contains("PASS"), result.out());
        assertNothingLeft();
    }
}
