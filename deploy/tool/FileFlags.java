// The flags that name a file (FILE, PEM: --expect, --snapshot, --ledger, the
// keys, ...) must not name a FIFO, a device or a socket: opening a FIFO with
// no writer blocks, before any of the run's bounds (--timeout) is in force.
// Each is refused first, in one line. A missing file is left to the mode
// (some create it), and so is a folder (its reader says "Is a directory").

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
                    && !Files.isRegularFile(file) && !Files.isDirectory(file)) {
                return option.longestName() + " " + file + ": not a regular file";
            }
        }
        return null;
    }

    /** A flag whose value is a file: a Path that is not a folder (DIR). */
    private static boolean namesAFile(OptionSpec option) {
        return option.type() == Path.class && !"DIR".equals(option.paramLabel());
    }
}
