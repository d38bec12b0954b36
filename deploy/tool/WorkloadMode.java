// --mode=workload (SPEC section 3): the migrations, then the audit rows, then
// the snapshot of what was written, all in the schema chosen first.

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

final class WorkloadMode {
    static final String MODE = "workload";

    private WorkloadMode() {
    }

    /**
     * The migrations create the audit tables in the schema chosen here (SCHEMA, or found),
     * WORKLOAD writes there, and the snapshot reads there; every connection's search_path
     * names that schema and the catalogs only.
     */
    static Snapshot run(Connector connector, String schema, Path migrations, Workload workload) throws Failure {
        Deadline deadline = connector.deadline();
        AuditSchema audit = workloadSchema(connector, schema);
        Progress.activity = "applying migrations";
        new MigrationRunner(migrations).run(
                connector.withSearchPath(audit.migrationPath()).open(MigrationRunner.CONNECTION_PROPERTIES), deadline);
        try (Connection connection = connector.withSearchPath(audit.queryPath()).open()) {
            SchemaCheck.require(connection, audit, deadline);
            workload.insert(connection, deadline);
            Progress.activity = "reading the workload snapshot";
            deadline.check(Progress.activity);
            return Snapshot.read(connection, audit, MODE, deadline)
                    .withIntegrity(Integrity.read(connection, audit, deadline));
        } catch (SQLException e) {
            throw deadline.failure("closing the connection", e);
        }
    }

    /** SCHEMA (created when missing), else the one schema holding the audit tables, else public. */
    private static AuditSchema workloadSchema(Connector connector, String schema) throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open()) {
            AuditSchema audit = AuditSchema.resolve(connection, schema, deadline);
            audit.requireUnambiguous();
            SchemaCheck.refusePartitioned(connection, audit, deadline);
            boolean missing = schema != null && "t".equals(Sql.queryOne(connection,
                    "SELECT pg_catalog.to_regnamespace(?) IS NULL", deadline, "looking for schema " + schema,
                    AuditSchema.quoted(schema)));
            if (missing) {
                try (var statement = connection.createStatement()) {
                    statement.execute("CREATE SCHEMA " + AuditSchema.quoted(schema));
                }
            }
            return audit;
        } catch (SQLException e) {
            throw deadline.failure("creating schema " + schema, e);
        }
    }
}
