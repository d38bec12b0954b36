// Another program the tool runs (pg_dump, pg_isready, mvn, git, ...), the
// one way it is run: stdin from /dev/null (a program that would read it
// gets end-of-file at once instead of waiting for a terminal), stdout
// captured or read as it comes, stderr merged, discarded or inherited as
// the caller needs, and an optional deadline: the program must have exited
// and its stdout reached end-of-file by then, else the program and its
// descendants are killed and the run fails on time (a process it left
// behind that still holds stdout open lives on, its read abandoned). What
// cannot be run, overruns or is interrupted ends in a one-line Failure that
// names the program, as does output that cannot be read or kept; a non-zero
// exit is the caller's to judge (some only want the words, whatever the
// status), or a Failure through Outcome.succeeded.

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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

    /** Reads the program's stdout as it comes, to its end. */
    interface Output {
        void read(InputStream stdout) throws IOException;
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

    /** The program's environment is the tool's with MORE's variables added (or replaced). */
    Program environmentAdding(Map<String, String> more) {
        builder.environment().putAll(more);
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
        int status = readToTheEnd(stdout -> stdout.transferTo(captured));
        return new Outcome(name, status, captured.toString(StandardCharsets.UTF_8));
    }

    /** Runs the program to its end, its stdout read by OUTPUT as it comes (the outcome's text is empty). */
    Outcome runReading(Output output) throws Failure {
        return new Outcome(name, readToTheEnd(output), "");
    }

    /**
     * Starts the program, reads its stdout to the end with READER on a
     * thread of its own and waits for that and for the program's status,
     * within the limit when there is one. On overrun the program and its
     * descendants are killed and the run fails at once, even when something
     * the program left behind (no longer its descendant) still holds the pipe
     * open: that read is abandoned on its daemon thread.
     */
    private int readToTheEnd(Output reader) throws Failure {
        Process process = start();
        long endsAt = limit == null ? Long.MAX_VALUE : System.nanoTime() + limit.toNanos();
        try {
            Reading reading = Reading.start(process, reader, name);
            boolean readInTime = reading.endedBy(endsAt);
            if (readInTime) {
                reading.rethrow(); // before waiting: a program nobody reads any more may never end
            }
            if (!readInTime || !exitedBy(process, endsAt)) {
                throw new Failure(name + " did not finish within " + Deadline.describe(limit));
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while running " + name);
        } finally {
            killTree(process); // a program still running here overran or was interrupted
        }
    }

    private Process start() throws Failure {
        try {
            return builder.start();
        } catch (IOException e) {
            throw new Failure("cannot run " + name + ": " + e.getMessage());
        }
    }

    private static boolean exitedBy(Process process, long endsAt) throws InterruptedException {
        if (endsAt == Long.MAX_VALUE) {
            process.waitFor();
            return true;
        }
        return process.waitFor(Math.max(0, endsAt - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    /** The read of a program's stdout on a daemon thread, which owns the stream and what went wrong. */
    private static final class Reading {
        private final String name;
        private final Thread thread;
        private volatile IOException failed;

        private Reading(Process process, Output reader, String name) {
            this.name = name;
            this.thread = new Thread(() -> {
                try (InputStream stdout = process.getInputStream()) {
                    reader.read(stdout);
                } catch (IOException | UncheckedIOException e) {
                    failed = e instanceof UncheckedIOException unchecked ? unchecked.getCause() : (IOException) e;
                }
            }, "backupsmoke-read " + name);
            thread.setDaemon(true); // a read held open by an orphan must not keep the tool alive
        }

        static Reading start(Process process, Output reader, String name) {
            Reading reading = new Reading(process, reader, name);
            reading.thread.start();
            return reading;
        }

        /** True once the read has ended, waiting until ENDS_AT (System.nanoTime(); MAX_VALUE: no end). */
        boolean endedBy(long endsAt) throws InterruptedException {
            if (endsAt == Long.MAX_VALUE) {
                thread.join();
                return true;
            }
            long left = endsAt - System.nanoTime();
            if (left > 0) {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
            return !thread.isAlive();
        }

        /** The read's own failure: reading the pipe, or the caller's READER writing what it read. */
        void rethrow() throws Failure {
            if (failed != null) {
                throw new Failure("the output of " + name + " could not be read or kept: " + failed.getMessage());
            }
        }
    }

    /**
     * Kills PROCESS and its descendants (those first: they are no longer its
     * own once it is gone); one it left behind when it exited is not among them.
     */
    private static void killTree(Process process) {
        if (process.isAlive()) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }
}
