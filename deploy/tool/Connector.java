// Opening connections to the database under test.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;

/**
 * Where to connect, how long to wait, and the search_path every connection
 * gets: connections it opens are watched by the run's deadline, which cancels
 * their statements when the time is up (and bounds them on the server), and never see a search_path the server, the
 * database or the role chose (ALTER DATABASE … SET search_path = decoy, …).
 */
record Connector(ConnectionTarget target, int connectTimeoutSeconds, Deadline deadline, String searchPath) {

    /** Before the audit schema is known: only the system catalogs, so no unqualified name can be shadowed. */
    static final String CATALOG_ONLY = "pg_catalog, pg_temp";

    Connector(ConnectionTarget target, int connectTimeoutSeconds, Deadline deadline) {
        this(target, connectTimeoutSeconds, deadline, CATALOG_ONLY);
    }

    /** A connection the deadline aborts when the run's time is up. */
    Connection open() throws Failure {
        return open(Map.of());
    }

    /** The same, with extra driver properties (MigrationRunner.CONNECTION_PROPERTIES). */
    Connection open(Map<String, String> extraProperties) throws Failure {
        String doing = "connecting to " + target.describe();
        Connection connection = deadline.watch(connect(extraProperties), doing);
        pinSearchPath(connection);
        try {
            deadline.boundStatements(connection, "bounding statements by --timeout on " + target.describe());
        } catch (Failure e) {
            closeQuietly(connection);
            throw e;
        }
        return connection;
    }

    /** A connection the deadline leaves alone, for clean-up that must run even after it expired. */
    Connection openForCleanUp() throws Failure {
        Connection connection = connect(Map.of());
        pinSearchPath(connection);
        return connection;
    }

    /** The same server and credentials, another database. */
    Connector forDatabase(String database) {
        return new Connector(target.withDatabase(database), connectTimeoutSeconds, deadline, searchPath);
    }

    /** The same, every session read-only (ConnectionTarget.readOnly). */
    Connector readOnly() {
        return new Connector(target.readOnly(), connectTimeoutSeconds, deadline, searchPath);
    }

    /** The same database, with another search_path on every connection (AuditSchema says which). */
    Connector withSearchPath(String path) {
        return new Connector(target, connectTimeoutSeconds, deadline, path);
    }

    private void pinSearchPath(Connection connection) throws Failure {
        try {
            Sql.setSearchPath(connection, searchPath, deadline);
        } catch (Failure e) {
            closeQuietly(connection);
            throw e;
        }
    }

    /**
     * Failures name the target (never the password) and the cause. The wait
     * is bounded by --connect-timeout and by what is left of --timeout.
     */
    private Connection connect(Map<String, String> extraProperties) throws Failure {
        var properties = target.jdbcProperties();
        // A connect_timeout or application_name given in the URL wins over the flag.
        properties.putIfAbsent("connectTimeout", Integer.toString(connectTimeoutSeconds));
        long leftSeconds = Math.max(1, (deadline.remainingMillis() + 999) / 1000);
        for (String bound : new String[] {"connectTimeout", "loginTimeout"}) {
            long wanted = Long.parseLong(properties.getProperty(bound, properties.getProperty("connectTimeout")));
            // 0 means "wait forever" to pgjdbc, as to libpq: the deadline still bounds it.
            properties.setProperty(bound, Long.toString(wanted <= 0 ? leftSeconds : Math.min(wanted, leftSeconds)));
        }
        properties.putIfAbsent("ApplicationName", "backupsmoke");
        extraProperties.forEach(properties::setProperty);
        String doing = "connecting to " + target.describe();
        deadline.check(doing);
        try {
            return DriverManager.getConnection(target.jdbcUrl(), properties);
        } catch (SQLException e) {
            if (deadline.hasExpired()) {
                throw deadline.timedOut(doing);
            }
            String cause = "Connection attempt timed out.".equals(e.getMessage())
                    ? "no answer within " + properties.getProperty("loginTimeout") + " s (see --connect-timeout)"
                    : Sql.oneLine(e);
            throw new Failure("cannot connect to " + target.describe() + ": " + cause);
        }
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Already broken: nothing to release.
        }
    }
}
