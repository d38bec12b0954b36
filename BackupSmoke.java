///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//JAVAC_OPTIONS -encoding UTF-8
//DESCRIPTION Backup/restore gate for PostgreSQL databases with a hash-chained audit log:
//DESCRIPTION --mode=workload writes audit rows, --mode=verify checks the chain; both print a JSON snapshot.
//DEPS org.postgresql:postgresql:42.7.14
//DEPS info.picocli:picocli:4.7.7
//DEPS com.fasterxml.jackson.core:jackson-databind:2.23.0
//SOURCES deploy/tool/*.java
//FILES migrations/=migrations/*.up.sql
//FILES usage.properties=deploy/tool/usage.properties

// BackupSmoke: the workload and verifier halves of a backup/restore gate for
// PostgreSQL databases that keep a hash-chained audit log. The harness
// (deploy/test/backup-restore-smoke.sh) runs --mode=workload before a backup
// and --mode=verify after the restore, and compares the two JSON snapshots.
// The contract (flags, JSON, exit codes) is deploy/SPEC.md; deploy/docs/tool.md
// explains usage. This file is the command line; the work is done by the helper
// sources in deploy/tool/ (Workload, Verification, Snapshot, Connector, ...).

import java.nio.file.Path;
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
        resourceBundle = "usage", // every flag's help and the groups' headings: deploy/tool/usage.properties
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

    @Spec CommandSpec spec;

    @Option(names = "--mode", paramLabel = "MODE")
    String mode;

    @Option(names = "--db-url", paramLabel = "URL")
    String dbUrl;

    @Option(names = "--migrations-path", paramLabel = "DIR")
    Path migrationsPath;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "24")
    int rows;

    @Option(names = "--batch-rows", paramLabel = "N")
    Integer batchRows;

    @Option(names = "--id-prefix", paramLabel = "PREFIX", defaultValue = "audit-smoke-")
    String idPrefix;

    @Option(names = "--start-time", paramLabel = "TIMESTAMP")
    OffsetDateTime startTime;

    @Option(names = "--schema", paramLabel = "NAME")
    String schema;

    @CommandLine.ArgGroup(exclusive = false, headingKey = "group.anchoring")
    Expectations expectations = new Expectations();

    @CommandLine.ArgGroup(exclusive = false, headingKey = "group.ledger")
    LedgerOptions ledgerOptions = new LedgerOptions();

    @CommandLine.ArgGroup(exclusive = false, headingKey = "group.drill")
    DrillOptions drillOptions = new DrillOptions();

    /** The verify flags besides the anchor: --[no-]client-verify, --since, --full-server-verify, --fail-on-*. */
    @CommandLine.Mixin
    VerifyOptions verifyOptions = new VerifyOptions();

    @Option(names = "--fail-on-findings")
    boolean failOnFindings;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "2m", converter = DurationConverter.class)
    Duration timeout;

    @Option(names = "--connect-timeout", paramLabel = "SECONDS", defaultValue = "10")
    int connectTimeoutSeconds;

    @Option(names = "--verbose")
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

    /** The harness's server and its scratch databases: --mode=plan, new-scratch-db, drop-scratch-dbs. */
    @CommandLine.Mixin
    SourceServer.Options serverOptions = new SourceServer.Options();

    /** The harness's questions about physical restores: --mode=await-recovery, pitr-target, switch-wal. */
    @CommandLine.Mixin
    PhysicalModes.Options physicalOptions = new PhysicalModes.Options();

    /** The harness's one question about a restored database: --mode=judge-restored (SPEC 9.9). */
    @CommandLine.Mixin
    RestoredJudge.Options restoredOptions = new RestoredJudge.Options();

    /** The harness's report gathers the run's facts: --source-server. */
    @CommandLine.Mixin
    RunFacts.Options factsOptions = new RunFacts.Options();

    /** Where a throwaway cluster of another major gets its binaries: --mode=server-binaries (SPEC 7). */
    @CommandLine.Mixin
    ServerBinaries.Options serverBinariesOptions = new ServerBinaries.Options();

    /** A WAL switch, archived before the answer: --mode=archive-now (SPEC 7). */
    @CommandLine.Mixin
    ArchiveNow.Options archiveNowOptions = new ArchiveNow.Options();

    /** A physical backup's restore command and its restored data directory: --mode=restore-command, restored-setup. */
    @CommandLine.Mixin
    RestoredCluster.Options restoredClusterOptions = new RestoredCluster.Options();

    @Option(names = "--run-record", paramLabel = "DIR")
    Path runRecord;

    @Option(names = "--report-dir", paramLabel = "DIR")
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
        cli.registerConverter(OffsetDateTime.class, new TimestampConverter());
        cli.setExecutionExceptionHandler(FailureReport::report);
        cli.setParameterExceptionHandler(FailureReport.oneLineUsageErrors(cli.getParameterExceptionHandler()));
        return cli;
    }

    /**
     * Every mode: its name, what it needs and what runs it; call() looks --mode up here. Those on files
     * (Mode.files) never ask for --db-url. A new mode is one entry here, its flags a group in FlagReaders
     * (deploy/docs/extending.md).
     */
    List<Mode> modes() {
        return List.of(
                Mode.files(HarnessModes.REPORT, this::report),
                Mode.files(HarnessModes.KNOBS, () -> HarnessModes.knobs(environment, runRecord, versionOf(),
                        System.out)),
                Mode.files(PhysicalEvidence.MODE, () -> PhysicalEvidence.backupEvidence(runRecord, System.out)),
                Mode.files(JudgeModes.JUDGE, () -> judgeModes.judge(expectations.snapshotFile, verifyOptions.since,
                        System.out)),
                // the restored server's URL is the answer, not a flag
                Mode.files(PhysicalModes.AWAIT, () -> PhysicalModes.await(physicalOptions, environment,
                        connectTimeoutSeconds, System.out)),
                Mode.files(ServerBinaries.MODE, () -> ServerBinaries.run(serverBinariesOptions, environment,
                        System.out, System.err)),
                Mode.files(RestoredCluster.SETUP, () -> RestoredCluster.setup(restoredClusterOptions)),
                Mode.files(RestoredCluster.COMMAND, () -> RestoredCluster.printCommand(restoredClusterOptions,
                        System.out)),
                Mode.files(PhysicalSetup.MODE, () -> PhysicalSetup.run(physicalOptions.cluster,
                        physicalOptions.bindir, physicalOptions.tools, PhysicalModes.Options.osUser())),
                Mode.files(Annotation.MODE, () -> Annotation.annotate(System.in, System.out)),
                Mode.database(WorkloadMode.MODE, this::workload),
                Mode.database(VerifyOptions.MODE, this::verify),
                Mode.database(SelfTest.MODE, connector -> new SelfTest(connector, migrationsFolder()).run(System.out)
                        .exitStatus(failOnFindings, System.out)),
                Mode.database(CheckpointRecorder.MODE, this::checkpoint),
                Mode.database(DrillVerify.MODE, this::drillVerify)
                        .filesOnlyWhen(() -> drillOptions.unjudged() != null), // nothing was restored
                Mode.database(RestoredJudge.MODE, connector -> RestoredJudge.run(restoredOptions, runRecord, dbUrl,
                        connector, verifyOptions.since, System.out)),
                Mode.database(JudgeModes.ORACLE_CAPTURE, this::captureOracle),
                Mode.database(JudgeModes.PITR_CHECK, connector -> judgeModes.checkPitr(connector, idPrefix, rows,
                        System.out)),
                Mode.database(InPlace.CHECK, connector -> InPlace.check(connector, migrationsFolder(), System.out)),
                Mode.database(InPlace.WIPE, connector -> InPlace.wipe(connector, migrationsFolder(), System.out)),
                Mode.readyServer(HarnessPlan.MODE, connector -> HarnessPlan.run(planOptions,
                        serverOptions.serverLabel, connector, environment, System.out)),
                Mode.database(SourceServer.NEW_SCRATCH_DB, connector -> SourceServer.newScratchDb(serverOptions,
                        connector, System.out)),
                Mode.database(SourceServer.DROP_SCRATCH_DBS, connector -> SourceServer.dropRegistered(serverOptions,
                        connector, System.err)),
                Mode.database(PhysicalModes.PITR_TARGET, connector -> PhysicalModes.pitrTarget(physicalOptions,
                        connector, System.out)),
                Mode.database(PhysicalModes.SWITCH_WAL, PhysicalModes::switchWal),
                Mode.database(ArchiveNow.MODE, connector -> ArchiveNow.run(archiveNowOptions, connector)));
    }

    @Override
    public Integer call() throws Exception {
        validateNumbers();
        validateSchema();
        List<Mode> modes = modes();
        Mode chosen = Mode.named(modes, mode);
        refuseFlagsOfAnotherMode(chosen, modes);
        refuseUnusableValues();
        refuseFilesThatAreNotRegular();
        if (chosen != null) { // what an interruption or a full heap names, unless the mode says more
            Progress.activity = "running --mode=" + chosen.name();
        }
        if (chosen != null && chosen.needsNow() == Mode.Needs.FILES) {
            return chosen.handler().run(null);
        }
        // The order of these checks is the original tool's: URL first, then mode.
        dbUrl = databaseUrl();
        if (chosen == null) {
            throw new Failure(mode == null || mode.isEmpty() ? "--mode is required (workload | verify)"
                    : "unknown --mode=" + Failure.quoted(mode) + " (workload | verify)");
        }
        return runWithDatabase(chosen);
    }

    /** --db-url, else DATABASE_URL; neither is a failure. */
    private String databaseUrl() throws Failure {
        String url = dbUrl != null ? dbUrl : environment.get("DATABASE_URL");
        if (url == null || url.isBlank()) {
            throw new Failure("--db-url or DATABASE_URL is required");
        }
        return url;
    }

    /** CHOSEN's handler with a connector to --db-url, the whole run bounded by --timeout. */
    private int runWithDatabase(Mode chosen) throws Exception {
        if (chosen.needsNow() == Mode.Needs.READY_SERVER) { // as libpq sees the URL: one it refuses fails at once
            SourceServer.awaitReady(dbUrl, serverOptions.serverLabel, environment);
        }
        ConnectionTarget target = ConnectionTarget.parse(dbUrl, environment);
        try (Deadline deadline = new Deadline(timeout)) {
            Connector connector = new Connector(target, connectTimeoutSeconds, deadline);
            Progress.stopStatements = deadline::stopStatements;
            return chosen.handler().run(connector);
        }
    }

    // ---------------------------------------------------------------- modes

    /** The run's facts first, when the harness named the source server (--source-server); then the report. */
    private int report() throws Failure {
        RunFacts.complete(factsOptions, runRecord, RestoredJudge.oracle(restoredOptions), environment,
                connectTimeoutSeconds, timeout);
        return HarnessModes.report(runRecord, reportDir, verifyOptions.since, versionOf(), System.out, System.err);
    }

    private int workload(Connector connector) throws Failure {
        return printed(WorkloadMode.run(connector, schema, migrationsFolder(),
                new Workload(rows, idPrefix, startTime, batchRows)));
    }

    private int verify(Connector connector) throws Exception {
        return printed(verifyOptions.verify(connector, schema, expectations, BackupSmoke::note));
    }

    static final int EXIT_BROKEN = 3;

    /** SNAPSHOT on stdout; 3 when a verdict that --fail-on-* makes fatal fails. */
    private int printed(Snapshot snapshot) {
        System.out.print(snapshot.toJson());
        System.out.flush();
        String fatal = verifyOptions.fatalVerdicts().firstOf(snapshot);
        if (fatal != null) {
            note(fatal);
            return EXIT_BROKEN;
        }
        return 0;
    }

    private int checkpoint(Connector connector) throws Failure {
        System.out.println(CheckpointRecorder.run(connector, ledgerOptions.checkpointRequest(schema)).line());
        return 0;
    }

    /** The restored database judged against the ledger; without RESTORED (nothing was restored) the failure given. */
    private int drillVerify(Connector restored) throws Failure {
        drillOptions.reportDir = reportDir;
        drillOptions.schema = schema;
        if (restored == null) {
            return DrillVerify.unjudged(ledgerOptions, drillOptions, versionOf());
        }
        return DrillVerify.run(restored, ledgerOptions, drillOptions, versionOf(), environment);
    }

    /** The source's capture with the expectation when the harness's run record asks for it, else the document. */
    private int captureOracle(Connector connector) throws Failure {
        if (SourceCapture.handles(runRecord, restoredOptions)) {
            return SourceCapture.run(runRecord, judgeModes.snapshotId, RestoredJudge.oracle(restoredOptions), dbUrl,
                    connector);
        }
        return judgeModes.captureOracle(connector, System.out);
    }

    /** Flags of another mode than CHOSEN (one of MODES) are refused (exit 2) rather than silently ignored. */
    private void refuseFlagsOfAnotherMode(Mode chosen, List<Mode> modes) {
        if (expectations.exact && !expectations.isGiven()) {
            throw new ParameterException(spec.commandLine(),
                    "--expect-exact needs --expect, --expect-head or --expect-rows");
        }
        if (chosen == null) { // a missing or unknown mode is said as such (call), not as its flags' misplacement
            return;
        }
        refuse(FlagReaders.refusal(chosen.name(), modes, spec.commandLine().getParseResult()));
    }

    /** Values of a mode's flags that mode cannot use, found before it runs: usage errors (exit 2). */
    private void refuseUnusableValues() {
        refuse(restoredClusterOptions.recoveryTarget == null ? null
                : RestoredCluster.targetRefusal(restoredClusterOptions.recoveryTarget));
        refuse(RestoredJudge.unknownCombination(restoredOptions, runRecord));
    }

    /** A FIFO or device given as a file is refused before anything opens it (FileFlags). */
    private void refuseFilesThatAreNotRegular() throws Failure {
        String notRegular = FileFlags.notRegular(spec.commandLine().getParseResult());
        if (notRegular != null) {
            throw new Failure(notRegular);
        }
    }

    private void refuse(String refusal) {
        if (refusal != null) {
            throw new ParameterException(spec.commandLine(), refusal);
        }
    }

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

    /** A --schema no schema can have is a usage error (exit 2). */
    private void validateSchema() {
        refuse(schema == null ? null : AuditSchema.unusableName(schema));
    }

    /** LINE on stderr; the names it quotes are the database's (a column's, a row's id): one line whatever they hold. */
    private static void note(String line) {
        System.err.println(FailureReport.PREFIX + FailureReport.oneLine(line));
    }

    private Path migrationsFolder() throws Failure {
        return DefaultMigrations.folder(migrationsPath);
    }
}
