// The flags that name a file (FILE, PEM: --expect, --snapshot, --ledger, the
// keys, ...) must not name a FIFO, a device or a socket: opening a FIFO with
// no writer blocks, before any of the run's bounds (--timeout) is in force.
// Each is refused first, in one line. A missing file is left to the mode
// (some create it), and so is a folder (its reader says "Is a directory").
// A pipe the shell made is taken: process substitution (--signing-key=<(...),
// a key kept off the disk) and a piped /dev/stdin; opening one never waits.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

final class FileFlags {
    private FileFlags() {}

    /** "--FLAG FILE: not a regular file" for the first file flag of PARSED naming a FIFO, device or socket, or null. */
    static String notRegular(ParseResult parsed) {
        for (OptionSpec option : parsed.matchedOptions()) {
            if (namesAFile(option) && option.getValue() instanceof Path file && Files.exists(file)
                    && !Files.isRegularFile(file) && !Files.isDirectory(file) && !isAnonymousPipe(file)) {
                return option.longestName() + " " + file + ": not a regular file";
            }
        }
        return null;
    }

    /**
     * A pipe no folder holds (its /proc link reads "pipe:[N]", so it has no
     * real path): /dev/fd/N of process substitution, /dev/stdin fed by a
     * pipe. Linux opens such a pipe at once, writer or not, where a named
     * FIFO's open waits for a writer.
     */
    private static boolean isAnonymousPipe(Path file) {
        try {
            file.toRealPath();
            return false;
        } catch (IOException inNoFolder) {
            return true;
        }
    }

    /** A flag whose value is a file: a Path that is not a folder (DIR). */
    private static boolean namesAFile(OptionSpec option) {
        return option.type() == Path.class && !"DIR".equals(option.paramLabel());
    }
}
