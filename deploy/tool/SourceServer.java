// The harness's server and its scratch databases (SPEC 7). Before the plan
// (--mode=plan): up within 60 s as libpq sees the URL (pg_isready, so a URL
// libpq refuses fails at once, its status 3), then one login; with
// --scratch-source=FILE, the source's scratch database. A scratch database's
// name is appended to the registry before CREATE DATABASE on a configured
// server, so that the harness's cleanup and its watchdog drop exactly what
// this run made, even when the CREATE is interrupted (harness.md).
//   --mode=new-scratch-db   a combination's scratch database, confirmed empty;
//                           with --renew=NAME, the wipe of the source's: this
//                           run's scratch database NAME (listed in
//                           --registry when given, as on a configured
//                           server) dropped, created again, confirmed empty.
//   --mode=drop-scratch-dbs every scratch database the registry names, its
//                           sessions ended first; a warning for one that
//                           stays, and for any other name, left untouched.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

final class SourceServer {
    static final int READY_WITHIN_SECONDS = 60;
    static final String NEW_SCRATCH_DB = "new-scratch-db";
    static final String DROP_SCRATCH_DBS = "drop-scratch-dbs";

    /** Where the harness's server is, for messages, and where its scratch databases are registered. */
    static final class Options {
        @Option(names = "--server-label", paramLabel = "LABEL")
        String serverLabel = "";

        @Option(names = "--registry", paramLabel = "FILE")
        Path registry;

        @Option(names = "--renew", paramLabel = "NAME")
        String renew;
    }

    /** A scratch database's name as scratchName() makes it: nothing else is ever dropped by --renew. */
    private static final Pattern SCRATCH_NAME = Pattern.compile("backupsmoke_[0-9a-f]{12}");

    /** A combination's scratch database (or --renew's): NUL-separated database=NAME and say= lines on OUT. */
    static int newScratchDb(Options options, Connector connector, PrintStream out) throws Failure {
        if (options.renew != null) {
            renew(options.renew, options.registry, options.serverLabel, connector, out);
            return 0;
        }
        String name = scratchName();
        createScratch(connector, name, options.registry, options.serverLabel);
        out.print("database=" + name + "\0say=scratch database " + name + " created\0");
        confirmNoTables(connector.forDatabase(name), name, out);
        return 0;
    }

    /**
     * The source's wipe: NAME dropped and created again from template0. It
     * must be this run's: listed in REGISTRY when that is given (a configured
     * server, where the plan registered it), else on a throwaway server that
     * is all this run's, so only the name's shape is checked.
     */
    static void renew(String name, Path registry, String label, Connector connector, PrintStream out)
            throws Failure {
        if (!SCRATCH_NAME.matcher(name).matches()) {
            throw new Failure("--renew=" + Failure.quoted(name) + " is not a scratch database (backupsmoke_ and 12 hex"
                    + " digits)");
        }
        if (registry != null && !registered(registry).contains(name)) {
            throw new Failure("--renew=" + name + " is not this run's: " + registry + " does not list it");
        }
        try (Connection connection = connector.open(); Statement statement = connection.createStatement()) {
            statement.execute("DROP DATABASE " + AuditSchema.quoted(name));
        } catch (SQLException e) {
            if (connector.deadline().hasExpired()) { // the cancel, not the server's refusal, ended the drop
                throw connector.deadline().timedOut("dropping scratch database " + name + " on " + label);
            }
            throw new Failure("cannot drop scratch database " + name + " on " + label + ": " + Sql.oneLine(e));
        }
        createScratch(connector, name, null, label); // registered already, when at all
        out.print("say=scratch database " + name + " dropped and created again\0");
        confirmNoTables(connector.forDatabase(name), name, out);
    }

    /** No table left in NAME (CONNECTOR's database), said on OUT; else the Failure the harness reports. */
    static void confirmNoTables(Connector connector, String name, PrintStream out) throws Failure {
        int tables = tableCount(connector, name);
        if (tables != 0) {
            throw new Failure("wipe left " + tables + " table(s) in " + name);
        }
        out.print("say=confirmed: no tables in " + name + "\0");
        out.flush();
    }

    /** Tables and partitioned tables outside the system schemas: a no-op wipe must not fake a pass. */
    static int tableCount(Connector connector, String name) throws Failure {
        try (Connection connection = connector.open();
             ResultSet count = connection.createStatement().executeQuery("""
                     SELECT count(*) FROM pg_catalog.pg_class c
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                       AND n.nspname NOT LIKE 'pg\\_%'""")) {
            count.next();
            return count.getInt(1);
        } catch (SQLException e) {
            throw new Failure("cannot count tables in " + name);
        }
    }

    /**
     * Drops every scratch database the registry names (5 tries each); a
     * warning on ERR for one that stays, and for a name the harness never
     * makes (an edited registry), which is not touched at all.
     */
    static int dropRegistered(Options options, Connector connector, PrintStream err) throws Failure {
        List<String> names = options.registry == null ? List.of() : registered(options.registry);
        int left = 0;
        for (String name : names) {
            if (!name.isEmpty() && !SCRATCH_NAME.matcher(name).matches()) {
                err.println("warning: " + options.registry + " lists " + Failure.quoted(name) + ", not a scratch"
                        + " database (backupsmoke_ and 12 hex digits); not dropped");
                left++;
            } else if (!name.isEmpty() && !dropped(connector, name)) {
                err.println("warning: could not drop scratch database " + name + " on " + options.serverLabel
                        + "; drop it by hand");
                left++;
            }
        }
        return left == 0 ? 0 : 1;
    }

    /** The names REGISTRY lists, one a line (none when it does not exist yet). */
    private static List<String> registered(Path registry) throws Failure {
        try {
            return Files.exists(registry) ? Files.readAllLines(registry, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            throw new Failure("cannot read " + registry + ": " + Failure.reason(e));
        }
    }

    /**
     * The sessions connected to database ?, and those still creating it (its name in a CREATE DATABASE): a
     * harness killed during CREATE DATABASE leaves the server finishing it, and a drop that came first found
     * nothing, then the database appeared for good.
     */
    private static final String SESSIONS_OF = """
            SELECT pid FROM pg_catalog.pg_stat_activity
            WHERE pid <> pg_catalog.pg_backend_pid()
              AND (datname = ? OR (query ~* '^\\s*CREATE\\s+DATABASE\\M' AND pg_catalog.strpos(query, ?) > 0))""";

    private static boolean dropped(Connector connector, String name) {
        for (int attempt = 1; attempt <= 5; attempt++) {
            try (Connection connection = connector.openForCleanUp()) {
                connection.createStatement().execute("SET client_min_messages = warning");
                endSessionsOf(connection, name);
                connection.createStatement().execute("DROP DATABASE IF EXISTS " + AuditSchema.quoted(name));
                return true;
            } catch (Failure | SQLException e) {
                try {
                    Thread.sleep(100L * attempt);
                } catch (InterruptedException stop) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return false;
    }

    /** Ends SESSIONS_OF NAME and waits (5 s at most) until they are gone: a CREATE ended then is rolled back. */
    private static void endSessionsOf(Connection connection, String name) throws SQLException {
        try (PreparedStatement end = connection.prepareStatement(
                     "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM (" + SESSIONS_OF + ") s");
             PreparedStatement left = connection.prepareStatement("SELECT count(*) FROM (" + SESSIONS_OF + ") s")) {
            for (PreparedStatement statement : List.of(end, left)) {
                statement.setString(1, name);
                statement.setString(2, name);
            }
            end.execute();
            for (int wait = 0; wait < 50 && count(left) > 0; wait++) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException stop) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static long count(PreparedStatement query) throws SQLException {
        try (ResultSet rows = query.executeQuery()) {
            rows.next();
            return rows.getLong(1);
        }
    }

    private SourceServer() {
    }

    /**
     * Until pg_isready (on ENV's PATH) says URL is up: status 3 (a URL libpq refuses) fails at once. Its
     * command line, which ps shows every user, never holds URL's secrets: PQping does not log in, so the
     * password is left out, and the sslpassword (an encrypted client key needs it to be read) goes by a
     * service file of its own (ServiceFile), made once for every attempt.
     */
    static void awaitReady(String url, String label, Map<String, String> env) throws Failure {
        Path program = ProgramSearch.find(env.get("PATH"), "pg_isready");
        if (program == null) {
            throw new Failure("pg_isready not on PATH");
        }
        String shown = ConnectionTarget.withoutSecrets(url);
        long deadline = System.nanoTime() + READY_WITHIN_SECONDS * 1_000_000_000L;
        try (ServiceFile service = ServiceFile.holding(ConnectionTarget.sslPasswordIn(url),
                Path.of(System.getProperty("java.io.tmpdir")))) {
            while (true) {
                Ready answer = pgIsReady(program, shown, env, service);
                if (answer.status() == 0) {
                    return;
                }
                if (answer.status() == 3) {
                    throw new Failure("cannot connect to " + label + ": " + answer.said().replaceFirst(
                            "^pg_isready: error: ", ""));
                }
                if (System.nanoTime() > deadline) {
                    throw new Failure("server " + label + " not ready within " + READY_WITHIN_SECONDS + " s: "
                            + answer.said());
                }
                pause();
            }
        }
    }

    record Ready(int status, String said) {
    }

    /** PROGRAM's answer for URL (one without secrets), in ENV (the harness's: PGSSLMODE, PGCONNECT_TIMEOUT …) and SERVICE's. */
    private static Ready pgIsReady(Path program, String url, Map<String, String> env, ServiceFile service)
            throws Failure {
        // -t 5 bounds each attempt.
        Program.Outcome answer = new Program(program.toString(), List.of(program.toString(), "-d", url, "-t", "5"))
                .errors(Program.Errors.MERGED).environment(env).environmentAdding(service.environment()).run();
        return new Ready(answer.status(), answer.text().strip());
    }

    private static void pause() throws Failure {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for the server");
        }
    }

    /** A new scratch database's name: backupsmoke_ and 12 random hex digits. */
    static String scratchName() {
        byte[] random = new byte[6];
        new SecureRandom().nextBytes(random);
        return "backupsmoke_" + HexFormat.of().formatHex(random);
    }

    /** Creates database NAME from template0, registered first in REGISTRY unless that is null. */
    static void createScratch(Connector connector, String name, Path registry, String label) throws Failure {
        try (Connection connection = connector.open()) {
            try (PreparedStatement taken = connection.prepareStatement(
                    "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?")) {
                taken.setString(1, name);
                if (taken.executeQuery().next()) {
                    throw new Failure("database " + name + " exists already; run again");
                }
            } catch (SQLException e) {
                throw new Failure("cannot list databases on " + label);
            }
            if (registry != null) {
                register(registry, name);
            }
            try {
                connection.createStatement().execute("CREATE DATABASE " + AuditSchema.quoted(name)
                        + " TEMPLATE template0");
            } catch (SQLException e) {
                throw new Failure("cannot create scratch database " + name + " on " + label + " (does "
                        + connector.target().user() + " have CREATEDB?)");
            }
        } catch (SQLException e) {
            throw new Failure("cannot connect to " + label + ": " + Sql.oneLine(e));
        }
    }

    private static void register(Path registry, String name) throws Failure {
        try {
            Files.writeString(registry, name + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new Failure("cannot register scratch database " + name + " in " + registry + ": "
                    + Failure.reason(e));
        }
    }
}
