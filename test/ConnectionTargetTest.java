// Translating libpq URLs and key=value strings, completed by PG* variables,
// into what pgjdbc understands. Pure logic: no server needed.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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

    /** What a connection string and the PG* variables come to: the case, the string, the environment, the answers. */
    static Stream<Arguments> translations() {
        var pgVariables = Map.of("PGHOST", "envhost", "PGPORT", "7777", "PGUSER", "envuser",
                "PGPASSWORD", "envpass", "PGDATABASE", "envdb", "PGSSLMODE", "verify-full");
        return Stream.of(
                Arguments.of("every part of a URL, percent-decoded",
                        "postgres://us%40er:p%3As%2Fs%20w@db.example.com:6543/my%20db?sslmode=require", Map.of(),
                        List.of("host", "db.example.com", "port", 6543, "database", "my db", "user", "us@er",
                                "password", "p:s/s w", "sslmode", "require",
                                "jdbc_url", "jdbc:postgresql://db.example.com:6543/my+db")),
                Arguments.of("the postgresql scheme", "postgresql://alice@10.0.0.5/ledger", Map.of(),
                        List.of("host", "10.0.0.5", "port", 5432, "database", "ledger")),
                Arguments.of("a plus sign stays a plus sign", "postgres://u:a+b@h/d", Map.of(),
                        List.of("password", "a+b")),
                Arguments.of("an IPv6 literal host", "postgres://u@[::1]:5433/d", Map.of(),
                        List.of("host", "::1", "port", 5433, "jdbc_url", "jdbc:postgresql://[::1]:5433/d",
                                "described", "postgres://u@[::1]:5433/d")),
                Arguments.of("missing parts come from the PG* variables", "postgres:///urldb", pgVariables,
                        List.of("host", "envhost", "port", 7777, "database", "urldb", "user", "envuser",
                                "password", "envpass", "sslmode", "verify-full")),
                Arguments.of("the URL's parts win over the PG* variables", "postgres://urluser:urlpass@urlhost:1234/d",
                        pgVariables, List.of("host", "urlhost", "port", 1234, "user", "urluser", "password", "urlpass")),
                Arguments.of("key=value pairs with quoting and escapes",
                        "host=db.internal port=6000 dbname='my db' user=carol password='it\\'s \\\\ok'", Map.of(),
                        List.of("host", "db.internal", "port", 6000, "database", "my db", "user", "carol",
                                "password", "it's \\ok")),
                Arguments.of("key=value pairs holding \"://\" in a value, as libpq reads them",
                        "host=h password=a://b application_name=http://ci", Map.of(),
                        List.of("host", "h", "password", "a://b", "ApplicationName", "http://ci")),
                Arguments.of("key = value with spaces around the equals sign", "host = h  dbname = d user=u", Map.of(),
                        List.of("host", "h", "database", "d")),
                Arguments.of("host and port as query parameters", "postgres:///d?host=qhost&port=6001&user=q", Map.of(),
                        List.of("host", "qhost", "port", 6001, "user", "q")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("translations")
    void translatesTheConnectionString(String description, String text, Map<String, String> env, List<Object> answers)
            throws Exception {
        Support.assertAnswers(parts(parse(text, env)), answers.toArray());
    }

    @Test
    void defaultsAreLocalhostPort5432AndDatabaseNamedAfterUser() throws Exception {
        var target = parse("postgres://bob@");
        Support.assertAnswers(parts(target), "host", "localhost", "port", 5432, "database", "bob", "password", null);
        assertFalse(target.jdbcProperties().containsKey("password"));
    }

    @Test
    void queryParametersMapToDriverProperties() throws Exception {
        var properties = parse("postgres://u@h/d?connect_timeout=3&application_name=gate"
                + "&target_session_attrs=read-write&options=-c%20TimeZone%3DUTC").jdbcProperties();
        Support.assertAnswers(properties::getProperty, "connectTimeout", "3", "ApplicationName", "gate",
                "targetServerType", "primary", "options", "-c TimeZone=UTC");
    }

    @Test
    void describeNeverShowsThePassword() throws Exception {
        var target = parse("postgres://u:hunter2@h:5/d");
        assertEquals("postgres://u@h:5/d", target.describe());
        assertEquals("postgres://u@h:5/d", target.toString());
    }

    /** A connection string refused with MESSAGE, in the company of the PG* variables ENV. */
    static Arguments refused(String text, Map<String, String> env, String message) {
        return Arguments.of(text, env, message);
    }

    static Arguments refused(String text, String message) {
        return refused(text, Map.of(), message);
    }

    /** Connection strings refused with one line, and the line. */
    static Stream<Arguments> refusals() {
        String socket = "Unix-domain socket host \"/var/run/postgresql\" is not supported: connect over TCP, "
                + "e.g. host 127.0.0.1 or localhost";
        String scheme = "in --db-url: use postgres:// or postgresql://";
        String badPort = "in --db-url or PGPORT (1-65535)";
        String oneHost = "are not supported: give one host";
        String supported = "application_name, connect_timeout, dbname, host, hostaddr, options, passfile, password,"
                + " port, sslcert, sslkey, sslmode, sslpassword, sslrootcert, target_session_attrs, user";
        String unknown = " of the query is not a connection parameter the tool supports (its name is not shown: it"
                + " may be the tail of a password holding a raw '&' or '=', written %26 and %3D)";
        return Stream.of(
                refused("mysql://u@h/d", "unsupported URL scheme \"mysql\" " + scheme),
                refused("jdbc:postgresql://h/d", "unsupported URL scheme \"jdbc:postgresql\" " + scheme),
                refused("host=h sslmdoe=disable", "unsupported connection parameter \"sslmdoe\" in --db-url"
                        + " (supported: " + supported + ")"),
                // A URL's unknown name may be a password's tail after a raw '&': named by its position alone.
                refused("postgres://u@h/d?sslmdoe=disable", "--db-url: parameter 1" + unknown + "; supported: "
                        + supported),
                refused("postgres://u@h/d?password=ab&SECRET=cd", "--db-url: parameter 2" + unknown + "; supported: "
                        + supported),
                refused("postgres://u:12?SECRET=cd@h/d", "--db-url: parameter 1" + unknown + "; supported: "
                        + supported),
                refused("host=h password=ab sslmode=disable SECRET=cd", "--db-url: the parameter after the value of"
                        + " \"sslmode\" is not a connection parameter the tool supports (its name is not shown: it may"
                        + " be the rest of a password; quote a value holding spaces: key='a b'); supported: " + supported),
                refused("postgres://u@h/d?sslmode=sometimes", "invalid sslmode \"sometimes\" in --db-url (one of allow,"
                        + " disable, prefer, require, verify-ca, verify-full)"),
                refused("host=/var/run/postgresql dbname=d", socket),
                refused("postgres:///d", Map.of("PGHOST", "/var/run/postgresql"), socket),
                refused("postgres://u@h:http/d", "invalid port \"http\" " + badPort),
                refused("postgres://u@h/d", Map.of("PGPORT", "70000"), "invalid port \"70000\" " + badPort),
                refused("postgres://u:%zz@h/d", "malformed percent-encoding in --db-url"),
                refused("postgres://u:abc%4@h/d", "malformed percent-encoding in --db-url"),
                refused("host=h1,h2 dbname=d", "several hosts in --db-url (h1,h2) " + oneHost),
                // Issue 11 item 15: the message named "127.0.0.1:55433,127.0.0.1", the last port split off as the port.
                refused("postgres://u@127.0.0.1:55433,127.0.0.1:55434/d",
                        "several hosts in --db-url (127.0.0.1:55433,127.0.0.1:55434) " + oneHost),
                refused("host=h1,h2 port=5433,5434 dbname=d", "several hosts in --db-url (h1,h2 port 5433,5434) " + oneHost),
                refused("mydb", "--db-url is neither a postgres:// URL nor key=value pairs: missing '=' after \"mydb\""),
                refused("host=h password='abc", "unterminated quoted value for \"password\" in --db-url"),
                // Red-team review (secrets): "://" in a key=value string made all before it the URL's "scheme",
                // printed with the password.
                refused("host=h password=SECRET sslmode=sometimes application_name=http://ci",
                        "invalid sslmode \"sometimes\" in --db-url (one of allow, disable, prefer, require, verify-ca,"
                        + " verify-full)"),
                refused("host=h password=SECRET://x sslmdoe=disable", "--db-url: the parameter after the value of"
                        + " \"password\" is not a connection parameter the tool supports (its name is not shown: it"
                        + " may be the rest of a password; quote a value holding spaces: key='a b'); supported: "
                        + supported),
                // Red-team review 8: a password's unquoted or unencoded tail was quoted back, "SECRET" here.
                refused("host=h password=my SECRET", "--db-url is neither a postgres:// URL nor key=value pairs: "
                        + "missing '=' after the value of \"password\" (quote a value holding spaces: key='a b')"),
                refused("postgres://u@h/d?password=ab&SECRET", "--db-url: parameter 2 of the query has no '=': "
                        + "expected key=value (a '&' in a value is written %26)"),
                refused("postgres://u:ab?SECRET@h/d", "--db-url: parameter 1 of the query has no '=': "
                        + "expected key=value (a '&' in a value is written %26)"));
    }

    @ParameterizedTest(name = "refuses {0} (PG* variables: {1})")
    @MethodSource("refusals")
    void refusesTheConnectionStringInOneLine(String text, Map<String, String> env, String message) {
        assertEquals(message, assertThrows(Failure.class, () -> parse(text, env)).getMessage());
    }
}
