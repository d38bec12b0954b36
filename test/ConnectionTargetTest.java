// Translating libpq URLs and key=value strings, completed by PG* variables,
// into what pgjdbc understands. Pure logic: no server needed.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ConnectionTargetTest {
    private static ConnectionTarget parse(String text, Map<String, String> env) throws Exception {
        return ConnectionTarget.parse(text, env);
    }

    private static ConnectionTarget parse(String text) throws Exception {
        return parse(text, Map.of());
    }

    /** What TARGET connects with, by name, for Support.assertAnswers; any other name is a driver property. */
    private static Function<String, Object> parts(ConnectionTarget target) {
        return part -> switch (part) {
            case "host" -> target.host();
            case "port" -> target.port();
            case "database" -> target.database();
            case "user" -> target.user();
            case "password" -> target.password();
            case "jdbc_url" -> target.jdbcUrl();
            case "described" -> target.describe();
            default -> target.jdbcProperties().getProperty(part);
        };
    }

    private static String failure(String text, Map<String, String> env) {
        return assertThrows(Failure.class, () -> parse(text, env)).getMessage();
    }

    @Test
    void urlWithEveryPartPercentDecoded() throws Exception {
        Support.assertAnswers(parts(parse("postgres://us%40er:p%3As%2Fs%20w@db.example.com:6543/my%20db?sslmode=require")),
                "host", "db.example.com", "port", 6543, "database", "my db", "user", "us@er", "password", "p:s/s w",
                "sslmode", "require", "jdbc_url", "jdbc:postgresql://db.example.com:6543/my+db");
    }

    @Test
    void postgresqlSchemeIsAcceptedToo() throws Exception {
        Support.assertAnswers(parts(parse("postgresql://alice@10.0.0.5/ledger")),
                "host", "10.0.0.5", "port", 5432, "database", "ledger");
    }

    @Test
    void plusSignStaysAPlusSign() throws Exception {
        assertEquals("a+b", parse("postgres://u:a+b@h/d").password());
    }

    @Test
    void ipv6LiteralHost() throws Exception {
        Support.assertAnswers(parts(parse("postgres://u@[::1]:5433/d")), "host", "::1", "port", 5433,
                "jdbc_url", "jdbc:postgresql://[::1]:5433/d", "described", "postgres://u@[::1]:5433/d");
    }

    @Test
    void missingPartsComeFromPgVariables() throws Exception {
        var env = Map.of("PGHOST", "envhost", "PGPORT", "7777", "PGUSER", "envuser",
                "PGPASSWORD", "envpass", "PGDATABASE", "envdb", "PGSSLMODE", "verify-full");
        Support.assertAnswers(parts(parse("postgres:///urldb", env)), "host", "envhost", "port", 7777,
                "database", "urldb", "user", "envuser", "password", "envpass", "sslmode", "verify-full");
    }

    @Test
    void urlPartsWinOverPgVariables() throws Exception {
        var env = Map.of("PGHOST", "envhost", "PGPORT", "7777", "PGUSER", "envuser", "PGPASSWORD", "envpass");
        Support.assertAnswers(parts(parse("postgres://urluser:urlpass@urlhost:1234/d", env)),
                "host", "urlhost", "port", 1234, "user", "urluser", "password", "urlpass");
    }

    @Test
    void defaultsAreLocalhostPort5432AndDatabaseNamedAfterUser() throws Exception {
        var target = parse("postgres://bob@");
        Support.assertAnswers(parts(target), "host", "localhost", "port", 5432, "database", "bob", "password", null);
        assertFalse(target.jdbcProperties().containsKey("password"));
    }

    @Test
    void keyValueStringWithQuotingAndEscapes() throws Exception {
        Support.assertAnswers(parts(parse("host=db.internal port=6000 dbname='my db' user=carol password='it\\'s \\\\ok'")),
                "host", "db.internal", "port", 6000, "database", "my db", "user", "carol", "password", "it's \\ok");
    }

    @Test
    void keyValueWithSpacesAroundEquals() throws Exception {
        var target = parse("host = h  dbname = d user=u");
        assertEquals("h", target.host());
        assertEquals("d", target.database());
    }

    @Test
    void queryParametersMapToDriverProperties() throws Exception {
        var properties = parse("postgres://u@h/d?connect_timeout=3&application_name=gate"
                + "&target_session_attrs=read-write&options=-c%20TimeZone%3DUTC").jdbcProperties();
        Support.assertAnswers(properties::getProperty, "connectTimeout", "3", "ApplicationName", "gate",
                "targetServerType", "primary", "options", "-c TimeZone=UTC");
    }

    @Test
    void hostAndPortAsQueryParameters() throws Exception {
        Support.assertAnswers(parts(parse("postgres:///d?host=qhost&port=6001&user=q")),
                "host", "qhost", "port", 6001, "user", "q");
    }

    @Test
    void describeNeverShowsThePassword() throws Exception {
        var target = parse("postgres://u:hunter2@h:5/d");
        assertEquals("postgres://u@h:5/d", target.describe());
        assertEquals("postgres://u@h:5/d", target.toString());
    }

    @Test
    void otherSchemeIsRefusedByName() {
        assertEquals("unsupported URL scheme \"mysql\" in --db-url: use postgres:// or postgresql://",
                failure("mysql://u@h/d", Map.of()));
        assertEquals("unsupported URL scheme \"jdbc:postgresql\" in --db-url: use postgres:// or postgresql://",
                failure("jdbc:postgresql://h/d", Map.of()));
    }

    @Test
    void unknownParameterIsRefusedByName() {
        String message = failure("postgres://u@h/d?sslmdoe=disable", Map.of());
        assertEquals("unsupported connection parameter \"sslmdoe\" in --db-url (supported: application_name, "
                + "connect_timeout, dbname, host, hostaddr, options, passfile, password, port, sslcert, sslkey, "
                + "sslmode, sslpassword, sslrootcert, target_session_attrs, user)", message);
    }

    @Test
    void invalidSslModeIsRefused() {
        assertEquals("invalid sslmode \"sometimes\" in --db-url (one of allow, disable, prefer, require, verify-ca, "
                + "verify-full)", failure("postgres://u@h/d?sslmode=sometimes", Map.of()));
    }

    @Test
    void unixSocketHostIsRefusedWithAdviceToUseTcp() {
        String expected = "Unix-domain socket host \"/var/run/postgresql\" is not supported: connect over TCP, "
                + "e.g. host 127.0.0.1 or localhost";
        assertEquals(expected, failure("host=/var/run/postgresql dbname=d", Map.of()));
        assertEquals(expected, failure("postgres:///d", Map.of("PGHOST", "/var/run/postgresql")));
    }

    @Test
    void badPortIsRefused() {
        assertEquals("invalid port \"http\" in --db-url or PGPORT (1-65535)", failure("postgres://u@h:http/d", Map.of()));
        assertEquals("invalid port \"70000\" in --db-url or PGPORT (1-65535)", failure("postgres://u@h/d", Map.of("PGPORT", "70000")));
    }

    @Test
    void malformedPercentEncodingIsRefused() {
        assertEquals("malformed percent-encoding in --db-url", failure("postgres://u:%zz@h/d", Map.of()));
        assertEquals("malformed percent-encoding in --db-url", failure("postgres://u:abc%4@h/d", Map.of()));
    }

    @Test
    void severalHostsAreRefused() {
        assertEquals("several hosts in --db-url (h1,h2) are not supported: give one host",
                failure("host=h1,h2 dbname=d", Map.of()));
    }

    /** Issue 11 item 15: the message named "127.0.0.1:55433,127.0.0.1", the last port split off as the port. */
    @Test
    void severalHostsInAUrlAreNamedWithEveryPort() {
        assertEquals("several hosts in --db-url (127.0.0.1:55433,127.0.0.1:55434) are not supported: give one host",
                failure("postgres://u@127.0.0.1:55433,127.0.0.1:55434/d", Map.of()));
        assertEquals("several hosts in --db-url (h1,h2 port 5433,5434) are not supported: give one host",
                failure("host=h1,h2 port=5433,5434 dbname=d", Map.of()));
    }

    @Test
    void keyValueWithoutEqualsIsRefused() {
        assertEquals("--db-url is neither a postgres:// URL nor key=value pairs: missing '=' after \"mydb\"",
                failure("mydb", Map.of()));
        assertEquals("unterminated quoted value for \"password\" in --db-url",
                failure("host=h password='abc", Map.of()));
    }
}
