// Another program the tool runs (pg_dump, pg_isready, mvn, git, ...), the
// one way it is run: stdin from /dev/null (a program that would read it
// gets end-of-file at once instead of waiting for a terminal), stdout
// captured or read line by line, stderr merged, discarded or inherited as
// the caller needs, and an optional deadline after which the program and
// every process it started are killed. What cannot be run, overruns or is
// interrupted ends in a one-line Failure that names the program; a non-zero
// exit is the caller's to judge (some only want the words, whatever the
// status), or a Failure through Outcome.succeeded.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

final class Program {
    /** Where the program's stderr goes. */
    enum Errors {
        /** Into stdout, captured or read with it. */
        MERGED,
        /** Nowhere. */
        DISCARDED,
        /** The tool's own stderr: the program explains its failure to the operator itself. */
        INHERITED
    }

    /** How the program ended: its exit status and what it wrote (stdout, with stderr when MERGED). */
    record Outcome(String name, int status, String text) {
        /** This outcome when the status is 0; else "NAME failed (exit N)". */
        Outcome succeeded() throws Failure {
            if (status != 0) {
                throw new Failure(name + " failed (exit " + status + ")");
            }
            return this;
        }
    }

    /** Takes the program's stdout one line at a time (without its newline). */
    interface Lines {
        void accept(String line) throws IOException;
    }

    private final String name;
    private final ProcessBuilder builder;
    private Duration limit; // null: the program may take as long as it takes

    /** COMMAND (the program and its arguments), called NAME in messages; stderr discarded until said otherwise. */
    Program(String name, List<String> command) {
        this.name = name;
        this.builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
    }

    Program errors(Errors how) {
        switch (how) {
            case MERGED -> builder.redirectErrorStream(true);
            case DISCARDED -> builder.redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.DISCARD);
            case INHERITED -> builder.redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.INHERIT);
        }
        return this;
    }

    /** Kills the program (and what it started) when it has not ended within LIMIT. */
    Program within(Duration limit) {
        this.limit = limit;
        return this;
    }

    /** The program's whole environment is ENV (else it inherits the tool's). */
    Program environment(Map<String, String> env) {
        builder.environment().clear();
        builder.environment().putAll(env);
        return this;
    }

    /** The program runs in FOLDER (else in the tool's current folder). */
    Program in(Path folder) {
        builder.directory(folder.toFile());
        return this;
    }

    /** Runs the program to its end: its status and its output as text. */
    Outcome run() throws Failure {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status = runReading(stdout -> stdout.transferTo(captured));
        return new Outcome(name, status, captured.toString(StandardCharsets.UTF_8));
    }

    /** Runs the program to its end, each line of its stdout to EACH as it comes (the outcome's text is empty). */
    Outcome runLines(Lines each) throws Failure {
        int status = runReading(stdout -> {
            BufferedReader reader = new BufferedReader(new InputStreamReader(stdout, StandardCharsets.UTF_8));
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                each.accept(line);
            }
        });
        return new Outcome(name, status, "");
    }

    private interface Reader {
        void read(InputStream stdout) throws IOException;
    }

    /**
     * Starts the program, reads its stdout to the end with READER and waits
     * for its status. The deadline kills the program's process tree, which
     * closes the pipe, so the read ends too; a program left running by a
     * failure here is killed the same way.
     */
    private int runReading(Reader reader) throws Failure {
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new Failure("cannot run " + name + ": " + e.getMessage());
        }
        AtomicBoolean overran = new AtomicBoolean();
        CompletableFuture<Void> deadline = limit == null ? new CompletableFuture<>()
                : CompletableFuture.runAsync(() -> overran.set(killTree(process)),
                        CompletableFuture.delayedExecutor(limit.toMillis(), TimeUnit.MILLISECONDS));
        try (InputStream stdout = process.getInputStream()) {
            reader.read(stdout);
            int status = process.waitFor();
            if (overran.get()) {
                throw new Failure(name + " did not finish within " + Deadline.describe(limit));
            }
            return status;
        } catch (IOException e) {
            throw new Failure("cannot run " + name + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while running " + name);
        } finally {
            deadline.cancel(false); // a cancelled delayed task never runs
            killTree(process);
        }
    }

    /** Kills PROCESS and its descendants (those first: they are no longer its own once it is gone); true if it ran. */
    private static boolean killTree(Process process) {
        if (!process.isAlive()) {
            return false;
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        return true;
    }
}
