// Opening connections to the database under test.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;

/**
 * Where to connect and how long to wait; connections it opens are watched by
 * the run's deadline, which aborts them when the time is up.
 */
record Connector(ConnectionTarget target, int connectTimeoutSeconds, Deadline deadline) {

    /** A connection the deadline aborts when the run's time is up. */
    Connection open() throws Failure {
        return open(Map.of());
    }

    /** The same, with extra driver properties (MigrationRunner.CONNECTION_PROPERTIES). */
    Connection open(Map<String, String> extraProperties) throws Failure {
        return deadline.watch(connect(extraProperties));
    }

    /** A connection the deadline leaves alone, for clean-up that must run even after it expired. */
    Connection openForCleanUp() throws Failure {
        return connect(Map.of());
    }

    /** The same server and credentials, another database. */
    Connector forDatabase(String database) {
        return new Connector(target.withDatabase(database), connectTimeoutSeconds, deadline);
    }

    /** Failures name the target (never the password) and the cause. */
    private Connection connect(Map<String, String> extraProperties) throws Failure {
        var properties = target.jdbcProperties();
        // A connect_timeout or application_name given in the URL wins over the flag.
        properties.putIfAbsent("connectTimeout", Integer.toString(connectTimeoutSeconds));
        properties.putIfAbsent("loginTimeout", properties.getProperty("connectTimeout"));
        properties.putIfAbsent("ApplicationName", "backupsmoke");
        extraProperties.forEach(properties::setProperty);
        try {
            return DriverManager.getConnection(target.jdbcUrl(), properties);
        } catch (SQLException e) {
            String cause = "Connection attempt timed out.".equals(e.getMessage())
                    ? "no answer within " + properties.getProperty("loginTimeout") + " s (see --connect-timeout)"
                    : Sql.oneLine(e);
            throw new Failure("cannot connect to " + target.describe() + ": " + cause);
        }
    }
}
