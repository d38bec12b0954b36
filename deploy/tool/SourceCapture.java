// --mode=oracle-capture --run-record=WORK (SPEC 9.9): what the harness reads
// of the source inside the backups' exported snapshot (--snapshot-id), once
// the backups are taken: the expectation (the audit log's row count and
// chain head) into WORK/expected.json and the second oracle's document
// (--second-oracle) into WORK/oracle.source. Without --snapshot-id (PITR:
// the target is the expectation) the oracle's document only. Without
// --run-record, the text oracle's dump on stdout.

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

final class SourceCapture {
    private SourceCapture() {}

    /** True when this class answers --mode=oracle-capture: the harness's capture, or the text oracle's. */
    static boolean handles(Path work, RestoredJudge.Options options) throws Failure {
        return work != null || RestoredJudge.isText(options);
    }

    static int run(Path work, String snapshot, String oracle, String url, Connector connector) throws Failure {
        if (work == null) { // the text oracle's dump only
            TextOracle.dump(url, connector, snapshot, Path.of(System.getProperty("java.io.tmpdir")), System.out);
            return 0;
        }
        if (snapshot != null) {
            HarnessModes.write(work.resolve(RunRecord.EXPECTED), expectation(connector, snapshot));
        }
        Path document = work.resolve(RunRecord.ORACLE_SOURCE);
        if (oracle.equals(TextOracle.NAME)) {
            TextOracle.dump(url, connector, snapshot, document);
        } else if (!oracle.equals(RestoredJudge.OFF)) {
            HarnessModes.write(document, SemanticOracle.toJson(SemanticOracle.capture(connector, snapshot)));
        }
        return 0;
    }

    /** {"row_count": N, "chain_head_hash": "H"} of the audit log, read inside SNAPSHOT. */
    static String expectation(Connector connector, String snapshot) throws Failure {
        SemanticOracle.requireSnapshotId(snapshot);
        String doing = "reading the expected chain head in the backup's snapshot";
        try (Connection connection = connector.open(); Statement statement = connection.createStatement()) {
            statement.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
            statement.execute("SET TRANSACTION SNAPSHOT '" + snapshot + "'");
            AuditSchema schema = AuditSchema.resolve(connection, null, connector.deadline());
            String rows = Sql.queryOne(connection, "SELECT count(*) FROM " + schema.qualified("audit_events"),
                    connector.deadline(), doing);
            String head = Sql.queryOne(connection, "SELECT row_hash FROM " + schema.qualified("audit_chain_head")
                    + " WHERE id = 1", connector.deadline(), doing);
            statement.execute("COMMIT");
            return "{\"row_count\": " + rows + ", \"chain_head_hash\": " + RunRecord.JSON.valueToTree(head) + "}\n";
        } catch (SQLException e) {
            throw connector.deadline().failure(doing, e);
        }
    }
}
