// The verify anchor flags of SPEC section 9.3, as one picocli argument group
// of BackupSmoke's command line. Their help texts are in usage.properties.

import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/** --expect-head / --expect-rows, or both at once from a snapshot with --expect; --expect-exact. */
final class Expectations {
    @Option(names = "--expect-head", paramLabel = "HASH")
    String head;

    @Option(names = "--expect-rows", paramLabel = "N")
    Long rows;

    @Option(names = "--expect", paramLabel = "FILE")
    Path snapshotFile;

    @Option(names = "--expect-exact")
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
