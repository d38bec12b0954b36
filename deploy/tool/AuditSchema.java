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
 * verify reports those, and --fail-on-break fails on them.
 */
record AuditSchema(String name, boolean requested, List<String> shadows) {

    static final String DEFAULT = "public";

    /** Schemas holding a table (or view) called audit_events or audit_chain_head; other sessions' temp schemas aside. */
    static final String HOLDERS = """
            SELECT n.nspname, bool_or(c.relname = 'audit_events') AND bool_or(c.relname = 'audit_chain_head')
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname IN ('audit_events', 'audit_chain_head') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND (n.nspname !~ '^pg_(toast_)?temp_' OR n.oid = pg_catalog.pg_my_temp_schema())
            GROUP BY n.nspname
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
        List<String> holders = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(HOLDERS)) {
            while (row.next()) {
                holders.add(row.getString(1));
                if (row.getBoolean(2)) {
                    complete.add(row.getString(1));
                }
            }
        } catch (SQLException e) {
            throw deadline.failure("looking for the schema of the audit tables", e);
        }
        String chosen = requested != null ? requested : byDefault(complete);
        List<String> shadows = holders.stream().filter(schema -> !schema.equals(chosen)).toList();
        return new AuditSchema(chosen, requested != null, shadows);
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
