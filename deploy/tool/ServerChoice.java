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
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
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

    private static final Pattern URL = Pattern.compile("postgres(?:ql)?://(.*)", Pattern.DOTALL);
    private static final Pattern PARTS = Pattern.compile("([^/?]*)(?:/([^?]*))?(?:\\?(.*))?", Pattern.DOTALL);
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
     * every URL, still encoded.
     */
    static Map<String, String> parseUrl(String url) throws Failure {
        Matcher scheme = URL.matcher(url);
        if (!scheme.matches()) {
            throw new Failure("DATABASE_URL must start with postgres:// or postgresql://");
        }
        // A '#' is a character like any other, as libpq (and the tool's own ConnectionTarget) reads it: cut
        // there as a fragment, a password holding one ended the URL and its first half became the host.
        Matcher parts = PARTS.matcher(scheme.group(1));
        if (!parts.matches()) {
            throw new Failure("DATABASE_URL cannot be parsed");
        }
        String authority = parts.group(1);
        if (parts.group(2) != null && parts.group(2).contains("@")) {
            throw new Failure("DATABASE_URL: a raw '@' after the host (its name is not shown: a password holding a"
                    + " raw '/' ends the host there; write '/' in a password, '@' in a name, as %2F and %40)");
        }
        Map<String, String> keywords = new LinkedHashMap<>();
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String userInfo = authority.substring(0, at);
            int colon = userInfo.indexOf(':');
            keywords.put("user", decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
            if (colon >= 0) {
                keywords.put("password", decode(userInfo.substring(colon + 1)));
            }
            authority = authority.substring(at + 1);
        }
        hostAndPort(authority, keywords);
        putIfNotEmpty(keywords, "dbname", decode(parts.group(2) == null ? "" : parts.group(2)));
        query(parts.group(3) == null ? "" : parts.group(3), keywords);
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
        putIfNotEmpty(keywords, "host", decode(hostPort.group(1)));
        putIfNotEmpty(keywords, "port", hostPort.group(2) == null ? "" : hostPort.group(2));
    }

    /** The query's connection parameters win over the URL's other parts; the rest is kept as given. */
    private static void query(String query, Map<String, String> keywords) throws Failure {
        List<String> kept = new ArrayList<>();
        if (!query.isEmpty()) {
            String[] parameters = query.split("&", -1);
            for (int position = 1; position <= parameters.length; position++) {
                String parameter = parameters[position - 1];
                int equals = parameter.indexOf('=');
                if (parameter.isEmpty()) {
                    continue;
                }
                if (equals < 0) { // kept, it would have carried a password's tail into every URL the harness makes
                    throw new Failure("DATABASE_URL: " + ConnectionTarget.parameterWithoutEquals(position));
                }
                String key = decode(parameter.substring(0, equals));
                String value = decode(parameter.substring(equals + 1));
                if (!LibpqUrl.isKnown(key, value)) { // kept, it would reach every client's command line and message
                    throw new Failure("DATABASE_URL: " + ConnectionTarget.unknownParameter(position, "libpq knows"));
                }
                switch (key) {
                    case "host", "port", "user", "password", "sslpassword" -> keywords.put(key, value);
                    case "dbname" -> keywords.put("dbname", value);
                    default -> kept.add(parameter);
                }
            }
        }
        keywords.put("query", String.join("&", kept));
    }

    private static void putIfNotEmpty(Map<String, String> keywords, String key, String value) {
        if (!value.isEmpty()) {
            keywords.put(key, value);
        }
    }

    /** Percent-decoding as the harness always did it: %XX is a byte, anything else stays as it is. */
    static String decode(String text) {
        var bytes = new ByteArrayOutputStream();
        for (int i = 0; i < text.length(); i++) {
            boolean escape = text.charAt(i) == '%' && i + 2 < text.length();
            int high = escape ? Character.digit(text.charAt(i + 1), 16) : -1;
            int low = high >= 0 ? Character.digit(text.charAt(i + 2), 16) : -1;
            if (low >= 0) {
                bytes.write(high * 16 + low);
                i += 2;
            } else {
                bytes.writeBytes(String.valueOf(text.charAt(i)).getBytes(StandardCharsets.UTF_8));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** The harness's answer: server.NAME, NAME each component's JSON name; the secrets only when DATABASE_URL gives them. */
    Map<String, String> entries() {
        Map<String, String> entries = new LinkedHashMap<>();
        JSON.convertValue(this, ENTRIES).forEach((name, value) -> entries.put("server." + name, value));
        return entries;
    }
}
