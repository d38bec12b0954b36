// Shared plumbing for the tests: the repository, the test server, scratch
// databases and running the tool or the harness as a user would.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;

final class Support {
    private Support() {}

    static final Path REPO = Path.of("").toAbsolutePath();
    static final Path JBANG = REPO.resolve("deploy/bin/jbang");
    static final Path TOOL = REPO.resolve("BackupSmoke.java");
    static final Path LAUNCHER = REPO.resolve("deploy/bin/backupsmoke");
    static final Path MIGRATIONS = REPO.resolve("migrations");

    static final String HOST = requiredEnv("SMOKE_TEST_PGHOST");
    static final String PORT = requiredEnv("SMOKE_TEST_PGPORT");
    static final String USER = requiredEnv("SMOKE_TEST_PGUSER");

    /** The chain head of the default 24-row workload started at FIXED_START (checked independently with Python). */
    static final String FIXED_START = "2026-05-16T12:00:00Z";
    static final String FIXED_HEAD_24 = "03101834d4c1101d1104bd5fc473ee0b14490bb25b74fc100a9eb72b6bb06a38";

    private static final AtomicInteger SCRATCH_COUNTER = new AtomicInteger();
    private static final String SCRATCH_PREFIX = "t_" + ProcessHandle.current().pid() + "_";

    /**
     * Builds the tool once up front, and primes the fast launcher with it, so
     * neither JBang's "Building jar" note nor the launcher's first-run note
     * ever lands in a test's stderr.
     */
    static void buildTool() {
        Result build = run(List.of(JBANG.toString(), "build", TOOL.toString()), Map.of(), REPO, 600);
        if (build.exit() != 0) {
            throw new IllegalStateException("jbang build BackupSmoke.java failed:\n" + build.describe());
        }
        Result primed = run(List.of(LAUNCHER.toString(), "--version"), Map.of(), REPO, 600);
        if (primed.exit() != 0) {
            throw new IllegalStateException("deploy/bin/backupsmoke --version failed:\n" + primed.describe());
        }
    }

    private static String requiredEnv(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set: run the tests through test/run");
        }
        return value;
    }

    // ------------------------------------------------------------ database

    static String url(String database) {
        return "postgres://" + USER + "@" + HOST + ":" + PORT + "/" + database + "?sslmode=disable";
    }

    static Connection connect(String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", USER);
        return DriverManager.getConnection("jdbc:postgresql://" + HOST + ":" + PORT + "/" + database, properties);
    }

    /** A connection to DATABASE with autocommit off: its statements share one transaction until it commits. */
    static Connection connectInTransaction(String database) throws SQLException {
        Connection connection = connect(database);
        connection.setAutoCommit(false);
        return connection;
    }

    /** FOLDER (made when missing) holding a copy of our migrations, every one. */
    static Path ourMigrations(Path folder) throws IOException {
        return copyOfOurMigrations(folder, name -> true);
    }

    /** FOLDER (made when missing) holding a copy of our migrations before VERSION (000011: up to 000010). */
    static Path ourMigrationsBefore(Path folder, String version) throws IOException {
        return copyOfOurMigrations(folder, name -> name.compareTo(version) < 0);
    }

    private static Path copyOfOurMigrations(Path folder, java.util.function.Predicate<String> taken) throws IOException {
        Files.createDirectories(folder);
        try (var files = Files.list(MIGRATIONS)) {
            for (Path file : files.filter(file -> taken.test(file.getFileName().toString())).toList()) {
                Files.copy(file, folder.resolve(file.getFileName()));
            }
        }
        return folder;
    }

    /** A new empty database, unique to this run; the test server is thrown away afterwards. */
    static String scratchDatabase() throws SQLException {
        return scratchCopyOf("template1");
    }

    /** A new scratch database, a copy of TEMPLATE (which nobody may be connected to). */
    private static String scratchCopyOf(String template) throws SQLException {
        String name = SCRATCH_PREFIX + SCRATCH_COUNTER.incrementAndGet();
        execute("postgres", "CREATE DATABASE " + name + " TEMPLATE " + template);
        return name;
    }

    static void execute(String database, String... statements) throws SQLException {
        try (Connection connection = connect(database); Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }

    /** Every row of a query, each row's columns joined with '|', NULL as "null". */
    static List<String> rows(String database, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection connection = connect(database);
             Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery(sql)) {
            int columns = result.getMetaData().getColumnCount();
            while (result.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= columns; i++) {
                    row.append(i > 1 ? "|" : "").append(result.getString(i));
                }
                rows.add(row.toString());
            }
        }
        return rows;
    }

    static String one(String database, String sql) throws SQLException {
        List<String> rows = rows(database, sql);
        assertEquals(1, rows.size(), "rows of " + sql);
        return rows.get(0);
    }

    /** Rewrites the audit log the way a privileged user would: append-only trigger off, change, back on. */
    static void tamper(String database, String sql) throws SQLException {
        execute(database,
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                sql,
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
    }

    // ------------------------------------------------------------ processes

    record Result(int exit, String out, String err) {
        String describe() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    /**
     * Runs the tool's command in this JVM, as `deploy/bin/backupsmoke ARGS` would with only the given
     * PG variables set: the same picocli command, options, exit code, stdout and stderr, without a JVM
     * start per call. Tests of what only a process has (signals, the launcher's bounded heap, JBang,
     * the shebang, the alias) use {@link #launched} instead. Calls on several threads run at once, each
     * with its own stdout and stderr (ThreadOutput); those running a workload take turns (see
     * oneWorkloadAtATime).
     */
    static Result tool(Map<String, String> env, String... args) {
        return runsAWorkload(args) ? oneWorkloadAtATime(() -> captured(env, args)) : captured(env, args);
    }

    private static Result captured(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit;
        try (PrintStream toOut = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream toErr = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            // Made inside the capture: made before ThreadOutput was loaded (the JVM's first call), the
            // command's usage errors and failures went to the real stderr, and the test saw none.
            exit = ThreadOutput.capturedIn(toOut, toErr, () -> {
                CommandLine command = BackupSmoke.commandLine(Map.copyOf(env));
                command.setOut(new PrintWriter(toOut, true));
                command.setErr(new PrintWriter(toErr, true));
                return command.execute(args);
            });
        }
        return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** --mode=workload and --mode=selftest insert rows through Workload, which records them in Progress. */
    private static boolean runsAWorkload(String... args) {
        String mode = "";
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith("--mode=")) {
                mode = args[i].substring("--mode=".length());
            } else if (args[i].equals("--mode") && i + 1 < args.length) {
                mode = args[i + 1];
            }
        }
        return mode.equals("workload") || mode.equals("selftest");
    }

    private static final java.util.concurrent.locks.ReentrantLock WORKLOAD_TURN = new java.util.concurrent.locks.ReentrantLock();

    /** What a test runs in its turn: an answer, or a failure of type E. */
    @FunctionalInterface
    interface Turn<T, E extends Exception> {
        T run() throws E;
    }

    /**
     * Runs TURN while no other workload runs in this JVM. The tool's Progress holds one workload's record
     * (rows committed, the batch in flight, what its messages say on failure) and Workload.progressEvery
     * is global, as a process runs one command; so a test calling Workload itself, or changing
     * progressEvery, goes through here too. Progress starts each turn fresh.
     */
    static <T, E extends Exception> T oneWorkloadAtATime(Turn<T, E> turn) throws E {
        WORKLOAD_TURN.lock();
        try {
            Progress.reset();
            return turn.run();
        } finally {
            Progress.reset();
            WORKLOAD_TURN.unlock();
        }
    }

    /** WORKLOAD's rows inserted on CONNECTION, as the tool does, in its turn (oneWorkloadAtATime). */
    static void insert(Workload workload, Connection connection, Deadline deadline) throws Failure {
        oneWorkloadAtATime(() -> {
            workload.insert(connection, deadline);
            return null;
        });
    }

    /**
     * The test JVM's System.out and System.err, from the first tool call on: what a thread writes while
     * it runs the tool goes to that call's capture, the rest to the real streams. A thread the call
     * starts inherits the capture: Program copies a program's stdout (the text oracle's dump) on a
     * thread of its own.
     */
    static final class ThreadOutput extends java.io.OutputStream {
        private final PrintStream real;
        private final InheritableThreadLocal<PrintStream> capture = new InheritableThreadLocal<>();

        private ThreadOutput(PrintStream real) {
            this.real = real;
        }

        private static final ThreadOutput OUT = new ThreadOutput(System.out);
        private static final ThreadOutput ERR = new ThreadOutput(System.err);

        static {
            System.setOut(new PrintStream(OUT, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(ERR, true, StandardCharsets.UTF_8));
        }

        /** CALL's answer, with this thread's System.out going to OUT and System.err to ERR meanwhile. */
        static <T> T capturedIn(PrintStream out, PrintStream err, java.util.function.Supplier<T> call) {
            OUT.capture.set(out);
            ERR.capture.set(err);
            try {
                return call.get();
            } finally {
                OUT.capture.remove();
                ERR.capture.remove();
            }
        }

        private PrintStream target() {
            PrintStream captured = capture.get();
            return captured != null ? captured : real;
        }

        @Override
        public void write(int b) {
            target().write(b);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            target().write(bytes, offset, length);
        }

        @Override
        public void flush() {
            target().flush();
        }
    }

    /** Runs the tool as a process through the fast launcher (the jar JBang built), with only ENV's PG variables. */
    static Result launched(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        return run(command, env, REPO, 180);
    }

    static Result tool(String... args) {
        return tool(Map.of(), args);
    }

    static Result toolOk(String... args) {
        Result result = tool(args);
        if (result.exit() != 0) {
            fail("tool failed: " + String.join(" ", args) + "\n" + result.describe());
        }
        return result;
    }

    /**
     * Runs the tool, which must refuse: exit EXIT and stderr exactly "backupsmoke: LINE\n", the one line
     * of bad input (SPEC section 2). The result, for more checks (stdout, files left).
     */
    static Result refused(int exit, String line, String... args) {
        return refused(Map.of(), exit, line, args);
    }

    /** The same, run with ENV's PG variables (see tool). */
    static Result refused(Map<String, String> env, int exit, String line, String... args) {
        return assertRefused(exit, line, tool(env, args));
    }

    /** RESULT, a run a test made its own way, is the refusal of {@link #refused}: exit EXIT, "backupsmoke: LINE\n". */
    static Result assertRefused(int exit, String line, Result result) {
        assertEquals(exit, result.exit(), result.describe());
        assertEquals("backupsmoke: " + line + "\n", result.err());
        return result;
    }

    /**
     * Runs the tool, which must find its command line wrong (picocli's usage error): exit 2 and stderr
     * LINE, then the usage. The result, for more checks.
     */
    static Result usageError(String line, String... args) {
        Result result = tool(args);
        assertEquals(2, result.exit(), result.describe());
        assertTrue(result.err().startsWith(line + "\nUsage: backupsmoke"), result.err());
        return result;
    }

    /**
     * A new scratch database migrated and holding the fixed ROWS-row workload started at FIXED_START; returns
     * its name. The tool makes the first one of each size; the others are copies of it (CREATE DATABASE …
     * TEMPLATE), the same rows, hashes and migrations at a fraction of the cost: most database tests start here.
     */
    static String migratedWithWorkload(int rows) throws SQLException {
        return scratchCopyOf(workloadTemplate(rows));
    }

    /** The first database of each size migratedWithWorkload made, never handed to a test: the copies' template. */
    private static final Map<Integer, String> WORKLOAD_TEMPLATES = new HashMap<>();

    private static String workloadTemplate(int rows) throws SQLException {
        synchronized (WORKLOAD_TEMPLATES) {
            String template = WORKLOAD_TEMPLATES.get(rows);
            if (template == null) {
                template = scratchDatabase();
                toolOk("--mode=workload", "--db-url=" + url(template), "--rows=" + rows, "--start-time=" + FIXED_START);
                WORKLOAD_TEMPLATES.put(rows, template);
            }
            return template;
        }
    }

    /**
     * Runs a command with a clean environment: the caller's, minus every PG*
     * and DATABASE_URL / SMOKE_* variable, plus the given ones.
     */
    static Result run(List<String> command, Map<String, String> env, Path directory, int timeoutSeconds) {
        ProcessBuilder builder = withEnvironment(new ProcessBuilder(command).directory(directory.toFile()), env);
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            CompletableFuture<String> out = readAsync(process.getInputStream());
            CompletableFuture<String> err = readAsync(process.getErrorStream());
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                fail("timed out after " + timeoutSeconds + " s: " + command);
            }
            return new Result(process.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The caller's environment minus every PG*, DATABASE_URL and SMOKE_* variable, plus ENV. */
    private static ProcessBuilder withEnvironment(ProcessBuilder builder, Map<String, String> env) {
        Map<String, String> environment = builder.environment();
        environment.keySet().removeIf(name -> name.startsWith("PG") || name.equals("DATABASE_URL")
                || (name.startsWith("SMOKE_") && !name.startsWith("SMOKE_TEST_")));
        environment.putAll(env);
        return builder;
    }

    // ------------------------------------------------------------ the harness

    static final Path HARNESS = REPO.resolve("deploy/test/backup-restore-smoke.sh");

    /**
     * A cluster of its own (pg-cluster.sh start, SMOKE_PG_BINDIR's binaries when set) with SETTINGS
     * appended to its postgresql.conf: the PGC_* values it printed (PGC_DIR for stopCluster, PGC_PORT).
     */
    static Map<String, String> startCluster(String settings) {
        Map<String, String> env = new HashMap<>(Map.of("PGC_SETTINGS", settings));
        if (System.getenv("SMOKE_PG_BINDIR") != null) {
            env.put("SMOKE_PG_BINDIR", System.getenv("SMOKE_PG_BINDIR"));
        }
        Result result = run(List.of("bash", "deploy/lib/pg-cluster.sh", "start"), env, REPO, 120);
        assertEquals(0, result.exit(), result.describe());
        Map<String, String> assigned = new HashMap<>();
        result.out().lines().filter(line -> line.startsWith("PGC_")).forEach(line ->
                assigned.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1)));
        return assigned;
    }

    static void stopCluster(String dir) {
        run(List.of("bash", "deploy/lib/pg-cluster.sh", "stop", dir), Map.of(), REPO, 60);
    }

    /**
     * Runs the harness as users do (bash deploy/test/backup-restore-smoke.sh) with ENV, and with
     * TMPDIR in the test's own FOLDER unless ENV sets it (see harnessLeftovers).
     */
    static Result harness(Path folder, Map<String, String> env) {
        return run(List.of("bash", HARNESS.toString()), harnessEnvironment(folder, env), REPO, 900);
    }

    /**
     * The harness started in the background, stdout and stderr going to FOLDER/out and FOLDER/err: for
     * tests that signal it. With SIGINT back to its default: a test run started as a background job of
     * a shell without job control (nohup … &) ignores SIGINT, and bash cannot trap a signal ignored
     * on entry, so a Ctrl-C test would wait for the restore instead of stopping it.
     */
    static Process startHarness(Path folder, Map<String, String> env) {
        ProcessBuilder builder = withEnvironment(new ProcessBuilder("env", "--default-signal=INT", "bash",
                HARNESS.toString()), harnessEnvironment(folder, env))
                .directory(REPO.toFile())
                .redirectOutput(folder.resolve("out").toFile())
                .redirectError(folder.resolve("err").toFile());
        try {
            return builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits (a minute at most) until the text of FILE contains WHAT. */
    static void awaitText(Path file, String what) throws Exception {
        for (int attempt = 0; attempt < 600; attempt++) {
            if (Files.exists(file) && Files.readString(file).contains(what)) {
                return;
            }
            Thread.sleep(100);
        }
        fail("never saw \"" + what + "\" in " + file + ":\n" + Files.readString(file));
    }

    /** Sends SIGNAL (TERM, INT, KILL) to a process. */
    static void signal(Process process, String signal) throws Exception {
        new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start().waitFor();
    }

    /** What the harness left in its TMPDIR (FOLDER/tmp): nothing, after every run. */
    static List<String> harnessLeftovers(Path folder) throws IOException {
        try (var files = Files.list(folder.resolve("tmp"))) {
            return files.map(path -> path.getFileName().toString()).sorted().toList();
        }
    }

    /** The PG* variables naming the test server, plus more KEY, VALUE pairs. */
    static Map<String, String> configuredServer(String... more) {
        Map<String, String> env = env("PGHOST", HOST, "PGPORT", PORT, "PGUSER", USER);
        env.putAll(env(more));
        return env;
    }

    static String lastLine(String text) {
        List<String> lines = text.lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }

    /**
     * The suite server's databases, less this run's scratch databases (scratchDatabase: t_PID_N), which
     * concurrent classes create at any time and no harness touches. A test comparing the list before and
     * after a run holds SUITE_DATABASES for writing; a test whose harness or selftest makes databases on
     * the suite's server holds it for reading.
     */
    static List<String> databases() throws SQLException {
        return rows("postgres", "SELECT datname FROM pg_database WHERE datname NOT LIKE '" + SCRATCH_PREFIX.replace("_", "\\_")
                + "%' ORDER BY datname");
    }

    /** The lock (JUnit @ResourceLock) on the list of the suite server's databases; see databases(). */
    static final String SUITE_DATABASES = "the suite server's list of databases";

    /** The throwaway cluster runs as an unprivileged user, who must be able to enter TMPDIR. */
    private static Map<String, String> harnessEnvironment(Path folder, Map<String, String> env) {
        Map<String, String> environment = new HashMap<>(env);
        try {
            Path tmp = Files.createDirectories(folder.resolve("tmp"));
            Files.setPosixFilePermissions(folder, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            environment.putIfAbsent("TMPDIR", tmp.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return environment;
    }

    private static CompletableFuture<String> readAsync(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /**
     * ANSWER holds each KEY, VALUE pair given (and maybe more): compared as one map, so a
     * failure shows every value that differs, not only the first.
     */
    static void assertAnswers(java.util.function.Function<String, ?> answer, Object... keysAndValues) {
        Map<String, Object> expected = new java.util.LinkedHashMap<>();
        Map<String, Object> actual = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            String key = (String) keysAndValues[i];
            expected.put(key, keysAndValues[i + 1]);
            actual.put(key, answer.apply(key));
        }
        assertEquals(expected, actual);
    }

    static Map<String, String> env(String... keysAndValues) {
        Map<String, String> env = new HashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            env.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return env;
    }

    /**
     * The environment for a harness run whose pg_restore is a shim: the real
     * one, then SQL applied to the restored database. The shim lives in
     * FOLDER/bin, which goes first on PATH.
     */
    static Map<String, String> damagingRestore(Path folder, String sql) {
        String realRestore = run(List.of("bash", "-c", "command -v pg_restore"), Map.of(), REPO, 30).out().trim();
        return Map.of("PATH", pathWithShim(folder.resolve("bin"), "pg_restore", """
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
                %s
                SQL
                """.formatted(realRestore, sql)));
    }

    /** Writes SCRIPT as the executable PROGRAM in BIN; returns a PATH that finds it there first, then the real PATH's. */
    static String pathWithShim(Path bin, String program, String script) {
        try {
            Files.setPosixFilePermissions(write(bin.resolve(program), script),
                    PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bin + ":" + System.getenv("PATH");
    }

    static Path write(Path file, String content) {
        try {
            Files.createDirectories(file.getParent());
            return Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The snapshot the tool prints, byte for byte, up to the integrity fingerprint (see withoutIntegrity). */
    static String snapshotJson(String phase, long rows, String head, String... verifyLines) {
        StringBuilder json = new StringBuilder("{\n")
                .append("  \"phase\": \"").append(phase).append("\",\n")
                .append("  \"row_count\": ").append(rows).append(",\n")
                .append("  \"chain_head_hash\": \"").append(head).append('"');
        for (String line : verifyLines) {
            json.append(",\n  ").append(line);
        }
        return json.append("\n}\n").toString();
    }

    /** The "client" object of a verify snapshot; a null breakId means clean. */
    static String clientJson(int walked, String breakId, Integer breakPos, String breakKind, boolean sentinelMatches,
                             int ambiguousRows, boolean agreesWithServer) {
        return clientJson(walked, breakId, breakPos, breakKind, sentinelMatches, ambiguousRows, agreesWithServer, null);
    }

    /** The same, with expectations_met when expectations were given. */
    static String clientJson(int walked, String breakId, Integer breakPos, String breakKind, boolean sentinelMatches,
                             int ambiguousRows, boolean agreesWithServer, Boolean expectationsMet) {
        StringBuilder json = new StringBuilder("\"client\": {\n")
                .append("    \"walked\": ").append(walked).append(",\n")
                .append("    \"verdict\": \"").append(breakKind == null ? "clean" : "broken").append("\",\n");
        if (breakKind != null) {
            if (breakId != null) {
                json.append("    \"first_break_id\": \"").append(breakId).append("\",\n");
            }
            if (breakPos != null) {
                json.append("    \"first_break_pos\": ").append(breakPos).append(",\n");
            }
            json.append("    \"break_kind\": \"").append(breakKind).append("\",\n");
        }
        return json.append("    \"sentinel_matches\": ").append(sentinelMatches).append(",\n")
                .append("    \"ambiguous_rows\": ").append(ambiguousRows).append(",\n")
                .append("    \"agrees_with_server\": ").append(agreesWithServer)
                .append(expectationsMet == null ? "" : ",\n    \"expectations_met\": " + expectationsMet)
                .append("\n  }")
                .toString();
    }

    static String cleanClientJson(int walked) {
        return clientJson(walked, null, null, null, true, 0, true);
    }

    /** What a plain --mode=verify of DATABASE prints, without the integrity fingerprint (it must exit 0). */
    static String verifySnapshot(String database) {
        return withoutIntegrity(toolOk("--mode=verify", "--db-url=" + url(database)).out());
    }

    /**
     * The snapshot without its trailing "integrity" object, which the
     * fingerprint tests check on their own; fails when it is missing.
     */
    static String withoutIntegrity(String snapshot) {
        int at = snapshot.indexOf(",\n  \"integrity\": {\n");
        if (at < 0 || !snapshot.endsWith("  }\n}\n")) {
            fail("no integrity fingerprint at the end of the snapshot:\n" + snapshot);
        }
        return snapshot.substring(0, at) + "\n}\n";
    }
}
