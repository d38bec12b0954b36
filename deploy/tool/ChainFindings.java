// What verify reports about the table around the chain, besides the chain
// itself (issue 18 items 8 and 9): columns the hash does not cover, and the
// append-only protections of SPEC section 6 that are not in force.

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

final class ChainFindings {
    private ChainFindings() {}

    /**
     * The columns the chain itself accounts for: the payload's fields, the
     * hash, and chain_seq (our migrations' position column: it only orders
     * the client's read, the links decide the walk).
     */
    static final List<String> CHAIN_COLUMNS = List.of("id", "actor", "actor_type", "action", "resource_type",
            "resource_id", "details", "timestamp", "event_category", "prev_hash", "row_hash", "chain_seq");

    /**
     * Columns of audit_events outside the hash (an application's ip or
     * reason): rewriting them leaves every hash intact. In table order.
     */
    static List<String> unhashedColumns(Connection connection, AuditSchema schema, Deadline deadline)
            throws Failure {
        return names(connection, """
                SELECT a.attname FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.format('%I.audit_events', ?::text))
                  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> ALL (?::text[])
                ORDER BY a.attnum
                """, schema.name(), "{" + String.join(",", CHAIN_COLUMNS) + "}", deadline,
                "looking for columns outside the hash");
    }

    static final String APPEND_ONLY = "(append-only)";

    /**
     * Whether a missing protection fails --fail-on-break: SPEC section 6
     * asks for the append-only row trigger; a TRUNCATE trigger is ours, and
     * applications of the same contract (test/fixtures) live without it.
     */
    static boolean isRequired(String missingProtection) {
        return missingProtection.endsWith(APPEND_ONLY);
    }

    /**
     * The append-only protections, each named when no enabled trigger
     * provides it: BEFORE UPDATE and BEFORE DELETE row triggers (SPEC
     * section 6's append-only trigger) and a BEFORE TRUNCATE trigger (our
     * migration 000002's audit_events_no_truncate). A trigger enabled
     * for replica sessions only does not protect ordinary ones, nor does one
     * with a WHEN condition (WHEN (false) never fires) or a column list
     * (UPDATE OF id leaves every other column writable). Each table that
     * inherits from audit_events (a partition, a child whose rows every read
     * of audit_events returns) needs its own: a partition's clone of the
     * trigger can be disabled alone, and a child's rows are changed without
     * the parent's triggers. Whether the trigger's function really refuses
     * is the fingerprint's matter.
     * tgtype bits: 1 ROW, 2 BEFORE, 8 DELETE, 16 UPDATE, 32 TRUNCATE.
     */
    static List<String> missingProtections(Connection connection, AuditSchema schema, Deadline deadline)
            throws Failure {
        return names(connection, """
                WITH RECURSIVE tree(relid) AS (
                    SELECT pg_catalog.to_regclass(pg_catalog.format('%I.audit_events', ?::text))::oid
                    UNION
                    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.relid
                )
                SELECT wanted.name
                FROM (VALUES (1, 'BEFORE UPDATE row trigger (append-only)', 19),
                             (2, 'BEFORE DELETE row trigger (append-only)', 11),
                             (3, 'BEFORE TRUNCATE trigger (no-truncate)', 34)) AS wanted(position, name, bits)
                WHERE EXISTS (
                    SELECT 1 FROM tree
                    WHERE NOT EXISTS (
                        SELECT 1 FROM pg_catalog.pg_trigger t
                        WHERE t.tgrelid = tree.relid AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A')
                          AND t.tgtype & wanted.bits = wanted.bits AND t.tgqual IS NULL AND t.tgattr[0] IS NULL))
                ORDER BY wanted.position
                """, schema.name(), null, deadline, "looking for the append-only triggers");
    }

    private static List<String> names(Connection connection, String sql, String schemaName, String array,
                                      Deadline deadline, String doing) throws Failure {
        List<String> names = new ArrayList<>();
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, schemaName);
            if (array != null) {
                statement.setString(2, array);
            }
            try (ResultSet row = statement.executeQuery()) {
                while (row.next()) {
                    names.add(row.getString(1));
                }
            }
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, doing, e);
        }
        return names;
    }
}
