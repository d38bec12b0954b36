// The libpq URLs the harness hands to psql, pg_dump, pg_restore, the tool
// and the operator's commands (SPEC 7): built here once, in --mode=knobs,
// so that the harness never encodes a URL itself. None carries a secret:
// the password travels in PGPASSWORD, an sslpassword in the service file.

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

final class LibpqUrl {
    private LibpqUrl() {
    }

    /**
     * Every connection parameter libpq 15 knows (PQconndefaults() of the clients the harness runs: psql,
     * pg_dump, pg_restore, pg_isready), and those libpq 16 to 18 added, for a machine with newer clients (an
     * older libpq refuses them itself). Not the secrets 18 added (oauth_client_secret, scram_client_key,
     * scram_server_key): they would reach the clients' command lines. A URL's query may also say ssl=true,
     * which libpq reads as sslmode=require ({@link #isKnown}).
     */
    static final Set<String> PARAMETERS = Set.of("service", "user", "password", "passfile", "channel_binding",
            "connect_timeout", "dbname", "host", "hostaddr", "port", "client_encoding", "options", "application_name",
            "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout", "sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert",
            "sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version",
            "gssencmode", "krbsrvname", "gsslib", "replication", "target_session_attrs",
            // 16, 17 and 18
            "require_auth", "sslcertmode", "load_balance_hosts", "gssdelegation", "sslnegotiation",
            "min_protocol_version", "max_protocol_version", "sslkeylogfile", "oauth_issuer", "oauth_client_id",
            "oauth_scope");

    /** Whether libpq takes KEY=VALUE from a URL's query (it refuses any other name: "invalid URI query parameter"). */
    static boolean isKnown(String key, String value) {
        return PARAMETERS.contains(key) || key.equals("ssl") && value.equals("true");
    }

    /** postgres://USER@HOST:PORT/DATABASE?QUERY, every part percent-encoded but the query (kept as given). */
    static String of(String user, String host, String port, String database, String query) {
        return base(user, host, port) + encode(database) + (query.isEmpty() ? "" : "?" + query);
    }

    /** postgres://USER@HOST:PORT/ (an IPv6 address in brackets): a database name that needs no encoding goes after it. */
    static String base(String user, String host, String port) {
        return "postgres://" + encode(user) + "@" + (host.contains(":") ? "[" + host + "]" : encode(host)) + ":" + port
                + "/";
    }

    /** Every byte of TEXT's UTF-8 but A-Z a-z 0-9 . _ ~ - as %XX. */
    static String encode(String text) {
        StringBuilder out = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c < 128 && (Character.isLetterOrDigit(c) || ".-_~".indexOf(c) >= 0)) {
                out.append(c);
            } else {
                out.append(String.format("%%%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    /**
     * TEXT percent-decoded as libpq decodes a URL's parts: %XX is byte XX of the UTF-8, '+' stays '+', and a
     * '%' that starts no escape stays as it is (libpq refuses it: a reader that must, asks {@link #isWellEncoded}).
     */
    static String decode(String text) {
        var bytes = new ByteArrayOutputStream();
        for (int i = 0; i < text.length(); i++) {
            int escaped = escapeAt(text, i);
            if (escaped >= 0) {
                bytes.write(escaped);
                i += 2;
            } else {
                bytes.writeBytes(String.valueOf(text.charAt(i)).getBytes(StandardCharsets.UTF_8));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Whether every '%' of TEXT starts a %XX escape, as libpq requires ("invalid percent-encoded token"). */
    static boolean isWellEncoded(String text) {
        for (int i = text.indexOf('%'); i >= 0; i = text.indexOf('%', i + 1)) {
            if (escapeAt(text, i) < 0) {
                return false;
            }
        }
        return true;
    }

    /** The byte the %XX escape at INDEX of TEXT stands for, or -1 when none starts there. */
    private static int escapeAt(String text, int index) {
        if (text.charAt(index) != '%' || index + 2 >= text.length()) {
            return -1;
        }
        int high = Character.digit(text.charAt(index + 1), 16);
        int low = Character.digit(text.charAt(index + 2), 16);
        return high < 0 || low < 0 ? -1 : high * 16 + low;
    }

    /**
     * The harness's URLs of a configured server (none for a throwaway one,
     * whose port is known only once it runs): url.base and url.query (for
     * its scratch databases), url.maintenance and url.in_place, and
     * server.label (USER@HOST:PORT, for messages).
     */
    static Map<String, String> entries(ServerChoice server) {
        Map<String, String> entries = new LinkedHashMap<>();
        if (server.kind().equals("throwaway")) {
            return entries;
        }
        String user = server.user();
        entries.put("url.base", base(user, server.host(), server.port()));
        entries.put("url.query", server.query().isEmpty() ? "" : "?" + server.query());
        entries.put("url.maintenance", of(user, server.host(), server.port(), server.maintenanceDatabase(),
                server.query()));
        entries.put("url.in_place", server.inPlaceDatabase().isEmpty() ? "" : of(user, server.host(), server.port(),
                server.inPlaceDatabase(), server.query()));
        entries.put("server.label", user + "@" + server.host() + ":" + server.port());
        return entries;
    }
}
