// The flags of --mode=drill-verify (SPEC section 9.10), as one picocli argument
// group of BackupSmoke's command line: what the harness (or an operator)
// knows about the backup that was restored, and where the evidence goes.

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import picocli.CommandLine.Option;

final class DrillOptions {
    @Option(names = "--backup-start", paramLabel = "TIMESTAMP",
            description = "drill-verify: when the restored backup began (ISO-8601 with offset); the restore must hold"
                    + " the newest ledger entry recorded before it")
    OffsetDateTime backupStart;

    @Option(names = "--backup-lsn", paramLabel = "LSN",
            description = "drill-verify: the backup's start LSN; when given, entries recorded at or before it count"
                    + " as recorded before the backup (instead of --backup-start)")
    String backupLsn;

    @Option(names = "--backup-label-file", paramLabel = "FILE",
            description = "drill-verify: the backup_label the restore left in the data directory (read before the"
                    + " server started): fills --backup-lsn, --backup-start, --backup-label and --backup-timeline"
                    + " where they are not given")
    Path backupLabelFile;

    @Option(names = "--backup-controldata", paramLabel = "FILE",
            description = "drill-verify: pg_controldata's output for the restored data directory (read before the"
                    + " server started): fills --backup-system-identifier where it is not given")
    Path backupControldata;

    @Option(names = "--restore-failed", paramLabel = "REASON",
            description = "drill-verify: the restore failed before it could be judged (a paused recovery, say):"
                    + " write the evidence with \"passed\": false and REASON, connect to nothing, exit 3")
    String restoreFailed;

    @Option(names = "--cannot-judge", paramLabel = "REASON",
            description = "drill-verify: the drill could not run (configuration, a missing tool): write the"
                    + " evidence with \"passed\": false and \"cannot judge: REASON\", connect to nothing, exit 1")
    String cannotJudge;

    @Option(names = "--backup-stop-lsn", paramLabel = "LSN", description = "drill-verify: the backup's stop LSN (evidence)")
    String backupStopLsn;

    @Option(names = "--backup-id", paramLabel = "ID", description = "drill-verify: the backup's id (evidence)")
    String backupId;

    @Option(names = "--backup-label", paramLabel = "LABEL", description = "drill-verify: the backup's label (evidence)")
    String backupLabel;

    @Option(names = "--backup-timeline", paramLabel = "N", description = "drill-verify: the backup's timeline (evidence)")
    Long backupTimeline;

    @Option(names = "--backup-system-identifier", paramLabel = "ID",
            description = "drill-verify: the backup's system identifier as its tool reports it; must be the ledger's")
    String backupSystemIdentifier;

    @Option(names = "--live-url", paramLabel = "URL",
            description = "drill-verify: the live database (read-only): the restored chain must be a prefix of its chain")
    String liveUrl;

    @Option(names = "--max-rpo", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "drill-verify: fail when the restore lacks the newest ledger entry recorded before now"
                    + " minus DURATION (e.g. 26h)")
    Duration maxRpo;

    @Option(names = "--recovery-target-time", paramLabel = "TIMESTAMP",
            description = "drill-verify: the PITR target the restore was asked for (ISO-8601 with offset)")
    OffsetDateTime recoveryTargetTime;

    @Option(names = "--recovery-target-lsn", paramLabel = "LSN", description = "drill-verify: the PITR target LSN")
    String recoveryTargetLsn;

    @Option(names = "--recovery-target-xid", paramLabel = "XID", description = "drill-verify: the PITR target XID")
    Long recoveryTargetXid;

    @Option(names = "--restore-seconds", paramLabel = "SECONDS",
            description = "drill-verify: how long the restore took (RTO evidence)")
    Double restoreSeconds;

    @Option(names = "--method", paramLabel = "NAME", defaultValue = "command",
            description = "drill-verify: the restore method, the metrics' method label (default: ${DEFAULT-VALUE})")
    String method;

    /** BackupSmoke's --report-dir, which --mode=report shares: report.json, report.json.sig, metrics.prom. */
    Path reportDir;

    /** The failure given instead of a restore to judge (--restore-failed, --cannot-judge), or null. */
    String unjudged() {
        if (cannotJudge != null) {
            return cannotJudge.startsWith(DrillVerify.CANNOT_JUDGE) ? cannotJudge : DrillVerify.CANNOT_JUDGE + cannotJudge;
        }
        return restoreFailed;
    }

    DrillJudge.Request request(Path ledger, String toolVersion) throws Failure {
        if (backupLabelFile != null) {
            BackupLabel label = BackupLabel.read(backupLabelFile);
            backupLsn = backupLsn != null ? backupLsn : label.startLsn();
            backupStart = backupStart != null ? backupStart : label.startTime().atOffset(java.time.ZoneOffset.UTC);
            backupLabel = backupLabel != null ? backupLabel : label.label();
            backupTimeline = backupTimeline != null ? backupTimeline : label.timeline();
        }
        if (backupControldata != null && backupSystemIdentifier == null) {
            backupSystemIdentifier = PhysicalModes.systemIdentifier(RunRecord.readText(backupControldata));
        }
        if (unjudged() == null && backupStart == null && backupLsn == null) {
            throw new Failure("--mode=drill-verify needs --backup-start=TIMESTAMP or --backup-lsn=LSN");
        }
        requireLsn("--backup-lsn", backupLsn);
        requireLsn("--backup-stop-lsn", backupStopLsn);
        requireLsn("--recovery-target-lsn", recoveryTargetLsn);
        return new DrillJudge.Request(ledger, toolVersion, method,
                new DrillJudge.Backup(backupId, backupLabel, instant(backupStart), backupLsn, backupStopLsn,
                        backupTimeline, backupSystemIdentifier),
                maxRpo, new DrillJudge.Target(instant(recoveryTargetTime), recoveryTargetLsn, recoveryTargetXid),
                restoreSeconds);
    }

    private static Instant instant(OffsetDateTime time) {
        return time == null ? null : time.toInstant();
    }

    private static void requireLsn(String flag, String lsn) throws Failure {
        if (lsn != null && !lsn.matches("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")) {
            throw new Failure(flag + " must be an LSN such as 0/3000148, got " + Failure.quoted(lsn));
        }
    }
}
