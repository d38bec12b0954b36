// --mode=checkpoint (SPEC section 9.10): verify the whole live chain, check it
// extends the ledger's last entry, and append one entry to the ledger.

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

final class CheckpointRecorder {
    static final String MODE = "checkpoint";

    private CheckpointRecorder() {}

    /**
     * The ledger file; --schema (null: find it); the key to sign the new
     * entry with (null: unsigned); the key to check the ledger's signatures
     * with (the signing key's public half unless --verify-key is given).
     */
    record Request(Path ledger, String schema, Ed25519Keys signingKeys, Ed25519Keys verifyKeys) {
        Ed25519Keys checkingKeys() {
            return verifyKeys != null ? verifyKeys : signingKeys;
        }

        /**
         * With both keys, --verify-key must be --signing-key's public half:
         * else the line signed would not verify with it, and the next run
         * with the same flags would refuse the ledger it wrote as broken.
         */
        void requireOneKey() throws Failure {
            if (signingKeys != null && verifyKeys != null && !java.util.Arrays.equals(
                    signingKeys.publicKey().getEncoded(), verifyKeys.publicKey().getEncoded())) {
                throw new Failure("--verify-key is not the public key of --signing-key: the line signed would not"
                        + " verify with it, and every later check with it would refuse the ledger as broken");
            }
        }
    }

    /**
     * Under the ledger's lock: the ledger's own chain and signatures (and,
     * to sign, signatures on every line; not to sign, none), then
     * both verdicts on every row (the walk anchored at the last entry's
     * head), the catalog inventory of the audit schema, then the server's
     * position, read after the rows so every row counted was committed
     * before the recorded time and LSN. Nothing is written to the database:
     * every transaction is read-only.
     */
    static LedgerEntry run(Connector anyConnector, Request request) throws Failure {
        Connector connector = anyConnector.readOnly();
        request.requireOneKey();
        try (Ledger ledger = Ledger.openForAppend(request.ledger(), connector.deadline())) {
            ledger.check(request.checkingKeys());
            if (request.signingKeys() != null) {
                ledger.requireSignedThroughout();
            } else {
                ledger.requireUnsignedThroughout();
            }
            LedgerEntry last = ledger.last();
            AuditSchema schema = LedgerCheck.schemaOf(connector, request.schema());
            Snapshot snapshot = Verification.run(connector,
                    new Verification.Request(schema.name(), LedgerCheck.expectationOf(last), true));
            ObjectNode catalog = SemanticOracle.inventory(connector, schema.name());
            String catalogSha256 = LedgerEntry.catalogDigest(catalog);
            // The inventory itself only when it changed: else the ledger already holds it.
            boolean unchanged = last != null && catalogSha256.equals(last.catalogSha256())
                    && LedgerCheck.inventoryOf(ledger.entries(), last) != null;
            ServerPosition position = ServerPosition.read(connector);
            requireExtends(connector, schema, ledger.entries(), last, snapshot, position);
            long timeline = position.exactTimeline();
            LedgerEntry entry = new LedgerEntry(position.time(), position.systemIdentifier(), position.database(),
                    schema.name(), timeline, position.walLsn(), snapshot.rowCount(),
                    snapshot.chainHeadHash(), snapshot.rowCount() - 1, ledger.nextPrevDigest(),
                    snapshot.integrity() == null ? Map.of() : snapshot.integrity(), catalogSha256,
                    unchanged ? null : catalog, null);
            if (request.signingKeys() != null) {
                entry = entry.signedWith(request.signingKeys());
            }
            ledger.append(entry);
            return entry;
        }
    }

    /** Exit 3 naming the first reason the live chain is not the last entry's chain grown. */
    private static void requireExtends(Connector connector, AuditSchema schema, List<LedgerEntry> entries,
                                       LedgerEntry last, Snapshot snapshot, ServerPosition position) throws Failure {
        String live = "the live chain";
        if (last != null) {
            LedgerCheck.requireSameCluster("the server's", position.systemIdentifier(), entries, last);
            if (!last.database().equals(position.database()) || !last.schema().equals(schema.name())) {
                throw new Refusal("another database: this is database " + position.database() + " schema "
                        + schema.name() + ", the ledger records database " + last.database() + " schema "
                        + last.schema());
            }
        }
        LedgerCheck.requireCleanVerdicts(live, snapshot, entries, last);
        if (last != null && Boolean.FALSE.equals(snapshot.client().expectationsMet())) {
            Map<Long, String> hashes = ChainPositions.hashesAt(connector, schema,
                    LedgerCheck.positionsUpTo(entries, last));
            throw LedgerCheck.notHolding(live, snapshot.rowCount(), hashes, entries, last,
                    "rollback of the database");
        }
    }
}
