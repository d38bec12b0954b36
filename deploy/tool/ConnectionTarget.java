// Where to connect: libpq-style URLs and key=value strings, completed from
// the PG* environment variables, translated into what pgjdbc understands.

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeSet;
import java.util.regex.Pattern;

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
            // Not libpq's (it has none for sslpassword): ours, so a secret never needs the command line.
            "sslpassword", "PGSSLPASSWORD",
            "connect_timeout", "PGCONNECT_TIMEOUT", "application_name", "PGAPPNAME", "options", "PGOPTIONS",
            "target_session_attrs", "PGTARGETSESSIONATTRS");

    /** libpq keywords that become pgjdbc properties, under pgjdbc's names. */
    static final Map<String, String> DRIVER_PROPERTY = orderedMap(
            "sslmode", "sslmode", "sslrootcert", "sslrootcert", "sslcert", "sslcert", "sslkey", "sslkey",
            "sslpassword", "sslpassword", "connect_timeout", "connectTimeout",
            "application_name", "ApplicationName", "options", "options",
            "target_session_attrs", "targetServerType");

    /** What starts a URL: a scheme (RFC 3986's characters, and ':' for "jdbc:postgresql") and "://". */
    private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.:-]*://");

    static final Set<String> SSL_MODES = Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    /** libpq's target_session_attrs values and pgjdbc's targetServerType equivalents. */
    static final Map<String, String> SESSION_ATTRS = Map.of(
            "any", "any", "read-write", "primary", "primary", "primary",
            "read-only", "secondary", "standby", "secondary", "prefer-standby", "preferSecondary");

    /** TEXT as parse reads it, given by FLAG rather than --db-url: a malformed one names FLAG. */
    static ConnectionTarget parse(String flag, String text, Map<String, String> environment) throws Failure {
        try {
            return parse(text, environment);
        } catch (Failure malformed) {
            throw new Failure(malformed.getMessage().replace("--db-url", flag));
        }
    }

    static ConnectionTarget parse(String text, Map<String, String> environment) throws Failure {
        // A URL, as libpq tells one, by its start: "://" inside a key=value string (a password's, an
        // application_name's) would otherwise make everything before it, password included, the "scheme".
        Map<String, String> keywords = isUrl(text) ? parseUrl(text.trim()) : parseKeyValue(text);
        ENVIRONMENT.forEach((keyword, variable) -> {
            String value = environment.get(variable);
            if (!keywords.containsKey(keyword) && value != null && !value.isEmpty()) {
                keywords.put(keyword, value);
            }
        });
        return fromKeywords(keywords);
    }

    /** Whether TEXT is a URL, as libpq tells one: by its start, a scheme and "://". */
    private static boolean isUrl(String text) {
        return SCHEME.matcher(text.trim()).lookingAt();
    }

    /**
     * TEXT (a URL or key=value string {@link #parse} has read) without its password and sslpassword: what a
     * libpq client may be given on its command line, where ps shows it, and in messages (TextOracle).
     */
    static String withoutSecrets(String text) throws Failure {
        if (isUrl(text)) {
            return UrlParts.of(text.trim()).withoutSecrets();
        }
        Map<String, String> keywords = parseKeyValue(text);
        if (!keywords.containsKey("password") && !keywords.containsKey("sslpassword")) {
            return text;
        }
        StringJoiner kept = new StringJoiner(" ");
        for (var keyword : keywords.entrySet()) {
            if (!keyword.getKey().equals("password") && !keyword.getKey().equals("sslpassword")) {
                kept.add(keyword.getKey() + "=" + singleQuoted(keyword.getValue()));
            }
        }
        return kept.toString();
    }

    /** The sslpassword TEXT (a URL or key=value string) gives, decoded (the last one, as libpq takes it); null: none. */
    static String sslPasswordIn(String text) throws Failure {
        if (!isUrl(text)) {
            return parseKeyValue(text).get("sslpassword");
        }
        String sslPassword = null;
        for (UrlParts.Parameter parameter : UrlParts.of(text.trim()).parameters("--db-url")) {
            if (LibpqUrl.decode(parameter.key()).equals("sslpassword")) {
                sslPassword = LibpqUrl.decode(parameter.value());
            }
        }
        return sslPassword;
    }

    /** VALUE as a key=value string quotes it, its \\ and ' escaped: parseKeyValue reads it back whole. */
    private static String singleQuoted(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static ConnectionTarget fromKeywords(Map<String, String> keywords) throws Failure {
        String host = keywords.getOrDefault("host", keywords.getOrDefault("hostaddr", ""));
        if (host.isEmpty()) {
            host = "localhost"; // libpq would try a Unix socket; pgjdbc speaks TCP only
        }
        if (host.contains(",")) {
            throw severalHosts(host + (keywords.containsKey("port") ? " port " + keywords.get("port") : ""));
        }
        if (host.startsWith("/") || host.startsWith("@")) {
            throw new Failure("Unix-domain socket host " + Failure.quoted(host)
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
                    throw new Failure("invalid sslmode " + Failure.quoted(value) + " in --db-url (one of "
                            + String.join(", ", new TreeSet<>(SSL_MODES)) + ")");
                }
            }
            case "connect_timeout" -> {
                if (!value.matches("\\d+")) {
                    throw new Failure("invalid connect_timeout " + Failure.quoted(value) + " in --db-url (whole seconds)");
                }
            }
            case "target_session_attrs" -> {
                String mapped = SESSION_ATTRS.get(value);
                if (mapped == null) {
                    throw new Failure("invalid target_session_attrs " + Failure.quoted(value) + " in --db-url");
                }
                return mapped;
            }
            default -> { }
        }
        return value;
    }

    private static Failure severalHosts(String hosts) {
        return new Failure("several hosts in --db-url (" + hosts + ") are not supported: give one host");
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
        throw new Failure("invalid port " + Failure.quoted(text) + " in --db-url or PGPORT (1-65535)");
    }

    /** postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&...], split as UrlParts splits it. */
    static Map<String, String> parseUrl(String url) throws Failure {
        UrlParts parts = UrlParts.of(url);
        if (!parts.hasPostgresScheme()) {
            throw new Failure("unsupported URL scheme " + Failure.quoted(parts.scheme())
                    + " in --db-url: use postgres:// or postgresql://");
        }
        Map<String, String> keywords = new LinkedHashMap<>();
        parseQuery(parts, keywords);
        if (parts.path() != null) {
            putIfNotEmpty(keywords, "dbname", percentDecode(parts.path()));
        }
        if (parts.userInfo() != null) {
            putIfNotEmpty(keywords, "user", percentDecode(parts.user()));
            if (parts.password() != null) {
                keywords.put("password", percentDecode(parts.password()));
            }
        }
        parseHostPort(parts.hostPort(), keywords);
        return keywords;
    }

    /** host, host:port, [ipv6] or [ipv6]:port; query parameters named host/port win. */
    private static void parseHostPort(String hostPort, Map<String, String> keywords) throws Failure {
        if (hostPort.contains(",")) {
            // Named whole: splitting at the last ':' would drop the last host's port from the message.
            throw severalHosts(hostPort);
        }
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

    private static void parseQuery(UrlParts parts, Map<String, String> keywords) throws Failure {
        for (UrlParts.Parameter parameter : parts.parameters("--db-url")) {
            String key = percentDecode(parameter.key());
            if (!isSupported(key)) {
                throw new Failure("--db-url: " + unknownParameter(parameter.position(), "the tool supports")
                        + "; supported: " + supported());
            }
            keywords.put(key, percentDecode(parameter.value()));
        }
    }

    /**
     * Why the query's parameter at POSITION (from 1) is refused, without its text: a word without '=' is
     * what the tail of a password holding a raw '&' or '?' looks like.
     */
    static String parameterWithoutEquals(int position) {
        return "parameter " + position + " of the query has no '=': expected key=value"
                + " (a '&' in a value is written %26)";
    }

    /**
     * Why the query's parameter at POSITION (from 1) is refused, its name not shown: a parameter WHOSE
     * (such as "libpq knows") does not know may be the tail of a password holding a raw '&' (the name after it,
     * up to its '='), and anything before it in the URL may be a password.
     */
    static String unknownParameter(int position, String whose) {
        return "parameter " + position + " of the query is not a connection parameter " + whose + " (its name is"
                + " not shown: it may be the tail of a password holding a raw '&' or '=', written %26 and %3D)";
    }

    /** libpq's key=value form: values may be single-quoted, with \' and \\ escapes. */
    static Map<String, String> parseKeyValue(String text) throws Failure {
        Map<String, String> keywords = new LinkedHashMap<>();
        int i = 0;
        int length = text.length();
        String previousKey = null;
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
                // After a value, the word is quoted back never: it may be the rest of a password holding a space.
                throw new Failure("--db-url is neither a postgres:// URL nor key=value pairs: missing '=' after "
                        + (previousKey == null ? Failure.quoted(key) : "the value of " + Failure.quoted(previousKey)
                                + " (quote a value holding spaces: key='a b')"));
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
                    throw new Failure("unterminated quoted value for " + Failure.quoted(key) + " in --db-url");
                }
                i++;
            }
            if (!isSupported(key)) {
                // After a password, the key may be the rest of it (a value holding a space, unquoted).
                throw new Failure(keywords.containsKey("password") || keywords.containsKey("sslpassword")
                        ? "--db-url: the parameter after the value of " + Failure.quoted(previousKey) + " is not a"
                                + " connection parameter the tool supports (its name is not shown: it may be the rest"
                                + " of a password; quote a value holding spaces: key='a b'); supported: " + supported()
                        : "unsupported connection parameter " + Failure.quoted(key) + " in --db-url (supported: "
                                + supported() + ")");
            }
            keywords.put(key, value.toString());
            previousKey = key;
        }
    }

    private static boolean isSupported(String key) {
        return ENVIRONMENT.containsKey(key) || DRIVER_PROPERTY.containsKey(key);
    }

    /** The keywords the tool takes, in alphabetical order. */
    private static String supported() {
        var supported = new TreeSet<>(ENVIRONMENT.keySet());
        supported.addAll(DRIVER_PROPERTY.keySet());
        return String.join(", ", supported);
    }

    private static void putIfNotEmpty(Map<String, String> keywords, String key, String value) {
        if (!value.isEmpty()) {
            keywords.put(key, value);
        }
    }

    /** TEXT percent-decoded as libpq decodes it, which refuses a '%' that starts no %XX escape. */
    static String percentDecode(String text) throws Failure {
        if (!LibpqUrl.isWellEncoded(text)) {
            throw new Failure("malformed percent-encoding in --db-url");
        }
        return LibpqUrl.decode(text);
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

    /** The same server and credentials, another database (for scratch databases). */
    ConnectionTarget withDatabase(String otherDatabase) {
        return new ConnectionTarget(host, port, otherDatabase, user, password, driverOptions);
    }

    /**
     * Every session read-only, autocommit statements included (pgjdbc's
     * readOnlyMode=always): checkpoint and drill-verify must not write.
     */
    ConnectionTarget readOnly() {
        Map<String, String> options = new LinkedHashMap<>(driverOptions);
        options.put("readOnly", "true");
        options.put("readOnlyMode", "always");
        return new ConnectionTarget(host, port, database, user, password, options);
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

    /** KEYS_AND_VALUES (key, value, key, value, ...) as a map in that order, unmodifiable. */
    static Map<String, String> orderedMap(String... keysAndValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }
}
