// The point-in-time exactness check (SPEC section 9.6): the restored audit
// log must hold exactly workload A, no row of workload B (written after the
// recovery target) and none of A missing. Ids are PREFIX followed by the row
// number, four digits at least (SPEC section 4). The harness runs it through
// --mode=pitr-check against the restored database.

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/** What the restored log holds of workloads A and B; reason() judges it. */
record PitrRows(boolean tableExists, long extra, String extraFirst, String extraLast,
                long missing, String missingFirst, String missingLast) {

    /** TABLE stands for the qualified audit_events: run with the catalogs alone on the search_path (see read). */
    static final String EXTRA_AND_MISSING = """
            WITH extra AS (
              SELECT id FROM TABLE WHERE left(id, length(?)) = ?
            ), missing AS (
              SELECT ? || lpad(i::text, greatest(4, length(i::text)), '0') AS id FROM generate_series(0, ? - 1) AS i
              EXCEPT SELECT id FROM TABLE
            )
            SELECT (SELECT count(*) FROM extra), coalesce((SELECT min(id) FROM extra), '-'),
                   coalesce((SELECT max(id) FROM extra), '-'),
                   (SELECT count(*) FROM missing), coalesce((SELECT min(id) FROM missing), '-'),
                   coalesce((SELECT max(id) FROM missing), '-')""";

    /** Reads the restored database: rows of LATER_PREFIX that came back, rows of A_PREFIX 0 … A_ROWS-1 missing. */
    static PitrRows read(Connector connector, String aPrefix, long aRows, String laterPrefix) throws Failure {
        Deadline deadline = connector.deadline();
        AuditSchema audit;
        try (Connection connection = connector.open()) {
            audit = AuditSchema.resolve(connection, null, deadline);
        } catch (SQLException e) {
            throw deadline.failure("reading the restored database", e);
        }
        // The catalogs alone: an operator or function of the audit schema that matches the
        // statement's types more closely (= (text, varchar)) would otherwise be the one called.
        String table = audit.qualified("audit_events");
        try (Connection connection = connector.withSearchPath(Connector.CATALOG_ONLY).open()) {
            String exists = Sql.queryOne(connection, "SELECT to_regclass(?) IS NOT NULL", deadline,
                    "reading the restored database", table);
            if (!"t".equals(exists)) {
                return new PitrRows(false, 0, "-", "-", 0, "-", "-");
            }
            try (PreparedStatement statement =
                         connection.prepareStatement(EXTRA_AND_MISSING.replace("TABLE", table))) {
                statement.setString(1, laterPrefix);
                statement.setString(2, laterPrefix);
                statement.setString(3, aPrefix);
                statement.setLong(4, aRows);
                try (ResultSet row = statement.executeQuery()) {
                    row.next();
                    return new PitrRows(true, row.getLong(1), row.getString(2), row.getString(3),
                            row.getLong(4), row.getString(5), row.getString(6));
                }
            }
        } catch (SQLException e) {
            throw deadline.failure("reading the restored audit log", e);
        }
    }

    /** Null when the log holds exactly workload A; else the one line that says what is wrong. */
    String reason() {
        if (!tableExists) {
            return "the restore stopped early: audit_events does not exist (recovery ended before workload A"
                    + " created it)";
        }
        if (extra > 0) {
            return "the restore ignored its target: " + extra + " row(s) written after it came back (" + extraFirst
                    + " … " + extraLast + ")";
        }
        if (missing > 0) {
            return "the restore stopped early: " + missing + " row(s) of workload A are missing (" + missingFirst
                    + " … " + missingLast + ")";
        }
        return null;
    }

    Judgement judgement() {
        String reason = reason();
        return reason == null ? Judgement.pass(List.of()) : Judgement.fail(reason, List.of());
    }
}
