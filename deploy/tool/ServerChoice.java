// Where the harness runs its round trip (SPEC 7), decided once from the
// environment: a server named by DATABASE_URL, one named by PGHOST, or else
// a throwaway cluster of its own. DATABASE_URL is taken apart the way libpq
// reads it (parts it leaves out keep their PG* value; its query's connection
// parameters win over its other parts), so that psql, pg_dump, pg_restore
// and the tool are all pointed at the server by the harness's URLs alone and
// the password travels only in the environment. Query parameters the
// harness does not take apart (sslmode, ...) are carried into every URL
// untouched, for the clients to judge their values; a name libpq does not
// know is refused here, before any client runs (it may be a password's tail).

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server the harness works on. KIND is url, pgvars or throwaway (then
 * nothing else is set); the maintenance database is where CREATE and DROP
 * DATABASE run, the in-place database (SMOKE_IN_PLACE=1) the one tested in
 * place. PASSWORD and SSL_PASSWORD are null unless DATABASE_URL gives them.
 */
record ServerChoice(String kind, String host, String port, String user,
                    @JsonInclude(JsonInclude.Include.NON_NULL) String password,
                    @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("sslpassword") String sslPassword,
                    String database, String query, @JsonProperty("maintenance_db") String maintenanceDatabase,
                    @JsonProperty("in_place_db") String inPlaceDatabase) {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<LinkedHashMap<String, String>> ENTRIES = new TypeReference<>() { };

    private static final Pattern BRACKETED = Pattern.compile("\\[([^\\]]*)\\](?::([0-9]*))?");
    private static final Pattern PLAIN = Pattern.compile("([^:]*)(?::([0-9]*))?");
    private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");

    static ServerChoice of(Map<String, String> env, boolean inPlace) throws Failure {
        String url = env.getOrDefault("DATABASE_URL", "");
        Map<String, String> parts = new LinkedHashMap<>();
        String kind;
        if (!url.isEmpty()) {
            kind = "url";
            parts = parseUrl(url);
        } else if (!env.getOrDefault("PGHOST", "").isEmpty()) {
            kind = "pgvars";
        } else {
            return new ServerChoice("throwaway", "", "", "", null, null, "", "", "", "");
        }
        String host = parts.getOrDefault("host", env.getOrDefault("PGHOST", ""));
        if (host.isEmpty()) {
            throw new Failure("DATABASE_URL names no host");
        }
        requirePrintable("host", host, parts.containsKey("host") ? "DATABASE_URL" : "PGHOST");
        String port = parts.getOrDefault("port", env.getOrDefault("PGPORT", ""));
        port = port.isEmpty() ? "5432" : port;
        if (!PORT.matcher(port).matches() || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            throw new Failure("invalid port '" + Knobs.printable(port) + "' (1-65535)");
        }
        String user = parts.getOrDefault("user", env.getOrDefault("PGUSER", ""));
        user = user.isEmpty() ? System.getProperty("user.name") : user;
        requirePrintable("user", user, parts.containsKey("user") ? "DATABASE_URL" : "PGUSER");
        String database = parts.getOrDefault("dbname", env.getOrDefault("PGDATABASE", ""));
        requirePrintable("database", database, parts.containsKey("dbname") ? "DATABASE_URL" : "PGDATABASE");
        String sslPassword = parts.get("sslpassword");
        if (sslPassword != null && sslPassword.indexOf('\n') >= 0) {
            throw new Failure("DATABASE_URL: sslpassword cannot hold a line break");
        }
        if (sslPassword != null && ServiceFile.endsWithWhiteSpace(sslPassword)) { // the clients get it by one
            throw new Failure("DATABASE_URL: sslpassword " + ServiceFile.ENDING_WHITE_SPACE);
        }
        if (inPlace && database.isEmpty()) {
            throw new Failure("SMOKE_IN_PLACE=1 needs PGDATABASE (or a database in DATABASE_URL): "
                    + "the database to test in place");
        }
        return new ServerChoice(kind, host, port, user, parts.get("password"), sslPassword, database,
                parts.getOrDefault("query", ""), database.isEmpty() ? "postgres" : database, inPlace ? database : "");
    }

    /**
     * NAME, the server's host, user or database from VARIABLE, without a control character: the harness
     * prints it in its lines and reasons, where a line break would start a line of its own (a workflow
     * command to GitHub Actions) and another control character makes junit.xml unreadable.
     */
    private static void requirePrintable(String what, String name, String variable) throws Failure {
        if (FailureReport.CONTROL.matcher(name).find()) {
            throw new Failure(variable + ": " + what + " \"" + Knobs.printable(name)
                    + "\" holds a control character, which the harness's lines and reports cannot show");
        }
    }

    /**
     * The parts DATABASE_URL gives, by libpq keyword (host, port, user,
     * password, dbname, sslpassword), plus "query": the parameters kept for
     * every URL, still encoded. Split as UrlParts splits it (a '#' is a
     * character like any other, as libpq reads it); a '%' that starts no
     * escape is taken as it is.
     */
    static Map<String, String> parseUrl(String url) throws Failure {
        UrlParts parts = UrlParts.of(url);
        if (!parts.hasPostgresScheme()) {
            throw new Failure("DATABASE_URL must start with postgres:// or postgresql://");
        }
        if (parts.userInfo() != null && parts.userInfo().contains("/")) { // libpq ends the host at that '/'
            throw new Failure("DATABASE_URL: a raw '@' after the host (its name is not shown: a password holding a"
                    + " raw '/' ends the host there; write '/' in a password, '@' in a name, as %2F and %40)");
        }
        Map<String, String> keywords = new LinkedHashMap<>();
        if (parts.userInfo() != null) {
            keywords.put("user", LibpqUrl.decode(parts.user()));
            if (parts.password() != null) {
                keywords.put("password", LibpqUrl.decode(parts.password()));
            }
        }
        hostAndPort(parts.hostPort(), keywords);
        putIfNotEmpty(keywords, "dbname", LibpqUrl.decode(parts.path() == null ? "" : parts.path()));
        query(parts, keywords);
        return keywords;
    }

    private static void hostAndPort(String authority, Map<String, String> keywords) throws Failure {
        if (authority.contains(",")) {
            throw new Failure("DATABASE_URL with several hosts is not supported");
        }
        Matcher hostPort = BRACKETED.matcher(authority);
        if (!hostPort.matches()) {
            hostPort = PLAIN.matcher(authority);
            if (!hostPort.matches()) {
                throw new Failure("DATABASE_URL has a malformed host:port");
            }
        }
        putIfNotEmpty(keywords, "host", LibpqUrl.decode(hostPort.group(1)));
        putIfNotEmpty(keywords, "port", hostPort.group(2) == null ? "" : hostPort.group(2));
    }

    /** The query's connection parameters win over the URL's other parts; the rest is kept as given. */
    private static void query(UrlParts parts, Map<String, String> keywords) throws Failure {
        List<String> kept = new ArrayList<>();
        for (UrlParts.Parameter parameter : parts.parameters("DATABASE_URL")) {
            String key = LibpqUrl.decode(parameter.key());
            String value = LibpqUrl.decode(parameter.value());
            if (!LibpqUrl.isKnown(key, value)) { // kept, it would reach every client's command line and message
                throw new Failure("DATABASE_URL: " + ConnectionTarget.unknownParameter(parameter.position(),
                        "libpq knows"));
            }
            switch (key) {
                case "host", "port", "user", "password", "sslpassword", "dbname" -> keywords.put(key, value);
                default -> kept.add(parameter.raw());
            }
        }
        keywords.put("query", String.join("&", kept));
    }

    private static void putIfNotEmpty(Map<String, String> keywords, String key, String value) {
        if (!value.isEmpty()) {
            keywords.put(key, value);
        }
    }

    /** The harness's answer: server.NAME, NAME each component's JSON name; the secrets only when DATABASE_URL gives them. */
    Map<String, String> entries() {
        Map<String, String> entries = new LinkedHashMap<>();
        JSON.convertValue(this, ENTRIES).forEach((name, value) -> entries.put("server." + name, value));
        return entries;
    }
}
