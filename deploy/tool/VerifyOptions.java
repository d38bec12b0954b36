// The flags of --mode=verify (SPEC section 9) besides the anchor
// (Expectations): the client's walk, the incremental checkpoint, and which
// findings fail the run; a picocli mixin of BackupSmoke's command line, with
// the verify mode itself.

import java.nio.file.Path;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

final class VerifyOptions {
    @Option(names = "--client-verify", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "verify: recompute every hash in Java and follow the chain by its links"
                    + " (default: on; --no-client-verify leaves only the server's verdict)")
    boolean clientVerify;

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

    /** Which findings of any snapshot make the run exit 3. */
    FatalVerdicts fatalVerdicts() {
        return new FatalVerdicts(failOnBreak, failOnAmbiguous, failOnUnhashed);
    }

    /** Both verdicts, the anchor and the fingerprint, read in one snapshot of the database; NOTE gets stderr's lines. */
    Snapshot verify(Connector connector, String schema, Expectations expectations, Consumer<String> note)
            throws Failure {
        ChainWalker.Expectation expectation = expectations.read();
        if (!clientVerify && expectation.isGiven()) {
            note.accept("--expect… is checked on the client's walk of the chain: it runs despite --no-client-verify");
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
        VerifyNotes.of(snapshot).forEach(note);
        return snapshot;
    }
}
