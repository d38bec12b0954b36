// The columns and tables of the schema contract (SPEC section 6): checked
// before any work, so a database that lacks them is named for what it lacks
// instead of failing half-way with a bare SQL error.

import java.sql.Connection;
import java.util.List;

final class SchemaCheck {
    private SchemaCheck() {}

    static final List<String> AUDIT_COLUMNS = List.of("id", "actor", "actor_type", "action", "resource_type",
            "resource_id", "details", "timestamp", "event_category", "prev_hash", "row_hash");

    static void require(Connection connection, AuditSchema schema, Deadline deadline) throws Failure {
        String missingTables = Sql.queryOne(connection, """
                SELECT coalesce(string_agg(name, ', '), '')
                FROM unnest(ARRAY['audit_events', 'audit_chain_head']) AS name
                WHERE to_regclass(format('%I.%I', ?::text, name)) IS NULL
                """, deadline, "looking for the audit tables", schema.name());
        if (!missingTables.isEmpty()) {
            String where = schema.requested() ? "schema " + schema.name() : "this database";
            throw new Failure(where + " has no " + missingTables + ": it lacks the audit chain schema;"
                    + " run the migrations first (--mode=workload)");
        }
        String missingColumns = Sql.queryOne(connection, """
                SELECT coalesce(string_agg(name, ', ' ORDER BY position), '')
                FROM unnest(?::text[]) WITH ORDINALITY AS wanted(name, position)
                WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                                  WHERE a.attrelid = to_regclass(format('%I.audit_events', ?::text))
                                    AND a.attname = wanted.name AND a.attnum > 0 AND NOT a.attisdropped)
                """, deadline, "checking the columns of audit_events",
                "{" + String.join(",", AUDIT_COLUMNS) + "}", schema.name());
        if (!missingColumns.isEmpty()) {
            throw new Failure("audit_events lacks the schema contract's columns " + missingColumns
                    + " (SPEC section 6): these migrations do not install the contract");
        }
        requireInstants(connection, schema, deadline);
    }

    /**
     * The payload's time is the instant in UTC, which only a timestamptz
     * (or a domain over one) holds: a timestamp without time zone prints no
     * offset, and its hash would follow the inserting session's TimeZone.
     */
    private static void requireInstants(Connection connection, AuditSchema schema, Deadline deadline)
            throws Failure {
        String type = Sql.queryOne(connection, """
                SELECT pg_catalog.format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), NULL)
                FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.format('%I.audit_events', ?::text))
                  AND a.attname = 'timestamp' AND NOT a.attisdropped
                """, deadline, "checking the type of audit_events.timestamp", schema.name());
        if (!"timestamp with time zone".equals(type)) {
            throw new Failure("audit_events.\"timestamp\" is " + type + ", not the schema contract's timestamptz"
                    + " (SPEC section 6): the payload's UTC time cannot be read from it");
        }
    }

    /**
     * Row-level security that applies to the verifying role filters what it
     * reads without a word: a row a policy hides from that role (or from the
     * table's owner under FORCE ROW LEVEL SECURITY) is in the log for every
     * other reader but is never walked, so the chain would verify clean
     * around it. Verify judges only a chain it sees whole.
     */
    static void requireEveryRowVisible(Connection connection, AuditSchema schema, Deadline deadline)
            throws Failure {
        String filtered = Sql.queryOne(connection, """
                SELECT coalesce(string_agg(pg_catalog.format('%I.%I', ?::text, name), ' and ' ORDER BY position), '')
                FROM unnest(ARRAY['audit_events', 'audit_chain_head']) WITH ORDINALITY AS tables(name, position)
                WHERE pg_catalog.row_security_active(pg_catalog.to_regclass(pg_catalog.format('%I.%I', ?::text, name)))
                """, deadline, "checking row-level security on the audit tables", schema.name(), schema.name());
        if (filtered.isEmpty()) {
            return;
        }
        String role = Sql.queryOne(connection, "SELECT current_user", deadline, "naming the verifying role");
        throw new Failure("row-level security applies to role " + role + " on " + filtered + ": its policies may"
                + " hide rows from verify, which judges only a chain it sees whole; verify as a superuser, a role with"
                + " BYPASSRLS, or the table's owner (without FORCE ROW LEVEL SECURITY)");
    }

    /**
     * The chain's statement trigger, which writes the head to the sentinel,
     * fires on the table named in the INSERT: an insert straight into a
     * partition runs the row trigger cloned there but never that trigger, and
     * the next statement forks the chain (issue 18 item 4). The workload
     * refuses such a table before migrating or writing anything.
     */
    static void refusePartitioned(Connection connection, AuditSchema schema, Deadline deadline) throws Failure {
        String partitioned = Sql.queryOne(connection, """
                SELECT count(*) FROM pg_catalog.pg_class
                WHERE oid = pg_catalog.to_regclass(pg_catalog.format('%I.audit_events', ?::text)) AND relkind = 'p'
                """, deadline, "checking whether audit_events is partitioned", schema.name());
        if (!"0".equals(partitioned)) {
            throw new Failure("audit_events in schema " + schema.name() + " is partitioned: an insert straight into a"
                    + " partition would skip the chain's statement trigger and fork the chain, so the workload supports"
                    + " an unpartitioned audit_events only; nothing was changed");
        }
    }
}
