// A libpq URL taken apart once, the way libpq reads it, for every reader of
// one: ConnectionTarget (--db-url), ServerChoice (DATABASE_URL) and
// PhysicalModes (the URL a restore command wrote). Each part is kept as
// written, still percent-encoded: the readers differ in what they refuse and
// in how strictly they decode (LibpqUrl.decode), not in where a part ends.

import java.util.ArrayList;
import java.util.List;

/**
 * SCHEME://[USER_INFO@]HOST_PORT[/PATH][?QUERY], each part as written (null:
 * the URL has none). The query starts at the first '?' (a raw '#' is a
 * character, as libpq reads it, not a fragment's start), the user information
 * ends at the last '@' before it (a raw '@' or '/' in a password stays in
 * the password), and the path starts at the first '/' after that.
 */
record UrlParts(String scheme, String userInfo, String hostPort, String path, String query) {

    /** URL's parts; a text without "://" has an empty scheme, which no reader takes. */
    static UrlParts of(String url) {
        int schemeEnd = url.indexOf("://");
        String scheme = schemeEnd < 0 ? "" : url.substring(0, schemeEnd);
        String rest = schemeEnd < 0 ? url : url.substring(schemeEnd + 3);
        int queryStart = rest.indexOf('?');
        String query = queryStart < 0 ? null : rest.substring(queryStart + 1);
        rest = queryStart < 0 ? rest : rest.substring(0, queryStart);
        int at = rest.lastIndexOf('@');
        int pathStart = rest.indexOf('/', Math.max(0, at));
        String path = pathStart < 0 ? null : rest.substring(pathStart + 1);
        rest = pathStart < 0 ? rest : rest.substring(0, pathStart);
        return new UrlParts(scheme, at < 0 ? null : rest.substring(0, at), rest.substring(at + 1), path, query);
    }

    /** Whether the scheme is one libpq takes: postgres or postgresql. */
    boolean hasPostgresScheme() {
        return scheme.equals("postgres") || scheme.equals("postgresql");
    }

    /** The user information's user, up to its first ':'; null without user information. */
    String user() {
        if (userInfo == null) {
            return null;
        }
        int colon = userInfo.indexOf(':');
        return colon < 0 ? userInfo : userInfo.substring(0, colon);
    }

    /** The user information's password, after its first ':'; null when it gives none. */
    String password() {
        int colon = userInfo == null ? -1 : userInfo.indexOf(':');
        return colon < 0 ? null : userInfo.substring(colon + 1);
    }

    /** The query's parameters as written, split at every '&' (empty ones too); none without a query. */
    List<String> rawParameters() {
        return query == null ? List.of() : List.of(query.split("&", -1));
    }

    /** A parameter of the query as written: its POSITION (from 1) and its KEY and VALUE, still encoded. */
    record Parameter(int position, String raw, String key, String value) {
    }

    /**
     * The query's parameters but empty ones; one without '=' is refused, WHOSE (the flag or variable that gave
     * the URL) naming it by its position alone: it is what the tail of a password holding a raw '&' looks like.
     */
    List<Parameter> parameters(String whose) throws Failure {
        List<String> raw = rawParameters();
        List<Parameter> parameters = new ArrayList<>();
        for (int position = 1; position <= raw.size(); position++) {
            String parameter = raw.get(position - 1);
            if (parameter.isEmpty()) {
                continue;
            }
            int equals = parameter.indexOf('=');
            if (equals < 0) {
                throw new Failure(whose + ": " + ConnectionTarget.parameterWithoutEquals(position));
            }
            parameters.add(new Parameter(position, parameter, parameter.substring(0, equals),
                    parameter.substring(equals + 1)));
        }
        return parameters;
    }

    /**
     * The URL again without its secrets: the user information's password and the query's password and
     * sslpassword parameters (named encoded too: ssl%70assword is sslpassword to libpq); empty parameters dropped.
     */
    String withoutSecrets() {
        List<String> kept = rawParameters().stream().filter(p -> !p.isEmpty() && !isSecret(p)).toList();
        return (scheme.isEmpty() ? "" : scheme + "://") + (userInfo == null ? "" : user() + "@") + hostPort
                + (path == null ? "" : "/" + path) + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
    }

    /** Whether PARAMETER (as written) sets password or sslpassword; one without '=' sets nothing. */
    private static boolean isSecret(String parameter) {
        String key = LibpqUrl.decode(parameter.substring(0, Math.max(0, parameter.indexOf('='))));
        return key.equals("password") || key.equals("sslpassword");
    }
}
