// The "integrity" fingerprint of the snapshot (SPEC section 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.PreparedStatement;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fingerprint of the integrity machinery: every trigger on audit_events
 * (enabled or not, its events, its function and the SHA-256 of that
 * function's full definition, pinned settings included) and the verifier
 * function. The harness compares the fingerprints taken before the backup
 * and after the restore and names each entry that differs.
 */
final class Integrity {
    private Integrity() {}

    /**
     * tgtype bits: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE; tgenabled 'D' is disabled.
     * Every object is named with its schema. Parameter: the audit schema.
     */
    static final String TRIGGERS = """
            WITH audit AS (SELECT ?::text AS schema)
            SELECT 'trigger ' || t.tgname || ' on ' || format('%I.%I', audit.schema, 'audit_events'),
                   concat_ws(' ', CASE WHEN t.tgenabled = 'D' THEN 'disabled' ELSE 'enabled' END,
                             CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' ELSE 'AFTER' END,
                             CASE WHEN t.tgtype & 4 = 4 THEN 'INSERT' END,
                             CASE WHEN t.tgtype & 16 = 16 THEN 'UPDATE' END,
                             CASE WHEN t.tgtype & 8 = 8 THEN 'DELETE' END,
                             CASE WHEN t.tgtype & 32 = 32 THEN 'TRUNCATE' END,
                             format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))),
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

    static Map<String, String> read(Connection connection, AuditSchema schema, Deadline deadline) throws Failure {
        Map<String, String> fingerprint = new LinkedHashMap<>();
        try (PreparedStatement statement = connection.prepareStatement(TRIGGERS)) {
            statement.setString(1, schema.name());
            try (ResultSet row = statement.executeQuery()) {
                while (row.next()) {
                    String definitionHash = "sha256:" + AuditRow.sha256Hex(row.getString(3));
                    String description = row.getString(2);
                    fingerprint.put(row.getString(1),
                            description == null ? definitionHash : description + " " + definitionHash);
                }
            }
            return fingerprint;
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, "fingerprinting the integrity machinery", e);
        }
    }
}
