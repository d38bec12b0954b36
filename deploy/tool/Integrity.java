// The "integrity" fingerprint of the snapshot (SPEC section 9).

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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

    /** tgtype bits: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE; tgenabled 'D' is disabled. */
    static final String TRIGGERS = """
            SELECT 'trigger ' || t.tgname,
                   concat_ws(' ', CASE WHEN t.tgenabled = 'D' THEN 'disabled' ELSE 'enabled' END,
                             CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' ELSE 'AFTER' END,
                             CASE WHEN t.tgtype & 4 = 4 THEN 'INSERT' END,
                             CASE WHEN t.tgtype & 16 = 16 THEN 'UPDATE' END,
                             CASE WHEN t.tgtype & 8 = 8 THEN 'DELETE' END,
                             CASE WHEN t.tgtype & 32 = 32 THEN 'TRUNCATE' END,
                             t.tgfoid::regprocedure::text),
                   pg_get_functiondef(t.tgfoid)
            FROM pg_trigger t
            WHERE t.tgrelid = 'audit_events'::regclass AND NOT t.tgisinternal
            UNION ALL
            SELECT 'verifier ' || p.oid::regprocedure::text, NULL, pg_get_functiondef(p.oid)
            FROM pg_proc p
            WHERE p.oid = to_regprocedure('audit_events_verify_chain()')
            ORDER BY 1
            """;

    static Map<String, String> read(Connection connection, Deadline deadline) throws Failure {
        Map<String, String> fingerprint = new LinkedHashMap<>();
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(TRIGGERS)) {
            while (row.next()) {
                String definitionHash = "sha256:" + AuditRow.sha256Hex(row.getString(3));
                String description = row.getString(2);
                fingerprint.put(row.getString(1), description == null ? definitionHash : description + " " + definitionHash);
            }
            return fingerprint;
        } catch (SQLException e) {
            throw Sql.schemaAwareFailure(deadline, "fingerprinting the integrity machinery", e);
        }
    }
}
