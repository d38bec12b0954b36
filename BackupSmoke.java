///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.postgresql:postgresql:42.7.14
//DEPS info.picocli:picocli:4.7.7
//DEPS com.fasterxml.jackson.core:jackson-databind:2.23.0
//SOURCES deploy/tool/*.java

// BackupSmoke: the workload and verifier halves of a backup/restore gate for
// PostgreSQL databases that keep a hash-chained audit log. The harness
// (deploy/test/backup-restore-smoke.sh) runs --mode=workload before a backup
// and --mode=verify after the restore, and compares the two JSON snapshots.
// The contract (flags, JSON, exit codes) is SPEC.md; README.md explains usage.

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
        name = "backupsmoke",
        mixinStandardHelpOptions = true,
        version = "backupsmoke 0.1.0",
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Prove that a backup of a PostgreSQL database with a hash-chained audit log restores byte-for-byte.",
            "--mode=workload applies the migrations and writes audit rows; --mode=verify checks the chain.",
            "Both print a JSON snapshot on stdout; diagnostics go to stderr."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success (verify: the chain could be inspected, whatever the verdict)",
            "1:failure (connection, migration, query, timeout, bad mode or URL)",
            "2:usage error (unknown flag, malformed value)",
            "3:verify with --fail-on-break: a verdict is broken or an expectation does not hold",
            "4:selftest: a case behaved otherwise than expected"
        })
public class BackupSmoke implements Callable<Integer> {

    // ---------------------------------------------------------------- command line

    static final String MODE_WORKLOAD = "workload";
    static final String MODE_VERIFY = "verify";
    static final String MODE_SELFTEST = "selftest";

    @Spec CommandSpec spec;

    @Option(names = "--mode", paramLabel = "MODE",
            description = "workload | verify (required); selftest tampers with scratch databases on the server"
                    + " and shows what verification catches")
    String mode;

    @Option(names = "--db-url", paramLabel = "URL", defaultValue = "${env:DATABASE_URL}",
            description = "libpq URL (postgres://user@host:port/db?sslmode=disable) or key=value string;"
                    + " default: $DATABASE_URL. Missing parts come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.")
    String dbUrl;

    @Option(names = "--migrations-path", paramLabel = "DIR", defaultValue = "./migrations",
            description = "folder of *.up.sql migrations (workload only; default: ${DEFAULT-VALUE})")
    Path migrationsPath;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "24",
            description = "number of audit rows to insert (workload only; default: ${DEFAULT-VALUE})")
    int rows;

    @Option(names = "--batch-rows", paramLabel = "N", defaultValue = "" + Workload.DEFAULT_BATCH_ROWS,
            description = "workload rows per transaction (default: ${DEFAULT-VALUE})")
    int batchRows;

    @Option(names = "--id-prefix", paramLabel = "PREFIX", defaultValue = "audit-smoke-",
            description = "prefix of the workload row ids (default: ${DEFAULT-VALUE}); distinct prefixes let"
                    + " several workloads write to one database")
    String idPrefix;

    @Option(names = "--start-time", paramLabel = "TIMESTAMP",
            description = "base timestamp of the workload rows, ISO-8601 with offset (e.g. 2026-05-16T12:00:00Z);"
                    + " default: the server's NOW(). A fixed value makes the chain head reproducible.")
    OffsetDateTime startTime;

    @Option(names = "--client-verify", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "verify: recompute every hash in Java and follow the chain by its links"
                    + " (default: on; --no-client-verify leaves only the server's verdict)")
    boolean clientVerify;

    @CommandLine.ArgGroup(exclusive = false, heading = "%nAnchoring (verify): values recorded outside the database%n")
    Expectations expectations = new Expectations();

    @Option(names = "--fail-on-break",
            description = "verify: exit 3 when either verdict is broken or an expectation does not hold"
                    + " (default: exit 0 whenever the chain could be inspected)")
    boolean failOnBreak;

    @Option(names = "--fail-on-findings",
            description = "selftest: exit 4 also when the server's verifier raises a false alarm on a legitimate"
                    + " history (a finding about that verifier; by default reported, exit 0)")
    boolean failOnFindings;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "2m", converter = DurationConverter.class,
            description = "bound on the whole run, e.g. 90s, 2m (default: ${DEFAULT-VALUE})")
    Duration timeout;

    @Option(names = "--connect-timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "bound on establishing a connection (default: ${DEFAULT-VALUE})")
    int connectTimeoutSeconds;

    @Option(names = "--verbose", description = "print the stack trace of unexpected errors")
    boolean verbose;

    public static void main(String[] args) {
        Progress.reportInterruptions();
        int exitCode = commandLine().execute(args);
        Progress.finished = true;
        System.exit(exitCode);
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new BackupSmoke());
        cli.setExecutionExceptionHandler(BackupSmoke::reportFailure);
        return cli;
    }

    @Override
    public Integer call() throws Exception {
        validateNumbers();
        // The order of these two checks is the original tool's: URL first, then mode.
        if (dbUrl == null || dbUrl.isBlank()) {
            throw new Failure("--db-url or DATABASE_URL is required");
        }
        if (mode == null || mode.isEmpty()) {
            throw new Failure("--mode is required (workload | verify)");
        }
        if (!mode.equals(MODE_WORKLOAD) && !mode.equals(MODE_VERIFY) && !mode.equals(MODE_SELFTEST)) {
            throw new Failure("unknown --mode=" + Failure.quoted(mode) + " (workload | verify)");
        }
        ConnectionTarget target = ConnectionTarget.parse(dbUrl, System.getenv());
        Snapshot snapshot;
        try (Deadline deadline = new Deadline(timeout)) {
            if (mode.equals(MODE_SELFTEST)) {
                return selftestExit(new SelfTest(this, target, migrationsPath, deadline).run(System.out));
            }
            snapshot = mode.equals(MODE_WORKLOAD) ? runWorkloadMode(target, deadline) : runVerifyMode(target, deadline);
        }
        printSnapshot(snapshot);
        return failOnBreak && snapshot.isBroken() ? EXIT_BROKEN : 0;
    }

    static final int EXIT_BROKEN = 3;
    static final int EXIT_SELFTEST_FAILED = 4;

    /** 4 when the gate missed a case; findings about the server's verifier only with --fail-on-findings. */
    int selftestExit(SelfTest.Result result) {
        if (result.misses() > 0) {
            return EXIT_SELFTEST_FAILED;
        }
        if (failOnFindings && result.findings() > 0) {
            System.out.println("selftest: findings are fatal with --fail-on-findings");
            return EXIT_SELFTEST_FAILED;
        }
        return 0;
    }

    /** --expect-head / --expect-rows, or both at once from a workload snapshot with --expect. */
    static final class Expectations {
        @Option(names = "--expect-head", paramLabel = "HASH",
                description = "the chain head recorded before the backup: it must be the hash of the row at"
                        + " position rows-1 (or anywhere in the chain without --expect-rows)")
        String head;

        @Option(names = "--expect-rows", paramLabel = "N",
                description = "the number of rows recorded before the backup: the chain must still hold them")
        Long rows;

        @Option(names = "--expect", paramLabel = "FILE",
                description = "a workload snapshot: its chain_head_hash and row_count (flags above win)")
        Path snapshotFile;

        ChainWalker.Expectation read() throws Failure {
            String expectedHead = head;
            Long expectedRows = rows;
            if (snapshotFile != null) {
                JsonNode snapshot = readSnapshot(snapshotFile);
                if (expectedHead == null) {
                    expectedHead = snapshot.get("chain_head_hash").asText();
                }
                if (expectedRows == null) {
                    expectedRows = snapshot.get("row_count").asLong();
                }
            }
            if (expectedRows != null && expectedRows < 0) {
                throw new Failure("--expect-rows must be 0 or more, got " + expectedRows);
            }
            if (expectedHead != null && !expectedHead.matches("([0-9a-f]{64})?")) {
                throw new Failure("--expect-head must be a chain head: 64 lowercase hex digits (or empty for an"
                        + " empty chain), got " + Failure.quoted(expectedHead));
            }
            return new ChainWalker.Expectation(expectedHead, expectedRows);
        }

        private static JsonNode readSnapshot(Path file) throws Failure {
            JsonNode snapshot;
            try {
                snapshot = new ObjectMapper().readTree(file.toFile());
            } catch (IOException e) {
                throw new Failure("cannot read --expect " + file + ": " + e.getMessage().lines().findFirst().orElse(""));
            }
            if (snapshot == null || !snapshot.path("chain_head_hash").isTextual() || !snapshot.path("row_count").isIntegralNumber()) {
                throw new Failure("--expect " + file + " is not a snapshot: it needs chain_head_hash and row_count");
            }
            return snapshot;
        }
    }

    /** Malformed numbers are usage errors (exit 2), like an unknown flag. */
    private void validateNumbers() {
        if (rows < 0) {
            throw new ParameterException(spec.commandLine(), "--rows must be 0 or more, got " + rows);
        }
        if (batchRows < 1) {
            throw new ParameterException(spec.commandLine(), "--batch-rows must be at least 1, got " + batchRows);
        }
        if (connectTimeoutSeconds < 1) {
            throw new ParameterException(spec.commandLine(),
                    "--connect-timeout must be at least 1 second, got " + connectTimeoutSeconds);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new ParameterException(spec.commandLine(), "--timeout must be positive");
        }
    }

    /** Accepts 90s, 2m, 1h, 500ms or a plain number of seconds. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            var matcher = Pattern.compile("(\\d+)(ms|s|m|h)?").matcher(value.trim());
            if (!matcher.matches()) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration such as 90s or 2m");
            }
            long amount = Long.parseLong(matcher.group(1));
            String unit = matcher.group(2) == null ? "s" : matcher.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofSeconds(amount);
            };
        }
    }

    /**
     * Expected failures print one line; unexpected ones print their cause in one
     * line too, and the stack trace only with --verbose.
     */
    static int reportFailure(Exception failure, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        if (failure instanceof Failure) {
            err.println("backupsmoke: " + failure.getMessage());
        } else {
            BackupSmoke command = cli.getCommand();
            err.println("backupsmoke: unexpected error: " + failure.toString().replaceAll("\\s*\\R\\s*", " ")
                    + (command.verbose ? "" : " (run with --verbose for the stack trace)"));
            if (command.verbose) {
                failure.printStackTrace(err);
            }
        }
        err.flush();
        return 1;
    }

    // ---------------------------------------------------------------- connection

    /** Opens a connection; failures name the target (never the password) and the cause. */
    Connection connect(ConnectionTarget target, Map<String, String> extraProperties) throws Failure {
        var properties = target.jdbcProperties();
        // A connect_timeout or application_name given in the URL wins over the flag.
        properties.putIfAbsent("connectTimeout", Integer.toString(connectTimeoutSeconds));
        properties.putIfAbsent("loginTimeout", properties.getProperty("connectTimeout"));
        properties.putIfAbsent("ApplicationName", "backupsmoke");
        extraProperties.forEach(properties::setProperty);
        try {
            return DriverManager.getConnection(target.jdbcUrl(), properties);
        } catch (SQLException e) {
            String cause = "Connection attempt timed out.".equals(e.getMessage())
                    ? "no answer within " + properties.getProperty("loginTimeout") + " s (see --connect-timeout)"
                    : oneLine(e);
            throw new Failure("cannot connect to " + target.describe() + ": " + cause);
        }
    }

    /** The server's message with its detail, or the driver's, on one line. */
    static String oneLine(SQLException e) {
        String message = e.getMessage();
        if (e instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            ServerErrorMessage server = psql.getServerErrorMessage();
            message = server.getMessage();
            if (server.getDetail() != null) {
                message += " (" + server.getDetail() + ")";
            }
            if (server.getHint() != null) {
                message += " (hint: " + server.getHint() + ")";
            }
        } else if (message == null || message.equals("The connection attempt failed.")) {
            // The driver's generic words; the cause (unknown host, timeout, ...) says what happened.
            message = describeCause(e.getCause() != null ? e.getCause() : e);
        }
        return message.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    private static String describeCause(Throwable cause) {
        if (cause instanceof java.net.UnknownHostException) {
            return "unknown host " + cause.getMessage();
        }
        if (cause instanceof java.net.SocketTimeoutException) {
            return "no answer from the server in time (" + cause.getMessage() + "; see --connect-timeout)";
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    /**
     * Bounds the whole run (SPEC section 2): when the time is up it aborts the
     * open connections, so whatever statement is running fails at once and the
     * caller reports the timeout instead of the resulting I/O error.
     */
    static final class Deadline implements AutoCloseable {
        private final Duration limit;
        private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "backupsmoke-deadline");
            thread.setDaemon(true);
            return thread;
        });
        private final List<Connection> watched = new ArrayList<>();
        private final AtomicBoolean expired = new AtomicBoolean();

        Deadline(Duration limit) {
            this.limit = limit;
            timer.schedule(this::expire, limit.toMillis(), TimeUnit.MILLISECONDS);
        }

        boolean hasExpired() {
            return expired.get();
        }

        synchronized Connection watch(Connection connection) {
            watched.add(connection);
            return connection;
        }

        private synchronized void expire() {
            expired.set(true);
            for (Connection connection : watched) {
                try {
                    connection.abort(Runnable::run);
                } catch (SQLException ignored) {
                    // Already closed: nothing left to interrupt.
                }
            }
        }

        /** Turns an error caused by the deadline into the timeout message. */
        Failure failure(String doing, SQLException cause) {
            if (expired.get()) {
                return new Failure("timed out after " + describe(limit) + " while " + doing
                        + " (raise the bound with --timeout)");
            }
            return new Failure(doing + " failed: " + oneLine(cause));
        }

        static String describe(Duration duration) {
            if (duration.toMillis() % 1000 != 0) {
                return duration.toMillis() + "ms";
            }
            return duration.toSeconds() + "s";
        }

        @Override
        public void close() {
            timer.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- modes

    private Snapshot runWorkloadMode(ConnectionTarget target, Deadline deadline) throws Failure {
        new MigrationRunner(migrationsPath).run(
                deadline.watch(connect(target, MigrationRunner.CONNECTION_PROPERTIES)), deadline);
        try (Connection connection = deadline.watch(connect(target, Map.of()))) {
            new Workload(rows, idPrefix, startTime, batchRows).insert(connection, deadline);
            return Snapshot.read(connection, MODE_WORKLOAD, deadline).withIntegrity(Integrity.read(connection, deadline));
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    /**
     * Everything verify reads comes from one read-only REPEATABLE READ
     * transaction: the counts, the sentinel, the server's verdict and the rows
     * the client walks all describe the same state of the database, and a
     * rewritten verifier function could not write either.
     */
    private Snapshot runVerifyMode(ConnectionTarget target, Deadline deadline) throws Failure {
        ChainWalker.Expectation expectation = expectations.read();
        try (Connection connection = deadline.watch(connect(target, Map.of()))) {
            return verify(connection, () -> deadline.watch(connect(target, Map.of())), expectation, clientVerify,
                    deadline);
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    /** Opens one more connection to the same database. */
    interface ConnectionOpener {
        Connection open() throws Failure;
    }

    /**
     * Everything verify reads describes one state of the database: the counts,
     * the sentinel and the server's verdict come from one read-only REPEATABLE
     * READ transaction, and the client walks the rows on a second connection
     * that imports that transaction's snapshot. The two run side by side, so
     * the client's walk adds little to the time the server's function takes;
     * a rewritten verifier function could not write either.
     */
    static Snapshot verify(Connection connection, ConnectionOpener second, ChainWalker.Expectation expectation,
                           boolean clientVerify, Deadline deadline) throws Failure {
        try {
            beginReadOnlySnapshot(connection);
            SchemaCheck.require(connection, deadline);
            Snapshot snapshot = Snapshot.read(connection, MODE_VERIFY, deadline);
            CompletableFuture<ChainWalker.Verdict> client = clientVerify
                    ? walkInSnapshot(second, exportSnapshot(connection, deadline), snapshot, expectation, deadline)
                    : null;
            ServerVerdict server = ServerVerifier.run(connection, deadline);
            snapshot = snapshot.withServerVerdict(server);
            if (client != null) {
                snapshot = snapshot.withClient(ClientReport.of(joinWalk(client), server));
            }
            snapshot = snapshot.withIntegrity(Integrity.read(connection, deadline));
            connection.rollback();
            return snapshot;
        } catch (SQLException e) {
            throw deadline.failure("setting up the verify transaction", e);
        }
    }

    private static void beginReadOnlySnapshot(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        connection.setReadOnly(true);
    }

    private static String exportSnapshot(Connection connection, Deadline deadline) throws Failure {
        return queryOne(connection, "SELECT pg_export_snapshot()", deadline, "exporting the verify snapshot");
    }

    /** The client walk on its own connection and thread, in the snapshot the server's side reads. */
    private static CompletableFuture<ChainWalker.Verdict> walkInSnapshot(ConnectionOpener second, String snapshotId,
            Snapshot snapshot, ChainWalker.Expectation expectation, Deadline deadline) throws Failure {
        Connection walkConnection = second.open();
        return CompletableFuture.supplyAsync(() -> {
            try (walkConnection; Statement statement = walkConnection.createStatement()) {
                beginReadOnlySnapshot(walkConnection);
                statement.execute("SET TRANSACTION SNAPSHOT '" + snapshotId + "'");
                ChainWalker.Verdict verdict = ClientVerifier.run(walkConnection, snapshot.rowCount(),
                        snapshot.chainHeadHash(), expectation, deadline);
                walkConnection.rollback();
                return verdict;
            } catch (SQLException e) {
                throw new CompletionException(deadline.failure("importing the verify snapshot", e));
            } catch (Failure e) {
                throw new CompletionException(e);
            }
        });
    }

    private static ChainWalker.Verdict joinWalk(CompletableFuture<ChainWalker.Verdict> walk) throws Failure {
        try {
            return walk.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Failure failure) {
                throw failure;
            }
            throw e;
        }
    }

    // ---------------------------------------------------------------- progress and the schema check
    // (the workload itself is deploy/tool/Workload.java)

    /**
     * What the run is doing, for the message printed when it is interrupted
     * (Ctrl-C, a kill) and for failures mid-workload.
     */
    static final class Progress {
        static volatile String activity = "starting";
        static volatile long committedRows;
        static volatile boolean finished;
        /** Set while a run has something to undo when interrupted (the selftest's databases): it says so itself. */
        static volatile Runnable onInterrupt;

        static String committedSummary() {
            // The server may have committed the batch in flight just before the cut, so this is a floor.
            return committedRows == 0
                    ? "no batch had been confirmed as committed"
                    : "at least " + committedRows + " audit rows were committed and verify as a chain; the batch in"
                            + " flight was cut off";
        }

        /** Installed once: a run that ends without finishing says where it stopped. */
        static void reportInterruptions() {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                Runnable undo = onInterrupt;
                if (!finished && undo != null) {
                    undo.run();
                } else if (!finished) {
                    System.err.println("backupsmoke: interrupted while " + activity
                            + (activity.equals("inserting audit rows") ? "; " + committedSummary() : ""));
                }
            }, "backupsmoke-interrupted"));
        }
    }

    /**
     * The columns and tables of the schema contract (SPEC section 6): checked
     * before any work, so a database that lacks them is named for what it
     * lacks instead of failing half-way with a bare SQL error.
     */
    static final class SchemaCheck {
        static final List<String> AUDIT_COLUMNS = List.of("id", "actor", "actor_type", "action", "resource_type",
                "resource_id", "details", "timestamp", "event_category", "prev_hash", "row_hash");

        static void require(Connection connection, Deadline deadline) throws Failure {
            String missingTables = queryOne(connection, """
                    SELECT coalesce(string_agg(name, ', '), '')
                    FROM unnest(ARRAY['audit_events', 'audit_chain_head']) AS name
                    WHERE to_regclass(name) IS NULL
                    """, deadline, "looking for the audit tables");
            if (!missingTables.isEmpty()) {
                throw new Failure("this database has no " + missingTables + ": it lacks the audit chain schema;"
                        + " run the migrations first (--mode=workload)");
            }
            String missingColumns = queryOne(connection, """
                    SELECT coalesce(string_agg(name, ', ' ORDER BY position), '')
                    FROM unnest(?::text[]) WITH ORDINALITY AS wanted(name, position)
                    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                                      WHERE a.attrelid = to_regclass('audit_events') AND a.attname = wanted.name
                                        AND a.attnum > 0 AND NOT a.attisdropped)
                    """.replace("?::text[]", "'{" + String.join(",", AUDIT_COLUMNS) + "}'::text[]"),
                    deadline, "checking the columns of audit_events");
            if (!missingColumns.isEmpty()) {
                throw new Failure("audit_events lacks the schema contract's columns " + missingColumns
                        + " (SPEC section 6): these migrations do not install the contract");
            }
        }
    }

    // ---------------------------------------------------------------- verification

    /** What the database's own audit_events_verify_chain() reports. */
    record ServerVerdict(String firstBreakId, int firstBreakPos, int walked) {
        boolean isBroken() {
            return firstBreakId != null;
        }
    }

    static final class ServerVerifier {
        static ServerVerdict run(Connection connection, Deadline deadline) throws Failure {
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery(
                         "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()")) {
                result.next();
                return new ServerVerdict(result.getString(1), result.getInt(2), result.getInt(3));
            } catch (SQLException e) {
                throw schemaAwareFailure(deadline, "running audit_events_verify_chain()", e);
            }
        }
    }

    /**
     * Reads the raw columns and recomputes every hash in Java, so the verdict
     * does not depend on any function in the database under test. Rows are
     * streamed through a cursor; the walker keeps only hashes and ids.
     */
    static final class ClientVerifier {
        static final int FETCH_ROWS = 10_000;

        /**
         * The timestamp comes as text in UTC with ISO dates, which this
         * transaction pins for itself (the payload must not depend on the
         * caller's settings): turning that into the payload's form is a few
         * character moves, far cheaper than parsing a timestamp a row.
         */
        static ChainWalker.Verdict run(Connection connection, long rowCount, String sentinel,
                                       ChainWalker.Expectation expectation, Deadline deadline) throws Failure {
            ChainWalker walker = new ChainWalker((int) Math.min(rowCount, Integer.MAX_VALUE - 8));
            MessageDigest sha256 = ChainWalker.newSha256();
            try (Statement statement = connection.createStatement()) {
                statement.execute("SET LOCAL TimeZone = 'UTC'");
                statement.execute("SET LOCAL DateStyle = 'ISO, YMD'");
                statement.setFetchSize(FETCH_ROWS);
                try (ResultSet row = statement.executeQuery("SELECT id, actor, actor_type, action, resource_type,"
                        + " resource_id, details::text, \"timestamp\", event_category, prev_hash, row_hash"
                        + " FROM audit_events")) {
                    while (row.next()) {
                        addRow(walker, row, sha256);
                    }
                }
            } catch (SQLException e) {
                throw schemaAwareFailure(deadline, "reading audit_events for client verification", e);
            }
            return walker.verdict(sentinel, expectation);
        }

        private static void addRow(ChainWalker walker, ResultSet row, MessageDigest sha256) throws SQLException {
            String id = row.getString(1);
            String actor = row.getString(2);
            String actorType = row.getString(3);
            String action = row.getString(4);
            String resourceType = row.getString(5);
            String resourceId = row.getString(6);
            String details = row.getString(7);
            String category = row.getString(9);
            String prevHash = row.getString(10);
            byte[] recomputed = ChainWalker.rowHashOrNull(sha256, prevHash, id, actor, actorType, action,
                    resourceType, resourceId, details, ChainWalker.utcMicrosFromIsoText(row.getString(8)), category);
            boolean ambiguous = ChainWalker.isAmbiguous(id, actor, actorType, action, resourceType, resourceId,
                    details, category);
            walker.add(id == null ? "" : id, prevHash, row.getString(11), recomputed, ambiguous);
        }
    }

    /** Missing tables or functions mean the database was never migrated: say so. */
    static Failure schemaAwareFailure(Deadline deadline, String doing, SQLException e) {
        String state = e.getSQLState();
        // undefined_table, undefined_function, undefined_column
        if ("42P01".equals(state) || "42883".equals(state) || "42703".equals(state)) {
            return new Failure(doing + " failed: " + oneLine(e)
                    + "; this database lacks the audit chain schema: run --mode=workload (the migrations) first");
        }
        return deadline.failure(doing, e);
    }

    /**
     * A fingerprint of the integrity machinery: every trigger on audit_events
     * (enabled or not, its events, its function and the SHA-256 of that
     * function's full definition, pinned settings included) and the verifier
     * function. The harness compares the fingerprints taken before the backup
     * and after the restore and names each entry that differs.
     */
    static final class Integrity {
        /** tgtype bits: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE; tgenabled 'D' is disabled. */
        static final String TRIGGERS = """
                SELECT 'trigger ' || t.tgname,
                       concat_ws(' ', CASE WHEN t.tgenabled = 'D' THEN 'disabled' ELSE 'enabled' END,
                                 CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' ELSE 'AFTER' END,
                                 CASE WHEN t.tgtype & 4 = 4 THEN 'INSERT' END,
                                 CASE WHEN t.tgtype & 16 = 16 THEN 'UPDATE' END,
                                 CASE WHEN t.tgtype & 8 = 8 THEN 'DELETE' END,
                                 CASE WHEN t.tgtype & 32 = 32 THEN 'TRUNCATE' END,
                                 t.tgfoid::regprocedure::text),
                       pg_get_functiondef(t.tgfoid)
                FROM pg_trigger t
                WHERE t.tgrelid = 'audit_events'::regclass AND NOT t.tgisinternal
                UNION ALL
                SELECT 'verifier ' || p.oid::regprocedure::text, NULL, pg_get_functiondef(p.oid)
                FROM pg_proc p
                WHERE p.oid = to_regprocedure('audit_events_verify_chain()')
                ORDER BY 1
                """;

        static Map<String, String> read(Connection connection, Deadline deadline) throws Failure {
            Map<String, String> fingerprint = new LinkedHashMap<>();
            try (Statement statement = connection.createStatement();
                 ResultSet row = statement.executeQuery(TRIGGERS)) {
                while (row.next()) {
                    String definitionHash = "sha256:" + ChainWalker.sha256Hex(row.getString(3));
                    String description = row.getString(2);
                    fingerprint.put(row.getString(1), description == null ? definitionHash : description + " " + definitionHash);
                }
                return fingerprint;
            } catch (SQLException e) {
                throw schemaAwareFailure(deadline, "fingerprinting the integrity machinery", e);
            }
        }
    }

    // ---------------------------------------------------------------- snapshot

    /**
     * The JSON printed on stdout: the keys of SPEC section 3 in their order,
     * then the extensions (client verdict, integrity fingerprint). Null fields
     * are left out.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"phase", "row_count", "chain_head_hash", "first_break_id", "first_break_pos",
            "verifier_walked", "client", "integrity"})
    record Snapshot(
            @JsonProperty("phase") String phase,
            @JsonProperty("row_count") long rowCount,
            @JsonProperty("chain_head_hash") String chainHeadHash,
            @JsonProperty("first_break_id") String firstBreakId,
            @JsonProperty("first_break_pos") Integer firstBreakPos,
            @JsonProperty("verifier_walked") Integer verifierWalked,
            @JsonProperty("client") ClientReport client,
            @JsonProperty("integrity") Map<String, String> integrity) {

        static Snapshot read(Connection connection, String phase, Deadline deadline) throws Failure {
            String rowCount = queryOne(connection, "SELECT COUNT(*) FROM audit_events", deadline,
                    "counting audit_events");
            String head = queryOne(connection, "SELECT row_hash FROM audit_chain_head WHERE id = 1", deadline,
                    "reading audit_chain_head");
            return new Snapshot(phase, Long.parseLong(rowCount), head, null, null, null, null, null);
        }

        /** first_break_pos is always present in verify (-1 when clean); verifier_walked only when non-zero. */
        Snapshot withServerVerdict(ServerVerdict verdict) {
            return new Snapshot(phase, rowCount, chainHeadHash, verdict.firstBreakId(), verdict.firstBreakPos(),
                    verdict.walked() == 0 ? null : verdict.walked(), client, integrity);
        }

        Snapshot withClient(ClientReport report) {
            return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                    report, integrity);
        }

        Snapshot withIntegrity(Map<String, String> fingerprint) {
            return new Snapshot(phase, rowCount, chainHeadHash, firstBreakId, firstBreakPos, verifierWalked,
                    client, fingerprint);
        }

        /** Whether --fail-on-break should fail: either verdict broken (an unmet expectation breaks the client's). */
        boolean isBroken() {
            return firstBreakId != null || (client != null && ChainWalker.BROKEN.equals(client.verdict()));
        }
    }

    /** The "client" object of SPEC section 9.2; expectations_met is there only when expectations were given. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"walked", "verdict", "first_break_id", "first_break_pos", "break_kind",
            "sentinel_matches", "ambiguous_rows", "agrees_with_server", "expectations_met"})
    record ClientReport(
            @JsonProperty("walked") int walked,
            @JsonProperty("verdict") String verdict,
            @JsonProperty("first_break_id") String firstBreakId,
            @JsonProperty("first_break_pos") Integer firstBreakPos,
            @JsonProperty("break_kind") String breakKind,
            @JsonProperty("sentinel_matches") boolean sentinelMatches,
            @JsonProperty("ambiguous_rows") int ambiguousRows,
            @JsonProperty("agrees_with_server") boolean agreesWithServer,
            @JsonProperty("expectations_met") Boolean expectationsMet) {

        static ClientReport of(ChainWalker.Verdict client, ServerVerdict server) {
            return new ClientReport(client.walked(), client.verdict(), client.firstBreakId(), client.firstBreakPos(),
                    client.breakKind(), client.sentinelMatches(), client.ambiguousRows(),
                    client.isBroken() == server.isBroken(), client.expectationsMet());
        }
    }

    /** The first column of a query's one row, as text; no row at all is a failure. */
    static String queryOne(Connection connection, String sql, Deadline deadline, String doing) throws Failure {
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery(sql)) {
            if (!result.next()) {
                throw new Failure(doing + " failed: the query returned no row (" + sql + ")");
            }
            return result.getString(1);
        } catch (SQLException e) {
            throw schemaAwareFailure(deadline, doing, e);
        }
    }

    /** Two-space indentation and "key": value, as the original Go encoder printed. */
    static String toJson(Object value) {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
        printer.indentArraysWith(new DefaultIndenter("  ", "\n"));
        printer.indentObjectsWith(new DefaultIndenter("  ", "\n"));
        try {
            return new ObjectMapper().writer(printer).writeValueAsString(value) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the snapshot", e);
        }
    }

    private static void printSnapshot(Snapshot snapshot) {
        System.out.print(toJson(snapshot));
        System.out.flush();
    }
}
