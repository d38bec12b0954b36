// Program: the one way the tool runs another program, in process, on real
// `sh -c` children: the exit status and the output as written, stderr
// merged, discarded or not, stdin at end-of-file, a deadline that kills the
// program and what it started, and one line naming a program that cannot run.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgramTest {
    @TempDir Path temp;

    private static Program sh(String script) {
        return new Program("the script", List.of("sh", "-c", script));
    }

    @Test
    void theStatusAndTheOutputAreTheProgramsWhateverTheStatus() throws Exception {
        Program.Outcome outcome = sh("printf 'one\\ntwo\\n'; exit 3").run();
        assertEquals(3, outcome.status());
        assertEquals("one\ntwo\n", outcome.text());
        assertEquals(0, sh("true").run().status());
    }

    @Test
    void aNonZeroStatusFailsOnlyWhenTheCallerAsksForSuccess() throws Exception {
        Failure failed = assertThrows(Failure.class, () -> sh("exit 7").run().succeeded());
        assertEquals("the script failed (exit 7)", failed.getMessage());
        assertEquals("fine\n", sh("echo fine").run().succeeded().text());
    }

    @Test
    void stderrIsDiscardedUnlessMergedIntoTheOutput() throws Exception {
        String script = "echo out; echo err >&2";
        assertEquals("out\n", sh(script).run().text());
        assertEquals("out\n", sh(script).errors(Program.Errors.DISCARDED).run().text());
        assertEquals("out\nerr\n", sh(script).errors(Program.Errors.MERGED).run().text());
    }

    @Test
    void stdinIsAtEndOfFileSoAReaderDoesNotWait() throws Exception {
        assertEquals("0", sh("wc -c").run().text().strip());
    }

    @Test
    void theOutputIsReadAsItComesByTheCallersReader() throws Exception {
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        Program.Outcome outcome = sh("printf 'a\\n\\nb'; exit 2").runReading(stdout -> stdout.transferTo(read));
        assertEquals("a\n\nb", read.toString(StandardCharsets.UTF_8));
        assertEquals(2, outcome.status());
        assertEquals("", outcome.text());
    }

    @Test
    void theEnvironmentAndTheFolderAreTheCallersWhenGiven() throws Exception {
        Program program = new Program("the script", List.of("/bin/sh", "-c", "echo \"$ONLY:${HOME:-unset}\"; pwd"))
                .environment(Map.of("ONLY", "this")).in(temp);
        assertEquals("this:unset\n" + temp.toRealPath() + "\n", program.run().text());
    }

    @Test
    void theDeadlineKillsTheProgramAndWhatItStarted() throws Exception {
        Path pidFile = temp.resolve("sleeper.pid");
        long started = System.nanoTime();
        Failure overran = assertThrows(Failure.class, () -> sh("sleep 30 & echo $! > '" + pidFile + "'; wait")
                .within(Duration.ofMillis(500)).run());
        assertEquals("the script did not finish within 500ms", overran.getMessage());
        assertTrue(System.nanoTime() - started < Duration.ofSeconds(10).toNanos(), "waited for the sleeper");
        long sleeper = Long.parseLong(Files.readString(pidFile).strip());
        // SIGKILL takes effect a moment after it is sent: a sleeper still there after 5 s was not killed.
        ProcessHandle.of(sleeper).ifPresent(handle -> handle.onExit().orTimeout(5, TimeUnit.SECONDS).join());
        assertFalse(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false), "the sleeper lives on");
    }

    @Test
    void theDeadlineHoldsWhenWhatTheProgramLeftBehindKeepsItsOutputOpen() throws Exception {
        Path pidFile = temp.resolve("orphan.pid");
        long started = System.nanoTime();
        try {
            // sh exits after a second; its background sleep, no longer its child, holds stdout open. The
            // second lets the read block first: the JDK drains and closes the pipe of a program that exits
            // while nobody is reading it, and the orphan would then not be waited for at all.
            Failure overran = assertThrows(Failure.class, () -> sh("sleep 30 & echo $! > '" + pidFile
                    + "'; echo hi; sleep 1").within(Duration.ofSeconds(3)).run());
            assertEquals("the script did not finish within 3s", overran.getMessage());
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(10).toNanos(), "waited for the orphan");
        } finally {
            ProcessHandle.of(Long.parseLong(Files.readString(pidFile).strip())).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void outputTheCallerCannotKeepFailsWithoutClaimingTheProgramCouldNotRun() {
        Failure full = assertThrows(Failure.class, () -> sh("yes").runReading(stdout -> {
            throw new java.io.IOException("No space left on device");
        }));
        assertEquals("the output of the script could not be read or kept: No space left on device", full.getMessage());
    }

    @Test
    void aProgramWithinItsDeadlineEndsAsUsual() throws Exception {
        assertEquals("quick\n", sh("echo quick").within(Duration.ofSeconds(30)).run().succeeded().text());
    }

    @Test
    void aProgramThatCannotRunIsOneLineNamingIt() {
        Failure missing = assertThrows(Failure.class,
                () -> new Program("no-such-program", List.of(temp.resolve("no-such-program").toString())).run());
        assertEquals("cannot run no-such-program: Cannot run program \"" + temp.resolve("no-such-program")
                + "\": error=2, No such file or directory", missing.getMessage());
    }
}
