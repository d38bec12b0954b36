// The flags of --mode=verify (SPEC section 9) besides the anchor
// (Expectations): the client's walk, the incremental checkpoint, and which
// findings fail the run; a picocli mixin of BackupSmoke's command line, with
// the verify mode itself. Their help texts are in usage.properties.

import java.nio.file.Path;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

final class VerifyOptions {
    static final String MODE = "verify";

    @Option(names = "--client-verify", negatable = true, defaultValue = "true", fallbackValue = "true")
    boolean clientVerify;

    @Option(names = "--since", paramLabel = "FILE")
    Path since;

    @Option(names = "--full-server-verify")
    boolean fullServerVerify;

    @Option(names = "--fail-on-break")
    boolean failOnBreak;

    @Option(names = "--fail-on-ambiguous")
    boolean failOnAmbiguous;

    @Option(names = "--fail-on-unhashed")
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
