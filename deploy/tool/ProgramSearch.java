// Where a shell finds a program: the first folder of PATH that holds an
// executable file of that name. Knobs (is a method's program installed?) and
// HarnessPlan (which pg_dump will the harness run?) must agree with the shell
// that runs the harness, so both ask here.

import java.nio.file.Files;
import java.nio.file.Path;

final class ProgramSearch {
    private ProgramSearch() {
    }

    /**
     * The first executable PROGRAM in the folders of PATH_VALUE (colon-separated), or null.
     * An empty entry (a leading, doubled or trailing colon, or an empty PATH) is the
     * current folder, as POSIX specifies and bash and dash do; an unset PATH (null)
     * names no folder.
     */
    static Path find(String pathValue, String program) {
        if (pathValue == null) {
            return null;
        }
        for (String folder : pathValue.split(":", -1)) { // -1: keep a trailing empty entry
            Path candidate = Path.of(folder.isEmpty() ? "." : folder, program);
            if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
