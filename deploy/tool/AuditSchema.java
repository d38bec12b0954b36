// Which schema holds the audit tables (issue 11 item 1). The tool never
// relies on the session's search_path to find them: a schema earlier in that
// path (one named like the role, or one an ALTER DATABASE … SET search_path
// put first) could hold a copy that hides tampering with the real tables.

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The schema the tool reads and writes (name), and every other schema that
 * also holds a table named audit_events or audit_chain_head (shadows):
 * verify reports those, and --fail-on-break fails on them. With --schema
 * named, another schema holding a complete audit chain of its own (both
 * tables, a BEFORE INSERT row trigger on its audit_events and its own
 * verifier) is another tenant's log, not a shadow (otherChains, issue 18
 * item 5): a bare copy of a table can stand in for ours, a whole chain
 * schema is there for its own writers.
 */
record AuditSchema(String name, boolean requested, List<String> shadows, List<String> otherChains) {

    AuditSchema(String name, boolean requested, List<String> shadows) {
        this(name, requested, shadows, List.of());
    }

    static final String DEFAULT = "public";

    /** NAMEDATALEN - 1: the server truncates longer identifiers. */
    static final int MAX_NAME_BYTES = 63;

    /**
     * Why NAME cannot be --schema, or null: an empty name would reach the
     * server as a zero-length identifier, and one past 63 bytes would be cut
     * short by the server but not by the catalog lookups.
     */
    static String unusableName(String name) {
        if (name.isEmpty()) {
            return "--schema must name a schema, got an empty name";
        }
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            return "--schema must be at most " + MAX_NAME_BYTES + " bytes (PostgreSQL's limit for names), got "
                    + Failure.quoted(name);
        }
        return null;
    }

    /**
     * Schemas holding a table (or view) called audit_events or audit_chain_head,
     * other sessions' temp schemas aside; whether they hold both; and whether
     * they hold a complete chain: both as tables, a BEFORE INSERT row trigger
     * on audit_events (tgtype bits 1 ROW, 2 BEFORE, 4 INSERT) and
     * audit_events_verify_chain() of their own.
     */
    static final String HOLDERS = """
            SELECT n.nspname,
                   bool_or(c.relname = 'audit_events') AND bool_or(c.relname = 'audit_chain_head'),
                   bool_or(c.relname = 'audit_events' AND c.relkind IN ('r', 'p') AND EXISTS (
                               SELECT 1 FROM pg_catalog.pg_trigger t
                               WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgtype & 7 = 7))
                   AND bool_or(c.relname = 'audit_chain_head' AND c.relkind IN ('r', 'p'))
                   AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                               WHERE p.pronamespace = n.oid AND p.proname = 'audit_events_verify_chain'
                                 AND p.pronargs = 0)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname IN ('audit_events', 'audit_chain_head') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND (n.nspname !~ '^pg_(toast_)?temp_' OR n.oid = pg_catalog.pg_my_temp_schema())
            GROUP BY n.oid, n.nspname
            ORDER BY n.nspname COLLATE "C"
            """;

    /** A name as SQL reads it: always double-quoted, so any schema name works. */
    static String quoted(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    /** schema.object, for every query the tool writes itself. */
    String qualified(String object) {
        return quoted(name) + "." + object;
    }

    /** The search_path of every query connection: the catalogs first, so nothing shadows them; then ours. */
    String queryPath() {
        return "pg_catalog, " + quoted(name) + ", pg_temp";
    }

    /** The migrations create their objects in the first schema of the path (pg_catalog is searched first anyway). */
    String migrationPath() {
        return quoted(name);
    }

    /**
     * --schema when given; otherwise the one schema that holds both tables,
     * or, when several do, public if it is one of them, else the first by
     * name; public when none does (a database still to be migrated).
     */
    static AuditSchema resolve(Connection connection, String requested, Deadline deadline) throws Failure {
        List<String> complete = new ArrayList<>();
        List<String> chains = new ArrayList<>();
        List<String> holders = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(HOLDERS)) {
            while (row.next()) {
                holders.add(row.getString(1));
                if (row.getBoolean(2)) {
                    complete.add(row.getString(1));
                }
                if (row.getBoolean(3)) {
                    chains.add(row.getString(1));
                }
            }
        } catch (SQLException e) {
            throw deadline.failure("looking for the schema of the audit tables", e);
        }
        String chosen = requested != null ? requested : byDefault(complete);
        List<String> others = holders.stream().filter(schema -> !schema.equals(chosen)).toList();
        if (requested == null) {
            return new AuditSchema(chosen, false, others);
        }
        return new AuditSchema(chosen, true, others.stream().filter(schema -> !chains.contains(schema)).toList(),
                others.stream().filter(chains::contains).toList());
    }

    private static String byDefault(List<String> holdingBoth) {
        if (holdingBoth.isEmpty() || holdingBoth.contains(DEFAULT)) {
            return DEFAULT;
        }
        return holdingBoth.get(0);
    }

    /** For workload: writing into one of several candidates by a guess could feed the wrong chain. */
    void requireUnambiguous() throws Failure {
        if (requested || shadows.isEmpty()) {
            return;
        }
        throw new Failure("several schemas hold audit_events or audit_chain_head (" + name + ", "
                + String.join(", ", shadows) + "): choose one with --schema");
    }

    /** What verify says on stderr when other schemas could shadow the audit tables. */
    String shadowWarning() {
        return "schema" + (shadows.size() == 1 ? " " : "s ") + String.join(", ", shadows)
                + " also hold" + (shadows.size() == 1 ? "s" : "") + " audit_events or audit_chain_head: verified "
                + name + " (choose with --schema); any of them could stand in for the audit tables in a session"
                + " whose search_path lists it first";
    }
}
