// The flags of --mode=drill-verify (SPEC section 9.10), as one picocli argument
// group of BackupSmoke's command line: what the harness (or an operator)
// knows about the backup that was restored, and where the evidence goes.
// Their help texts are in usage.properties.

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import picocli.CommandLine.Option;

final class DrillOptions {
    @Option(names = "--backup-start", paramLabel = "TIMESTAMP")
    OffsetDateTime backupStart;

    @Option(names = "--backup-lsn", paramLabel = "LSN")
    String backupLsn;

    @Option(names = "--backup-label-file", paramLabel = "FILE")
    Path backupLabelFile;

    @Option(names = "--backup-controldata", paramLabel = "FILE")
    Path backupControldata;

    @Option(names = "--restore-log", paramLabel = "FILE")
    Path restoreLog;

    @Option(names = "--restore-failed", paramLabel = "REASON")
    String restoreFailed;

    @Option(names = "--cannot-judge", paramLabel = "REASON")
    String cannotJudge;

    @Option(names = "--backup-stop-lsn", paramLabel = "LSN")
    String backupStopLsn;

    @Option(names = "--backup-id", paramLabel = "ID")
    String backupId;

    @Option(names = "--backup-label", paramLabel = "LABEL")
    String backupLabel;

    @Option(names = "--backup-timeline", paramLabel = "N")
    Long backupTimeline;

    @Option(names = "--backup-system-identifier", paramLabel = "ID")
    String backupSystemIdentifier;

    @Option(names = "--live-url", paramLabel = "URL")
    String liveUrl;

    @Option(names = "--max-rpo", paramLabel = "DURATION", converter = DurationConverter.class)
    Duration maxRpo;

    @Option(names = "--recovery-target-time", paramLabel = "TIMESTAMP")
    OffsetDateTime recoveryTargetTime;

    @Option(names = "--recovery-target-lsn", paramLabel = "LSN")
    String recoveryTargetLsn;

    @Option(names = "--recovery-target-xid", paramLabel = "XID")
    Long recoveryTargetXid;

    @Option(names = "--restore-seconds", paramLabel = "SECONDS")
    Double restoreSeconds;

    @Option(names = "--method", paramLabel = "NAME", defaultValue = "command")
    String method;

    /** BackupSmoke's --report-dir, which --mode=report shares: report.json, report.json.sig, metrics.prom. */
    Path reportDir;

    /** BackupSmoke's --schema, which workload, verify and checkpoint share: the audit schema judged, or null. */
    String schema;

    /** The failure given instead of a restore to judge (--restore-failed, --cannot-judge), or null. */
    String unjudged() {
        if (cannotJudge != null) {
            String reason = orUnnamed(cannotJudge, "no reason given");
            return reason.startsWith(DrillVerify.CANNOT_JUDGE) ? reason : DrillVerify.CANNOT_JUDGE + reason;
        }
        return restoreFailed == null ? null : orUnnamed(restoreFailed, "the restore failed (no reason given)");
    }

    /** An empty REASON is still a failure: the evidence and the line say UNNAMED instead of nothing. */
    private static String orUnnamed(String reason, String unnamed) {
        return reason.isBlank() ? unnamed : reason;
    }

    DrillJudge.Request request(Path ledger, String toolVersion) throws Failure {
        if (backupLabelFile != null) {
            BackupLabel label = BackupLabel.read(backupLabelFile);
            backupLsn = backupLsn != null ? backupLsn : label.startLsn();
            backupStart = backupStart != null ? backupStart : label.startTime() == null ? null
                    : label.startTime().atOffset(java.time.ZoneOffset.UTC);
            backupLabel = backupLabel != null ? backupLabel : label.label();
            backupTimeline = backupTimeline != null ? backupTimeline : label.timeline();
        }
        if (restoreLog != null) {
            // The restore's own word, over --backup-id: an id given is the one restored (pgBackRest and Barman
            // restore the set named or none), a shortcut (Barman's last, oldest) or a name is what it resolved to.
            String restored = RestoreOutput.backupId(restoreLog);
            backupId = restored != null ? restored : backupId;
        }
        if (backupControldata != null && backupSystemIdentifier == null) {
            backupSystemIdentifier = PhysicalModes.systemIdentifier(
                    RunRecord.readGiven(backupControldata, "--backup-controldata"));
        }
        if (unjudged() == null && backupStart == null && backupLsn == null) {
            throw new Failure("--mode=drill-verify needs --backup-start=TIMESTAMP or --backup-lsn=LSN");
        }
        requireLsn("--backup-lsn", backupLsn);
        requireLsn("--backup-stop-lsn", backupStopLsn);
        requireLsn("--recovery-target-lsn", recoveryTargetLsn);
        if (backupTimeline != null && backupTimeline < 1) {
            throw new Failure("--backup-timeline must be 1 or more, got " + backupTimeline);
        }
        if (restoreSeconds != null && !restoreSecondsInRange()) {
            throw new Failure("--restore-seconds must be a number of seconds, 0 or more, got " + restoreSeconds);
        }
        return requestAsGiven(ledger, toolVersion);
    }

    /**
     * The request with the backup's facts as given and read so far, nothing
     * read: the evidence of a drill whose backup's files or flags could not
     * be read (DrillVerify), instead of none; a --restore-seconds out of
     * range is left out.
     */
    DrillJudge.Request requestAsGiven(Path ledger, String toolVersion) {
        Double seconds = restoreSeconds != null && restoreSecondsInRange() ? restoreSeconds : null;
        return new DrillJudge.Request(ledger, toolVersion, method,
                new DrillJudge.Backup(backupId, backupLabel, instant(backupStart), backupLsn, backupStopLsn,
                        backupTimeline, backupSystemIdentifier),
                maxRpo, new DrillJudge.Target(instant(recoveryTargetTime), recoveryTargetLsn, recoveryTargetXid),
                seconds, schema);
    }

    private boolean restoreSecondsInRange() {
        return restoreSeconds >= 0 && restoreSeconds < Double.POSITIVE_INFINITY;
    }

    private static Instant instant(OffsetDateTime time) {
        return time == null ? null : time.toInstant();
    }

    private static void requireLsn(String flag, String lsn) throws Failure {
        if (lsn != null && !LedgerEntry.LSN.matcher(lsn).matches()) {
            throw new Failure(flag + " must be an LSN such as 0/3000148, got " + Failure.quoted(lsn));
        }
    }
}
