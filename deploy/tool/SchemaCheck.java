// The columns and tables of the schema contract (SPEC section 6): checked
// before any work, so a database that lacks them is named for what it lacks
// instead of failing half-way with a bare SQL error.

import java.sql.Connection;
import java.util.List;

final class SchemaCheck {
    private SchemaCheck() {}

    static final List<String> AUDIT_COLUMNS = List.of("id", "actor", "actor_type", "action", "resource_type",
            "resource_id", "details", "timestamp", "event_category", "prev_hash", "row_hash");

    static void require(Connection connection, Deadline deadline) throws Failure {
        String missingTables = Sql.queryOne(connection, """
                SELECT coalesce(string_agg(name, ', '), '')
                FROM unnest(ARRAY['audit_events', 'audit_chain_head']) AS name
                WHERE to_regclass(name) IS NULL
                """, deadline, "looking for the audit tables");
        if (!missingTables.isEmpty()) {
            throw new Failure("this database has no " + missingTables + ": it lacks the audit chain schema;"
                    + " run the migrations first (--mode=workload)");
        }
        String missingColumns = Sql.queryOne(connection, """
                SELECT coalesce(string_agg(name, ', ' ORDER BY position), '')
                FROM unnest(?::text[]) WITH ORDINALITY AS wanted(name, position)
                WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                                  WHERE a.attrelid = to_regclass('audit_events') AND a.attname = wanted.name
                                    AND a.attnum > 0 AND NOT a.attisdropped)
                """.replace("?::text[]", "'{" + String.join(",", AUDIT_COLUMNS) + "}'::text[]"),
                deadline, "checking the columns of audit_events");
        if (!missingColumns.isEmpty()) {
            throw new Failure("audit_events lacks the schema contract's columns " + missingColumns
                    + " (SPEC section 6): these migrations do not install the contract");
        }
    }
}
