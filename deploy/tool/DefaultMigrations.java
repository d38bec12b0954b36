// Where the migrations are when --migrations-path is not given and there is
// no ./migrations: the migrations/ folder next to BackupSmoke.java, so the
// tool and its catalog alias work from any working directory.

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;

final class DefaultMigrations {
    private DefaultMigrations() {}

    /** Set to BackupSmoke.java's path by launchers that know it (deploy/bin/backupsmoke; JBang itself may). */
    static final String SOURCE_PROPERTY = "jbang.source";

    /** The folder BackupSmoke.java's //FILES line bundles the migrations into. */
    static final String BUNDLED = "migrations";

    /**
     * GIVEN (--migrations-path), else ./migrations when it exists, else the
     * migrations folder next to BackupSmoke.java, so the tool and its alias
     * work from any folder.
     */
    static Path folder(Path given) throws Failure {
        if (given != null) {
            return given;
        }
        Path here = Path.of(BUNDLED);
        if (Files.isDirectory(here)) {
            return here;
        }
        return besideTheScript();
    }

    /**
     * The live folder when the launcher said where the script is; otherwise
     * the copy JBang bundled into the build from next to the script (JBang
     * rebuilds when one of those files changes, is added or removed).
     */
    static Path besideTheScript() throws Failure {
        String source = System.getProperty(SOURCE_PROPERTY);
        if (source != null && !source.isBlank() && !source.contains("://")) {
            Path folder = Path.of(source).toAbsolutePath().resolveSibling(BUNDLED);
            if (Files.isDirectory(folder)) {
                return folder;
            }
        }
        return bundled();
    }

    private static Path bundled() throws Failure {
        Path build;
        try {
            build = Path.of(DefaultMigrations.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            throw notFound();
        }
        if (Files.isDirectory(build)) {
            Path folder = build.resolve(BUNDLED);
            if (Files.isDirectory(folder)) {
                return folder;
            }
            throw notFound();
        }
        try {
            // Left open: the runner reads from it until the process ends.
            FileSystem jar = FileSystems.newFileSystem(build);
            Path folder = jar.getPath("/" + BUNDLED);
            if (Files.isDirectory(folder)) {
                return folder;
            }
        } catch (IOException | UnsupportedOperationException e) {
            // Not a jar: fall through to the message.
        }
        throw notFound();
    }

    private static Failure notFound() {
        return new Failure("migrations directory not found: no ./migrations here and none next to BackupSmoke.java;"
                + " give --migrations-path");
    }
}
