// Translating libpq URLs and key=value strings, completed by PG* variables,
// into what pgjdbc understands. Pure logic: no server needed.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ConnectionTargetTest {
    private static ConnectionTarget parse(String text, Map<String, String> env) throws Exception {
        return ConnectionTarget.parse(text, env);
    }

    private static ConnectionTarget parse(String text) throws Exception {
        return parse(text, Map.of());
    }

    private static String failure(String text, Map<String, String> env) {
        return assertThrows(Failure.class, () -> parse(text, env)).getMessage();
    }

    @Test
    void urlWithEveryPartPercentDecoded() throws Exception {
        var target = parse("postgres://us%40er:p%3As%2Fs%20w@db.example.com:6543/my%20db?sslmode=require");
        assertEquals("db.example.com", target.host());
        assertEquals(6543, target.port());
        assertEquals("my db", target.database());
        assertEquals("us@er", target.user());
        assertEquals("p:s/s w", target.password());
        assertEquals("require", target.jdbcProperties().getProperty("sslmode"));
        assertEquals("jdbc:postgresql://db.example.com:6543/my+db", target.jdbcUrl());
    }

    @Test
    void postgresqlSchemeIsAcceptedToo() throws Exception {
        var target = parse("postgresql://alice@10.0.0.5/ledger");
        assertEquals("10.0.0.5", target.host());
        assertEquals(5432, target.port());
        assertEquals("ledger", target.database());
    }

    @Test
    void plusSignStaysAPlusSign() throws Exception {
        assertEquals("a+b", parse("postgres://u:a+b@h/d").password());
    }

    @Test
    void ipv6LiteralHost() throws Exception {
        var target = parse("postgres://u@[::1]:5433/d");
        assertEquals("::1", target.host());
        assertEquals(5433, target.port());
        assertEquals("jdbc:postgresql://[::1]:5433/d", target.jdbcUrl());
        assertEquals("postgres://u@[::1]:5433/d", target.describe());
    }

    @Test
    void missingPartsComeFromPgVariables() throws Exception {
        var env = Map.of("PGHOST", "envhost", "PGPORT", "7777", "PGUSER", "envuser",
                "PGPASSWORD", "envpass", "PGDATABASE", "envdb", "PGSSLMODE", "verify-full");
        var target = parse("postgres:///urldb", env);
        assertEquals("envhost", target.host());
        assertEquals(7777, target.port());
        assertEquals("urldb", target.database());
        assertEquals("envuser", target.user());
        assertEquals("envpass", target.password());
        assertEquals("verify-full", target.jdbcProperties().getProperty("sslmode"));
    }

    @Test
    void urlPartsWinOverPgVariables() throws Exception {
        var env = Map.of("PGHOST", "envhost", "PGPORT", "7777", "PGUSER", "envuser", "PGPASSWORD", "envpass");
        var target = parse("postgres://urluser:urlpass@urlhost:1234/d", env);
        assertEquals("urlhost", target.host());
        assertEquals(1234, target.port());
        assertEquals("urluser", target.user());
        assertEquals("urlpass", target.password());
    }

    @Test
    void defaultsAreLocalhostPort5432AndDatabaseNamedAfterUser() throws Exception {
        var target = parse("postgres://bob@");
        assertEquals("localhost", target.host());
        assertEquals(5432, target.port());
        assertEquals("bob", target.database());
        assertNull(target.password());
        assertFalse(target.jdbcProperties().containsKey("password"));
    }

    @Test
    void keyValueStringWithQuotingAndEscapes() throws Exception {
        var target = parse("host=db.internal port=6000 dbname='my db' user=carol password='it\\'s \\\\ok'");
        assertEquals("db.internal", target.host());
        assertEquals(6000, target.port());
        assertEquals("my db", target.database());
        assertEquals("carol", target.user());
        assertEquals("it's \\ok", target.password());
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
        assertEquals("3", properties.getProperty("connectTimeout"));
        assertEquals("gate", properties.getProperty("ApplicationName"));
        assertEquals("primary", properties.getProperty("targetServerType"));
        assertEquals("-c TimeZone=UTC", properties.getProperty("options"));
    }

    @Test
    void hostAndPortAsQueryParameters() throws Exception {
        var target = parse("postgres:///d?host=qhost&port=6001&user=q");
        assertEquals("qhost", target.host());
        assertEquals(6001, target.port());
        assertEquals("q", target.user());
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
