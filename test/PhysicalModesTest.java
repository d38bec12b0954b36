// The harness's questions about physical restores and PITR (PhysicalModes:
// --mode=await-recovery, pitr-target, switch-wal) and the drill's PASS line,
// in process: the decisions on fixed values, the modes against the suite's
// server. Exact values throughout.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PhysicalModesTest {
    @TempDir Path temp;

    static final String CONTROLDATA = """
            pg_control version number:            1300
            Database system identifier:           7000000000000000001
            Database cluster state:               shut down
            """;

    /** The tool's NUL-separated answer. */
    static Map<String, String> answer(String out) {
        Map<String, String> entries = new LinkedHashMap<>();
        for (String entry : out.split("\0")) {
            entries.put(entry.substring(0, entry.indexOf('=')), entry.substring(entry.indexOf('=') + 1));
        }
        return entries;
    }

    // ---------------------------------------------------------------- decisions

    @Test
    void aRestoreOfAnotherClusterIsNamedByBothSystemIdentifiers() {
        assertEquals("the restore is of another cluster: its system identifier is 7000000000000000001, the source's"
                + " is 7000000000000000002 (a backup of another server: check the stanza or server the restore reads)",
                PhysicalModes.otherClusterReason(CONTROLDATA, "7000000000000000002"));
        assertNull(PhysicalModes.otherClusterReason(CONTROLDATA, "7000000000000000001"));
        assertNull(PhysicalModes.otherClusterReason(CONTROLDATA, null), "the source's unknown: nothing to compare");
        assertNull(PhysicalModes.otherClusterReason("pg_controldata: error\n", "7000000000000000002"));
    }

    @Test
    void theRestoredUrlIsTheFirstLine() {
        assertEquals("postgres://app:s3cr%40t@db:5432/app", PhysicalModes.firstUrl("\n  \n postgres://app:s3cr%40t@db:5432/app \nx\n"));
        assertNull(PhysicalModes.firstUrl("mysql://db/app\n"));
        assertNull(PhysicalModes.firstUrl(""));
    }

    /**
     * Red-team review (secrets): the query's password, or one holding a raw '@' or '/' (which the tool takes, as
     * ConnectionTarget reads the URL), stayed in the URL the harness puts on command lines.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " -> ", value = {
        "postgres://app:s3cr%40t@db:5432/app?sslmode=require -> postgres://app@db:5432/app?sslmode=require",
        "postgresql://app@db/app -> postgresql://app@db/app",
        "postgres://app@db:5432/app?sslmode=require&password=SECRET&application_name=x&ssl%70assword=SECRET"
                + " -> postgres://app@db:5432/app?sslmode=require&application_name=x",
        "postgres://app@db/app?password=SECRET -> postgres://app@db/app",
        "postgres://app:SEC@RET@db/app -> postgres://app@db/app",
        "postgres://app:SEC/RET@db/app -> postgres://app@db/app",
        "postgres://app:12#34@db/app?application_name=a#b -> postgres://app@db/app?application_name=a#b",
        "postgres://app:S:E@[::1]:5432/app -> postgres://app@[::1]:5432/app",
        "postgres://[::1]:5432/app -> postgres://[::1]:5432/app"})
    void theRestoredUrlsPasswordIsNeverShown(String url, String shown) {
        assertEquals(shown, PhysicalModes.withoutPassword(url));
    }

    @Test
    void theSandboxUrlEncodesTheRoleAndTheDatabase() {
        assertEquals("postgres://a%20b%40c@127.0.0.1:5433/d%C3%A9j%C3%A0-vu_1.~?sslmode=disable",
                PhysicalModes.sandboxUrl("a b@c", 5433, "déjà-vu_1.~"));
        assertEquals(5433, assertDoesNotFail(() -> PhysicalModes.port("4242\n/data\n1700000000\n5433\n/tmp\n")));
        Failure noPort = assertThrows(Failure.class, () -> PhysicalModes.port("4242\n"));
        assertEquals("the restored server names no port in its postmaster.pid", noPort.getMessage());
    }

    interface Call<T> {
        T call() throws Exception;
    }

    static <T> T assertDoesNotFail(Call<T> call) {
        try {
            return call.call();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void recoveryStatesAreJudgedPausedAndReadOnlyFail() throws Exception {
        PhysicalModes.Options writes = new PhysicalModes.Options();
        writes.needWrites = true;
        PhysicalModes.Options reads = new PhysicalModes.Options();
        assertTrue(PhysicalModes.outOfRecovery(writes, new PhysicalModes.State(true, false, false, false, "-")));
        assertFalse(PhysicalModes.outOfRecovery(writes, new PhysicalModes.State(true, true, false, true, "0/3000000")));
        Refusal paused = assertThrows(Refusal.class, () -> PhysicalModes.outOfRecovery(reads,
                new PhysicalModes.State(true, true, true, true, "0/30000A0")));
        assertEquals("the restored server is paused in recovery (pg_is_wal_replay_paused() = true) at replay LSN"
                + " 0/30000A0: the restore must end with recovery_target_action = promote", paused.getMessage());
        Refusal readOnly = assertThrows(Refusal.class, () -> PhysicalModes.outOfRecovery(writes,
                new PhysicalModes.State(true, false, false, true, "-")));
        assertEquals("the restored server is read-only (transaction_read_only = on): continuity cannot write on it",
                readOnly.getMessage());
        assertTrue(PhysicalModes.outOfRecovery(reads, new PhysicalModes.State(false, false, false, true, "-")),
                "a drill only reads");
    }

    /** A replay paused by a setting the live server raised after the backup says so (PostgreSQL 15's log). */
    @Test
    void aReplayPausedByALowerSettingNamesIt() throws Exception {
        Path cluster = temp.resolve("paused");
        Files.createDirectories(cluster);
        Support.write(cluster.resolve("server.log"), """
                2026-12-07 16:01:02.123 UTC [4242] WARNING:  hot standby is not possible because of insufficient parameter settings
                2026-12-07 16:01:02.123 UTC [4242] DETAIL:  max_connections = 300 is a lower setting than on the primary server, where its value was 400.
                2026-12-07 16:01:02.123 UTC [4242] LOG:  recovery has paused
                2026-12-07 16:01:02.123 UTC [4242] DETAIL:  If recovery is unpaused, the server will shut down.
                """);
        PhysicalModes.Options options = new PhysicalModes.Options();
        options.cluster = cluster;
        Refusal paused = assertThrows(Refusal.class, () -> PhysicalModes.outOfRecovery(options,
                new PhysicalModes.State(true, true, true, true, "0/6000108")));
        assertEquals("the restored server is paused in recovery (pg_is_wal_replay_paused() = true) at replay LSN"
                + " 0/6000108: the WAL raises a setting above the sandbox's, max_connections = 300 is a lower setting"
                + " than on the primary server, where its value was 400 (the live server raised it after the backup:"
                + " restore a later backup)", paused.getMessage());
        assertNull(PhysicalModes.insufficientSetting("LOG:  recovery has paused\n"));
    }

    @Test
    void aDrillWantsASuperuserAndTheEndOfTheWaitSaysWhy() {
        PhysicalModes.Options drill = new PhysicalModes.Options();
        drill.needSuperuser = true;
        var candidate = new PhysicalModes.Candidate("postgres://app@127.0.0.1:1/x", "app", null);
        var plain = new PhysicalModes.State(false, false, false, false, "-");
        assertEquals("role app is not a superuser of the restored cluster", PhysicalModes.unfitRole(drill, candidate, plain));
        assertNull(PhysicalModes.unfitRole(new PhysicalModes.Options(), candidate, plain));
        Failure still = PhysicalModes.timedOut("still in recovery, replayed up to 0/5000000", 7);
        assertTrue(still instanceof Refusal);
        assertEquals("the restored server is still in recovery after 7 s (SMOKE_RECOVERY_TIMEOUT): still in recovery,"
                + " replayed up to 0/5000000", still.getMessage());
        Failure silent = PhysicalModes.timedOut("cannot connect to postgres://x@127.0.0.1:1/x: refused", 7);
        assertFalse(silent instanceof Refusal);
        assertEquals("the restored server does not answer within 7 s (SMOKE_RECOVERY_TIMEOUT): cannot connect to"
                + " postgres://x@127.0.0.1:1/x: refused", silent.getMessage());
    }

    @Test
    void thePitrTargetIsOneJsonObject() {
        assertEquals("""
                {"kind":"lsn","time":"2026-12-06 01:02:03.456789+00","lsn":"0/3000060","xid":"747","row_count":24,\
                "chain_head_hash":"ab"}""", PhysicalModes.targetJson("lsn", "2026-12-06 01:02:03.456789+00",
                "0/3000060", "747", 24, "ab").toString());
        assertEquals("role \"Mixed\" may not run pg_switch_wal() (it needs superuser, or GRANT EXECUTE ON FUNCTION"
                + " pg_catalog.pg_switch_wal() TO \"Mixed\")", PhysicalModes.switchWalRefused("\"Mixed\"", "\"Mixed\""));
    }

    @Test
    void aPassingDrillsLastLineComesFromItsReport() throws Exception {
        Path drill = Files.createDirectories(temp.resolve("drill"));
        Files.writeString(drill.resolve("report.json"), """
                {"method":"pgbackrest","passed":true,"restored":{"row_count":32,
                 "chain_head_hash":"0123456789abcdef0123"},"ledger":{"relied_on":2,"entries":3}}
                """);
        var result = Support.tool("--mode=report", "--run-record=" + drill);
        assertEquals(0, result.exit(), result.describe());
        assertEquals("PASS  drill=pgbackrest  rows=32  chain_head=0123456789abcdef\u2026  checkpoint=2 of 3"
                + "  verifier=clean\n", result.out());
    }

    // ---------------------------------------------------------------- against the suite's server

    /** What a test does while a role of its own exists. */
    interface RoleBody {
        void run() throws Exception;
    }

    /** BODY with ROLE (made with ATTRIBUTES) on the suite's server, dropped afterwards whatever happens. */
    private static void withRole(String role, String attributes, RoleBody body) throws Exception {
        Support.execute("postgres", "DROP ROLE IF EXISTS " + role, "CREATE ROLE " + role + " " + attributes);
        try {
            body.run();
        } finally {
            Support.execute("postgres", "DROP ROLE " + role);
        }
    }

    @Test
    void theRightToSwitchWalIsAskedForBeforeItIsUsed() throws Exception {
        String role = "smoke_no_switch_wal";
        withRole(role, "LOGIN PASSWORD 'no-wal'", () -> {
            String unprivileged = "postgres://" + role + "@" + Support.HOST + ":" + Support.PORT + "/postgres?sslmode=disable";
            Support.refused(Map.of("PGPASSWORD", "no-wal"), 1, "role " + role + " may not run pg_switch_wal() (it needs"
                    + " superuser, or GRANT EXECUTE ON FUNCTION pg_catalog.pg_switch_wal() TO " + role + ")",
                    "--mode=switch-wal", "--db-url=" + unprivileged);
            var allowed = Support.tool("--mode=switch-wal", "--db-url=" + Support.url("postgres"));
            assertEquals(0, allowed.exit(), allowed.describe());
            assertEquals("", allowed.out() + allowed.err());
        });
    }

    @Test
    void aServerOutOfRecoveryIsNamedWithoutThePasswordItsUrlCarried() throws Exception {
        String role = "smoke_restored_owner";
        withRole(role, "LOGIN PASSWORD 'p@ss'", () -> {
            Path urlFile = Support.write(temp.resolve("restored-url"), "\npostgres://" + role + ":p%40ss@" + Support.HOST
                    + ":" + Support.PORT + "/postgres?sslmode=disable\n");
            var result = Support.tool("--mode=await-recovery", "--need-writes", "--recovery-timeout=5",
                    "--restored-url-file=" + urlFile);
            assertEquals(0, result.exit(), result.describe());
            Map<String, String> answer = answer(result.out());
            assertEquals("postgres://" + role + "@" + Support.HOST + ":" + Support.PORT + "/postgres?sslmode=disable",
                    answer.get("url"));
            assertEquals("postgres", answer.get("database"));
            assertEquals(role, answer.get("role"));
            assertEquals("p@ss", answer.get("password"));
            assertEquals("", answer.get("sslpassword"));
            assertTrue(answer.get("wal").matches("[0-9A-F]{24}"), answer.toString());
            // Red-team review (secrets): in the query, the password stayed in the URL answered, which the
            // harness puts on the tool's command lines; an sslpassword comes back separately too.
            Support.write(urlFile, "postgres://" + role + "@" + Support.HOST + ":" + Support.PORT
                    + "/postgres?sslmode=disable&password=p%40ss&sslpassword=k%26y\n");
            var queried = Support.tool("--mode=await-recovery", "--recovery-timeout=5", "--restored-url-file=" + urlFile);
            assertEquals(0, queried.exit(), queried.describe());
            Map<String, String> said = answer(queried.out());
            assertEquals("postgres://" + role + "@" + Support.HOST + ":" + Support.PORT + "/postgres?sslmode=disable",
                    said.get("url"));
            assertEquals("p@ss", said.get("password"));
            assertEquals("k&y", said.get("sslpassword"));
        });
    }

    @Test
    void aRestoredClusterIsAskedAsEachRoleInTurnUntilOneFits() throws Exception {
        String role = "smoke_sandbox_not_superuser";
        withRole(role, "LOGIN", () -> {
            // The suite's server (on 127.0.0.1) stands in for the restored cluster: its port, a live pid (this JVM's).
            Path cluster = temp.resolve("cluster");
            Files.createDirectories(cluster.resolve("data"));
            Support.write(cluster.resolve("data/postmaster.pid"), ProcessHandle.current().pid() + "\n" + cluster
                    + "/data\n1700000000\n" + Support.PORT + "\n");
            var result = Support.tool("--mode=await-recovery", "--cluster=" + cluster, "--database=template1",
                    "--roles=" + role + "," + Support.USER, "--need-superuser", "--recovery-timeout=5");
            assertEquals(0, result.exit(), result.describe());
            Map<String, String> answer = answer(result.out());
            assertEquals("postgres://" + Support.USER + "@127.0.0.1:" + Support.PORT + "/template1?sslmode=disable",
                    answer.get("url"));
            assertEquals("template1", answer.get("database"));
            assertEquals(Support.USER, answer.get("role"), "the first role is no superuser");
            assertEquals("", answer.get("password"));
            assertTrue(answer.get("wal").matches("[0-9A-F]{24}"), answer.toString());
        });
    }

    @Test
    void aRestoreOfAnotherClusterFailsBeforeTheWait() throws Exception {
        String source = Support.one("postgres", "SELECT system_identifier FROM pg_control_system()");
        Path urlFile = Support.write(temp.resolve("restored-url"), Support.url("postgres") + "\n");
        Path controldata = Support.write(temp.resolve("controldata"), CONTROLDATA);
        var result = Support.refused(3, "the restore is of another cluster: its system identifier is"
                + " 7000000000000000001, the source's is " + source + " (a backup of another server: check the stanza"
                + " or server the restore reads)", "--mode=await-recovery", "--restored-url-file=" + urlFile,
                "--source-url=" + Support.url("postgres"), "--controldata=" + controldata);
        assertEquals("", result.out());
    }

    @Test
    void aRestoreCommandThatWroteNoUrlFails() throws Exception {
        Path urlFile = Support.write(temp.resolve("restored-url"), "\n");
        Support.refused(3, "the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE",
                "--mode=await-recovery", "--restored-url-file=" + urlFile);
    }

    @Test
    void aRestoredServerThatStoppedFailsWithTheEndOfItsLog() throws Exception {
        Path cluster = temp.resolve("cluster");
        Files.createDirectories(cluster.resolve("data"));
        // No process has this pid (above the kernel's pid_max), nothing listens on port 1.
        Support.write(cluster.resolve("data/postmaster.pid"), "99999999\n" + cluster + "/data\n1700000000\n1\n");
        Support.write(cluster.resolve("server.log"), "LOG:  starting\nFATAL:  could not locate a valid checkpoint record\n");
        var result = Support.tool("--mode=await-recovery", "--cluster=" + cluster, "--recovery-timeout=30");
        assertEquals(3, result.exit(), result.describe());
        assertEquals("LOG:  starting\nFATAL:  could not locate a valid checkpoint record\nbackupsmoke: the restored server"
                + " stopped during recovery (its log is above): FATAL: could not locate a valid checkpoint record\n",
                result.err());
        Support.write(cluster.resolve("server.log"), "LOG:  shutting down\n");
        var silent = Support.tool("--mode=await-recovery", "--cluster=" + cluster, "--recovery-timeout=30");
        assertEquals("LOG:  shutting down\nbackupsmoke: the restored server stopped during recovery (its log is above):"
                + " the backup cannot be restored\n", silent.err(), "no FATAL line: the log says no more");
        // Gone with the server as it stopped: stopped, not "names no port" (the file is read once).
        Files.delete(cluster.resolve("data/postmaster.pid"));
        var removed = Support.tool("--mode=await-recovery", "--cluster=" + cluster, "--recovery-timeout=30");
        assertEquals(3, removed.exit(), removed.describe());
        assertEquals(silent.err(), removed.err());
    }

    @Test
    void aPidFileNamesALiveServerByItsFirstLine() {
        long self = ProcessHandle.current().pid();
        assertTrue(PhysicalModes.runs(self + "\n/srv/data\n1700000000\n5432\n"));
        assertFalse(PhysicalModes.runs("99999999\n/srv/data\n1700000000\n5432\n"), "no such process");
        assertFalse(PhysicalModes.runs(""), "no file");
        assertFalse(PhysicalModes.runs("x\n"), "not a pid");
        assertFalse(PhysicalModes.runs("99999999999999999999\n"), "past a long");
    }

    /**
     * What a failed step of the restore says last (the harness's failure line): a server's last FATAL line,
     * else a restore tool's last line, pgBackRest's INFO lines and blank lines passed over.
     */
    @Test
    void aFailedStepIsNamedByItsLastFatalLineElseItsLastLine() {
        assertEquals("FATAL: recovery ended before configured recovery target was reached", PhysicalModes.lastSaid("""
                2026-12-07 01:27:13.294 UTC [18506] FATAL:  could not locate a valid checkpoint record
                2026-12-07 01:27:13.294 UTC [18506] FATAL:  recovery ended before configured recovery target was reached
                2026-12-07 01:27:13.314 UTC [18444] LOG:  database system is shut down
                pg-cluster: could not start a PostgreSQL server in /tmp/pgc.x
                """));
        assertEquals("ERROR: [075]: no backup set found to restore", PhysicalModes.lastSaid("""
                2026-12-07 03:08:07.548 P00   INFO: restore command begin 2.45: --stanza=nope
                  ERROR: [075]: no backup set found to restore
                2026-12-07 03:08:07.551 P00   INFO: restore command end: aborted with exception [075]

                """));
        // a restore that filled TMPDIR (pgBackRest 2.45): its retries under the ERROR line, which names the file
        assertEquals("ERROR: [064]: raised from local-1 protocol: unable to write '/tmp/pgc.x/data/base/16385/16398'",
                PhysicalModes.lastSaid("""
                2026-12-07 18:07:42.743 P00   INFO: remap data directory to '/tmp/pgc.x/data'
                ERROR: [064]: raised from local-1 protocol: unable to write '/tmp/pgc.x/data/base/16385/16398'
                       [FileWriteError] on retry after 0ms
                       [FileWriteError] on retry after 15000ms
                2026-12-07 18:07:58.873 P00   INFO: restore command end: aborted with exception [064]
                """));
        assertEquals("ERROR: Unknown server 'pg-nope'", PhysicalModes.lastSaid("ERROR:  Unknown server 'pg-nope'\n"));
        assertNull(PhysicalModes.lastSaid("\n  \n"));
        // the tool's own refusal (restored-setup): the harness's line names the gate already
        assertEquals("the restored configuration sets data_directory = '/srv/pg': the sandbox serves /x/data only",
                PhysicalModes.lastSaid("backupsmoke: the restored configuration sets data_directory = '/srv/pg': the"
                        + " sandbox serves /x/data only\n"));
    }

    @Test
    void aStepThatFailedEndsTheWaitAtOnceWithItsReasonAndWhatItSaid() throws Exception {
        Path output = Support.write(temp.resolve("restore.log"), "stanza: nope\nERROR: [075]: no backup set found"
                + " to restore\n");
        Support.refused(3, "pgbackrest restore failed (exit 1): ERROR: [075]: no backup set found to restore",
                "--mode=await-recovery", "--step-failed=pgbackrest restore failed (exit 1)", "--step-output=" + output);
        Support.refused(3, "the restore command (SMOKE_RESTORE_CMD) failed (exit 2)", "--mode=await-recovery",
                "--step-failed=the restore command (SMOKE_RESTORE_CMD) failed (exit 2)",
                "--step-output=" + temp.resolve("none.log"));
    }

    /**
     * A step's output may be huge (a restore tool's verbose listing) or hold any bytes: what it says last is
     * read from its end, and a control character in that line (an ESC, a NUL) is shown as ?. Read whole, an
     * output of 80 MB ran the launcher's 160 MiB heap out (exit 1, the restore's REASON lost); this one, 2.2 GB
     * but sparse, does not fit in one array at all.
     */
    @Test
    void aStepsOutputIsReadFromItsEndWhateverItsSizeAndBytes() throws Exception {
        Path output = temp.resolve("restore.log");
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(output.toFile(), "rw")) {
            file.setLength(2_200_000_000L);
            file.seek(file.length());
            file.write("\nrestored base/1/2619\n\u001b[31mERROR: [055]: unable to write\u0000\n".getBytes(
                    StandardCharsets.UTF_8));
        }
        Support.refused(3, "pgbackrest restore failed (exit 55): ?[31mERROR: [055]: unable to write?",
                "--mode=await-recovery", "--step-failed=pgbackrest restore failed (exit 55)", "--step-output=" + output);
    }

    /** pg_ctl saw it start; it then ran out of WAL before its target and stopped before the first poll. */
    @Test
    void aRestoredServerGoneBeforeTheFirstPollFailsNamingItsFatalLine() throws Exception {
        Path cluster = temp.resolve("cluster");
        Files.createDirectories(cluster.resolve("data"));
        Support.write(cluster.resolve("server.log"), "2026-12-07 01:27:13.294 UTC [18506] FATAL:  recovery ended before"
                + " configured recovery target was reached\n2026-12-07 01:27:13.314 UTC [18444] LOG:  database system is"
                + " shut down\n");
        var result = Support.tool("--mode=await-recovery", "--cluster=" + cluster, "--recovery-timeout=30");
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.err().endsWith("\nbackupsmoke: the restored server stopped during recovery (its log is above):"
                + " FATAL: recovery ended before configured recovery target was reached\n"), result.err());
    }

    @Test
    void thePitrTargetHoldsWorkloadAsRowsAndHead() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Path target = temp.resolve("pitr.target.json");
        var result = Support.tool("--mode=pitr-target", "--db-url=" + Support.url(database), "--target-kind=xid",
                "--target-file=" + target);
        assertEquals(0, result.exit(), result.describe());
        Map<String, String> answer = answer(result.out());
        assertEquals("xid", answer.get("kind"));
        JsonNode json = new ObjectMapper().readTree(target.toFile());
        assertEquals(24, json.get("row_count").asInt());
        assertEquals(Support.one(database, "SELECT row_hash FROM audit_chain_head WHERE id = 1"),
                json.get("chain_head_hash").asText());
        for (String kind : new String[] {"time", "lsn", "xid"}) {
            assertEquals(json.get(kind).asText(), answer.get(kind), kind);
        }
        assertEquals("PITR target (xid): " + json.get("xid").asText() + " after 24 rows of workload A", answer.get("say"));
        assertTrue(json.get("time").asText().matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00"), json.toString());
        assertTrue(json.get("lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), json.toString());
        assertTrue(json.get("xid").asText().matches("\\d+"), json.toString());
        var bad = Support.tool("--mode=pitr-target", "--db-url=" + Support.url(database), "--target-kind=now",
                "--target-file=" + target);
        assertEquals("backupsmoke: --mode=pitr-target needs --target-kind=time|lsn|xid and --target-file=FILE\n", bad.err());
    }

    @Test
    void theseFlagsBelongToTheModesThatReadThem() {
        Support.usageError("--cluster applies to --mode=await-recovery and --mode=physical-setup only",
                "--mode=verify", "--db-url=" + Support.url("postgres"), "--cluster=/x");
        // A sibling's flag too: switch-wal reads none of them (it once ran, ignoring --bindir).
        Support.usageError("--bindir applies to --mode=physical-setup only",
                "--mode=switch-wal", "--db-url=" + Support.url("postgres"), "--bindir=/x");
        Support.usageError("--target-kind, --target-file apply to --mode=pitr-target only",
                "--mode=await-recovery", "--cluster=/x", "--target-kind=lsn", "--target-file=/x");
    }
}
