// Where the harness runs (ServerChoice.java), in process, without a server:
// DATABASE_URL taken apart the way libpq reads it, the PG* variables filling
// what it leaves out, and one line for every URL that can never work. The
// harness asks this through --mode=knobs instead of parsing URLs in bash.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ServerChoiceTest {
    private static Map<String, String> env(String... keysAndValues) {
        Map<String, String> env = new HashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            env.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return env;
    }

    private static ServerChoice url(String url, String... more) throws Failure {
        Map<String, String> env = env(more);
        env.put("DATABASE_URL", url);
        return ServerChoice.of(env, false);
    }

    private static String refusal(Map<String, String> env, boolean inPlace) {
        return assertThrows(Failure.class, () -> ServerChoice.of(env, inPlace)).getMessage();
    }

    @Test
    void withoutAServerTheHarnessStartsItsOwn() throws Exception {
        ServerChoice choice = ServerChoice.of(env("PGPORT", "6000", "PGUSER", "bob"), false);
        assertEquals("throwaway", choice.kind());
        assertEquals(Map.of("server.kind", "throwaway", "server.host", "", "server.port", "", "server.user", "",
                "server.database", "", "server.query", "", "server.maintenance_db", "", "server.in_place_db", ""),
                choice.entries());
    }

    @Test
    void pghostNamesTheServerWithLibpqsDefaults() throws Exception {
        ServerChoice choice = ServerChoice.of(env("PGHOST", "db.example"), false);
        Support.assertAnswers(choice.entries()::get, "server.kind", "pgvars", "server.host", "db.example",
                "server.port", "5432", "server.user", System.getProperty("user.name"), "server.maintenance_db", "postgres");
        assertEquals(null, choice.password(), "PGPASSWORD stays where it is, in the environment");
        assertFalse(choice.entries().containsKey("server.password"));
    }

    @Test
    void aUrlIsTakenApartAndDecoded() throws Exception {
        ServerChoice choice = url("postgresql://al%20ice:p%40ss%3Aword@db.example:6543/my%2Fdb"
                + "?sslmode=require&application_name=gate%20check");
        Support.assertAnswers(choice.entries()::get, "server.kind", "url", "server.host", "db.example",
                "server.port", "6543", "server.user", "al ice", "server.password", "p@ss:word", "server.database", "my/db",
                "server.maintenance_db", "my/db",
                // Kept as given, for every URL the harness builds.
                "server.query", "sslmode=require&application_name=gate%20check");
    }

    /**
     * libpq reads a raw '#' as a character of the URL, not as a fragment's start: the harness cut the URL there,
     * so a password holding one made "u" the host and the password's first digits its port.
     */
    @Test
    void aRawHashIsACharacterOfTheUrlAsLibpqReadsIt() throws Exception {
        Support.assertAnswers(url("postgres://u:12#34@db.example:6543/ledger?application_name=a#b").entries()::get,
                "server.host", "db.example", "server.port", "6543", "server.user", "u", "server.password", "12#34",
                "server.database", "ledger", "server.query", "application_name=a#b");
    }

    @Test
    void theQuerysConnectionParametersWinAndTheSslPasswordIsKeptAside() throws Exception {
        ServerChoice choice = url("postgres://u:pw@h:1/d?host=other&port=7000&dbname=e&user=v&password=w"
                + "&sslpassword=s%26cret&connect_timeout=5");
        Support.assertAnswers(choice.entries()::get, "server.host", "other", "server.port", "7000", "server.user", "v",
                "server.password", "w", "server.database", "e", "server.sslpassword", "s&cret",
                "server.query", "connect_timeout=5");
    }

    @Test
    void aParameterLibpqDoesNotKnowIsRefusedByItsPositionAlone() {
        // Until this change a name libpq does not know was the clients' to refuse (this test kept "bogus=1" in
        // server.query): a password's tail after a raw '&' then reached the command line of pg_isready, the tool
        // and every client, and libpq's message: invalid URI query parameter: "SECRET".
        String why = " of the query is not a connection parameter libpq knows (its name is not shown: it may be the"
                + " tail of a password holding a raw '&' or '=', written %26 and %3D)";
        assertEquals("DATABASE_URL: parameter 3" + why,
                refusal(env("DATABASE_URL", "postgresql://127.0.0.1:5432/db?user=smoke&password=ab&SECRET=cd"), false));
        assertEquals("DATABASE_URL: parameter 2" + why,
                refusal(env("DATABASE_URL", "postgres://h/d?sslmode=disable&bogus=1"), false));
        assertEquals("DATABASE_URL: parameter 1" + why, refusal(env("DATABASE_URL", "postgres://h/d?ssl=false"), false));
        assertEquals("DATABASE_URL: parameter 1" + why, refusal(env("DATABASE_URL", "postgres://h/d?=x"), false));
    }

    @Test
    void everyParameterLibpqKnowsIsLeftForTheClients() throws Exception {
        // libpq 15's PQconndefaults() and 16-18's additions, but those the harness takes apart (host, port, user, password, dbname,
        // sslpassword); ssl=true is libpq's URL-only synonym of sslmode=require.
        String kept = "service=s&passfile=f&channel_binding=prefer&connect_timeout=5&hostaddr=127.0.0.1"
                + "&client_encoding=UTF8&options=-c%20work_mem%3D8MB&application_name=gate%20check"
                + "&fallback_application_name=f&keepalives=1&keepalives_idle=1&keepalives_interval=1"
                + "&keepalives_count=1&tcp_user_timeout=0&sslmode=require&sslcompression=0&sslcert=c&sslkey=k"
                + "&sslrootcert=r&sslcrl=l&sslcrldir=d&sslsni=1&requirepeer=postgres&ssl_min_protocol_version=TLSv1.2"
                + "&ssl_max_protocol_version=TLSv1.3&gssencmode=disable&krbsrvname=postgres&gsslib=gssapi"
                + "&replication=0&target_session_attrs=read-write"
                // those libpq 16 to 18 added: a machine's newer clients take them
                + "&require_auth=scram-sha-256&sslcertmode=allow&load_balance_hosts=random&gssdelegation=0"
                + "&sslnegotiation=postgres&min_protocol_version=3.0&max_protocol_version=latest"
                + "&sslkeylogfile=keys&oauth_issuer=https%3A%2F%2Fid.example&oauth_client_id=gate&oauth_scope=db"
                + "&ssl=true";
        assertEquals(LibpqUrl.PARAMETERS.size() - 6 + 1, kept.split("&").length);
        ServerChoice choice = url("postgres://u@h:1/d?" + kept);
        assertEquals(kept, choice.query());
        assertEquals("postgres://u@h:1/d?" + kept, LibpqUrl.entries(choice).get("url.maintenance"));
    }

    @Test
    void partsTheUrlLeavesOutKeepTheirPgValues() throws Exception {
        ServerChoice choice = url("postgres:///?sslmode=disable", "PGHOST", "h", "PGPORT", "6000", "PGUSER", "bob",
                "PGDATABASE", "app");
        Support.assertAnswers(choice.entries()::get, "server.host", "h", "server.port", "6000", "server.user", "bob",
                "server.database", "app");
        assertEquals("::1", url("postgres://[::1]:5433/d").host());
        assertEquals("5433", url("postgres://[::1]:5433/d").port());
        assertEquals("%zz", url("postgres://h/%zz").database(), "not an escape: taken as it is");
    }

    @Test
    void aUrlThatCanNeverWorkIsOneLine() {
        assertEquals("DATABASE_URL must start with postgres:// or postgresql://",
                refusal(env("DATABASE_URL", "mysql://h/d"), false));
        assertEquals("DATABASE_URL with several hosts is not supported",
                refusal(env("DATABASE_URL", "postgres://a,b/d"), false));
        assertEquals("DATABASE_URL has a malformed host:port", refusal(env("DATABASE_URL", "postgres://h:port/d"), false));
        assertEquals("DATABASE_URL names no host", refusal(env("DATABASE_URL", "postgres:///d"), false));
        assertEquals("invalid port '99999' (1-65535)", refusal(env("DATABASE_URL", "postgres://u@127.0.0.1:99999/d"), false));
        assertEquals("invalid port '0' (1-65535)", refusal(env("DATABASE_URL", "postgres://h/d?port=0"), false));
        assertEquals("DATABASE_URL: sslpassword cannot hold a line break",
                refusal(env("DATABASE_URL", "postgres://h/d?sslpassword=a%0Ab"), false));
        assertEquals("DATABASE_URL: sslpassword cannot end with white space (libpq drops the white space that ends"
                + " a line of a connection service file)", refusal(env("DATABASE_URL", "postgres://h/d?sslpassword=ab%20"),
                false));
        // Red-team review 8: a password's tail after a raw '&' was kept as a parameter of every URL the harness made.
        assertEquals("DATABASE_URL: parameter 2 of the query has no '=': expected key=value (a '&' in a value is "
                + "written %26)", refusal(env("DATABASE_URL", "postgres://h/d?password=ab&SECRET"), false));
        // Red-team review (secrets): a password holding a raw '/' (all of it, or digits, before it) ended the
        // host there, as libpq reads it, and its tail, the real host after it, became the database's name,
        // on every client's command line and in messages.
        String slash = "DATABASE_URL: a raw '@' after the host (its name is not shown: a password holding a raw '/'"
                + " ends the host there; write '/' in a password, '@' in a name, as %2F and %40)";
        assertEquals(slash, refusal(env("DATABASE_URL", "postgres://u:/SECRET@db.example.com:5432/d"), false));
        assertEquals(slash, refusal(env("DATABASE_URL", "postgres://u:12/SECRET@db.example.com/d"), false));
    }

    @Test
    void inPlaceNeedsADatabaseAndTestsThatOne() throws Exception {
        assertEquals("SMOKE_IN_PLACE=1 needs PGDATABASE (or a database in DATABASE_URL): the database to test in place",
                refusal(env("PGHOST", "h"), true));
        ServerChoice choice = ServerChoice.of(env("DATABASE_URL", "postgres://h/app"), true);
        assertEquals("app", choice.inPlaceDatabase());
        assertEquals("app", choice.maintenanceDatabase());
        assertEquals("", url("postgres://h/app").inPlaceDatabase());
    }

    @Test
    void aNameWithAControlCharacterIsRefusedInOneLine() {
        // Red-team review 8: the harness's lines name the server's user and database, so an in-place database named
        // "smoke\n::set-output name=x::y" printed a line of its own that GitHub Actions ran as a workflow command.
        String why = " holds a control character, which the harness's lines and reports cannot show";
        assertEquals("DATABASE_URL: database \"smoke?::set-output name=x::y\"" + why,
                refusal(env("DATABASE_URL", "postgres://h/smoke%0A::set-output%20name=x::y"), true));
        assertEquals("PGDATABASE: database \"sm?oke\"" + why,
                refusal(env("PGHOST", "h", "PGDATABASE", "sm\roke"), false));
        assertEquals("DATABASE_URL: user \"ev?il\"" + why,
                refusal(env("DATABASE_URL", "postgres://ev%01il@h/d"), false));
        assertEquals("PGUSER: user \"ev?il\"" + why,
                refusal(env("DATABASE_URL", "postgres://h/d", "PGUSER", "ev\u001bil"), false));
        assertEquals("PGHOST: host \"h?\"" + why, refusal(env("PGHOST", "h\n"), false));
    }
}
