// FileFlags: a flag naming a file (--expect, --snapshot, --continuity, the
// oracle documents, --ledger, the keys) given a FIFO with no writer or a
// device is refused in one line, exit 1, before anything opens it: opening
// the FIFO once blocked for good, --timeout or not. In process, no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileFlagsTest {
    @TempDir Path temp;

    /** A FIFO in the test's folder that nothing ever writes to. */
    private Path fifo() {
        Path fifo = temp.resolve("fifo");
        assertEquals(0, Support.run(List.of("mkfifo", fifo.toString()), Map.of(), temp, 30).exit());
        return fifo;
    }

    /** The tool's answer to ARGS, which must come well within a blocked read's reach. */
    private static Support.Result answered(String... args) {
        return assertTimeoutPreemptively(Duration.ofSeconds(30), () -> Support.tool(args));
    }

    @Test
    void aFifoGivenToAFileFlagIsRefusedBeforeItIsOpened() {
        Path fifo = fifo();
        String url = "--db-url=" + Support.url("postgres");
        Path ledger = temp.resolve("ledger");
        List<List<String>> runs = List.of(
                List.of("--mode=verify", url, "--timeout=2s", "--expect=" + fifo),
                List.of("--mode=verify", url, "--since=" + fifo),
                List.of("--mode=judge", "--expect=" + fifo, "--snapshot=" + temp.resolve("post.json")),
                List.of("--mode=judge", "--expect=" + temp.resolve("expected.json"), "--snapshot=" + fifo),
                List.of("--mode=judge", "--expect=" + temp.resolve("expected.json"), "--continuity=" + fifo),
                List.of("--mode=judge", "--oracle-source=" + fifo, "--oracle-restored=" + temp.resolve("o")),
                List.of("--mode=checkpoint", url, "--ledger=" + fifo),
                List.of("--mode=checkpoint", url, "--ledger=" + ledger, "--signing-key=" + fifo),
                List.of("--mode=drill-verify", "--ledger=" + ledger, "--restore-failed=x", "--verify-key=" + fifo));
        for (List<String> run : runs) {
            String flag = run.stream().filter(arg -> arg.endsWith("=" + fifo)).findFirst().orElseThrow()
                    .replace("=" + fifo, "");
            assertEquals("", Support.assertRefused(1, flag + " " + fifo + ": not a regular file",
                    answered(run.toArray(String[]::new))).out());
        }
    }

    @Test
    void aDeviceIsNoFileEither() {
        Support.assertRefused(1, "--expect /dev/null: not a regular file",
                answered("--mode=judge", "--expect=/dev/null", "--snapshot=" + temp.resolve("post.json")));
    }

    /**
     * A pipe the shell makes is read as the file it stands for: process substitution for --expect (as for a
     * key kept off the disk), a piped /dev/stdin for the snapshot. The same judgement as from files.
     */
    @Test
    @org.junit.jupiter.api.Tag("e2e")
    void aPipeTheShellMakesIsTaken() throws Exception {
        Path snapshot = Support.write(temp.resolve("post.json"), Support.toolOk("--mode=verify",
                "--db-url=" + Support.url(Support.migratedWithWorkload(24))).out());
        String judge = Support.LAUNCHER + " --mode=judge --expect=<(cat " + snapshot + ") --snapshot=/dev/stdin <"
                + " <(cat " + snapshot + ")";
        var piped = Support.run(List.of("bash", "-c", judge), Map.of(), temp, 60);
        var fromFiles = Support.launched(Map.of(), "--mode=judge", "--expect=" + snapshot, "--snapshot=" + snapshot);
        assertEquals(0, piped.exit(), piped.describe());
        assertEquals("{\"verdict\":\"pass\",\"reason\":null,\"say\":[]}\n", fromFiles.out());
        assertEquals(fromFiles.out(), piped.out());
        assertEquals("", piped.err());
    }
}
