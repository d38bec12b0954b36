///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
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

    static final String MODE_WORKLOAD = WorkloadMode.MODE;
    static final String MODE_VERIFY = "verify";
    static final String MODE_SELFTEST = "selftest";
    static final String MODE_CHECKPOINT = "checkpoint";
    static final String MODE_DRILL = "drill-verify";
    static final List<String> MODES = List.of(MODE_WORKLOAD, MODE_VERIFY, MODE_SELFTEST, MODE_CHECKPOINT, MODE_DRILL);

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
        cli.setExecutionExceptionHandler(FailureReport::report);
        return cli;
    }

    @Override
    public Integer call() throws Exception {
        validateNumbers();
        refuseFlagsOfAnotherMode();
        if (HarnessModes.REPORT.equals(mode)) { // the run's facts first, with --source-server
            RunFacts.complete(factsOptions, runRecord, RestoredJudge.oracle(restoredOptions), environment,
                    connectTimeoutSeconds, timeout);
        }
        if (HarnessModes.handles(mode)) { // the harness's own questions: no database
            return switch (mode) {
                case HarnessModes.KNOBS -> HarnessModes.knobs(environment, runRecord, versionOf(), System.out);
                case PhysicalEvidence.MODE -> PhysicalEvidence.backupEvidence(runRecord, System.out);
                default -> HarnessModes.report(runRecord, reportDir, verifyOptions.since, versionOf(), System.out,
                        System.err);
            };
        }
        if (judgeModes.needsNoDatabase(mode)) {
            return judgeModes.judge(expectations.snapshotFile, verifyOptions.since, System.out);
        }
        if (MODE_DRILL.equals(mode) && drillOptions.unjudged() != null) { // nothing was restored: no database
            drillOptions.reportDir = reportDir;
            return DrillVerify.unjudged(ledgerOptions, drillOptions, spec.version()[0]);
        }
        if (PhysicalModes.AWAIT.equals(mode)) { // the restored server's URL is the answer, not a flag
            return PhysicalModes.await(physicalOptions, environment, connectTimeoutSeconds, System.out);
        }
        if (ServerBinaries.MODE.equals(mode)) { // files and Maven only
            return ServerBinaries.run(serverBinariesOptions, environment, System.out, System.err);
        }
        if (mode != null && RestoredCluster.MODES.contains(mode)) { // files only (List.of refuses null)
            return RestoredCluster.run(mode, restoredClusterOptions, System.out);
        }
        if (PhysicalSetup.MODE.equals(mode)) { // files only
            return PhysicalSetup.run(physicalOptions.cluster, physicalOptions.bindir, physicalOptions.tools,
                    PhysicalModes.Options.osUser());
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
                && !HarnessPlan.MODE.equals(mode) && !PhysicalModes.NAMES.contains(mode)
                && !RestoredJudge.MODE.equals(mode) && !ArchiveNow.MODE.equals(mode)
                && !SourceServer.NAMES.contains(mode)) {
            throw new Failure("unknown --mode=" + Failure.quoted(mode) + " (workload | verify)");
        }
        if (mode.equals(HarnessPlan.MODE)) { // as libpq sees the URL: one it refuses fails at once, as it says
            SourceServer.awaitReady(dbUrl, serverOptions.serverLabel, environment);
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
            if (mode.equals(RestoredJudge.MODE)) {
                return RestoredJudge.run(restoredOptions, runRecord, dbUrl, connector, verifyOptions.since, System.out);
            }
            if (mode.equals(JudgeModes.ORACLE_CAPTURE) && SourceCapture.handles(runRecord, restoredOptions)) {
                return SourceCapture.run(runRecord, judgeModes.snapshotId, RestoredJudge.oracle(restoredOptions),
                        dbUrl, connector);
            }
            if (mode.equals(JudgeModes.ORACLE_CAPTURE)) {
                return judgeModes.captureOracle(connector, System.out);
            }
            if (InPlace.NAMES.contains(mode)) {
                return InPlace.run(mode, connector, migrationsFolder(), System.out);
            }
            if (mode.equals(HarnessPlan.MODE)) {
                return HarnessPlan.run(planOptions, serverOptions.serverLabel, connector, environment, System.out);
            }
            if (mode.equals(SourceServer.NEW_SCRATCH_DB)) {
                return SourceServer.newScratchDb(serverOptions, connector, System.out);
            }
            if (mode.equals(SourceServer.DROP_SCRATCH_DBS)) {
                return SourceServer.dropRegistered(serverOptions, connector, System.err);
            }
            if (mode.equals(PhysicalModes.PITR_TARGET)) {
                return PhysicalModes.pitrTarget(physicalOptions, connector, System.out);
            }
            if (mode.equals(PhysicalModes.SWITCH_WAL)) {
                return PhysicalModes.switchWal(connector);
            }
            if (mode.equals(ArchiveNow.MODE)) {
                return ArchiveNow.run(archiveNowOptions, connector);
            }
            if (mode.equals(JudgeModes.PITR_CHECK)) {
                return judgeModes.checkPitr(connector, idPrefix, rows, System.out);
            }
            snapshot = mode.equals(MODE_WORKLOAD) ? WorkloadMode.run(connector, schema, migrationsFolder(),
                    new Workload(rows, idPrefix, startTime, batchRows))
                    : verifyOptions.verify(connector, schema, expectations, BackupSmoke::note);
        }
        printSnapshot(snapshot);
        String fatal = verifyOptions.fatalVerdicts().firstOf(snapshot);
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

    /** Which modes read each group of flags; elsewhere they are usage errors (exit 2), checked in this order. */
    static final List<ModeFlags> FLAG_GROUPS = List.of(
            ModeFlags.declaredIn(List.of(MODE_CHECKPOINT, MODE_DRILL), LedgerOptions.class),
            ModeFlags.declaredIn(List.of(MODE_DRILL), DrillOptions.class),
            ModeFlags.named("--run-record", HarnessModes.REPORT, PhysicalEvidence.MODE, RestoredJudge.MODE,
                    JudgeModes.ORACLE_CAPTURE, HarnessModes.KNOBS),
            ModeFlags.named("--combination", RestoredJudge.MODE),
            ModeFlags.named("--second-oracle", RestoredJudge.MODE, JudgeModes.ORACLE_CAPTURE, HarnessModes.REPORT),
            ModeFlags.declaredIn(List.of(HarnessModes.REPORT), RunFacts.Options.class),
            ModeFlags.declaredIn(List.of(HarnessPlan.MODE), HarnessPlan.Options.class),
            ModeFlags.named("--server-label", HarnessPlan.MODE, SourceServer.NEW_SCRATCH_DB,
                    SourceServer.DROP_SCRATCH_DBS),
            ModeFlags.named("--registry", SourceServer.NEW_SCRATCH_DB, SourceServer.DROP_SCRATCH_DBS),
            ModeFlags.named("--renew", SourceServer.NEW_SCRATCH_DB),
            ModeFlags.declaredIn(PhysicalModes.NAMES, PhysicalModes.Options.class),
            ModeFlags.declaredIn(List.of(ServerBinaries.MODE), ServerBinaries.Options.class),
            ModeFlags.declaredIn(List.of(ArchiveNow.MODE), ArchiveNow.Options.class),
            ModeFlags.declaredIn(RestoredCluster.MODES, RestoredCluster.Options.class),
            ModeFlags.named("--report-dir", HarnessModes.REPORT, MODE_DRILL));

    /** The verify flags, the anchor's too; judge and report read some of them as well (below). */
    static final ModeFlags VERIFY_FLAGS = ModeFlags.declaredIn(List.of(MODE_VERIFY), Expectations.class,
            VerifyOptions.class);

    /** Flags of another mode are refused (exit 2) rather than silently ignored. */
    private void refuseFlagsOfAnotherMode() {
        if (expectations.exact && !expectations.isGiven()) {
            throw new ParameterException(spec.commandLine(),
                    "--expect-exact needs --expect, --expect-head or --expect-rows");
        }
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        for (ModeFlags group : FLAG_GROUPS) {
            refuse(group.refusal(mode, group.given(parsed)));
        }
        refuse(JudgeModes.misplacedFlag(mode, parsed::hasMatchedOption));
        refuse(VERIFY_FLAGS.refusal(mode, VERIFY_FLAGS.given(parsed).stream()
                .filter(name -> !(JudgeModes.JUDGE.equals(mode) && JudgeModes.SHARED_WITH_VERIFY.contains(name)))
                .filter(name -> !(RestoredJudge.MODE.equals(mode) && name.equals("--since")))
                .filter(name -> !(HarnessModes.REPORT.equals(mode) && name.equals("--since")))
                .toList()));
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

    // ---------------------------------------------------------------- modes

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
