// The "integrity" fingerprint of the snapshot (SPEC section 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A fingerprint of the integrity machinery: every trigger on audit_events
 * (enabled or not, its events, its function and the SHA-256 of that
 * function's full definition, pinned settings included), the verifier
 * function, and every function those call by name (our verifier hands its
 * hashing to audit_events_verify_chain_first_modified(), the trigger may hash through a
 * helper): replacing a helper changes a verdict as surely as replacing the
 * function that calls it. The harness compares the fingerprints taken before
 * the backup and after the restore and names each entry that differs.
 */
final class Integrity {
    private Integrity() {}

    /**
     * tgtype bits: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE; tgenabled 'D' is disabled,
     * 'R' fires only under session_replication_role = replica (so not for ordinary sessions), 'A' always.
     * A column list (UPDATE OF), arguments (CALLED AS) and a WHEN condition are named only when present,
     * so a trigger without them is described as before they were: each of them can keep a trigger of the
     * same name, events and function from ever firing (WHEN (false)), or hand its function other orders.
     * The column list is read by subscript (a table has at most 1600 columns), not through a cast to int2[],
     * which a superuser's CREATE CAST could answer.
     * Every object is named with its schema. Parameter: the audit schema.
     */
    static final String TRIGGERS = """
            WITH audit AS (SELECT ?::text AS schema)
            SELECT 'trigger ' || t.tgname || ' on ' || format('%I.%I', audit.schema, 'audit_events'),
                   concat_ws(' ', CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica-only'
                                                   WHEN 'A' THEN 'always' ELSE 'enabled' END,
                             CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' ELSE 'AFTER' END,
                             CASE WHEN t.tgtype & 4 = 4 THEN 'INSERT' END,
                             CASE WHEN t.tgtype & 16 = 16 THEN 'UPDATE' END,
                             CASE WHEN t.tgtype & 8 = 8 THEN 'DELETE' END,
                             CASE WHEN t.tgtype & 32 = 32 THEN 'TRUNCATE' END,
                             'OF ' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.place)
                                       FROM generate_series(0, 1599) AS k(place)
                                            JOIN pg_attribute a ON a.attrelid = t.tgrelid
                                                               AND a.attnum = t.tgattr[k.place]),
                             format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
                             CASE WHEN t.tgnargs > 0
                                  THEN 'CALLED AS ' || substring(pg_get_triggerdef(t.oid) FROM ' EXECUTE FUNCTION (.*)$') END,
                             CASE WHEN t.tgqual IS NOT NULL
                                  THEN 'WHEN ' || substring(pg_get_triggerdef(t.oid) FROM ' WHEN ([(].*[)]) EXECUTE ') END),
                   pg_get_functiondef(t.tgfoid)
            FROM audit, pg_trigger t
                 JOIN pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE t.tgrelid = to_regclass(format('%I.%I', audit.schema, 'audit_events')) AND NOT t.tgisinternal
            UNION ALL
            SELECT 'verifier ' || format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
                   NULL, pg_get_functiondef(p.oid)
            FROM audit, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.oid = to_regprocedure(format('%I.audit_events_verify_chain()', audit.schema))
            ORDER BY 1
            """;

    /**
     * The functions that could be called from the fingerprinted ones: every
     * function in the audit schema or in a schema that holds one of them.
     * Parameter: the audit schema. Columns: key, name, definition.
     */
    static final String CANDIDATE_HELPERS = """
            WITH audit AS (SELECT ?::text AS schema),
            schemas AS (
                SELECT audit.schema AS nspname FROM audit
                UNION
                SELECT n.nspname
                FROM audit, pg_trigger t
                     JOIN pg_proc p ON p.oid = t.tgfoid
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE t.tgrelid = to_regclass(format('%I.%I', audit.schema, 'audit_events')) AND NOT t.tgisinternal)
            SELECT 'function ' || format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
                   p.proname, pg_get_functiondef(p.oid)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN (SELECT nspname FROM schemas) AND p.prokind = 'f'
            ORDER BY 1
            """;

    /** A function as the fingerprint sees it: its key, its bare name and its full definition. */
    private record Function(String key, String name, String definition) {}

    /**
     * Read with the catalogs alone on the search_path, whatever the caller's
     * (workload's has the audit schema): definitions and signatures print a
     * type with its schema when the path does not show it, so both modes
     * must read with one path, and only the catalogs' keeps an operator or
     * function of the audit schema from answering these queries (as an
     * &(smallint, integer) there would the tgtype tests).
     */
    static Map<String, String> read(Connection connection, AuditSchema schema, Deadline deadline) throws Failure {
        String callersPath = Sql.queryOne(connection, "SELECT pg_catalog.current_setting('search_path')", deadline,
                "reading the search_path");
        if (callersPath.equals(Connector.CATALOG_ONLY)) { // verify's (checkpoint's, drill-verify's): nothing to switch
            return readWithCatalogPath(connection, schema, deadline);
        }
        Sql.setSearchPath(connection, Connector.CATALOG_ONLY, deadline);
        Map<String, String> fingerprint = readWithCatalogPath(connection, schema, deadline);
        Sql.setSearchPath(connection, callersPath, deadline);
        return fingerprint;
    }

    private static Map<String, String> readWithCatalogPath(Connection connection, AuditSchema schema,
                                                           Deadline deadline) throws Failure {
        try {
            Map<String, String> fingerprint = new LinkedHashMap<>();
            List<String> definitions = new ArrayList<>();
            try (PreparedStatement statement = connection.prepareStatement(TRIGGERS)) {
                statement.setString(1, schema.name());
                try (ResultSet row = statement.executeQuery()) {
                    while (row.next()) {
                        String definitionHash = definitionHash(row.getString(3));
                        String description = row.getString(2);
                        fingerprint.put(row.getString(1),
                                description == null ? definitionHash : description + " " + definitionHash);
                        definitions.add(row.getString(3));
                    }
                }
            }
            for (Function helper : helpersCalledFrom(definitions, candidateHelpers(connection, schema))) {
                fingerprint.put(helper.key(), definitionHash(helper.definition()));
            }
            return fingerprint;
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, "fingerprinting the integrity machinery", e);
        }
    }

    private static List<Function> candidateHelpers(Connection connection, AuditSchema schema) throws SQLException {
        List<Function> candidates = new ArrayList<>();
        try (PreparedStatement statement = connection.prepareStatement(CANDIDATE_HELPERS)) {
            statement.setString(1, schema.name());
            try (ResultSet row = statement.executeQuery()) {
                while (row.next()) {
                    candidates.add(new Function(row.getString(1), row.getString(2), row.getString(3)));
                }
            }
        }
        return candidates;
    }

    /**
     * The candidates named in a definition followed by "(", and in turn those
     * named in theirs, until nothing new is found. A name in a comment counts
     * too: fingerprinting one function too many is harmless.
     */
    static List<Function> helpersCalledFrom(List<String> definitions, List<Function> candidates) {
        List<Function> called = new ArrayList<>();
        List<String> toSearch = new ArrayList<>(definitions);
        boolean grew = true;
        while (grew) {
            grew = false;
            for (Function candidate : candidates) {
                boolean alreadyFingerprinted = definitions.contains(candidate.definition());
                if (!alreadyFingerprinted && !called.contains(candidate) && callsByName(toSearch, candidate.name())) {
                    called.add(candidate);
                    toSearch.add(candidate.definition());
                    grew = true;
                }
            }
        }
        return called;
    }

    /**
     * Whether a definition calls NAME. The plain search for the name first:
     * it rules out most pairs at memory speed, where the pattern, which
     * starts with a look-behind, tries every position of a long definition
     * (about 0.1 s of every verify, with the JIT still cold).
     */
    private static boolean callsByName(List<String> definitions, String name) {
        Pattern call = Pattern.compile("(?<![A-Za-z0-9_$])\"?" + Pattern.quote(name) + "\"?\\s*\\(");
        return definitions.stream().anyMatch(definition -> definition.contains(name) && call.matcher(definition).find());
    }

    /**
     * Each entry of the anchor's fingerprint that is missing or different
     * today, and each entry added since, one line each naming it (issue 18
     * item 8): a dropped, disabled or replaced trigger or function. Pure
     * logic; both fingerprints come from this class.
     */
    static List<String> changes(Map<String, String> anchor, Map<String, String> now) {
        List<String> changes = new ArrayList<>();
        anchor.forEach((key, before) -> {
            String after = now.get(key);
            if (after == null) {
                changes.add(key + ": missing");
            } else if (!after.equals(before)) {
                changes.add(key + ": " + howItChanged(before, after));
            }
        });
        now.forEach((key, after) -> {
            if (!anchor.containsKey(key)) {
                changes.add(key + ": added" + (description(after).isEmpty() ? "" : " (" + description(after) + ")"));
            }
        });
        return changes;
    }

    /** "disabled BEFORE UPDATE DELETE f()" became another state or function, or only its definition changed. */
    private static String howItChanged(String before, String after) {
        if (description(before).equals(description(after))) {
            return "definition changed";
        }
        return "was " + description(before) + ", now " + description(after)
                + (definitionOf(before).equals(definitionOf(after)) ? "" : " (definition changed)");
    }

    /** An entry's value without its definition hash: "enabled BEFORE INSERT s.f()", or "" for a function. */
    private static String description(String value) {
        int hash = value.lastIndexOf("sha256:");
        return hash < 0 ? value : value.substring(0, hash).strip();
    }

    private static String definitionOf(String value) {
        int hash = value.lastIndexOf("sha256:");
        return hash < 0 ? "" : value.substring(hash);
    }

    private static String definitionHash(String definition) {
        return "sha256:" + AuditRow.sha256Hex(definition);
    }
}
