// The migration runner of SPEC section 5: applies the *.up.sql files of a
// folder in lexical order, once each, recorded in schema_migrations, under
// an advisory lock so concurrent runners queue instead of racing.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.postgresql.util.PSQLException;

/** Applies *.up.sql files in lexical order, once each, under an advisory lock (SPEC section 5). */
final class MigrationRunner {
    static final long ADVISORY_LOCK_KEY = 7283164759461502341L;

    /**
     * Simple query mode sends a file as one Query message, so the server runs it
     * the way it runs any multi-statement string: atomically unless the file
     * itself says BEGIN/COMMIT.
     */
    static final Map<String, String> CONNECTION_PROPERTIES = Map.of("preferQueryMode", "simple");

    private final Path folder;

    MigrationRunner(Path folder) {
        this.folder = folder;
    }

    /** The runner's own ledger of applied migrations (SPEC 5). */
    static final String LEDGER_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations ("
            + "version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())";

    void run(Connection connection, Deadline deadline) throws Failure {
        List<Path> files = upMigrations();
        try (connection) {
            execute(connection, "SELECT pg_advisory_lock(" + ADVISORY_LOCK_KEY + ")", deadline, "taking the migration lock");
            refuseForeignLedger(connection, deadline);
            execute(connection, LEDGER_TABLE, deadline, "creating the schema_migrations ledger");
            Set<String> applied = appliedVersions(connection, deadline);
            putPgcryptoOnThePath(connection, deadline);
            UnaryOperator<String> toSend = commentsTheDatabaseCanHold(connection, deadline);
            List<String> appliedNow = new ArrayList<>();
            for (Path file : files) {
                String version = file.getFileName().toString();
                if (!applied.contains(version)) {
                    apply(connection, file, version, toSend, appliedNow, deadline);
                    appliedNow.add(version);
                }
            }
            execute(connection, "SELECT pg_advisory_unlock(" + ADVISORY_LOCK_KEY + ")", deadline, "releasing the migration lock");
        } catch (SQLException e) {
            throw deadline.failure("closing the migration connection", e);
        }
    }

    /**
     * Regular files ending in .up.sql, sorted by file name; everything else is
     * ignored. A folder without any is a wrong path, not a migrated schema.
     */
    List<Path> upMigrations() throws Failure {
        if (Files.exists(folder) && !Files.isDirectory(folder)) {
            throw new Failure("migrations directory " + folder + " is a file: point at the folder that holds it");
        }
        if (!Files.isDirectory(folder)) {
            throw new Failure("migrations directory not found: " + folder);
        }
        List<Path> files;
        try (Stream<Path> entries = Files.list(folder)) {
            files = entries
                    .filter(Files::isRegularFile)
                    .filter(path -> path.getFileName().toString().endsWith(".up.sql"))
                    .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                    .toList();
        } catch (IOException e) {
            throw new Failure("cannot list migrations directory " + folder + ": " + Failure.reason(e));
        }
        if (files.isEmpty()) {
            throw new Failure("migrations directory " + folder + " holds no *.up.sql files: point --migrations-path"
                    + " (MIGRATIONS_PATH for the harness) at the folder with your migrations");
        }
        return files;
    }

    /** The columns of our ledger, as format_type names them. */
    static final String OUR_LEDGER_COLUMNS = "version text, applied_at timestamp with time zone";
    /** golang-migrate's ledger, the one the original Go tool's users are most likely to meet. */
    static final String GOLANG_MIGRATE_COLUMNS = "version bigint, dirty boolean";

    /**
     * A schema_migrations table written by another tool (golang-migrate keeps
     * one version number and a dirty flag) would make every file look new:
     * the runner would re-run 000001 over a migrated schema. Refuse before
     * running anything.
     */
    private static void refuseForeignLedger(Connection connection, Deadline deadline) throws Failure {
        String columns;
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("""
                     SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                     FROM pg_attribute a
                     WHERE a.attrelid = to_regclass('schema_migrations') AND a.attnum > 0 AND NOT a.attisdropped
                     """)) {
            result.next();
            columns = result.getString(1);
        } catch (SQLException e) {
            throw deadline.failure("reading the columns of schema_migrations", e);
        }
        if (columns == null || columns.equals(OUR_LEDGER_COLUMNS)) {
            return;
        }
        String whose = columns.equals(GOLANG_MIGRATE_COLUMNS) ? "golang-migrate's ledger" : "another tool's ledger";
        throw new Failure("schema_migrations in this database is " + whose + " (" + columns + "), not BackupSmoke's ("
                + OUR_LEDGER_COLUMNS + "); nothing was run: migrate this database with that tool and use"
                + " --mode=verify, or run the workload on a fresh database");
    }

    private Set<String> appliedVersions(Connection connection, Deadline deadline) throws Failure {
        try {
            return versionsIn(connection, "schema_migrations");
        } catch (SQLException e) {
            throw deadline.failure("reading schema_migrations", e);
        }
    }

    /** The versions LEDGER (schema_migrations, on the path or qualified) records. */
    static Set<String> versionsIn(Connection connection, String ledger) throws SQLException {
        Set<String> versions = new HashSet<>();
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("SELECT version::pg_catalog.text FROM " + ledger)) {
            while (result.next()) {
                versions.add(result.getString(1));
            }
        }
        return versions;
    }

    /**
     * 000003 calls pgcrypto's digest() unqualified. When another schema of
     * this database got pgcrypto first (an earlier --schema), CREATE
     * EXTENSION IF NOT EXISTS leaves it there, and migrating a second schema
     * failed half-way on "function digest(bytea, unknown) does not exist".
     * The migrations may not be edited, so the runner appends pgcrypto's
     * schema to the path, after the schema being migrated: objects are still
     * created in, and found first in, that one. (From 000008 on our functions
     * use the built-in sha256() and need pgcrypto no more.)
     */
    static void putPgcryptoOnThePath(Connection connection, Deadline deadline) throws Failure {
        execute(connection, """
                SELECT pg_catalog.set_config('search_path',
                       pg_catalog.current_setting('search_path') || ', ' || pg_catalog.quote_ident(n.nspname), false)
                FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                WHERE e.extname = 'pgcrypto' AND n.nspname <> ALL (pg_catalog.current_schemas(true))
                """, deadline, "looking for the schema of pgcrypto");
    }

    /**
     * The driver sends UTF-8 and the server converts the whole script to the
     * database's encoding: one character of a comment it has no equivalent
     * for (the "…" in 000007's) failed the file on a LATIN1 database. Such
     * characters of comments are sent as '?' (SqlComments); everything
     * outside comments goes as it is, and fails as before when the database
     * cannot hold it.
     */
    static UnaryOperator<String> commentsTheDatabaseCanHold(Connection connection, Deadline deadline)
            throws Failure {
        String encoding;
        boolean backslashEscapes;
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("SELECT pg_catalog.current_setting('server_encoding'),"
                     + " pg_catalog.current_setting('standard_conforming_strings') = 'off'")) {
            result.next();
            encoding = result.getString(1);
            backslashEscapes = result.getBoolean(2);
        } catch (SQLException e) {
            throw deadline.failure("reading the database's encoding", e);
        }
        if (SqlComments.holdsEverything(encoding)) {
            return UnaryOperator.identity(); // most databases: no script need be lexed
        }
        IntPredicate holdable = SqlComments.holdable(encoding);
        return script -> SqlComments.replaceUnholdable(script, holdable, backslashEscapes);
    }

    private void apply(Connection connection, Path file, String version, UnaryOperator<String> toSend,
            List<String> appliedBefore, Deadline deadline) throws Failure {
        String script = toSend.apply(read(file));
        try (Statement statement = connection.createStatement()) {
            statement.setEscapeProcessing(false);
            statement.execute(script);
        } catch (SQLException e) {
            if (deadline.hasExpired()) {
                throw deadline.failure("executing migration " + version, e);
            }
            rollBackOpenTransaction(connection);
            throw new Failure("failed to execute migration " + version + ": " + describeScriptError(e, script)
                    + "; " + howToGoOn(version, appliedBefore));
        }
        try (PreparedStatement record = connection.prepareStatement(
                "INSERT INTO schema_migrations (version) VALUES (?) ON CONFLICT (version) DO NOTHING")) {
            record.setString(1, version);
            record.executeUpdate();
        } catch (SQLException e) {
            throw deadline.failure("recording migration " + version, e);
        }
    }

    /**
     * What a failed run left behind and what the user can do about it: the
     * failed file left nothing, the ones before it in this run stay applied.
     */
    static String howToGoOn(String failed, List<String> appliedBefore) {
        if (appliedBefore.isEmpty()) {
            return "nothing was applied in this run: fix it and rerun";
        }
        String which = switch (appliedBefore.size()) {
            case 1 -> appliedBefore.get(0);
            case 2 -> appliedBefore.get(0) + ", " + appliedBefore.get(1);
            default -> appliedBefore.get(0) + " … " + appliedBefore.get(appliedBefore.size() - 1)
                    + " (" + appliedBefore.size() + " files)";
        };
        return "this run applied " + which + " before it (recorded in schema_migrations): fix it and rerun to continue"
                + " from " + failed + ", or undo them with their .down.sql files, newest first, and delete their rows"
                + " from schema_migrations";
    }

    /** The text of migration FILE. */
    static String read(Path file) throws Failure {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Failure("cannot read migration " + file.getFileName() + ": " + Failure.reason(e));
        }
    }

    /**
     * A file that opened its own transaction and failed inside it leaves the
     * session in an aborted transaction; end it so nothing half-done commits.
     */
    private static void rollBackOpenTransaction(Connection connection) {
        try (Statement statement = connection.createStatement()) {
            statement.execute("ROLLBACK");
        } catch (SQLException ignored) {
            // No transaction was open: the server already rolled the file back.
        }
    }

    /** The server's error, with the line of the file it points at when it says. */
    static String describeScriptError(SQLException e, String script) {
        String message = Sql.oneLine(e);
        if (e instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            int position = psql.getServerErrorMessage().getPosition();
            if (position > 0) {
                message += " (line " + lineOf(script, position) + ")";
            }
        }
        return message;
    }

    /** The 1-based line holding the 1-based character position the server reported. */
    static int lineOf(String script, int position) {
        int line = 1;
        int limit = Math.min(position - 1, script.length());
        for (int i = 0; i < limit; i++) {
            if (script.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    private static void execute(Connection connection, String sql, Deadline deadline, String doing) throws Failure {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        } catch (SQLException e) {
            throw deadline.failure(doing, e);
        }
    }
}
