// How an sslpassword (the passphrase of an encrypted client key) reaches a
// libpq client without its command line, where ps shows it to every user:
// libpq reads it from no environment variable (PGSSLPASSWORD is the tool's
// own), but it reads a connection service file, named by PGSERVICEFILE and
// PGSERVICE. The harness writes one for its clients (--mode=knobs); the tool
// writes one of its own for each pg_dump it runs (TextOracle), in a folder
// only its user can enter, removed once pg_dump has ended.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/** A private service file for one client run; FOLDER is null when there is no secret to hand over. */
final class ServiceFile implements AutoCloseable {
    static final String NAME = "pg_service.conf";
    static final String SERVICE = "backupsmoke";

    private final Path folder;

    private ServiceFile(Path folder) {
        this.folder = folder;
    }

    /** TARGET's sslpassword in a service file of its own, in a new folder under PARENT; none without one. */
    static ServiceFile of(ConnectionTarget target, Path parent) throws Failure {
        return holding(target.driverOptions().get("sslpassword"), parent);
    }

    /** SSL_PASSWORD in a service file of its own, in a new folder under PARENT; none when it is null. */
    static ServiceFile holding(String sslPassword, Path parent) throws Failure {
        if (sslPassword == null) {
            return new ServiceFile(null);
        }
        Path folder;
        try {
            folder = Files.createTempDirectory(parent, "pg-service.",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new Failure("cannot make a folder for the connection service file in " + parent + ": "
                    + Failure.reasonAt(e, parent));
        }
        ServiceFile made = new ServiceFile(folder);
        try {
            write(folder, sslPassword);
        } catch (Failure unwritten) {
            made.close();
            throw unwritten;
        }
        return made;
    }

    /**
     * FOLDER/pg_service.conf, readable by its owner only: service backupsmoke with SSL_PASSWORD, which
     * cannot hold a line break (the file holds one value a line: the rest would be settings of its own)
     * nor end with white space (libpq drops it).
     */
    static Path write(Path folder, String sslPassword) throws Failure {
        if (sslPassword.indexOf('\n') >= 0) {
            throw new Failure("the sslpassword cannot hold a line break"
                    + " (a connection service file holds a value a line)");
        }
        if (endsWithWhiteSpace(sslPassword)) {
            throw new Failure("the sslpassword " + ENDING_WHITE_SPACE);
        }
        Path file = folder.resolve(NAME);
        try {
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, "[" + SERVICE + "]\nsslpassword=" + sslPassword + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Failure("cannot write the connection service file in " + folder);
        }
        return file;
    }

    /** Why an sslpassword may not end with white space (endsWithWhiteSpace): here, and where the harness reads it. */
    static final String ENDING_WHITE_SPACE = "cannot end with white space"
            + " (libpq drops the white space that ends a line of a connection service file)";

    /**
     * Whether VALUE ends with what libpq's service file reader drops at the end of a line (C's isspace): a
     * passphrase "secret " reached the client as "secret" (a password so given failed to log in).
     */
    static boolean endsWithWhiteSpace(String value) {
        return !value.isEmpty() && " \t\n\u000B\f\r".indexOf(value.charAt(value.length() - 1)) >= 0;
    }

    /** What the client's environment adds: PGSERVICEFILE and PGSERVICE naming this file; nothing without one. */
    Map<String, String> environment() {
        return folder == null ? Map.of()
                : Map.of("PGSERVICEFILE", folder.resolve(NAME).toString(), "PGSERVICE", SERVICE);
    }

    /** The file and its folder removed: the secret outlives no client run. */
    @Override
    public void close() {
        if (folder == null) {
            return;
        }
        try {
            Files.deleteIfExists(folder.resolve(NAME));
            Files.deleteIfExists(folder);
        } catch (IOException ignored) {
            // a folder left behind holds nothing but what only its owner reads; TMPDIR's cleanup takes it
        }
    }
}
