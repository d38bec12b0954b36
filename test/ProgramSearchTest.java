// ProgramSearch: the PATH search Knobs and HarnessPlan share, in process, on
// folders made here: the first executable wins, and an empty PATH entry is the
// current folder, as in a POSIX shell.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgramSearchTest {
    @TempDir Path temp;

    private Path program(String folder, String permissions) throws Exception {
        Path file = Files.createDirectories(temp.resolve(folder)).resolve("tool");
        Files.writeString(file, "#!/bin/sh\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions));
        return file;
    }

    @Test
    void theFirstFolderHoldingAnExecutableWinsAndANonExecutableFileIsPassedOver() throws Exception {
        program("plain", "rw-------");
        Path first = program("first", "rwx------");
        program("second", "rwx------");
        String path = temp.resolve("missing") + ":" + temp.resolve("plain") + ":" + temp.resolve("first") + ":"
                + temp.resolve("second");
        assertEquals(first, ProgramSearch.find(path, "tool"));
    }

    @Test
    void aFolderOfTheProgramsNameIsNotTheProgram() throws Exception {
        Files.createDirectories(temp.resolve("bin/tool"));
        assertNull(ProgramSearch.find(temp.resolve("bin").toString(), "tool"));
    }

    @Test
    void anEmptyEntryIsTheCurrentFolderWhereverItStands() {
        // The tests run from the repository root, which holds deploy/bin/backupsmoke.
        Path here = Path.of(".", "deploy/bin/backupsmoke");
        String elsewhere = temp.resolve("missing").toString();
        assertEquals(here, ProgramSearch.find("", "deploy/bin/backupsmoke"));
        assertEquals(here, ProgramSearch.find(":" + elsewhere, "deploy/bin/backupsmoke"));
        assertEquals(here, ProgramSearch.find(elsewhere + "::" + elsewhere, "deploy/bin/backupsmoke"));
        assertEquals(here, ProgramSearch.find(elsewhere + ":", "deploy/bin/backupsmoke"));
    }

    @Test
    void anUnsetPathNamesNoFolderAndAMissingProgramIsNull() {
        assertNull(ProgramSearch.find(null, "deploy/bin/backupsmoke"));
        assertNull(ProgramSearch.find(temp.toString(), "no-such-program"));
    }
}
