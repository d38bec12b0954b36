// The verify anchor flags of SPEC section 9.3, as one picocli argument group
// of BackupSmoke's command line.

import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/** --expect-head / --expect-rows, or both at once from a snapshot with --expect; --expect-exact. */
final class Expectations {
    @Option(names = "--expect-head", paramLabel = "HASH",
            description = "the chain head recorded before the backup: it must be the hash of the row at"
                    + " position rows-1 (or anywhere in the chain without --expect-rows)")
    String head;

    @Option(names = "--expect-rows", paramLabel = "N",
            description = "the number of rows recorded before the backup: the chain must still hold them")
    Long rows;

    @Option(names = "--expect", paramLabel = "FILE",
            description = "a snapshot of a clean chain (workload, or a clean verify): its chain_head_hash"
                    + " and row_count (flags above win); its integrity fingerprint, when it holds one, must"
                    + " still hold (each trigger and function present, in the same state, with the same definition)")
    Path snapshotFile;

    @Option(names = "--expect-exact",
            description = "the chain holds exactly the expected rows, the expected head as its last row"
                    + " (not a chain that grew since), e.g. for a point-in-time restore")
    boolean exact;

    boolean isGiven() {
        return head != null || rows != null || snapshotFile != null;
    }

    /** The integrity fingerprint of the --expect snapshot; null without --expect or when it holds none. */
    Map<String, String> fingerprint() throws Failure {
        return snapshotFile == null ? null : AnchorFile.read(snapshotFile).integrity();
    }

    ChainWalker.Expectation read() throws Failure {
        String expectedHead = head;
        Long expectedRows = rows;
        if (snapshotFile != null) {
            AnchorFile anchor = AnchorFile.read(snapshotFile);
            expectedHead = expectedHead != null ? expectedHead : anchor.head();
            expectedRows = expectedRows != null ? expectedRows : anchor.rows();
        }
        if (expectedRows != null && expectedRows < 0) {
            throw new Failure("--expect-rows must be 0 or more, got " + expectedRows);
        }
        if (expectedHead != null && !expectedHead.matches("([0-9a-f]{64})?")) {
            throw new Failure("--expect-head must be a chain head: 64 lowercase hex digits (or empty for an"
                    + " empty chain), got " + Failure.quoted(expectedHead));
        }
        return new ChainWalker.Expectation(expectedHead, expectedRows, exact);
    }
}
