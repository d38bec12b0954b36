// The checkpoint ledger flags of SPEC section 9.10, as one picocli argument
// group of BackupSmoke's command line (checkpoint and drill-verify). Their
// help texts are in usage.properties.

import java.nio.file.Path;
import picocli.CommandLine.Option;

final class LedgerOptions {
    @Option(names = "--ledger", paramLabel = "FILE")
    Path ledger;

    @Option(names = "--signing-key", paramLabel = "PEM")
    Path signingKey;

    @Option(names = "--verify-key", paramLabel = "PEM")
    Path verifyKey;

    Path requiredLedger(String mode) throws Failure {
        if (ledger == null) {
            throw new Failure("--mode=" + mode + " needs --ledger=FILE");
        }
        return ledger;
    }

    Ed25519Keys signingKeys() throws Failure {
        return signingKey == null ? null : Ed25519Keys.readPrivate(signingKey);
    }

    Ed25519Keys verifyKeys() throws Failure {
        return verifyKey == null ? null : Ed25519Keys.readPublic(verifyKey);
    }

    CheckpointRecorder.Request checkpointRequest(String schema) throws Failure {
        return new CheckpointRecorder.Request(requiredLedger("checkpoint"), schema, signingKeys(), verifyKeys());
    }
}
