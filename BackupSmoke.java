///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DESCRIPTION Backup/restore gate for PostgreSQL databases with a hash-chained audit log:
//DESCRIPTION --mode=workload writes audit rows, --mode=verify checks the chain; both print a JSON snapshot.
//DEPS org.postgresql:postgresql:42.7.14
//DEPS info.picocli:picocli:4.7.7
//DEPS com.fasterxml.jackson.core:jackson-databind:2.23.0
//SOURCES deploy/tool/*.java
//FILES migrations/=migrations/*.up.sql

// BackupSmoke: the workload and verifier halves of a backup/restore gate for
// PostgreSQL databases that keep a hash-chained audit log. The harness
// (deploy/test/backup-restore-smoke.sh) runs --mode=workload before a backup
// and --mode=verify after the restore, and compares the two JSON snapshots.
// The contract (flags, JSON, exit codes) is deploy/SPEC.md; deploy/docs/tool.md
// explains usage. This file is the command line; the work is done by the helper
// sources in deploy/tool/ (Workload, Verification, Snapshot, Connector, ...).

import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.Callable;
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
            "3:verify with --fail-on-break: a verdict is broken or an expectation does not hold;"
                    + " checkpoint, drill-verify: the chain or the ledger fails a verdict; report: a combination failed",
            "4:selftest: the gate missed a case (or, with --fail-on-findings, the server's verifier raised a false alarm)"
        })
public class BackupSmoke implements Callable<Integer> {

    // ---------------------------------------------------------------- command line

    static final String MODE_WORKLOAD = "workload";
    static final String MODE_VERIFY = "verify";
    static final String MODE_SELFTEST = "selftest";
    static final String MODE_CHECKPOINT = "checkpoint";
    static final String MODE_DRILL = "drill-verify";
    static final List<String> MODES = List.of(MODE_WORKLOAD, MODE_VERIFY, MODE_SELFTEST, MODE_CHECKPOINT, MODE_DRILL);

    @Spec CommandSpec spec;

    @Option(names = "--mode", paramLabel = "MODE",
            description = "workload | verify (required); selftest tampers with scratch databases on the server"
                    + " and shows what verification catches; checkpoint appends to a ledger (--ledger),"
                    + " drill-verify judges a restored backup against it; judge, oracle-capture, pitr-check"
                    + " (SPEC 9.9), knobs, report, backup-evidence, in-place-check and in-place-wipe (SPEC 7) answer the harness")
    String mode;

    @Option(names = "--db-url", paramLabel = "URL",
            description = "libpq URL (postgres://user@host:port/db?sslmode=disable) or key=value string;"
                    + " default: $DATABASE_URL. Missing parts come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.")
    String dbUrl;

    @Option(names = "--migrations-path", paramLabel = "DIR",
            description = "folder of *.up.sql migrations (workload, selftest, in-place-*; default: ./migrations when that"
                    + " folder exists, else the migrations/ folder next to BackupSmoke.java)")
    Path migrationsPath;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "24",
            description = "number of audit rows to insert (workload only; default: ${DEFAULT-VALUE})")
    int rows;

    @Option(names = "--batch-rows", paramLabel = "N",
            description = "workload rows per transaction (default: chosen from the first batches' cost per row;"
                    + " " + Workload.DEFAULT_BATCH_ROWS + " with this project's trigger)")
    Integer batchRows;

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

    @Option(names = "--schema", paramLabel = "NAME",
            description = "the schema that holds audit_events and audit_chain_head (default: the one schema"
                    + " that holds both; public when several do or none does yet)")
    String schema;

    @CommandLine.ArgGroup(exclusive = false, heading = "%nAnchoring (verify): values recorded outside the database%n")
    Expectations expectations = new Expectations();

    @CommandLine.ArgGroup(exclusive = false, heading = "%nCheckpoint ledger (checkpoint, drill-verify)%n")
    LedgerOptions ledgerOptions = new LedgerOptions();

    @CommandLine.ArgGroup(exclusive = false, heading = "%nRestore drill (drill-verify): the restored backup%n")
    DrillOptions drillOptions = new DrillOptions();

    @Option(names = "--since", paramLabel = "FILE",
            description = "verify: check only the rows appended after a snapshot recorded earlier (its"
                    + " chain_head_hash at position row_count-1); earlier rows are trusted, not re-hashed,"
                    + " and the server's verifier is skipped unless --full-server-verify; report: a passing run"
                    + " writes its expectation there, the next run's checkpoint")
    Path since;

    @Option(names = "--full-server-verify",
            description = "verify with --since: also run the server's audit_events_verify_chain(), which walks"
                    + " the whole chain")
    boolean fullServerVerify;

    @Option(names = "--fail-on-break",
            description = "verify: exit 3 when either verdict is broken, an expectation does not hold (the"
                    + " anchor's fingerprint included), an append-only trigger, the verifier function or the"
                    + " sentinel row is missing, or other schemas hold bare audit tables"
                    + " (default: exit 0 whenever the chain could be inspected)")
    boolean failOnBreak;

    @Option(names = "--fail-on-ambiguous",
            description = "verify: exit 3 when a row holds a '|' in a field, so that another row could share its"
                    + " payload (client.ambiguous_rows > 0; the snapshot names the first such row)")
    boolean failOnAmbiguous;

    @Option(names = "--fail-on-unhashed",
            description = "verify: exit 3 when audit_events has columns outside the hash (unhashed_columns),"
                    + " which can be rewritten without breaking the chain")
    boolean failOnUnhashed;

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

    /** The process environment (PG*, DATABASE_URL); the tests run the command in-process with their own. */
    private final java.util.Map<String, String> environment;

    BackupSmoke(java.util.Map<String, String> environment) {
        this.environment = environment;
    }

    /** The harness's questions: --mode=judge, oracle-capture, pitr-check (SPEC 9.9). */
    @CommandLine.Mixin
    JudgeModes judgeModes = new JudgeModes();

    /** The harness's plan: --mode=plan (SPEC 7). */
    @CommandLine.Mixin
    HarnessPlan.Options planOptions = new HarnessPlan.Options();

    @Option(names = "--run-record", paramLabel = "DIR",
            description = "report: the harness's work folder (combinations/, run.facts);"
                    + " backup-evidence: its evidence.METHOD folder")
    Path runRecord;

    @Option(names = "--report-dir", paramLabel = "DIR", description = "report: where report.json and junit.xml go;"
            + " drill-verify: where report.json, report.json.sig (with --signing-key) and metrics.prom go")
    Path reportDir;

    public static void main(String[] args) {
        Progress.reportInterruptions();
        Thread.setDefaultUncaughtExceptionHandler(Progress::reportUncaught);
        int exitCode = commandLine(System.getenv()).execute(args);
        Progress.finished = true;
        System.exit(exitCode);
    }

    /** The tool's version line, as --version prints it. */
    static String versionOf() {
        return BackupSmoke.class.getAnnotation(Command.class).version()[0];
    }

    static CommandLine commandLine(java.util.Map<String, String> environment) {
        CommandLine cli = new CommandLine(new BackupSmoke(environment));
        cli.setExecutionExceptionHandler(BackupSmoke::reportFailure);
        return cli;
    }

    @Override
    public Integer call() throws Exception {
        validateNumbers();
        refuseFlagsOfAnotherMode();
        if (HarnessModes.handles(mode)) { // the harness's own questions: no database
            return switch (mode) {
                case HarnessModes.KNOBS -> HarnessModes.knobs(environment, versionOf(), System.out);
                case PhysicalEvidence.MODE -> PhysicalEvidence.backupEvidence(runRecord, System.out);
                default -> HarnessModes.report(runRecord, reportDir, since, versionOf(), System.out,
                        System.err);
            };
        }
        if (judgeModes.needsNoDatabase(mode)) {
            return judgeModes.judge(expectations.snapshotFile, since, System.out);
        }
        if (MODE_DRILL.equals(mode) && drillOptions.unjudged() != null) { // nothing was restored: no database
            drillOptions.reportDir = reportDir;
            return DrillVerify.unjudged(ledgerOptions, drillOptions, spec.version()[0]);
        }
        if (dbUrl == null) {
            dbUrl = environment.get("DATABASE_URL");
        }
        // The order of these two checks is the original tool's: URL first, then mode.
        if (dbUrl == null || dbUrl.isBlank()) {
            throw new Failure("--db-url or DATABASE_URL is required");
        }
        if (mode == null || mode.isEmpty()) {
            throw new Failure("--mode is required (workload | verify)");
        }
        if (!MODES.contains(mode) && !JudgeModes.NAMES.contains(mode) && !InPlace.NAMES.contains(mode)
                && !HarnessPlan.MODE.equals(mode)) {
            throw new Failure("unknown --mode=" + Failure.quoted(mode) + " (workload | verify)");
        }
        ConnectionTarget target = ConnectionTarget.parse(dbUrl, environment);
        Snapshot snapshot;
        try (Deadline deadline = new Deadline(timeout)) {
            Connector connector = new Connector(target, connectTimeoutSeconds, deadline);
            Progress.stopStatements = deadline::stopStatements;
            if (mode.equals(MODE_SELFTEST)) {
                return selftestExit(runSelfTest(connector));
            }
            if (mode.equals(MODE_CHECKPOINT)) {
                System.out.println(CheckpointRecorder.run(connector, ledgerOptions.checkpointRequest(schema)).line());
                return 0;
            }
            if (mode.equals(MODE_DRILL)) {
                drillOptions.reportDir = reportDir;
                return DrillVerify.run(connector, ledgerOptions, drillOptions, spec.version()[0], environment);
            }
            if (mode.equals(JudgeModes.JUDGE)) { // with --capture-restored
                return judgeModes.judge(connector, expectations.snapshotFile, since, System.out);
            }
            if (mode.equals(JudgeModes.ORACLE_CAPTURE)) {
                return judgeModes.captureOracle(connector, System.out);
            }
            if (InPlace.NAMES.contains(mode)) {
                return InPlace.run(mode, connector, migrationsFolder());
            }
            if (mode.equals(HarnessPlan.MODE)) {
                return HarnessPlan.run(planOptions, connector, environment, System.out);
            }
            if (mode.equals(JudgeModes.PITR_CHECK)) {
                return judgeModes.checkPitr(connector, idPrefix, rows, System.out);
            }
            snapshot = mode.equals(MODE_WORKLOAD) ? runWorkloadMode(connector) : runVerifyMode(connector);
        }
        printSnapshot(snapshot);
        String fatal = new FatalVerdicts(failOnBreak, failOnAmbiguous, failOnUnhashed).firstOf(snapshot);
        if (fatal != null) {
            note(fatal);
            return EXIT_BROKEN;
        }
        return 0;
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

    /** Flags only verify reads are refused elsewhere (exit 2) rather than silently ignored. */
    private void refuseFlagsOfAnotherMode() {
        if (expectations.exact && !expectations.isGiven()) {
            throw new ParameterException(spec.commandLine(),
                    "--expect-exact needs --expect, --expect-head or --expect-rows");
        }
        refuseFlagsOutside(List.of(MODE_CHECKPOINT, MODE_DRILL), LedgerOptions.FLAGS);
        refuseFlagsOutside(List.of(MODE_DRILL), DrillOptions.FLAGS);
        refuseFlagsOutside(List.of(HarnessModes.REPORT, PhysicalEvidence.MODE), List.of("--run-record"));
        refuseFlagsOutside(List.of(HarnessPlan.MODE), HarnessPlan.Options.FLAGS);
        refuseFlagsOutside(List.of(HarnessModes.REPORT, MODE_DRILL), List.of("--report-dir"));
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        String misplaced = JudgeModes.misplacedFlag(mode, parsed::hasMatchedOption);
        if (misplaced != null) {
            throw new ParameterException(spec.commandLine(), misplaced);
        }
        if (mode == null || mode.equals(MODE_VERIFY)) {
            return;
        }
        List<String> given = VERIFY_ONLY.stream().filter(parsed::hasMatchedOption)
                .filter(name -> !(JudgeModes.JUDGE.equals(mode) && JudgeModes.SHARED_WITH_VERIFY.contains(name)))
                .filter(name -> !(HarnessModes.REPORT.equals(mode) && name.equals("--since")))
                .map(name -> name.equals("--client-verify") ? "--[no-]client-verify" : name).toList();
        if (!given.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join(", ", given)
                    + (given.size() == 1 ? " applies" : " apply") + " to --mode=verify only");
        }
    }

    private void refuseFlagsOutside(List<String> modes, List<String> flags) {
        List<String> given = flags.stream().filter(spec.commandLine().getParseResult()::hasMatchedOption).toList();
        if (mode != null && !modes.contains(mode) && !given.isEmpty()) {
            throw new ParameterException(spec.commandLine(), String.join(", ", given) + (given.size() == 1
                    ? " applies" : " apply") + " to --mode=" + String.join(" and --mode=", modes) + " only");
        }
    }

    static final List<String> VERIFY_ONLY = List.of("--expect", "--expect-head", "--expect-rows", "--expect-exact",
            "--fail-on-break", "--fail-on-ambiguous", "--fail-on-unhashed", "--client-verify", "--since",
            "--full-server-verify");

    /** Malformed numbers are usage errors (exit 2), like an unknown flag. */
    private void validateNumbers() {
        if (rows < 0) {
            throw new ParameterException(spec.commandLine(), "--rows must be 0 or more, got " + rows);
        }
        if (batchRows != null && batchRows < 1) {
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

    /**
     * Expected failures print one line; unexpected ones print their cause in one
     * line too, and the stack trace only with --verbose.
     */
    static int reportFailure(Exception failure, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        if (Progress.interrupted) {
            return 1; // the failure is the interruption, which the shutdown hook reports
        }
        if (failure instanceof Failure) {
            err.println("backupsmoke: " + failure.getMessage());
            err.flush();
            return failure instanceof Refusal ? Refusal.EXIT : 1;
        } else if (Progress.causedByMemory(failure)) {
            err.println("backupsmoke: " + Progress.outOfMemory());
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

    // ---------------------------------------------------------------- modes

    /**
     * The migrations create the audit tables in the schema chosen here, the
     * workload writes there, and the snapshot reads there; every connection's
     * search_path names that schema and the catalogs only.
     */
    private Snapshot runWorkloadMode(Connector connector) throws Failure {
        Deadline deadline = connector.deadline();
        AuditSchema audit = workloadSchema(connector);
        Progress.activity = "applying migrations";
        new MigrationRunner(migrationsFolder()).run(
                connector.withSearchPath(audit.migrationPath()).open(MigrationRunner.CONNECTION_PROPERTIES), deadline);
        try (Connection connection = connector.withSearchPath(audit.queryPath()).open()) {
            SchemaCheck.require(connection, audit, deadline);
            new Workload(rows, idPrefix, startTime, batchRows).insert(connection, deadline);
            Progress.activity = "reading the workload snapshot";
            deadline.check(Progress.activity);
            return Snapshot.read(connection, audit, MODE_WORKLOAD, deadline)
                    .withIntegrity(Integrity.read(connection, audit, deadline));
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    /** --schema (created when missing), else the one schema holding the audit tables, else public. */
    private AuditSchema workloadSchema(Connector connector) throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open()) {
            AuditSchema audit = AuditSchema.resolve(connection, schema, deadline);
            audit.requireUnambiguous();
            SchemaCheck.refusePartitioned(connection, audit, deadline);
            boolean missing = schema != null && "t".equals(Sql.queryOne(connection,
                    "SELECT pg_catalog.to_regnamespace(?) IS NULL", deadline, "looking for schema " + schema,
                    AuditSchema.quoted(schema)));
            if (missing) {
                try (var statement = connection.createStatement()) {
                    statement.execute("CREATE SCHEMA " + AuditSchema.quoted(schema));
                }
            }
            return audit;
        } catch (SQLException e) {
            throw deadline.failure("creating schema " + schema, e);
        }
    }

    /** Both verdicts, the anchor and the fingerprint, read in one snapshot of the database. */
    private Snapshot runVerifyMode(Connector connector) throws Failure {
        ChainWalker.Expectation expectation = expectations.read();
        if (!clientVerify && expectation.isGiven()) {
            note("--expect… is checked on the client's walk of the chain: it runs despite --no-client-verify");
        }
        IncrementalVerify.Checkpoint checkpoint = null;
        if (since != null) {
            if (expectation.isGiven()) {
                throw new Failure("--since cannot be combined with --expect, --expect-head or --expect-rows:"
                        + " the checkpoint is the anchor");
            }
            checkpoint = IncrementalVerify.Checkpoint.read(since);
        }
        Progress.activity = "verifying the chain";
        Snapshot snapshot = Verification.run(connector, new Verification.Request(schema, expectation,
                clientVerify || failOnAmbiguous, checkpoint, since == null || fullServerVerify,
                expectations.fingerprint()));
        VerifyNotes.of(snapshot).forEach(BackupSmoke::note);
        return snapshot;
    }

    private static void note(String line) {
        System.err.println("backupsmoke: " + line);
    }

    private SelfTest.Result runSelfTest(Connector connector) throws Failure {
        return new SelfTest(connector, migrationsFolder()).run(System.out);
    }

    /**
     * --migrations-path, else ./migrations when it exists, else the migrations
     * folder next to BackupSmoke.java, so the tool and its alias work from any
     * folder: read where it is when the launcher names the script (the
     * jbang.source property), otherwise the copy JBang bundled from there
     * into the build (//FILES above; JBang rebuilds when a file changes).
     */
    private Path migrationsFolder() throws Failure {
        if (migrationsPath != null) {
            return migrationsPath;
        }
        Path here = Path.of("migrations");
        if (java.nio.file.Files.isDirectory(here)) {
            return here;
        }
        return DefaultMigrations.besideTheScript();
    }

    private static void printSnapshot(Snapshot snapshot) {
        System.out.print(snapshot.toJson());
        System.out.flush();
    }
}
