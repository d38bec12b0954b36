// The harness of SPEC section 7 end to end: on its own throwaway cluster, on
// a configured server (scratch databases only), and failing with ::error::
// when the restore loses or alters a row (a pg_restore shim on PATH does the
// damage after the real pg_restore has run). Every line of the judge on its
// own, without a harness: RoundTripJudgeTest; what the tool finds in a
// restored database damaged in other ways (verifier function lost or rigged,
// chain trigger disabled, verifier changed): RestoreDamageTest.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

/** End to end: every test runs the whole harness. */
@Tag("e2e")
class HarnessTest {
    static final Path HARNESS = Support.HARNESS;
    static final Pattern PASS_LINE = Pattern.compile("PASS  rows=(\\d+)  chain_head=([0-9a-f]{16})…  verifier=clean");
    static final List<String> PHASES = List.of("preflight", "wait for server", "clean start", "workload", "backup",
            "wipe", "restore", "verify", "assert");

    @TempDir Path temp;

    private Support.Result harness(Map<String, String> env) {
        return Support.harness(temp, env);
    }

    private static Map<String, String> configuredServer(String... more) {
        return Support.configuredServer(more);
    }

    private static String lastLine(String text) {
        return Support.lastLine(text);
    }

    private List<String> leftoverTempFiles() throws Exception {
        return Support.harnessLeftovers(temp);
    }

    private static List<String> databases() throws Exception {
        return Support.databases();
    }

    /** Command lines of the processes running now that contain TEXT. */
    private static List<String> processesWith(String text) {
        return ProcessHandle.allProcesses()
                .map(process -> process.info().commandLine().orElse(""))
                .filter(command -> command.contains(text))
                .toList();
    }

    /** A restore that applies SQL afterwards, with the append-only trigger off as a privileged user would. */
    private Map<String, String> damagingRestore(String sql) throws Exception {
        return Support.damagingRestore(temp, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;\n"
                + sql + "\nALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;");
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
    void aKnobHoldingACommandIsRefusedNamingItAndNeverRun() throws Exception {
        // Issue 18 item 1: this value once reached shell arithmetic, ran its command and still passed.
        Path pwned = Support.REPO.resolve("pwned");
        var result = harness(Map.of("SMOKE_METHODS", "basebackup",
                "SMOKE_RECOVERY_TIMEOUT", "BASH_VERSINFO[$(touch pwned)0]+120"));
        boolean created = Files.deleteIfExists(pwned);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: SMOKE_RECOVERY_TIMEOUT must be a whole number "
                + "from 1, got 'BASH_VERSINFO[$(touch pwned)0]+120'\n"), result.err());
        assertTrue(!created, "the command in the knob ran");
        assertTrue(!result.out().contains("=== wait for server ==="), result.out());
        assertEquals(List.of(), leftoverTempFiles());
    }

    /** The harness takes no arguments (its knobs are environment variables): --help says so, others are refused. */
    @Test
    void argumentsRunNothingAndHelpSaysWhereTheKnobsAre() throws Exception {
        String knobs = "the knobs are SMOKE_* environment variables: deploy/docs/harness.md";
        var help = Support.run(List.of("bash", HARNESS.toString(), "--help"), Map.of(), Support.REPO, 60);
        assertEquals(0, help.exit(), help.describe());
        assertEquals("usage: " + HARNESS + "  (no arguments; " + knobs + ")\n", help.out());
        assertEquals("", help.err());

        var extra = Support.run(List.of("bash", HARNESS.toString(), "SMOKE_METHODS=custom"), Map.of(), Support.REPO, 60);
        assertEquals(1, extra.exit(), extra.describe());
        assertEquals("", extra.out(), "no phase ran");
        assertEquals("::error::backup-restore-smoke: no arguments are taken, got 'SMOKE_METHODS=custom' (" + knobs + ")\n",
                extra.err());
    }

    /** The harness's ::error:: line escapes its reason as GitHub decodes it: a literal %0A is no line break. */
    @Test
    void theErrorLineEscapesPercentSignsForGitHub() throws Exception {
        var result = harness(Map.of("SMOKE_ROWS", "5%0A::warning::x%25"));
        assertEquals(1, result.exit(), result.describe());
        assertEquals("::error::backup-restore-smoke: SMOKE_ROWS must be a whole number, got '5%250A::warning::x%2525'\n",
                result.err());
    }

    /** A SMOKE_TOOL naming no command is one line, exit 1, at the preflight (once bash's exit 127 at the workload). */
    @Test
    void aToolUnderTestThatIsNotThereIsOneLineBeforeAnythingRuns() throws Exception {
        Path missing = temp.resolve("no-such-tool");
        Path plain = Files.writeString(temp.resolve("not-executable"), "");
        Map<String, String> refusals = Map.of(missing + " --flag", "SMOKE_TOOL " + missing + ": no such file",
                plain.toString(), "SMOKE_TOOL " + plain + ": not an executable file",
                "no-such-tool-command --flag", "SMOKE_TOOL no-such-tool-command: command not found");
        for (Map.Entry<String, String> refused : refusals.entrySet()) {
            var result = harness(Map.of("SMOKE_TOOL", refused.getKey()));
            assertEquals(1, result.exit(), result.describe());
            assertEquals("::error::backup-restore-smoke: " + refused.getValue() + "\n", result.err());
            assertEquals("=== preflight ===\n", result.out());
        }
        assertEquals(List.of(), leftoverTempFiles());
    }

    /**
     * The harness's reason for a question the tool refuses (ask: phys_ask, then tool_reason) is the
     * tool's line: after a usage error the line before the usage help, not the help's last line.
     */
    @Test
    void theReasonForAUsageErrorIsItsLineNotTheEndOfTheHelp() {
        String asked = ". deploy/lib/smoke-physical.sh; declare -A A=(); phys_ask A \"$1\" \"${@:2}\" ||"
                + " printf '%s %s\\n' \"${A[status]}\" \"$(tool_reason \"$1\")\"";
        String err = temp.resolve("ask.err").toString();
        var usage = Support.run(List.of("bash", "-c", asked, "ask", err, "--mode=verify", "--rows=-1"), Map.of(),
                Support.REPO, 120);
        assertEquals("2 --rows must be 0 or more, got -1\n", usage.out(), usage.describe());
        var failure = Support.run(List.of("bash", "-c", asked, "ask", err, "--mode=nosuch", "--db-url=postgres://h/d"),
                Map.of(), Support.REPO, 120);
        assertEquals("1 unknown --mode=\"nosuch\" (workload | verify)\n", failure.out(), failure.describe());
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

    /** Two methods, continuity off (SMOKE_APPEND_ROWS=0): both pass, and no scratch database is left. */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void severalMethodsPassOnAConfiguredServerTouchingOnlyItsScratchDatabases() throws Exception {
        List<String> before = databases();
        var result = harness(configuredServer("SMOKE_METHODS", "custom,plain", "SMOKE_ROWS", "7",
                "SMOKE_APPEND_ROWS", "0"));
        assertEquals(0, result.exit(), result.describe());
        var pass = PASS_LINE.matcher(lastLine(result.out()));
        assertTrue(pass.matches(), "last line: " + lastLine(result.out()));
        assertEquals("7", pass.group(1));
        assertEquals(List.of("custom", "plain"), result.out().lines()
                .filter(line -> line.matches("(custom|plain) +15 +pass +7 .*"))
                .map(line -> line.substring(0, line.indexOf(' '))).toList(), result.out());
        assertTrue(!result.err().contains("continuity:"), result.err());
        assertEquals(before, databases());
        assertEquals(List.of(), leftoverTempFiles());
    }

    /**
     * A failing round trip on a configured server: named, no PASS, and its scratch databases gone. (What
     * the tool finds in other damaged restores, without a harness: RestoreDamageTest.)
     */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void failsWhenTheRestoreAltersARow() throws Exception {
        Map<String, String> env = configuredServer();
        env.putAll(damagingRestore("UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0009';"));
        List<String> before = databases();
        var result = harness(env);
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: verifier reports a break at "
                + "first_break_id=audit-smoke-0009 first_break_pos=9\n"), result.err());
        assertTrue(!result.out().contains("PASS"), result.out());
        assertEquals(before, databases());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void failsOnAThrowawayClusterWhenTheRestoreLosesARowAndStillCleansUp() throws Exception {
        var result = harness(damagingRestore("DELETE FROM audit_events WHERE id = 'audit-smoke-0023';"));
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: row_count differs: pre=24 post=23\n"),
                result.err());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @Test
    void anInterruptedRunStillRemovesItsClusterAndFiles() throws Exception {
        Process harness = Support.startHarness(temp, Map.of("SMOKE_ROWS", "4999998", "SMOKE_BATCH_ROWS", "1000"));
        Support.awaitText(temp.resolve("out"), "=== workload ===");
        Thread.sleep(1500); // the tool's JVM is writing rows by now
        Support.signal(harness, "TERM");
        assertTrue(harness.waitFor(120, TimeUnit.SECONDS), "the harness stopped");
        assertEquals(1, harness.exitValue());
        String err = Files.readString(temp.resolve("err"));
        assertTrue(err.contains("::error::backup-restore-smoke: interrupted by SIGTERM during workload\n"), err);
        assertEquals(List.of(), processesWith("--rows=4999998"), "the tool's JVM was stopped too");
        assertEquals(List.of(), leftoverTempFiles());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void ctrlCDuringTheRestoreStopsItAtOnceAndDropsTheScratchDatabaseItWasUsing() throws Exception {
        // The restore holds a session in the target database, as a slow pg_restore would.
        List<String> before = databases();
        Process harness = Support.startHarness(temp, configuredServer("SMOKE_METHODS", "command",
                "SMOKE_BACKUP_CMD", "pg_dump -Fc -f \"$SMOKE_BACKUP_DIR/db.dump\" \"$SMOKE_SOURCE_URL\"",
                "SMOKE_RESTORE_CMD", "psql -X -q -d \"$SMOKE_TARGET_URL\" -c 'SELECT pg_sleep(119)'"));
        awaitSession("SELECT pg_sleep(119)");
        long signalled = System.nanoTime();
        Support.signal(harness, "INT");
        assertTrue(harness.waitFor(60, TimeUnit.SECONDS), "the harness stopped");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - signalled);
        String err = Files.readString(temp.resolve("err"));
        assertEquals(1, harness.exitValue(), err);
        assertTrue(err.contains("::error::backup-restore-smoke: interrupted by SIGINT during restore\n"), err);
        assertTrue(seconds < 5, "took " + seconds + " s");
        assertEquals(List.of(), processesWith("pg_sleep(119)"));
        assertEquals(before, databases());
        assertEquals(List.of(), leftoverTempFiles());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void sigtermDuringVerifyStopsTheToolAtOnceAndNamesThePhase() throws Exception {
        // A stand-in tool whose verify hangs; it also records the arguments it was given.
        Path tool = Support.write(temp.resolve("tool.sh"), """
                printf '%%s\\n' "$*" >> "%s"
                case " $* " in *" --mode=verify "*) exec sleep 118 ;; esac
                exec "%s" "$@"
                """.formatted(temp.resolve("calls"), Support.REPO.resolve("deploy/bin/backupsmoke")));
        Process harness = Support.startHarness(temp, configuredServer("SMOKE_ROWS", "5", "SMOKE_BATCH_ROWS", "2",
                "SMOKE_TOOL", "bash " + tool));
        Support.awaitText(temp.resolve("out"), "=== verify ===");
        Thread.sleep(300);
        long signalled = System.nanoTime();
        Support.signal(harness, "TERM");
        assertTrue(harness.waitFor(60, TimeUnit.SECONDS), "the harness stopped");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - signalled);
        String err = Files.readString(temp.resolve("err"));
        assertTrue(err.contains("::error::backup-restore-smoke: interrupted by SIGTERM during verify\n"), err);
        assertTrue(seconds < 5, "took " + seconds + " s");
        assertEquals(List.of(), processesWith("sleep 118"));
        // SMOKE_BATCH_ROWS reaches the workload as --batch-rows.
        assertTrue(Files.readString(temp.resolve("calls")).lines().anyMatch(call ->
                call.startsWith("--mode=workload ") && call.endsWith(" --rows=5 --batch-rows=2")),
                Files.readString(temp.resolve("calls")));
    }

    @Test
    void aHarnessKilledOutrightLeavesNoClusterOrClientBehind() throws Exception {
        // SIGKILL (a CI runner's grace period ending) runs no trap: the watchdog cleans up.
        Process harness = Support.startHarness(temp, Map.of("SMOKE_ROWS", "4999999", "SMOKE_BATCH_ROWS", "1000"));
        Support.awaitText(temp.resolve("out"), "=== workload ===");
        Thread.sleep(1500);
        Support.signal(harness, "KILL");
        assertTrue(harness.waitFor(30, TimeUnit.SECONDS), "the harness died");
        String folder = temp.resolve("tmp").toString();
        List<String> left = List.of("?");
        for (int attempt = 0; attempt < 150 && !left.isEmpty(); attempt++) {
            Thread.sleep(100);
            left = new java.util.ArrayList<>(leftoverTempFiles());
            left.addAll(processesWith(folder));
            left.addAll(processesWith("--rows=4999999"));
        }
        assertEquals(List.of(), left, "cluster folders, servers and clients left behind");
    }

    @Test
    void aHarnessKilledOutrightWhileItReadsItsKnobsLeavesNoWorkFolder() throws Exception {
        // The watchdog started only after the knobs (a JVM's second or more): killed then, the harness left
        // its work folder (run.facts, ask.err; a service file when DATABASE_URL holds an sslpassword).
        Process harness = Support.startHarness(temp, configuredServer());
        Path tmp = temp.resolve("tmp");
        for (int attempt = 0; attempt < 3000 && !hasRunFacts(tmp); attempt++) {
            Thread.sleep(10);
        }
        Support.signal(harness, "KILL");
        assertTrue(harness.waitFor(30, TimeUnit.SECONDS), "the harness died");
        List<String> left = List.of("?");
        for (int attempt = 0; attempt < 150 && !left.isEmpty(); attempt++) {
            Thread.sleep(100);
            left = leftoverTempFiles();
        }
        assertEquals(List.of(), left, "the work folder left behind");
    }

    private static boolean hasRunFacts(Path tmp) throws IOException {
        try (var folders = Files.list(tmp)) {
            return folders.anyMatch(folder -> Files.exists(folder.resolve("run.facts")));
        }
    }

    @Test
    void theTestRunKeepsItsTemporaryFilesInAFolderOfItsOwn() {
        // test/run removes that folder at exit, so a run leaves nothing in /tmp.
        String tmpdir = System.getenv("TMPDIR");
        assertTrue(tmpdir != null && Path.of(tmpdir).getFileName().toString().startsWith("backupsmoke-tests."), tmpdir);
        assertEquals(Path.of(tmpdir), Path.of(System.getProperty("java.io.tmpdir")));
    }

    @Test
    void theTestCommandRefusesANameThatIsNoTestClassBeforeItStartsACluster() {
        String usage = "usage: test/run [--fast] [TestClass|TestClass#method ...]";
        var help = Support.run(List.of("test/run", "--help"), Map.of(), Support.REPO, 60);
        assertEquals(0, help.exit(), help.describe());
        assertEquals(usage + "\n", help.out());
        var unknown = Support.run(List.of("test/run", "--fast", "HarnessTest", "NoSuchTest#aMethod"), Map.of(),
                Support.REPO, 60);
        assertEquals(2, unknown.exit(), unknown.describe());
        assertEquals("", unknown.out(), "no cluster started, no test ran");
        assertEquals("test/run: no test class NoSuchTest in test/ (" + usage + ")\n", unknown.err());
    }

    private static void awaitSession(String query) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            if (!Support.rows("postgres", "SELECT pid FROM pg_stat_activity WHERE query = '" + query + "'").isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no session ran " + query);
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
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

    // SMOKE_IN_PLACE=1 round-tripping an empty database, and a second run resetting what the first left:
    // the first two runs of SinceHarnessTest.aLongLivedLogIsVerifiedFromTheLastRunsCheckpoint….

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void inPlaceModeNeverTakesAnApplicationsRowForOneOfItsOwn() throws Exception {
        String database = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0");
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, "
                + "details, \"timestamp\") VALUES ('continuity-0001', 'alice', 'User', 'invoice.pay', 'invoice', 'inv-7', "
                + "'{}', now())");
        var result = harness(configuredServer("PGDATABASE", database, "SMOKE_IN_PLACE", "1"));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: SMOKE_IN_PLACE=1 refused: audit_events in "
                + database + " holds 1 row(s) not written by this smoke test\n"), result.err());
        assertEquals("alice", Support.one(database, "SELECT actor FROM audit_events WHERE id = 'continuity-0001'"));
    }

    @Test
    void shellScriptsPassShellcheck() throws Exception {
        boolean installed = Support.run(List.of("bash", "-c", "command -v shellcheck"), Map.of(), Support.REPO, 30)
                .exit() == 0;
        assumeTrue(installed, "shellcheck is not installed (.ci/run installs it)");
        List<String> command = new ArrayList<>(List.of("shellcheck", "-x"));
        command.addAll(List.of("deploy/test/backup-restore-smoke.sh", "deploy/bin/jbang", "deploy/bin/backupsmoke",
                "deploy/lib/pg-cluster.sh", "deploy/lib/smoke-physical.sh", "deploy/lib/smoke-drill.sh",
                "deploy/bench/run.sh", "deploy/bench/common.sh", "deploy/bench/classic.sh", "deploy/bench/insert.sh",
                "test/run", ".ci/run"));
        var result = Support.run(command, Map.of(), Support.REPO, 120);
        assertEquals(0, result.exit(), result.describe());
    }
}
