// The harness of SPEC section 7 end to end: on its own throwaway cluster, on
// a configured server (scratch databases only), and failing with ::error::
// when the restore loses or alters a row (a pg_restore shim on PATH does the
// damage after the real pg_restore has run).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HarnessTest {
    static final Path HARNESS = Support.REPO.resolve("deploy/test/backup-restore-smoke.sh");
    static final Pattern PASS_LINE = Pattern.compile("PASS  rows=(\\d+)  chain_head=([0-9a-f]{16})…  verifier=clean");
    static final List<String> PHASES = List.of("preflight", "wait for server", "clean start", "workload", "backup",
            "wipe", "restore", "verify", "assert");

    @TempDir Path temp;

    private Support.Result harness(Map<String, String> env) {
        Map<String, String> environment = new java.util.HashMap<>(env);
        environment.putIfAbsent("TMPDIR", temp.resolve("tmp").toString());
        Support.write(temp.resolve("tmp/.keep"), "");
        // The throwaway cluster runs as an unprivileged user, who must be able to enter TMPDIR.
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(temp.resolve("tmp"), PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return Support.run(List.of("bash", HARNESS.toString()), environment, Support.REPO, 300);
    }

    private Map<String, String> configuredServer(String... more) {
        Map<String, String> env = Support.env("PGHOST", Support.HOST, "PGPORT", Support.PORT, "PGUSER", Support.USER);
        env.putAll(Support.env(more));
        return env;
    }

    private static String lastLine(String text) {
        List<String> lines = text.lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }

    private List<String> leftoverTempFiles() throws Exception {
        try (Stream<Path> files = Files.list(temp.resolve("tmp"))) {
            return files.map(path -> path.getFileName().toString()).filter(name -> !name.equals(".keep")).toList();
        }
    }

    private static List<String> databases() throws Exception {
        return Support.rows("postgres", "SELECT datname FROM pg_database ORDER BY datname");
    }

    /** A pg_restore that runs the real one, then applies SQL to the restored database. */
    private Map<String, String> damagingRestore(String sql) throws Exception {
        String realRestore = Support.run(List.of("bash", "-c", "command -v pg_restore"), Map.of(), Support.REPO, 30)
                .out().trim();
        Path bin = temp.resolve("bin");
        Path shim = Support.write(bin.resolve("pg_restore"), """
                #!/usr/bin/env bash
                set -euo pipefail
                "%s" "$@"
                database=""
                while [ "$#" -gt 0 ]; do
                  case "$1" in
                    -d|--dbname) database="$2"; shift ;;
                    --dbname=*) database="${1#--dbname=}" ;;
                  esac
                  shift
                done
                psql -X -q -v ON_ERROR_STOP=1 -d "$database" <<'SQL'
                ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
                %s
                ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
                SQL
                """.formatted(realRestore, sql));
        Files.setPosixFilePermissions(shim, PosixFilePermissions.fromString("rwxr-xr-x"));
        return Map.of("PATH", bin + ":" + System.getenv("PATH"));
    }

    private static void assertPhasesInOrder(String out) {
        int from = 0;
        for (String phase : PHASES) {
            int at = out.indexOf("=== " + phase + " ===\n", from);
            assertTrue(at >= 0, "phase '" + phase + "' announced in order:\n" + out);
            from = at;
        }
    }

    @Test
    void passesOnAThrowawayClusterAndLeavesNothingBehind() throws Exception {
        var result = harness(Map.of());
        assertEquals(0, result.exit(), result.describe());
        var pass = PASS_LINE.matcher(lastLine(result.out()));
        assertTrue(pass.matches(), "last line: " + lastLine(result.out()));
        assertEquals("24", pass.group(1));
        assertPhasesInOrder(result.out());
        assertEquals(List.of(), leftoverTempFiles());
        String dataFolder = temp.resolve("tmp").toString();
        List<String> servers = ProcessHandle.allProcesses()
                .map(process -> process.info().commandLine().orElse(""))
                .filter(command -> command.contains("postgres") && command.contains(dataFolder))
                .toList();
        assertEquals(List.of(), servers, "no server of the harness still runs");
    }

    @Test
    void passesOnAConfiguredServerTouchingOnlyItsScratchDatabases() throws Exception {
        List<String> before = databases();
        var result = harness(configuredServer("SMOKE_ROWS", "7"));
        assertEquals(0, result.exit(), result.describe());
        var pass = PASS_LINE.matcher(lastLine(result.out()));
        assertTrue(pass.matches(), "last line: " + lastLine(result.out()));
        assertEquals("7", pass.group(1));
        assertEquals(before, databases());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void failsWhenTheRestoreLosesARow() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("DELETE FROM audit_events WHERE id = 'audit-smoke-0005';"));
        List<String> before = databases();
        var result = harness(env);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: row_count differs: pre=24 post=23\n"),
                result.err());
        assertTrue(!result.out().contains("PASS"), result.out());
        assertEquals(before, databases());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void failsWhenTheRestoreAltersARow() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0009';"));
        var result = harness(env);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: verifier reports a break at "
                + "first_break_id=audit-smoke-0009 first_break_pos=9\n"), result.err());
    }

    @Test
    void failsOnAThrowawayClusterWhenTheRestoreLosesARowAndStillCleansUp() throws Exception {
        var result = harness(damagingRestore("DELETE FROM audit_events WHERE id = 'audit-smoke-0023';"));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: row_count differs: pre=24 post=23\n"),
                result.err());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void failsOnTheClientVerdictWhenTheRestoredVerifierIsRiggedToSayClean() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("""
                CREATE OR REPLACE FUNCTION audit_events_verify_chain(
                    OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
                LANGUAGE sql STABLE AS $$ SELECT NULL::TEXT, -1, (SELECT count(*)::INT FROM audit_events) $$;
                UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0009';"""));
        var result = harness(env);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: client verification: modified at "
                + "audit-smoke-0009 position 9\n"), result.err());
    }

    @Test
    void failsWhenTheRestoreLeavesATriggerDisabledNamingIt() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain;"));
        var result = harness(env);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: integrity machinery changed by the restore: "
                + "trigger audit_events_chain on public.audit_events: enabled BEFORE INSERT public.audit_events_chain_hash()"
                + " sha256:"), result.err());
        assertTrue(result.err().contains(" -> disabled BEFORE INSERT public.audit_events_chain_hash() sha256:"), result.err());
    }

    @Test
    void failsWhenTheRestoreChangesTheVerifierFunctionNamingIt() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("ALTER FUNCTION audit_events_verify_chain() SET search_path = pg_catalog, public;"));
        var result = harness(env);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: integrity machinery changed by the restore: "
                + "verifier public.audit_events_verify_chain(): sha256:"), result.err());
    }

    @Test
    void anInterruptedRunStillRemovesItsClusterAndFiles() throws Exception {
        Support.write(temp.resolve("tmp/.keep"), "");
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(temp.resolve("tmp"), PosixFilePermissions.fromString("rwxr-xr-x"));
        ProcessBuilder builder = new ProcessBuilder("bash", HARNESS.toString()).directory(Support.REPO.toFile())
                .redirectOutput(temp.resolve("out").toFile()).redirectError(temp.resolve("err").toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("PG") || name.equals("DATABASE_URL"));
        builder.environment().put("TMPDIR", temp.resolve("tmp").toString());
        Process harness = builder.start();
        for (int attempt = 0; attempt < 600 && !Files.readString(temp.resolve("out")).contains("=== workload ==="); attempt++) {
            Thread.sleep(100);
        }
        new ProcessBuilder("kill", "-TERM", Long.toString(harness.pid())).start().waitFor();
        assertTrue(harness.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the harness stopped");
        assertEquals(1, harness.exitValue());
        assertTrue(Files.readString(temp.resolve("err")).contains("::error::backup-restore-smoke: interrupted by SIGTERM"),
                Files.readString(temp.resolve("err")));
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void inPlaceModeRefusesADatabaseWithForeignTables() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute(database, "CREATE TABLE customers (id INT)", "INSERT INTO customers VALUES (1)");
        var result = harness(configuredServer("PGDATABASE", database, "SMOKE_IN_PLACE", "1"));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: "), result.err());
        assertTrue(result.err().contains("customers"), result.err());
        assertEquals("1", Support.one(database, "SELECT count(*) FROM customers"));
    }

    @Test
    void inPlaceModeRoundTripsAnEmptyDatabase() throws Exception {
        String database = Support.scratchDatabase();
        for (int run = 0; run < 2; run++) { // a second run finds only what the first one left, and goes ahead
            var result = harness(configuredServer("PGDATABASE", database, "SMOKE_IN_PLACE", "1"));
            assertEquals(0, result.exit(), result.describe());
            assertTrue(PASS_LINE.matcher(lastLine(result.out())).matches(), result.out());
            // The restored 24 rows plus the 8 the continuity check appended.
            assertEquals("32", Support.one(database, "SELECT count(*) FROM audit_events"));
        }
    }

    @Test
    void shellScriptsPassShellcheck() throws Exception {
        boolean installed = Support.run(List.of("bash", "-c", "command -v shellcheck"), Map.of(), Support.REPO, 30)
                .exit() == 0;
        assumeTrue(installed, "shellcheck is not installed (.ci/run installs it)");
        List<String> command = new ArrayList<>(List.of("shellcheck", "-x"));
        command.addAll(List.of("deploy/test/backup-restore-smoke.sh", "deploy/bin/jbang", "deploy/bin/backupsmoke",
                "deploy/lib/pg-cluster.sh", "deploy/lib/smoke-in-place.sh", "deploy/lib/smoke-reports.sh",
                "deploy/bench/run.sh", "test/run", ".ci/run"));
        var result = Support.run(command, Map.of(), Support.REPO, 120);
        assertEquals(0, result.exit(), result.describe());
    }
}
