///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.postgresql:postgresql:42.7.14
//DEPS info.picocli:picocli:4.7.7
//DEPS com.fasterxml.jackson.core:jackson-databind:2.23.0

// BackupSmoke: the workload and verifier halves of a backup/restore gate for
// PostgreSQL databases that keep a hash-chained audit log. The harness
// (deploy/test/backup-restore-smoke.sh) runs --mode=workload before a backup
// and --mode=verify after the restore, and compares the two JSON snapshots.
// The contract (flags, JSON, exit codes) is SPEC.md; README.md explains usage.

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
        name = "backupsmoke",
        mixinStandardHelpOptions = true,
        version = "backupsmoke 0.1.0",
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Prove that a backup of a PostgreSQL database with a hash-chained audit log restores byte-for-byte.",
            "--mode=workload applies the migrations and writes audit rows; --mode=verify checks the chain.",
            "Both print a JSON snapshot on stdout; diagnostics go to stderr."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success (verify: the chain could be inspected, whatever the verdict)",
            "1:failure (connection, migration, query, timeout, bad mode or URL)",
            "2:usage error (unknown flag, malformed value)"
        })
public class BackupSmoke implements Callable<Integer> {

    // ---------------------------------------------------------------- command line

    static final String MODE_WORKLOAD = "workload";
    static final String MODE_VERIFY = "verify";

    @Spec CommandSpec spec;

    @Option(names = "--mode", paramLabel = "MODE", description = "workload | verify (required)")
    String mode;

    @Option(names = "--db-url", paramLabel = "URL", defaultValue = "${env:DATABASE_URL}",
            description = "libpq URL (postgres://user@host:port/db?sslmode=disable) or key=value string;"
                    + " default: $DATABASE_URL. Missing parts come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.")
    String dbUrl;

    @Option(names = "--migrations-path", paramLabel = "DIR", defaultValue = "./migrations",
            description = "folder of *.up.sql migrations (workload only; default: ${DEFAULT-VALUE})")
    Path migrationsPath;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "24",
            description = "number of audit rows to insert (workload only; default: ${DEFAULT-VALUE})")
    int rows;

    @Option(names = "--id-prefix", paramLabel = "PREFIX", defaultValue = "audit-smoke-",
            description = "prefix of the workload row ids (default: ${DEFAULT-VALUE}); distinct prefixes let"
                    + " several workloads write to one database")
    String idPrefix;

    @Option(names = "--start-time", paramLabel = "TIMESTAMP",
            description = "base timestamp of the workload rows, ISO-8601 with offset (e.g. 2026-05-16T12:00:00Z);"
                    + " default: the server's NOW(). A fixed value makes the chain head reproducible.")
    OffsetDateTime startTime;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "2m", converter = DurationConverter.class,
            description = "bound on the whole run, e.g. 90s, 2m (default: ${DEFAULT-VALUE})")
    Duration timeout;

    @Option(names = "--connect-timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "bound on establishing a connection (default: ${DEFAULT-VALUE})")
    int connectTimeoutSeconds;

    @Option(names = "--verbose", description = "print the stack trace of unexpected errors")
    boolean verbose;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new BackupSmoke());
        cli.setExecutionExceptionHandler(BackupSmoke::reportFailure);
        return cli;
    }

    @Override
    public Integer call() throws Exception {
        validateNumbers();
        // The order of these two checks is the original tool's: URL first, then mode.
        if (dbUrl == null || dbUrl.isBlank()) {
            throw new Failure("--db-url or DATABASE_URL is required");
        }
        if (mode == null || mode.isEmpty()) {
            throw new Failure("--mode is required (workload | verify)");
        }
        if (!mode.equals(MODE_WORKLOAD) && !mode.equals(MODE_VERIFY)) {
            throw new Failure("unknown --mode=" + goQuoted(mode) + " (workload | verify)");
        }
        ConnectionTarget target = ConnectionTarget.parse(dbUrl, System.getenv());
        Snapshot snapshot;
        try (Deadline deadline = new Deadline(timeout)) {
            snapshot = mode.equals(MODE_WORKLOAD) ? runWorkloadMode(target, deadline) : runVerifyMode(target, deadline);
        }
        printSnapshot(snapshot);
        return 0;
    }

    /** Malformed numbers are usage errors (exit 2), like an unknown flag. */
    private void validateNumbers() {
        if (rows < 0) {
            throw new ParameterException(spec.commandLine(), "--rows must be 0 or more, got " + rows);
        }
        if (connectTimeoutSeconds < 1) {
            throw new ParameterException(spec.commandLine(),
                    "--connect-timeout must be at least 1 second, got " + connectTimeoutSeconds);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new ParameterException(spec.commandLine(), "--timeout must be positive");
        }
    }

    /** Quotes like Go's %q for the common cases, so messages match the original tool's. */
    static String goQuoted(String text) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\t' -> quoted.append("\\t");
                default -> quoted.append(c);
            }
        }
        return quoted.append('"').toString();
    }

    /** Accepts 90s, 2m, 1h, 500ms or a plain number of seconds. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            var matcher = Pattern.compile("(\\d+)(ms|s|m|h)?").matcher(value.trim());
            if (!matcher.matches()) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration such as 90s or 2m");
            }
            long amount = Long.parseLong(matcher.group(1));
            String unit = matcher.group(2) == null ? "s" : matcher.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofSeconds(amount);
            };
        }
    }

    /**
     * Expected failures print one line; unexpected ones print their cause in one
     * line too, and the stack trace only with --verbose.
     */
    private static int reportFailure(Exception failure, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        if (failure instanceof Failure) {
            err.println("backupsmoke: " + failure.getMessage());
        } else {
            err.println("backupsmoke: unexpected error: " + failure);
            BackupSmoke command = cli.getCommand();
            if (command.verbose) {
                failure.printStackTrace(err);
            } else {
                err.println("backupsmoke: (run with --verbose for the stack trace)");
            }
        }
        err.flush();
        return 1;
    }

    // ---------------------------------------------------------------- connection

    /** An expected failure: printed as one line, exit 1. */
    static final class Failure extends Exception {
        Failure(String message) {
            super(message);
        }
    }

    /**
     * Where to connect, from a libpq-style URL or key=value string completed by
     * the PG* environment variables the way libpq completes it. pgjdbc speaks
     * neither form, so this translates them into a JDBC URL plus properties.
     * ~/.pgpass (or PGPASSFILE) is left to pgjdbc, which reads it itself when
     * no password is given.
     */
    record ConnectionTarget(String host, int port, String database, String user, String password,
                            Map<String, String> driverOptions) {

        /** libpq keyword -> environment variable that supplies it when the string does not. */
        static final Map<String, String> ENVIRONMENT = orderedMap(
                "host", "PGHOST", "hostaddr", "PGHOSTADDR", "port", "PGPORT", "dbname", "PGDATABASE",
                "user", "PGUSER", "password", "PGPASSWORD", "passfile", "PGPASSFILE", "sslmode", "PGSSLMODE",
                "sslrootcert", "PGSSLROOTCERT", "sslcert", "PGSSLCERT", "sslkey", "PGSSLKEY",
                "connect_timeout", "PGCONNECT_TIMEOUT", "application_name", "PGAPPNAME", "options", "PGOPTIONS",
                "target_session_attrs", "PGTARGETSESSIONATTRS");

        /** libpq keywords that become pgjdbc properties, under pgjdbc's names. */
        static final Map<String, String> DRIVER_PROPERTY = orderedMap(
                "sslmode", "sslmode", "sslrootcert", "sslrootcert", "sslcert", "sslcert", "sslkey", "sslkey",
                "sslpassword", "sslpassword", "connect_timeout", "connectTimeout",
                "application_name", "ApplicationName", "options", "options",
                "target_session_attrs", "targetServerType");

        static final Set<String> SSL_MODES = Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

        /** libpq's target_session_attrs values and pgjdbc's targetServerType equivalents. */
        static final Map<String, String> SESSION_ATTRS = Map.of(
                "any", "any", "read-write", "primary", "primary", "primary",
                "read-only", "secondary", "standby", "secondary", "prefer-standby", "preferSecondary");

        static ConnectionTarget parse(String text, Map<String, String> environment) throws Failure {
            Map<String, String> keywords = text.contains("://") ? parseUrl(text.trim()) : parseKeyValue(text);
            ENVIRONMENT.forEach((keyword, variable) -> {
                String value = environment.get(variable);
                if (!keywords.containsKey(keyword) && value != null && !value.isEmpty()) {
                    keywords.put(keyword, value);
                }
            });
            return fromKeywords(keywords);
        }

        private static ConnectionTarget fromKeywords(Map<String, String> keywords) throws Failure {
            String host = keywords.getOrDefault("host", keywords.getOrDefault("hostaddr", ""));
            if (host.isEmpty()) {
                host = "localhost"; // libpq would try a Unix socket; pgjdbc speaks TCP only
            }
            if (host.contains(",")) {
                throw new Failure("several hosts in --db-url (" + host + ") are not supported: give one host");
            }
            if (host.startsWith("/") || host.startsWith("@")) {
                throw new Failure("Unix-domain socket host " + goQuoted(host)
                        + " is not supported: connect over TCP, e.g. host 127.0.0.1 or localhost");
            }
            int port = parsePort(keywords.getOrDefault("port", "5432"));
            String user = keywords.getOrDefault("user", System.getProperty("user.name"));
            String database = keywords.getOrDefault("dbname", user);
            Map<String, String> options = new LinkedHashMap<>();
            for (var entry : DRIVER_PROPERTY.entrySet()) {
                String value = keywords.get(entry.getKey());
                if (value != null) {
                    options.put(entry.getValue(), driverValue(entry.getKey(), value));
                }
            }
            if (keywords.containsKey("passfile")) {
                // pgjdbc's own .pgpass reader takes its file from this system property.
                System.setProperty("org.postgresql.pgpassfile", keywords.get("passfile"));
            }
            return new ConnectionTarget(host, port, database, user, keywords.get("password"), options);
        }

        private static String driverValue(String keyword, String value) throws Failure {
            switch (keyword) {
                case "sslmode" -> {
                    if (!SSL_MODES.contains(value)) {
                        throw new Failure("invalid sslmode " + goQuoted(value) + " in --db-url (one of "
                                + String.join(", ", new TreeSet<>(SSL_MODES)) + ")");
                    }
                }
                case "connect_timeout" -> {
                    if (!value.matches("\\d+")) {
                        throw new Failure("invalid connect_timeout " + goQuoted(value) + " in --db-url (whole seconds)");
                    }
                }
                case "target_session_attrs" -> {
                    String mapped = SESSION_ATTRS.get(value);
                    if (mapped == null) {
                        throw new Failure("invalid target_session_attrs " + goQuoted(value) + " in --db-url");
                    }
                    return mapped;
                }
                default -> { }
            }
            return value;
        }

        private static int parsePort(String text) throws Failure {
            try {
                int port = Integer.parseInt(text);
                if (port >= 1 && port <= 65535) {
                    return port;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new Failure("invalid port " + goQuoted(text) + " in --db-url or PGPORT (1-65535)");
        }

        /** postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&...] */
        static Map<String, String> parseUrl(String url) throws Failure {
            int schemeEnd = url.indexOf("://");
            String scheme = url.substring(0, schemeEnd);
            if (!scheme.equals("postgres") && !scheme.equals("postgresql")) {
                throw new Failure("unsupported URL scheme " + goQuoted(scheme)
                        + " in --db-url: use postgres:// or postgresql://");
            }
            String rest = url.substring(schemeEnd + 3);
            Map<String, String> keywords = new LinkedHashMap<>();
            int queryStart = rest.indexOf('?');
            if (queryStart >= 0) {
                parseQuery(rest.substring(queryStart + 1), keywords);
                rest = rest.substring(0, queryStart);
            }
            int pathStart = rest.indexOf('/', Math.max(0, rest.lastIndexOf('@')));
            if (pathStart >= 0) {
                putIfNotEmpty(keywords, "dbname", percentDecode(rest.substring(pathStart + 1)));
                rest = rest.substring(0, pathStart);
            }
            int at = rest.lastIndexOf('@');
            if (at >= 0) {
                String userInfo = rest.substring(0, at);
                int colon = userInfo.indexOf(':');
                putIfNotEmpty(keywords, "user", percentDecode(colon >= 0 ? userInfo.substring(0, colon) : userInfo));
                if (colon >= 0) {
                    keywords.put("password", percentDecode(userInfo.substring(colon + 1)));
                }
                rest = rest.substring(at + 1);
            }
            parseHostPort(rest, keywords);
            return keywords;
        }

        /** host, host:port, [ipv6] or [ipv6]:port; query parameters named host/port win. */
        private static void parseHostPort(String hostPort, Map<String, String> keywords) throws Failure {
            String host = hostPort;
            String port = null;
            if (hostPort.startsWith("[")) {
                int close = hostPort.indexOf(']');
                if (close < 0) {
                    throw new Failure("malformed IPv6 host in --db-url: missing ']'");
                }
                host = hostPort.substring(1, close);
                String after = hostPort.substring(close + 1);
                if (after.startsWith(":")) {
                    port = after.substring(1);
                } else if (!after.isEmpty()) {
                    throw new Failure("malformed host in --db-url after ']'");
                }
            } else if (hostPort.lastIndexOf(':') >= 0) {
                host = hostPort.substring(0, hostPort.lastIndexOf(':'));
                port = hostPort.substring(hostPort.lastIndexOf(':') + 1);
            }
            if (!keywords.containsKey("host")) {
                putIfNotEmpty(keywords, "host", percentDecode(host));
            }
            if (port != null && !keywords.containsKey("port")) {
                putIfNotEmpty(keywords, "port", port);
            }
        }

        private static void parseQuery(String query, Map<String, String> keywords) throws Failure {
            for (String pair : query.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int equals = pair.indexOf('=');
                if (equals < 0) {
                    throw new Failure("malformed parameter " + goQuoted(pair) + " in --db-url: expected key=value");
                }
                putKeyword(keywords, percentDecode(pair.substring(0, equals)), percentDecode(pair.substring(equals + 1)));
            }
        }

        /** libpq's key=value form: values may be single-quoted, with \' and \\ escapes. */
        static Map<String, String> parseKeyValue(String text) throws Failure {
            Map<String, String> keywords = new LinkedHashMap<>();
            int i = 0;
            int length = text.length();
            while (true) {
                while (i < length && Character.isWhitespace(text.charAt(i))) {
                    i++;
                }
                if (i >= length) {
                    return keywords;
                }
                int keyStart = i;
                while (i < length && text.charAt(i) != '=' && !Character.isWhitespace(text.charAt(i))) {
                    i++;
                }
                String key = text.substring(keyStart, i);
                while (i < length && Character.isWhitespace(text.charAt(i))) {
                    i++;
                }
                if (i >= length || text.charAt(i) != '=') {
                    throw new Failure("--db-url is neither a postgres:// URL nor key=value pairs: missing '=' after "
                            + goQuoted(key));
                }
                i++;
                while (i < length && Character.isWhitespace(text.charAt(i))) {
                    i++;
                }
                StringBuilder value = new StringBuilder();
                boolean quoted = i < length && text.charAt(i) == '\'';
                if (quoted) {
                    i++;
                }
                while (i < length) {
                    char c = text.charAt(i);
                    if (quoted ? c == '\'' : Character.isWhitespace(c)) {
                        break;
                    }
                    if (c == '\\' && i + 1 < length) {
                        c = text.charAt(++i);
                    }
                    value.append(c);
                    i++;
                }
                if (quoted) {
                    if (i >= length) {
                        throw new Failure("unterminated quoted value for " + goQuoted(key) + " in --db-url");
                    }
                    i++;
                }
                putKeyword(keywords, key, value.toString());
            }
        }

        private static void putKeyword(Map<String, String> keywords, String key, String value) throws Failure {
            if (!ENVIRONMENT.containsKey(key) && !DRIVER_PROPERTY.containsKey(key)) {
                var supported = new TreeSet<>(ENVIRONMENT.keySet());
                supported.addAll(DRIVER_PROPERTY.keySet());
                throw new Failure("unsupported connection parameter " + goQuoted(key) + " in --db-url (supported: "
                        + String.join(", ", supported) + ")");
            }
            keywords.put(key, value);
        }

        private static void putIfNotEmpty(Map<String, String> keywords, String key, String value) {
            if (!value.isEmpty()) {
                keywords.put(key, value);
            }
        }

        /** RFC 3986 percent-decoding as libpq does it: '+' stays '+'. */
        static String percentDecode(String text) throws Failure {
            var bytes = new ByteArrayOutputStream();
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c != '%') {
                    bytes.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                    continue;
                }
                if (i + 2 >= text.length()) {
                    throw new Failure("malformed percent-encoding in --db-url");
                }
                int high = Character.digit(text.charAt(i + 1), 16);
                int low = Character.digit(text.charAt(i + 2), 16);
                if (high < 0 || low < 0) {
                    throw new Failure("malformed percent-encoding in --db-url");
                }
                bytes.write(high * 16 + low);
                i += 2;
            }
            return bytes.toString(StandardCharsets.UTF_8);
        }

        /** The connection as JDBC wants it; the database name is encoded because pgjdbc decodes it. */
        String jdbcUrl() {
            String urlHost = host.contains(":") ? "[" + host + "]" : host;
            return "jdbc:postgresql://" + urlHost + ":" + port + "/"
                    + URLEncoder.encode(database, StandardCharsets.UTF_8);
        }

        Properties jdbcProperties() {
            var properties = new Properties();
            properties.setProperty("user", user);
            if (password != null) {
                properties.setProperty("password", password);
            }
            driverOptions.forEach(properties::setProperty);
            return properties;
        }

        /** For messages: everything but the password. */
        String describe() {
            String urlHost = host.contains(":") ? "[" + host + "]" : host;
            return "postgres://" + user + "@" + urlHost + ":" + port + "/" + database;
        }

        @Override
        public String toString() {
            return describe();
        }

        private static Map<String, String> orderedMap(String... keysAndValues) {
            Map<String, String> map = new LinkedHashMap<>();
            for (int i = 0; i < keysAndValues.length; i += 2) {
                map.put(keysAndValues[i], keysAndValues[i + 1]);
            }
            return Collections.unmodifiableMap(map);
        }
    }


    /** Opens a connection; failures name the target (never the password) and the cause. */
    Connection connect(ConnectionTarget target, Map<String, String> extraProperties) throws Failure {
        var properties = target.jdbcProperties();
        // A connect_timeout or application_name given in the URL wins over the flag.
        properties.putIfAbsent("connectTimeout", Integer.toString(connectTimeoutSeconds));
        properties.putIfAbsent("loginTimeout", properties.getProperty("connectTimeout"));
        properties.putIfAbsent("ApplicationName", "backupsmoke");
        extraProperties.forEach(properties::setProperty);
        try {
            return DriverManager.getConnection(target.jdbcUrl(), properties);
        } catch (SQLException e) {
            throw new Failure("cannot connect to " + target.describe() + ": " + oneLine(e));
        }
    }

    /** The server's message with its detail, or the driver's, on one line. */
    static String oneLine(SQLException e) {
        String message = e.getMessage();
        if (e instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            ServerErrorMessage server = psql.getServerErrorMessage();
            message = server.getMessage();
            if (server.getDetail() != null) {
                message += " (" + server.getDetail() + ")";
            }
        }
        if (message == null) {
            message = e.getClass().getSimpleName();
        }
        return message.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    /**
     * Bounds the whole run (SPEC section 2): when the time is up it aborts the
     * open connections, so whatever statement is running fails at once and the
     * caller reports the timeout instead of the resulting I/O error.
     */
    static final class Deadline implements AutoCloseable {
        private final Duration limit;
        private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "backupsmoke-deadline");
            thread.setDaemon(true);
            return thread;
        });
        private final List<Connection> watched = new ArrayList<>();
        private final AtomicBoolean expired = new AtomicBoolean();

        Deadline(Duration limit) {
            this.limit = limit;
            timer.schedule(this::expire, limit.toMillis(), TimeUnit.MILLISECONDS);
        }

        synchronized Connection watch(Connection connection) {
            watched.add(connection);
            return connection;
        }

        private synchronized void expire() {
            expired.set(true);
            for (Connection connection : watched) {
                try {
                    connection.abort(Runnable::run);
                } catch (SQLException ignored) {
                    // Already closed: nothing left to interrupt.
                }
            }
        }

        /** Turns an error caused by the deadline into the timeout message. */
        Failure failure(String doing, SQLException cause) {
            if (expired.get()) {
                return new Failure("timed out after " + describe(limit) + " while " + doing
                        + " (raise the bound with --timeout)");
            }
            return new Failure(doing + " failed: " + oneLine(cause));
        }

        static String describe(Duration duration) {
            if (duration.toMillis() % 1000 != 0) {
                return duration.toMillis() + "ms";
            }
            return duration.toSeconds() + "s";
        }

        @Override
        public void close() {
            timer.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- modes

    private Snapshot runWorkloadMode(ConnectionTarget target, Deadline deadline) throws Failure {
        new MigrationRunner(migrationsPath).run(
                deadline.watch(connect(target, MigrationRunner.CONNECTION_PROPERTIES)), deadline);
        try (Connection connection = deadline.watch(connect(target, Map.of()))) {
            new Workload(rows, idPrefix, startTime).insert(connection, deadline);
            return Snapshot.read(connection, MODE_WORKLOAD, deadline);
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    private Snapshot runVerifyMode(ConnectionTarget target, Deadline deadline) throws Failure {
        try (Connection connection = deadline.watch(connect(target, Map.of()))) {
            // Verify is read-only by contract; a read-only transaction makes that hold
            // even if a verifier function in the database were rewritten to write.
            connection.setReadOnly(true);
            Snapshot snapshot = Snapshot.read(connection, MODE_VERIFY, deadline);
            return snapshot.withServerVerdict(ServerVerifier.run(connection, deadline));
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    // ---------------------------------------------------------------- migrations

    /** Applies *.up.sql files in lexical order, once each, under an advisory lock (SPEC section 5). */
    static final class MigrationRunner {
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

        void run(Connection connection, Deadline deadline) throws Failure {
            List<Path> files = upMigrations();
            try (connection) {
                execute(connection, "SELECT pg_advisory_lock(" + ADVISORY_LOCK_KEY + ")", deadline, "taking the migration lock");
                execute(connection, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        + "version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
                        deadline, "creating the schema_migrations ledger");
                Set<String> applied = appliedVersions(connection, deadline);
                for (Path file : files) {
                    String version = file.getFileName().toString();
                    if (!applied.contains(version)) {
                        apply(connection, file, version, deadline);
                    }
                }
                execute(connection, "SELECT pg_advisory_unlock(" + ADVISORY_LOCK_KEY + ")", deadline, "releasing the migration lock");
            } catch (SQLException e) {
                throw deadline.failure("closing the migration connection", e);
            }
        }

        /** Regular files ending in .up.sql, sorted by file name; everything else is ignored. */
        List<Path> upMigrations() throws Failure {
            if (!Files.isDirectory(folder)) {
                throw new Failure("migrations directory not found: " + folder);
            }
            try (Stream<Path> entries = Files.list(folder)) {
                return entries
                        .filter(Files::isRegularFile)
                        .filter(path -> path.getFileName().toString().endsWith(".up.sql"))
                        .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                        .toList();
            } catch (IOException e) {
                throw new Failure("cannot list migrations directory " + folder + ": " + e.getMessage());
            }
        }

        private Set<String> appliedVersions(Connection connection, Deadline deadline) throws Failure {
            Set<String> versions = new HashSet<>();
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery("SELECT version FROM schema_migrations")) {
                while (result.next()) {
                    versions.add(result.getString(1));
                }
                return versions;
            } catch (SQLException e) {
                throw deadline.failure("reading schema_migrations", e);
            }
        }

        private void apply(Connection connection, Path file, String version, Deadline deadline) throws Failure {
            String script;
            try {
                script = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new Failure("cannot read migration " + version + ": " + e.getMessage());
            }
            try (Statement statement = connection.createStatement()) {
                statement.setEscapeProcessing(false);
                statement.execute(script);
            } catch (SQLException e) {
                if (deadline.expired.get()) {
                    throw deadline.failure("executing migration " + version, e);
                }
                rollBackOpenTransaction(connection);
                throw new Failure("failed to execute migration " + version + ": " + describeScriptError(e, script));
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
            String message = oneLine(e);
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

    // ---------------------------------------------------------------- workload

    /** Writes the known set of audit rows of SPEC section 4. */
    static final class Workload {
        /** Rows per INSERT ... SELECT statement, each committed on its own. */
        static final int BATCH_ROWS = 500;

        /**
         * Row i takes the action i mod 4, its id zero-padded to at least four
         * digits (as Go's %04d), and the base time plus i microseconds. The rows
         * come from generate_series in order, so the trigger chains them in order.
         */
        static final String INSERT_BATCH = """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp")
                SELECT ?::text || lpad(i::text, greatest(4, length(i::text)), '0'),
                       'smoke-actor', 'User',
                       (ARRAY['certificate.issue', 'certificate.renew', 'certificate.revoke', 'auth.login'])[i % 4 + 1],
                       (ARRAY['certificate', 'certificate', 'certificate', 'session'])[i % 4 + 1],
                       (ARRAY['mc-smoke', 'mc-smoke', 'mc-smoke', 'sess-smoke'])[i % 4 + 1],
                       '{}'::jsonb,
                       ?::timestamptz + i * INTERVAL '1 microsecond'
                FROM generate_series(?::bigint, ?::bigint) AS i
                ORDER BY i
                """;

        private final int rows;
        private final String idPrefix;
        private final OffsetDateTime startTime;

        /** startTime null: the server's NOW(). */
        Workload(int rows, String idPrefix, OffsetDateTime startTime) {
            this.rows = rows;
            this.idPrefix = idPrefix;
            this.startTime = startTime;
        }

        void insert(Connection connection, Deadline deadline) throws Failure {
            OffsetDateTime base = startTime != null ? startTime : serverNow(connection, deadline);
            try (PreparedStatement batch = connection.prepareStatement(INSERT_BATCH)) {
                for (long first = 0; first < rows; first += BATCH_ROWS) {
                    long last = Math.min(rows, first + BATCH_ROWS) - 1;
                    batch.setString(1, idPrefix);
                    batch.setObject(2, base);
                    batch.setLong(3, first);
                    batch.setLong(4, last);
                    batch.executeUpdate();
                }
            } catch (SQLException e) {
                if ("23505".equals(e.getSQLState())) {
                    throw new Failure("inserting audit rows failed: rows with ids " + idPrefix + "0000… already exist"
                            + " in this database (" + oneLine(e) + "); use a fresh database or another --id-prefix");
                }
                throw deadline.failure("inserting audit rows", e);
            }
        }

        /** The base timestamp: the server's NOW(), read once so the rows' times strictly increase. */
        private static OffsetDateTime serverNow(Connection connection, Deadline deadline) throws Failure {
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery("SELECT NOW()")) {
                result.next();
                return result.getObject(1, OffsetDateTime.class);
            } catch (SQLException e) {
                throw deadline.failure("reading the server time", e);
            }
        }
    }

    // ---------------------------------------------------------------- verification

    /** What the database's own audit_events_verify_chain() reports. */
    record ServerVerdict(String firstBreakId, int firstBreakPos, int walked) {}

    static final class ServerVerifier {
        static ServerVerdict run(Connection connection, Deadline deadline) throws Failure {
            try (Statement statement = connection.createStatement();
                 ResultSet result = statement.executeQuery(
                         "SELECT first_break_id, first_break_pos, row_count FROM audit_events_verify_chain()")) {
                result.next();
                return new ServerVerdict(result.getString(1), result.getInt(2), result.getInt(3));
            } catch (SQLException e) {
                throw schemaAwareFailure(deadline, "running audit_events_verify_chain()", e);
            }
        }
    }

    /** Missing tables or functions mean the database was never migrated: say so. */
    static Failure schemaAwareFailure(Deadline deadline, String doing, SQLException e) {
        String state = e.getSQLState();
        if ("42P01".equals(state) || "42883".equals(state)) {
            return new Failure(doing + " failed: " + oneLine(e)
                    + "; this database lacks the audit chain schema: run --mode=workload (the migrations) first");
        }
        return deadline.failure(doing, e);
    }

    // ---------------------------------------------------------------- snapshot

    /** The JSON printed on stdout (SPEC section 3); null fields are left out. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"phase", "row_count", "chain_head_hash", "first_break_id", "first_break_pos", "verifier_walked"})
    record Snapshot(
            @JsonProperty("phase") String phase,
            @JsonProperty("row_count") long rowCount,
            @JsonProperty("chain_head_hash") String chainHeadHash,
            @JsonProperty("first_break_id") String firstBreakId,
            @JsonProperty("first_break_pos") Integer firstBreakPos,
            @JsonProperty("verifier_walked") Integer verifierWalked) {

        static Snapshot read(Connection connection, String phase, Deadline deadline) throws Failure {
            String rowCount = queryOne(connection, "SELECT COUNT(*) FROM audit_events", deadline,
                    "counting audit_events");
            String head = queryOne(connection, "SELECT row_hash FROM audit_chain_head WHERE id = 1", deadline,
                    "reading audit_chain_head");
            return new Snapshot(phase, Long.parseLong(rowCount), head, null, null, null);
        }

        /** first_break_pos is always present in verify (-1 when clean); verifier_walked only when non-zero. */
        Snapshot withServerVerdict(ServerVerdict verdict) {
            return new Snapshot(phase, rowCount, chainHeadHash, verdict.firstBreakId(), verdict.firstBreakPos(),
                    verdict.walked() == 0 ? null : verdict.walked());
        }
    }

    /** The first column of a query's one row, as text; no row at all is a failure. */
    static String queryOne(Connection connection, String sql, Deadline deadline, String doing) throws Failure {
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery(sql)) {
            if (!result.next()) {
                throw new Failure(doing + " failed: the query returned no row (" + sql + ")");
            }
            return result.getString(1);
        } catch (SQLException e) {
            throw schemaAwareFailure(deadline, doing, e);
        }
    }

    /** Two-space indentation and "key": value, as the original Go encoder printed. */
    static String toJson(Object value) {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
        printer.indentArraysWith(new DefaultIndenter("  ", "\n"));
        printer.indentObjectsWith(new DefaultIndenter("  ", "\n"));
        try {
            return new ObjectMapper().writer(printer).writeValueAsString(value) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the snapshot", e);
        }
    }

    private static void printSnapshot(Snapshot snapshot) {
        System.out.print(toJson(snapshot));
        System.out.flush();
    }
}
