// Which modes read which flags of the command (SPEC section 2): a flag
// given to a mode that does not read it is a usage error (exit 2) rather
// than silently ignored. The groups are checked in the order below, the
// verify flags last; the first refusal is the one said.

import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.ParseResult;

final class FlagReaders {
    private FlagReaders() {}

    /**
     * Which modes read each group of flags, for the table of MODES (the
     * modes that connect to --db-url are read from it). --timeout, --verbose,
     * --help and --version are every mode's: --timeout bounds the modes that
     * connect, and the harness gives it to its questions alike. JudgeModes,
     * PhysicalModes and RestoredCluster list which of their modes read which
     * of their shared options.
     */
    static List<ModeFlags> groups(List<Mode> modes) {
        List<String> connecting = modes.stream().filter(each -> each.needs() != Mode.Needs.FILES)
                .map(Mode::name).toList(); // drill-verify too: unless nothing was restored
        List<ModeFlags> commandsOwn = List.of(
                ModeFlags.namedFor(connecting, "--db-url"),
                // await-recovery and report open connections of their own (the restored server, --source-server)
                ModeFlags.namedFor(Stream.concat(connecting.stream(), Stream.of(PhysicalModes.AWAIT,
                        HarnessModes.REPORT)).toList(), "--connect-timeout"),
                ModeFlags.namedFor(List.of(WorkloadMode.MODE, SelfTest.MODE, InPlace.CHECK, InPlace.WIPE),
                        "--migrations-path"),
                // pitr-check: the rows of the workload before the target, which the restore must hold
                ModeFlags.namedFor(List.of(WorkloadMode.MODE, JudgeModes.PITR_CHECK), "--rows", "--id-prefix"),
                ModeFlags.namedFor(List.of(WorkloadMode.MODE), "--batch-rows", "--start-time"),
                ModeFlags.named("--schema", WorkloadMode.MODE, VerifyOptions.MODE, CheckpointRecorder.MODE,
                        DrillVerify.MODE),
                ModeFlags.named("--fail-on-findings", SelfTest.MODE),
                ModeFlags.named("--run-record", HarnessModes.REPORT, PhysicalEvidence.MODE, RestoredJudge.MODE,
                        JudgeModes.ORACLE_CAPTURE, HarnessModes.KNOBS),
                ModeFlags.named("--report-dir", HarnessModes.REPORT, DrillVerify.MODE));
        List<ModeFlags> groups = List.of(
                ModeFlags.declaredIn(List.of(CheckpointRecorder.MODE, DrillVerify.MODE), LedgerOptions.class),
                ModeFlags.declaredIn(List.of(DrillVerify.MODE), DrillOptions.class),
                ModeFlags.named("--combination", RestoredJudge.MODE),
                ModeFlags.named("--second-oracle", RestoredJudge.MODE, JudgeModes.ORACLE_CAPTURE, HarnessModes.REPORT),
                ModeFlags.declaredIn(List.of(HarnessModes.REPORT), RunFacts.Options.class),
                ModeFlags.declaredIn(List.of(HarnessPlan.MODE), HarnessPlan.Options.class),
                ModeFlags.named("--server-label", HarnessPlan.MODE, SourceServer.NEW_SCRATCH_DB,
                        SourceServer.DROP_SCRATCH_DBS),
                ModeFlags.named("--registry", SourceServer.NEW_SCRATCH_DB, SourceServer.DROP_SCRATCH_DBS),
                ModeFlags.named("--renew", SourceServer.NEW_SCRATCH_DB),
                ModeFlags.declaredIn(List.of(ServerBinaries.MODE), ServerBinaries.Options.class),
                ModeFlags.declaredIn(List.of(ArchiveNow.MODE), ArchiveNow.Options.class));
        return Stream.of(commandsOwn, groups, JudgeModes.FLAGS, PhysicalModes.FLAGS, RestoredCluster.FLAGS)
                .flatMap(List::stream).toList();
    }

    /** The verify flags, the anchor's too; judge, judge-restored and report read some of them as well (refusal). */
    static final ModeFlags VERIFY = ModeFlags.declaredIn(List.of(VerifyOptions.MODE), Expectations.class,
            VerifyOptions.class);

    /** The first refusal of the flags PARSED for MODE, one of MODES; null when MODE reads them all. */
    static String refusal(String mode, List<Mode> modes, ParseResult parsed) {
        for (ModeFlags group : groups(modes)) {
            String refusal = group.refusal(mode, group.given(parsed));
            if (refusal != null) {
                return refusal;
            }
        }
        return VERIFY.refusal(mode, VERIFY.given(parsed).stream()
                .filter(name -> !(JudgeModes.JUDGE.equals(mode) && JudgeModes.SHARED_WITH_VERIFY.contains(name)))
                .filter(name -> !(RestoredJudge.MODE.equals(mode) && name.equals("--since")))
                .filter(name -> !(HarnessModes.REPORT.equals(mode) && name.equals("--since")))
                .toList());
    }
}
