// The checkpoint ledger flags of SPEC section 9.10, as one picocli argument
// group of BackupSmoke's command line (checkpoint and drill-verify).

import java.nio.file.Path;
import picocli.CommandLine.Option;

final class LedgerOptions {
    @Option(names = "--ledger", paramLabel = "FILE",
            description = "checkpoint, drill-verify: the checkpoint ledger, one JSON line per checkpoint"
                    + " (checkpoint creates it when missing)")
    Path ledger;

    @Option(names = "--signing-key", paramLabel = "PEM",
            description = "an Ed25519 private key (openssl genpkey -algorithm ed25519): checkpoint signs the new"
                    + " entry, drill-verify signs report.json; the ledger's signatures are checked with its public key")
    Path signingKey;

    @Option(names = "--verify-key", paramLabel = "PEM",
            description = "an Ed25519 public key (openssl pkey -pubout) to check the ledger's signatures with"
                    + " (instead of --signing-key's)")
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
