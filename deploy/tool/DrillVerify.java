// --mode=drill-verify as a whole (SPEC section 9.10): judge the restored
// database, write the evidence, print report.json, and say the exit code.

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

final class DrillVerify {
    static final String MODE = "drill-verify";

    private DrillVerify() {}

    static final String CANNOT_JUDGE = "cannot judge: ";

    /**
     * 0 when every verdict passed, 3 when one failed (Refusal.EXIT). When
     * the judge cannot judge (exit 1), the report still says so, with
     * "passed": false, before the failure is reported: also when the
     * backup's files or a key cannot be read, so the last run's report
     * never stays in the report folder as this one's.
     */
    static int run(Connector restored, LedgerOptions ledgerOptions, DrillOptions options, String toolVersion,
                   Map<String, String> environment) throws Failure {
        Path ledger = ledgerOptions.requiredLedger("drill-verify");
        Instant now = Instant.now();
        Ed25519Keys signingKeys = null; // unreadable: the report goes out unsigned, and nothing is judged
        DrillJudge.Request request = null;
        DrillJudge.Findings findings;
        try {
            signingKeys = ledgerOptions.signingKeys();
            request = options.request(ledger, toolVersion);
            findings = judge(restored, ledgerOptions, options, request, signingKeys, environment, now);
        } catch (Failure cannotJudge) {
            publishUnjudged(cannotJudge.getMessage(), request, ledger, toolVersion, signingKeys, options, now);
            throw cannotJudge;
        } catch (RuntimeException unexpected) {
            // A bug must not leave the last run's passing evidence as this run's: it says it could not judge.
            publishUnjudged("unexpected error: " + unexpected, request, ledger, toolVersion, signingKeys, options, now);
            throw unexpected;
        }
        publish(request, findings, signingKeys, options, now, System.out);
        return findings.passed() ? 0 : Refusal.EXIT;
    }

    /** The evidence of a drill that could not be judged for REASON; the request as given when none was made. */
    private static void publishUnjudged(String reason, DrillJudge.Request request, Path ledger, String toolVersion,
                                        Ed25519Keys signingKeys, DrillOptions options, Instant now) throws Failure {
        DrillJudge.Findings unjudged = new DrillJudge.Findings();
        unjudged.failure = reason.startsWith(CANNOT_JUDGE) ? reason : CANNOT_JUDGE + reason;
        publish(request != null ? request : options.requestAsGiven(ledger, toolVersion), unjudged, signingKeys,
                options, now, System.out);
    }

    private static DrillJudge.Findings judge(Connector restored, LedgerOptions ledgerOptions, DrillOptions options,
                                             DrillJudge.Request request, Ed25519Keys signingKeys,
                                             Map<String, String> environment, Instant now) throws Failure {
        Ed25519Keys verifyKeys = ledgerOptions.verifyKeys();
        Connector live = options.liveUrl == null ? null : new Connector(
                ConnectionTarget.parse("--live-url", options.liveUrl, environment), restored.connectTimeoutSeconds(),
                restored.deadline());
        return DrillJudge.judge(restored, live, request, verifyKeys != null ? verifyKeys : signingKeys, now);
    }

    /** --signing-key, or null with a warning when it cannot be read: the report then goes out unsigned. */
    private static Ed25519Keys reportKeys(LedgerOptions ledgerOptions) {
        try {
            return ledgerOptions.signingKeys();
        } catch (Failure unreadable) {
            System.err.println(FailureReport.PREFIX + "warning: report.json is not signed: " + unreadable.getMessage());
            return null;
        }
    }

    /**
     * --restore-failed or --cannot-judge: the evidence of a drill that
     * failed before there was a restored server to judge, without
     * connecting to anything; exit 3 (the restore failed) or 1.
     */
    static int unjudged(LedgerOptions ledgerOptions, DrillOptions options, String toolVersion) throws Failure {
        return unjudged(ledgerOptions, options, toolVersion, System.out);
    }

    /**
     * The same, with report.json printed to OUT. Backup facts that cannot be
     * read make it a drill that cannot be judged (exit 1, their line), whose
     * evidence is still written with the facts as given.
     */
    static int unjudged(LedgerOptions ledgerOptions, DrillOptions options, String toolVersion, PrintStream out)
            throws Failure {
        DrillJudge.Request request;
        DrillJudge.Findings findings = new DrillJudge.Findings();
        Failure unreadableFacts = null;
        try {
            request = options.request(ledgerOptions.ledger, toolVersion);
            findings.failure = options.unjudged();
        } catch (Failure given) {
            unreadableFacts = given;
            request = options.requestAsGiven(ledgerOptions.ledger, toolVersion);
            findings.failure = CANNOT_JUDGE + given.getMessage();
        }
        if (request.ledger() != null) {
            try {
                findings.entryCount = Ledger.read(request.ledger()).entries().size();
            } catch (Failure unreadable) {
                // the failure given is the report's; an unreadable ledger counts no entries
            }
        }
        publish(request, findings, reportKeys(ledgerOptions), options, Instant.now(), out);
        if (unreadableFacts != null) {
            throw unreadableFacts;
        }
        if (findings.failure.startsWith(CANNOT_JUDGE)) {
            throw new Failure(findings.failure);
        }
        return Refusal.EXIT;
    }

    private static void publish(DrillJudge.Request request, DrillJudge.Findings findings, Ed25519Keys signingKeys,
                                DrillOptions options, Instant now, PrintStream out) throws Failure {
        String report = DrillEvidence.reportJson(request, findings, now);
        if (options.reportDir != null) {
            DrillEvidence.write(options.reportDir, report, signingKeys,
                    DrillEvidence.metrics(request.method(), findings.passed(), now, request.restoreSeconds(),
                            findings.rpo));
        }
        out.print(report);
        out.flush();
        if (!findings.passed() && !findings.failure.startsWith(CANNOT_JUDGE)) {
            System.err.println(FailureReport.PREFIX + FailureReport.oneLine(findings.failure));
        }
    }
}
