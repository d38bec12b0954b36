// Bad input and faults: one clear line naming the problem, the right exit
// code, bounded waits, nothing lost, and never a password in any output.
// The test cluster trusts only the postgres role; every other role logs in
// with a SCRAM password, so wrong passwords are real failures here.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

class FaultsTest {
    static final String ROLE = "smoke_app";
    static final String PASSWORD = "Pa55:w@rd/%é";
    static final String WRONG_PASSWORD = "Wr0ng-Secret-77";

    @TempDir Path folder;

    @BeforeAll
    static void createPasswordRole() throws Exception {
        Support.execute("postgres",
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + ROLE + "') THEN "
                        + "CREATE ROLE " + ROLE + " LOGIN; END IF; END $$",
                "ALTER ROLE " + ROLE + " PASSWORD '" + PASSWORD + "' NOCREATEDB");
    }

    /** A database the password role owns, so it may create what the migrations need. */
    private static String databaseOwnedByRole() throws Exception {
        String database = Support.scratchDatabase();
        Support.execute("postgres", "ALTER DATABASE " + database + " OWNER TO " + ROLE);
        Support.execute(database, "ALTER SCHEMA public OWNER TO " + ROLE);
        return database;
    }

    private static String percentEncoded(String text) {
        return java.net.URLEncoder.encode(text, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String roleUrl(String database, String password) {
        return "postgres://" + ROLE + ":" + percentEncoded(password) + "@" + Support.HOST + ":" + Support.PORT + "/"
                + database + "?sslmode=disable";
    }

    private static void assertNoPassword(Support.Result result) {
        for (String secret : List.of(PASSWORD, percentEncoded(PASSWORD), WRONG_PASSWORD)) {
            assertFalse(result.out().contains(secret) || result.err().contains(secret), "password leaked:\n" + result.describe());
        }
    }

    // ------------------------------------------------------------ connection strings and credentials

    @Test
    void aPercentEncodedPasswordInTheUrlLogsIn() throws Exception {
        String database = databaseOwnedByRole();
        var result = Support.tool("--mode=workload", "--db-url=" + roleUrl(database, PASSWORD), "--rows=2");
        assertEquals(0, result.exit(), result.describe());
        assertNoPassword(result);
    }

    @Test
    void thePasswordMayComeFromPgpasswordOrThePasswordFile() throws Exception {
        String database = databaseOwnedByRole();
        String url = "postgres://" + ROLE + "@" + Support.HOST + ":" + Support.PORT + "/" + database + "?sslmode=disable";
        var viaVariable = Support.tool(Support.env("PGPASSWORD", PASSWORD), "--mode=workload", "--db-url=" + url, "--rows=1");
        assertEquals(0, viaVariable.exit(), viaVariable.describe());

        Path passfile = folder.resolve("pgpass");
        Files.writeString(passfile, Support.HOST + ":" + Support.PORT + ":*:" + ROLE + ":"
                + PASSWORD.replace("\\", "\\\\").replace(":", "\\:") + "\n");
        Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-------"));
        var viaFile = Support.tool(Support.env("PGPASSFILE", passfile.toString()), "--mode=verify", "--db-url=" + url);
        assertEquals(0, viaFile.exit(), viaFile.describe());
        assertNoPassword(viaFile);
    }

    @Test
    void aWrongPasswordNamesTheTargetAndTheCauseButNeverThePassword() throws Exception {
        String database = databaseOwnedByRole();
        var result = Support.refused(1, "cannot connect to postgres://" + ROLE + "@" + Support.HOST + ":" + Support.PORT
                + "/" + database + ": password authentication failed for user \"" + ROLE + "\"",
                "--mode=verify", "--db-url=" + roleUrl(database, WRONG_PASSWORD));
        assertNoPassword(result);
    }

    @Test
    void anUnknownHostIsNamed() {
        Support.refused(1, "cannot connect to postgres://u@no-such-host.invalid:5432/ledger: unknown host "
                + "no-such-host.invalid", "--mode=verify", "--db-url=postgres://u@no-such-host.invalid:5432/ledger");
    }

    @Test
    void aMissingDatabaseIsNamed() {
        Support.refused(1, "cannot connect to postgres://" + Support.USER + "@" + Support.HOST + ":" + Support.PORT
                + "/no_such_database: database \"no_such_database\" does not exist",
                "--mode=verify", "--db-url=" + Support.url("no_such_database"));
    }

    @Test
    void aServerThatNeverAnswersTimesOutWithinTheConnectTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            List<Socket> accepted = new ArrayList<>();
            CompletableFuture.runAsync(() -> {
                try {
                    accepted.add(silent.accept()); // accept, then never say a word
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            long started = System.nanoTime();
            Support.refused(1, "cannot connect to postgres://u@127.0.0.1:" + silent.getLocalPort()
                    + "/d: no answer within 2 s (see --connect-timeout)", "--mode=verify", "--connect-timeout=2",
                    "--db-url=postgres://u@127.0.0.1:" + silent.getLocalPort() + "/d");
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
            assertTrue(seconds < 30, "took " + seconds + " s");
        }
    }

    // ------------------------------------------------------------ privileges and database state

    @Test
    void withoutTheRightToCreatePgcryptoTheMigrationSaysSo() throws Exception {
        String database = Support.scratchDatabase(); // owned by postgres: the role may not create extensions
        Support.execute(database, "GRANT CREATE ON SCHEMA public TO " + ROLE);
        Support.refused(1, "failed to execute migration 000003_audit_hash_chain.up.sql: permission denied to "
                + "create extension \"pgcrypto\" (hint: Must have CREATE privilege on current database to create this "
                + "extension.); this run applied 000001_audit_events.up.sql, 000002_audit_append_only.up.sql before it "
                + "(recorded in schema_migrations): fix it and rerun to continue from 000003_audit_hash_chain.up.sql, or "
                + "undo them with their .down.sql files, newest first, and delete their rows from schema_migrations",
                "--mode=workload", "--db-url=" + roleUrl(database, PASSWORD));
        assertEquals(List.of("000001_audit_events.up.sql", "000002_audit_append_only.up.sql"),
                Support.rows(database, "SELECT version FROM schema_migrations ORDER BY 1"));
        assertEquals("null", Support.one(database, "SELECT to_regclass('audit_chain_head')"));
    }

    @Test
    void selftestWithoutCreatedbSaysTheRoleNeedsIt() throws Exception {
        var result = Support.tool("--mode=selftest", "--db-url=" + roleUrl("postgres", PASSWORD));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().matches("backupsmoke: selftest cannot create its scratch database "
                + "backupsmoke_selftest_\\d+_template on postgres://" + ROLE + "@[^ ]+/postgres: permission denied to "
                + "create database \\(the role needs CREATEDB\\)\n"), result.err());
        assertNoPassword(result);
    }

    @Test
    void workloadOnAnAuditTableWithoutTheContractColumnsNamesThem() throws Exception {
        Path migrations = Support.write(folder.resolve("m/001_partial.up.sql"), """
                CREATE TABLE audit_events (id TEXT PRIMARY KEY, actor TEXT, action TEXT, "timestamp" TIMESTAMPTZ);
                CREATE TABLE audit_chain_head (id INT PRIMARY KEY, row_hash TEXT);
                """).getParent();
        String database = Support.scratchDatabase();
        Support.refused(1, "audit_events lacks the schema contract's columns actor_type, resource_type, "
                + "resource_id, details, event_category, prev_hash, row_hash (SPEC section 6): these migrations do not "
                + "install the contract",
                "--mode=workload", "--db-url=" + Support.url(database), "--migrations-path=" + migrations);
    }

    // ------------------------------------------------------------ concurrency and faults mid-run

    @Test
    @Tag("e2e")
    void fourWorkloadsAtOnceLeaveOneCleanChain() throws Exception {
        String database = Support.migratedWithWorkload(0);
        List<CompletableFuture<Support.Result>> runs = new ArrayList<>();
        for (String prefix : List.of("w1-", "w2-", "w3-", "w4-")) {
            // Four processes: in-process runs would take turns.
            runs.add(CompletableFuture.supplyAsync(() -> Support.launched(Map.of(), "--mode=workload", "--db-url=" + Support.url(database),
                    "--rows=300", "--batch-rows=7", "--id-prefix=" + prefix)));
        }
        for (CompletableFuture<Support.Result> run : runs) {
            assertEquals(0, run.join().exit(), run.join().describe());
        }
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertTrue(verify.out().contains("\"first_break_pos\": -1,\n  \"verifier_walked\": 1200,"), verify.out());
        assertTrue(verify.out().contains(Support.cleanClientJson(1200)), verify.out());
    }

    @Test
    void aBackendTerminatedMidWorkloadFailsCleanlyAndKeepsEveryCommittedBatch() throws Exception {
        String database = Support.migratedWithWorkload(0);
        CompletableFuture<Support.Result> workload = CompletableFuture.supplyAsync(() -> Support.tool(
                "--mode=workload", "--db-url=" + Support.url(database), "--rows=5000000", "--batch-rows=100"));
        awaitRows(database, 2000);
        Support.execute("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                + "WHERE datname = '" + database + "' AND application_name = 'backupsmoke'");
        var result = workload.join();
        assertEquals(1, result.exit(), result.describe());
        // A backend terminated during a batch proves nothing about it: the message says how to find out.
        assertTrue(result.err().matches("(?s)(backupsmoke: workload [^\n]*\n)*backupsmoke: inserting audit rows failed: "
                + "terminating connection due to administrator command; \\d+ audit rows were committed and verify as a "
                + "chain(; the batch in flight \\(ids audit-smoke-(\\d+) to audit-smoke-\\d+\\) may have committed, all or "
                + "nothing: look for id audit-smoke-\\3)?\n"), result.err());
        assertFalse(result.err().contains("\tat "), "no stack trace");
        assertCommittedRowsVerify(database);
    }

    @Test
    @Tag("e2e")
    void anInterruptMidWorkloadSaysWhereItStoppedAndKeepsEveryCommittedBatch() throws Exception {
        String database = Support.migratedWithWorkload(0);
        // A process started with SIGINT ignored (a background job of a shell without job control: how test
        // runs are often started) passes that on, and a JVM leaves an ignored SIGINT ignored: the tool then
        // ran on until --timeout. env restores the default disposition and execs, so the pid stays the tool's.
        ProcessBuilder builder = new ProcessBuilder("env", "--default-signal=INT", Support.JBANG.toString(),
                Support.TOOL.toString(), "--mode=workload",
                "--db-url=" + Support.url(database), "--rows=5000000", "--batch-rows=100")
                .directory(Support.REPO.toFile())
                .redirectOutput(folder.resolve("out").toFile())
                .redirectError(folder.resolve("err").toFile());
        Process process = builder.start();
        awaitRows(database, 2000);
        // env and the bootstrap exec the JVM, so the process is java itself: Ctrl-C is SIGINT to it.
        new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start().waitFor();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the tool stopped");
        String err = Files.readString(folder.resolve("err"));
        assertEquals(130, process.exitValue(), err);
        // The batch in flight was cancelled on the server, whose error proves it rolled back: the count is exact.
        var interrupted = java.util.regex.Pattern.compile("(?s)(backupsmoke: workload [^\n]*\n)*backupsmoke: interrupted "
                + "while inserting audit rows; (\\d+) audit rows were committed and verify as a chain(; the batch in flight "
                + "\\(ids audit-smoke-\\d+ to audit-smoke-\\d+\\) was rolled back)?\n").matcher(err);
        assertTrue(interrupted.matches(), err);
        assertCommittedRowsVerify(database);
        assertEquals(interrupted.group(2), Support.one(database, "SELECT count(*) FROM audit_events"));
    }

    // ------------------------------------------------------------ a deadline or signal leaves nothing running

    @Test
    void aTimedOutBatchIsCancelledOnTheServerAndProvenRolledBack() throws Exception {
        // Issue 18 item 2: the batch waited for a lock past --timeout; the socket was cut, the server ran on, and
        // the rows landed once the lock was released, after "no batch had been confirmed as committed".
        String database = Support.migratedWithWorkload(0);
        try (Connection locker = Support.connect(database)) {
            holdLock(locker, "audit_chain_head");
            Failure failure;
            try (Deadline deadline = new Deadline(Duration.ofSeconds(1));
                 Connection connection = queryConnector(database, deadline).open()) {
                failure = Support.oneWorkloadAtATime(() -> assertThrows(Failure.class,
                        () -> new Workload(3, "lk-", null, null).insert(connection, deadline)));
            }
            assertEquals("timed out after 1s while inserting audit rows (raise the bound with --timeout); no audit row "
                    + "was committed; the batch in flight (ids lk-0000 to lk-0002) was rolled back", failure.getMessage());
            assertEquals(List.of(), runningStatements(database));
            locker.commit();
        }
        assertEquals("0", Support.one(database, "SELECT count(*) FROM audit_events WHERE id LIKE 'lk-%'"));
    }

    @Test
    void aTimedOutVerifyLeavesNoQueryOnTheServer() throws Exception {
        String database = Support.migratedWithWorkload(3);
        try (Connection locker = Support.connect(database)) {
            holdLock(locker, "audit_events");
            try (Deadline deadline = new Deadline(Duration.ofSeconds(1))) {
                Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
                Failure failure = assertThrows(Failure.class, () -> Verification.run(connector,
                        new Verification.Request(null, ChainWalker.Expectation.NONE, true)));
                assertEquals("timed out after 1s while locking audit_events and reading audit_chain_head (raise the "
                        + "bound with --timeout)", failure.getMessage());
            }
            assertEquals(List.of(), runningStatements(database));
        }
    }

    /**
     * The server's verifier failing (here a replaced function raising) while the client walk's COPY
     * streams: verify fails with the verifier's error and stops the walk first. The walk, eight rows of
     * 16 MB, once went on reading after verify had failed (a walk queued behind a lock stayed until its
     * lock_timeout, the run's --timeout later).
     */
    @Test
    void aFailedServerVerdictStopsTheClientWalkOnTheServer() throws Exception {
        String database = largeRowsWithAVerifierThatOnceTheWalkRuns("RAISE EXCEPTION 'no verdict today';");
        try (Deadline deadline = new Deadline(Duration.ofMinutes(2))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            Failure failure = assertThrows(Failure.class, () -> Verification.run(connector,
                    new Verification.Request(null, ChainWalker.Expectation.NONE, true)));
            assertEquals("running audit_events_verify_chain() failed: no verdict today", failure.getMessage());
        }
        assertEquals(List.of(), runningStatements(database));
    }

    /**
     * The client walk failing (here its connection ended by the verifier itself) while the server's verifier
     * runs on: verify fails at once with the walk's reason, cancelling the verifier, which once ran to its
     * end (here a minute) before the failure was told.
     */
    @Test
    void aFailedClientWalkCancelsTheServersVerdict() throws Exception {
        // The walk's connection ended, the verifier would then sleep a minute.
        String database = largeRowsWithAVerifierThatOnceTheWalkRuns("""
                PERFORM pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
                WHERE query LIKE 'COPY%' AND datname = pg_catalog.current_database()
                  AND pid <> pg_catalog.pg_backend_pid();
                PERFORM pg_catalog.pg_sleep(60);
                first_break_pos := -1;
                row_count := 11;""");
        try (Deadline deadline = new Deadline(Duration.ofMinutes(2))) {
            Connector connector = new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
            long started = System.nanoTime();
            Failure failure = assertThrows(Failure.class, () -> Verification.run(connector,
                    new Verification.Request(null, ChainWalker.Expectation.NONE, true)));
            long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
            // Which of pgjdbc's two messages depends on whether the COPY's first rows had reached the walk when
            // its backend was ended (a busy machine ends it before): either way the walk's connection is gone.
            assertTrue(Set.of("reading audit_events for client verification failed: Database connection failed when"
                    + " reading from copy", "reading audit_events for client verification failed: Database connection"
                    + " failed when starting copy").contains(failure.getMessage()), failure.getMessage());
            assertTrue(seconds < 30, seconds + " s");
        }
        assertEquals(List.of(), runningStatements(database));
    }

    /**
     * A log whose client walk streams for a while (eight more rows of 16 MB) and a verifier replaced by one
     * that waits until the walk's COPY runs (at most 10 s), then does THEN. Only this database's COPY counts:
     * the suite's other tests walk their own logs at the same time.
     */
    private static String largeRowsWithAVerifierThatOnceTheWalkRuns(String then) throws Exception {
        String database = Support.migratedWithWorkload(3);
        Support.execute(database, """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details)
                SELECT 'large-' || n, 'a', 'User', 'x', 'y', 'z', jsonb_build_object('pad', repeat('x', 16000000))
                FROM generate_series(1, 8) AS n""", """
                CREATE OR REPLACE FUNCTION audit_events_verify_chain(
                    OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
                LANGUAGE plpgsql AS $$
                BEGIN
                    FOR attempt IN 1..1000 LOOP
                        EXIT WHEN EXISTS (SELECT FROM pg_catalog.pg_stat_activity
                                          WHERE state = 'active' AND query LIKE 'COPY%'
                                            AND datname = pg_catalog.current_database());
                        PERFORM pg_catalog.pg_sleep(0.01), pg_catalog.pg_stat_clear_snapshot();
                    END LOOP;
                """ + then + """
                END $$""");
        return database;
    }

    /**
     * A SIGTERM names what the run was doing: verify its phase; another mode itself (it said
     * "interrupted while starting" before the mode was named). Neither leaves a query on the server.
     */
    @Test
    @Tag("e2e")
    void aSigtermNamesWhatTheRunWasDoingAndLeavesNoQueryOnTheServer() throws Exception {
        String database = Support.migratedWithWorkload(3);
        Map<String, List<String>> argsByLine = Map.of(
                "backupsmoke: interrupted while verifying the chain\n", List.of("--mode=verify"),
                "backupsmoke: interrupted while running --mode=checkpoint\n",
                List.of("--mode=checkpoint", "--ledger=" + folder.resolve("ledger.jsonl")));
        for (var run : argsByLine.entrySet()) {
            try (Connection locker = Support.connect(database)) {
                holdLock(locker, "audit_events");
                Process process = launchedWaitingOnTheLock(database, Map.of(), run.getValue().toArray(String[]::new));
                assertStoppedBySigterm(process, database, run.getKey());
            }
        }
    }

    /**
     * A run that records the launcher's class archive cannot exec the JVM (the archive is moved into
     * place after it): a SIGTERM to the launcher's PID alone, not its process group, once left the JVM
     * running on as an orphan. It reaches the tool, which stops as it would without the launcher.
     */
    @Test
    @Tag("e2e")
    void aSigtermToTheLauncherWhileItRecordsTheClassArchiveStopsTheTool() throws Exception {
        String database = Support.migratedWithWorkload(3);
        Path cache = folder.resolve("cache");
        Map<String, String> env = Map.of("BACKUPSMOKE_CACHE", cache.toString());
        // An archive made by --version: the verify below records the full one.
        assertEquals(0, Support.run(List.of(Support.LAUNCHER.toString(), "--version"), env, Support.REPO, 600).exit());
        try (Connection locker = Support.connect(database)) {
            holdLock(locker, "audit_events");
            Process launcher = launchedWaitingOnTheLock(database, env, "--mode=verify");
            List<ProcessHandle> tool = launcher.descendants().toList();
            assertEquals(1, tool.size(), tool.toString()); // the JVM, a child of the launcher's shell
            assertStoppedBySigterm(launcher, database, "backupsmoke: interrupted while verifying the chain\n");
            assertFalse(tool.get(0).isAlive(), "the tool runs on");
            try (var left = Files.list(cache.resolve("launch"))) { // no half-recorded archive
                assertEquals(List.of(), left.map(path -> path.getFileName().toString())
                        .filter(name -> name.matches(".*\\.jsa\\.[0-9]+")).toList());
            }
        }
    }

    /**
     * The launcher (its PID the launcher's own: env execs it, SIGINT at its default) with ARGS on
     * DATABASE and ENV besides the test's, stdout and stderr into the folder's out and err, once its
     * query waits on the lock held on the table.
     */
    private Process launchedWaitingOnTheLock(String database, Map<String, String> env, String... args)
            throws Exception {
        List<String> command = new ArrayList<>(List.of("env", "--default-signal=INT", Support.LAUNCHER.toString()));
        command.addAll(List.of(args));
        command.add("--db-url=" + Support.url(database));
        ProcessBuilder builder = new ProcessBuilder(command).directory(Support.REPO.toFile())
                .redirectOutput(folder.resolve("out").toFile()).redirectError(folder.resolve("err").toFile());
        builder.environment().putAll(env);
        Process process = builder.start();
        awaitLockWait(database);
        return process;
    }

    /** SIGTERM to PROCESS alone: it stops with exit 143 and the one line ERR, leaving no query on the server. */
    private void assertStoppedBySigterm(Process process, String database, String err) throws Exception {
        Support.signal(process, "TERM");
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the tool stopped");
        assertEquals(err, Files.readString(folder.resolve("err")));
        assertEquals(143, process.exitValue());
        assertEquals(List.of(), runningStatements(database));
    }

    @Test
    void aClashOnAnApplicationsUniqueIndexNamesIt() throws Exception {
        String database = Support.migratedWithWorkload(0);
        Support.execute(database, "CREATE UNIQUE INDEX audit_events_one_per_action ON audit_events (actor, action)");
        try (Deadline deadline = new Deadline(Duration.ofSeconds(30));
             Connection connection = queryConnector(database, deadline).open()) {
            Failure failure = Support.oneWorkloadAtATime(() -> assertThrows(Failure.class,
                    () -> new Workload(5, "app-", null, null).insert(connection, deadline)));
            assertEquals("inserting audit rows failed: unique constraint \"audit_events_one_per_action\" on audit_events "
                    + "(actor, action) refuses the workload's rows, which repeat actor, action and resource values "
                    + "(duplicate key value violates unique constraint \"audit_events_one_per_action\" (Key (actor, "
                    + "action)=(smoke-actor, certificate.issue) already exists.)); another --id-prefix would not help; "
                    + "no audit row was committed; the batch in flight (ids app-0000 to app-0004) was rolled back",
                    failure.getMessage());
        }
    }

    /** Takes the lock in a transaction left open on the connection. */
    private static void holdLock(Connection connection, String table) throws SQLException {
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            statement.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
        }
    }

    /** Connections as the workload's: the public audit schema on the search_path, watched by the deadline. */
    private static Connector queryConnector(String database, Deadline deadline) throws Failure {
        return new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline)
                .withSearchPath("pg_catalog, public, pg_temp");
    }

    /** The tool's statements the server is still running (or waiting to run) in a database. */
    private static List<String> runningStatements(String database) throws SQLException {
        return Support.rows("postgres", "SELECT query FROM pg_stat_activity WHERE datname = '" + database
                + "' AND application_name = 'backupsmoke' AND state = 'active'");
    }

    private static void awaitLockWait(String database) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            if (!Support.rows("postgres", "SELECT pid FROM pg_stat_activity WHERE datname = '" + database
                    + "' AND application_name = 'backupsmoke' AND wait_event_type = 'Lock'").isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the tool never waited for the lock");
    }

    private static void awaitRows(String database, int rows) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            if (Long.parseLong(Support.one(database, "SELECT count(*) FROM audit_events")) >= rows) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the workload never reached " + rows + " rows");
    }

    private static void assertCommittedRowsVerify(String database) throws Exception {
        // Let the server finish rolling back the batch that was cut off.
        Thread.sleep(500);
        String rows = Support.one(database, "SELECT count(*) FROM audit_events");
        var verify = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertTrue(verify.out().contains("\"verifier_walked\": " + rows + ","), verify.out());
        assertTrue(verify.out().contains(Support.cleanClientJson(Integer.parseInt(rows))), verify.out());
    }

    // ------------------------------------------------------------ the harness

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    @Tag("e2e")
    void theHarnessNeverShowsAPasswordOrSslpasswordInOutputOrInAnyCommandLine() throws Exception {
        String sslPassword = "Ssl-Key-Secret-91";
        Support.execute("postgres", "ALTER ROLE " + ROLE + " CREATEDB");
        // Every command line on the machine, read every few milliseconds while the harness runs.
        java.util.Set<String> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        var watching = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread watcher = new Thread(() -> {
            while (watching.get()) {
                ProcessHandle.allProcesses().forEach(p -> p.info().commandLine().ifPresent(seen::add));
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        watcher.start();
        try {
            // Parameters libpq knows, which the harness takes not apart, reach its clients as given.
            String libpqParameters = "application_name=smoke%20gate&options=-c%20geqo%3Don&target_session_attrs=any";
            var result = Support.harness(folder, Map.of("DATABASE_URL", roleUrl("postgres", PASSWORD)
                    + "&sslpassword=" + sslPassword + "&" + libpqParameters, "SMOKE_ROWS", "3"));
            assertEquals(0, result.exit(), result.describe());
            assertTrue(seen.stream().anyMatch(command -> command.contains("pg_dump") && command.contains(
                    "?sslmode=disable&" + libpqParameters)), "pg_dump was given the URL's parameters");
            assertNoPassword(result);
            assertFalse(result.out().contains(sslPassword) || result.err().contains(sslPassword), result.describe());
            var wrong = Support.harness(folder, Map.of("DATABASE_URL", roleUrl("postgres", WRONG_PASSWORD)));
            assertEquals(1, wrong.exit(), wrong.describe());
            assertTrue(wrong.err().contains("::error::backup-restore-smoke: "), wrong.err());
            assertNoPassword(wrong);
        } finally {
            watching.set(false);
            watcher.join();
            Support.execute("postgres", "ALTER ROLE " + ROLE + " NOCREATEDB");
        }
        assertTrue(seen.stream().anyMatch(command -> command.contains("pg_dump")), "the watcher saw the harness's clients");
        List<String> leaks = seen.stream().filter(command -> command.contains(sslPassword) || command.contains(PASSWORD)
                || command.contains(percentEncoded(PASSWORD)) || command.contains(WRONG_PASSWORD)).toList();
        assertEquals(List.of(), leaks);
    }

    @Test
    @Tag("e2e")
    void theHarnessFailsAtOnceOnAConnectionThatCanNeverWork() {
        long started = System.nanoTime();
        // A password's tail after a raw '&' is a parameter libpq does not know: refused by the knobs, before any
        // client runs, without its name (it reached pg_isready's and the tool's command lines and libpq's message).
        var tail = Support.harness(folder, Map.of("DATABASE_URL", Support.url("postgres") + "&password=ab&SECRET=cd"));
        assertEquals(1, tail.exit(), tail.describe());
        assertEquals("=== preflight ===\n", tail.out());
        // (%26 and %3D escaped for GitHub, which shows them as %26 and %3D: Annotation.java)
        assertEquals("::error::backup-restore-smoke: DATABASE_URL: parameter 3 of the query is not a connection"
                + " parameter libpq knows (its name is not shown: it may be the tail of a password holding a raw '&'"
                + " or '=', written %2526 and %253D)\n", tail.err());
        // A value libpq refuses is its to judge: pg_isready's status 3 (its words), at once.
        var bogus = Support.harness(folder, Map.of("DATABASE_URL", Support.url("postgres") + "&sslmode=bogus"));
        assertEquals(1, bogus.exit(), bogus.describe());
        String server = Support.HOST + ":" + Support.PORT;
        assertTrue(bogus.err().contains("::error::backup-restore-smoke: cannot connect to " + Support.USER + "@"
                + server + ": " + server + " - no attempt\n"), bogus.err());
        var port = Support.harness(folder, Map.of("DATABASE_URL", "postgres://u@127.0.0.1:99999/d"));
        assertEquals(1, port.exit(), port.describe());
        assertTrue(port.err().contains("::error::backup-restore-smoke: invalid port '99999' (1-65535)\n"), port.err());
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started) < 20, "no minute of retries");
    }

    /** A harness run on the suite's server whose pg_dump (in FOLDER/BIN) says it is 15.18, else runs SCRIPT. */
    private Support.Result harnessWithPgDump(String bin, String script) {
        String path = Support.pathWithShim(folder.resolve(bin), "pg_dump", """
                #!/usr/bin/env bash
                if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 15.18"; exit 0; fi
                """ + script);
        return Support.harness(folder, Support.configuredServer("PATH", path));
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    @Tag("e2e")
    void anEmptyBackupFailsTheGate() throws Exception {
        // Pretends to succeed and writes nothing.
        var result = harnessWithPgDump("bin", """
                for arg in "$@"; do
                  case "$arg" in --file=*) : > "${arg#--file=}" ;; esac
                done
                """);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: pg_dump left an empty or no backup file\n"),
                result.err());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    @Tag("e2e")
    void aFailingBackupFailsTheGate() throws Exception {
        List<String> before = Support.databases();
        var result = harnessWithPgDump("failing-bin", """
                echo "pg_dump: error: connection lost" >&2
                exit 1
                """);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("pg_dump: error: connection lost\n"), result.err());
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: backup of backupsmoke_[0-9a-f]+ failed "
                + "\\(exit 1\\)\n.*"), result.err());
        assertEquals(before, Support.databases());
    }

    @Test
    @Tag("e2e")
    void theHarnessWithoutCreatedbSaysWhatItNeeds() throws Exception {
        var result = Support.harness(folder, Map.of("DATABASE_URL", roleUrl("postgres", PASSWORD)));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().matches("(?s).*::error::backup-restore-smoke: cannot create scratch database "
                + "backupsmoke_[0-9a-f]+ on smoke_app@127\\.0\\.0\\.1:\\d+ \\(does smoke_app have CREATEDB\\?\\)\n.*"),
                result.err());
        assertNoPassword(result);
    }

    @Test
    @Tag("e2e")
    void aWorkFolderThatCannotBeWrittenFailsTheGateWithTheReason() {
        var result = Support.harness(folder, Map.of("PGHOST", Support.HOST, "PGPORT", Support.PORT, "PGUSER", Support.USER,
                        "TMPDIR", "/proc/no-such-folder"));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: cannot create a work folder in "
                + "/proc/no-such-folder"), result.err());
    }
}
