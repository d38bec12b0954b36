// --mode=selftest: shows, on scratch databases it creates and drops, that
// verification catches each way a privileged user could rewrite the audit
// log, and stays clean on the changes that are legitimate. Each case starts
// from a copy of one migrated 24-row chain, applies one tampering (or one
// control), verifies as --mode=verify would, and compares with what the
// case expects of the client's verdict.

import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

final class SelfTest {
    static final String START = "2026-05-16T12:00:00Z";
    static final int ROWS = 24;

    /** One privileged change applied to a copy of the chain. */
    interface Tampering {
        void apply(CaseDatabase database) throws SQLException, Failure;
    }

    /** The copy a case works on: its connection, and a way to open a second writer. */
    interface CaseDatabase {
        Connection connection();

        Connection openAnother() throws Failure;
    }

    /**
     * expectedClient is the client verdict in the table's notation ("clean" or
     * "kind id@position"); controls must also be clean on the server.
     */
    record Case(String name, String expectedClient, boolean control, ChainWalker.Expectation anchor,
                Tampering tampering) {}

    record Outcome(Case testCase, String client, String server, boolean asExpected) {}

    static List<Case> cases(String originalHead) {
        var anchor = new ChainWalker.Expectation(originalHead, (long) ROWS);
        var none = ChainWalker.Expectation.NONE;
        return List.of(
                new Case("change one field of a middle row", "modified audit-smoke-0007@7", false, none,
                        db -> privileged(db.connection(), "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0007'")),
                new Case("delete a middle row", "missing_predecessor audit-smoke-0011@10", false, none,
                        db -> privileged(db.connection(), "DELETE FROM audit_events WHERE id = 'audit-smoke-0010'")),
                new Case("delete the newest rows", "sentinel_mismatch audit-smoke-0020@20", false, none,
                        db -> privileged(db.connection(), "DELETE FROM audit_events WHERE id > 'audit-smoke-0020'")),
                new Case("delete the genesis row", "no_genesis audit-smoke-0001@0", false, none,
                        db -> privileged(db.connection(), "DELETE FROM audit_events WHERE id = 'audit-smoke-0000'")),
                new Case("insert a forged row claiming an existing predecessor", "fork forged-0001@11", false, none,
                        db -> forgeRowAfterTheEleventh(db.connection())),
                new Case("truncate timestamps to milliseconds", "modified audit-smoke-0001@1", false, none,
                        db -> privileged(db.connection(), "UPDATE audit_events SET \"timestamp\" = date_trunc('milliseconds', \"timestamp\")")),
                new Case("rig the server verifier, then change a row", "modified audit-smoke-0015@15", false, none,
                        db -> rigVerifierAndChangeARow(db.connection())),
                new Case("rewrite the sentinel", "sentinel_mismatch audit-smoke-0023@23", false, none,
                        db -> execute(db.connection(), "UPDATE audit_chain_head SET row_hash = "
                                + "(SELECT row_hash FROM audit_events WHERE id = 'audit-smoke-0012') WHERE id = 1")),
                new Case("rewrite tail and sentinel consistently, no anchor", "clean", false, none,
                        db -> rewriteTailConsistently(db.connection())),
                new Case("rewrite tail and sentinel consistently, anchored", "expectation_mismatch audit-smoke-0023@23",
                        false, anchor, db -> rewriteTailConsistently(db.connection())),
                new Case("control: backdated insert", "clean", true, none,
                        db -> execute(db.connection(), insert("late-0001", "smoke-actor", "'2026-05-15T00:00:00Z'"))),
                new Case("control: two writers commit in reversed order", "clean", true, none,
                        SelfTest::twoWritersInReversedOrder),
                new Case("control: a field containing '|'", "clean, 1 ambiguous", true, none,
                        db -> execute(db.connection(), insert("pipe-0001", "alice|bob", "DEFAULT"))));
    }

    // ------------------------------------------------------------ tamperings

    private static void execute(Connection connection, String... statements) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }

    /** What a privileged user does: switch the append-only trigger off, change rows, switch it on again. */
    private static void privileged(Connection connection, String sql) throws SQLException {
        execute(connection, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only", sql,
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
    }

    private static String insert(String id, String actor, String timestamp) {
        return "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, \"timestamp\")"
                + " VALUES ('" + id + "', '" + actor + "', 'User', 'auth.login', 'session', 'sess-smoke', '{}', "
                + timestamp + ")";
    }

    /** A row with a valid hash of its own that names row 10 as predecessor, written past the chain trigger. */
    private static void forgeRowAfterTheEleventh(Connection connection) throws SQLException {
        execute(connection, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain", """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                          "timestamp", prev_hash, row_hash)
                SELECT 'forged-0001', 'mallory', 'User', 'certificate.revoke', 'certificate', 'mc-smoke', '{}',
                       e."timestamp", e.row_hash,
                       audit_events_row_hash(e.row_hash, 'forged-0001', 'mallory', 'User', 'certificate.revoke',
                                             'certificate', 'mc-smoke', '{}', e."timestamp", 'cert_lifecycle')
                FROM audit_events e WHERE e.id = 'audit-smoke-0010'
                """, "ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain");
    }

    private static void rigVerifierAndChangeARow(Connection connection) throws SQLException {
        execute(connection, """
                CREATE OR REPLACE FUNCTION audit_events_verify_chain(
                    OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
                LANGUAGE sql STABLE
                AS $$ SELECT NULL::TEXT, -1, (SELECT count(*)::INT FROM audit_events) $$
                """);
        privileged(connection, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0015'");
    }

    /** Rows 20-23 changed and re-linked with correct hashes, sentinel moved along: only an anchor can tell. */
    private static void rewriteTailConsistently(Connection connection) throws SQLException {
        privileged(connection, """
                DO $$
                DECLARE
                    r RECORD;
                    prev TEXT := (SELECT row_hash FROM audit_events WHERE id = 'audit-smoke-0019');
                    forged TEXT;
                BEGIN
                    FOR r IN SELECT * FROM audit_events WHERE id > 'audit-smoke-0019' ORDER BY id LOOP
                        forged := audit_events_row_hash(prev, r.id, 'mallory', r.actor_type, r.action,
                            r.resource_type, r.resource_id, r.details, r."timestamp", r.event_category);
                        UPDATE audit_events SET actor = 'mallory', prev_hash = prev, row_hash = forged WHERE id = r.id;
                        prev := forged;
                    END LOOP;
                    UPDATE audit_chain_head SET row_hash = prev WHERE id = 1;
                END
                $$
                """);
    }

    /**
     * Writer A's transaction starts first (its NOW() is earlier) but inserts
     * after writer B has committed: the chain order and the time order differ.
     */
    private static void twoWritersInReversedOrder(CaseDatabase database) throws SQLException, Failure {
        Connection writerA = database.connection();
        try (Connection writerB = database.openAnother()) {
            writerA.setAutoCommit(false);
            execute(writerA, "SELECT NOW()");
            execute(writerB, insert("writer-b", "smoke-actor", "DEFAULT"));
            execute(writerA, insert("writer-a", "smoke-actor", "DEFAULT"));
            writerA.commit();
            writerA.setAutoCommit(true);
        }
    }

    // ------------------------------------------------------------ running

    private final Connector server;
    private final Path migrations;
    private final Deadline deadline;
    private final String prefix = "backupsmoke_selftest_" + ProcessHandle.current().pid() + "_";
    private final List<String> created = new ArrayList<>();

    SelfTest(Connector server, Path migrations) {
        this.server = server;
        this.migrations = migrations;
        this.deadline = server.deadline();
    }

    /** Runs every case, prints the table, and drops every database it made, whatever happens. */
    boolean run(PrintStream out) throws Failure {
        try (Connection admin = server.openForCleanUp()) {
            try {
                String template = createDatabase(admin, "template");
                String head = buildChain(template);
                List<Outcome> outcomes = new ArrayList<>();
                for (Case testCase : cases(head)) {
                    outcomes.add(runCase(admin, template, testCase));
                }
                printTable(out, outcomes);
                return outcomes.stream().allMatch(Outcome::asExpected);
            } finally {
                dropCreated(admin);
            }
        } catch (SQLException e) {
            throw new Failure("selftest could not close its connection: " + Sql.oneLine(e));
        }
    }

    private String createDatabase(Connection admin, String suffix) throws Failure {
        String name = prefix + suffix;
        try (Statement statement = admin.createStatement()) {
            statement.execute("CREATE DATABASE " + name + (suffix.equals("template") ? "" : " TEMPLATE " + prefix + "template"));
            created.add(name);
            return name;
        } catch (SQLException e) {
            throw new Failure("selftest cannot create its scratch database " + name + " on " + server.target().describe() + ": "
                    + Sql.oneLine(e) + (e.getSQLState().equals("42501") ? " (the role needs CREATEDB)" : ""));
        }
    }

    /** Migrates the template and writes the fixed 24-row chain; returns its head. */
    private String buildChain(String database) throws Failure {
        Connector target = server.forDatabase(database);
        new MigrationRunner(migrations).run(target.open(MigrationRunner.CONNECTION_PROPERTIES), deadline);
        try (Connection connection = target.open()) {
            new Workload(ROWS, "audit-smoke-", java.time.OffsetDateTime.parse(START),
                    Workload.DEFAULT_BATCH_ROWS).insert(connection, deadline);
            return Sql.queryOne(connection, "SELECT row_hash FROM audit_chain_head WHERE id = 1", deadline,
                    "reading the selftest chain head");
        } catch (SQLException e) {
            throw deadline.failure("building the selftest chain", e);
        }
    }

    private Outcome runCase(Connection admin, String template, Case testCase) throws Failure {
        String database = createDatabase(admin, "case" + created.size());
        Connector target = server.forDatabase(database);
        try (Connection connection = target.open()) {
            testCase.tampering().apply(new CaseDatabase() {
                @Override
                public Connection connection() {
                    return connection;
                }

                @Override
                public Connection openAnother() throws Failure {
                    return target.open();
                }
            });
            Snapshot snapshot = Verification.run(target, testCase.anchor(), true);
            String client = clientNotation(snapshot.client());
            String serverVerdict = snapshot.firstBreakId() == null ? "clean"
                    : "broken " + snapshot.firstBreakId() + "@" + snapshot.firstBreakPos();
            boolean asExpected = client.equals(testCase.expectedClient())
                    && (!testCase.control() || (serverVerdict.equals("clean") && snapshot.client().agreesWithServer()));
            return new Outcome(testCase, client, serverVerdict, asExpected);
        } catch (SQLException e) {
            throw new Failure("selftest case \"" + testCase.name() + "\" failed to run: " + Sql.oneLine(e));
        }
    }

    static String clientNotation(Snapshot.Client client) {
        if (ChainWalker.CLEAN.equals(client.verdict())) {
            return client.ambiguousRows() == 0 ? "clean" : "clean, " + client.ambiguousRows() + " ambiguous";
        }
        String where = client.firstBreakId() == null ? "" : " " + client.firstBreakId()
                + (client.firstBreakPos() == null ? "" : "@" + client.firstBreakPos());
        return client.breakKind() + where;
    }

    private void dropCreated(Connection admin) {
        // Cases first: the template can only go once no copy is being made from it.
        for (int i = created.size() - 1; i >= 0; i--) {
            try (Statement statement = admin.createStatement()) {
                statement.execute("DROP DATABASE IF EXISTS " + created.get(i));
            } catch (SQLException e) {
                System.err.println("backupsmoke: selftest could not drop " + created.get(i) + ": " + Sql.oneLine(e));
            }
        }
    }

    static void printTable(PrintStream out, List<Outcome> outcomes) {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"case", "expected (client)", "client", "server", ""});
        for (Outcome outcome : outcomes) {
            lines.add(new String[] {outcome.testCase().name(), outcome.testCase().expectedClient(), outcome.client(),
                    outcome.server(), outcome.asExpected() ? "ok" : "UNEXPECTED"});
        }
        int[] widths = new int[5];
        for (String[] line : lines) {
            for (int column = 0; column < line.length; column++) {
                widths[column] = Math.max(widths[column], line[column].length());
            }
        }
        for (String[] line : lines) {
            StringBuilder text = new StringBuilder();
            for (int column = 0; column < line.length; column++) {
                text.append(column == line.length - 1 ? line[column] : String.format("%-" + (widths[column] + 2) + "s", line[column]));
            }
            out.println(text.toString().stripTrailing());
        }
        long unexpected = outcomes.stream().filter(outcome -> !outcome.asExpected()).count();
        out.println(unexpected == 0
                ? "selftest: all " + outcomes.size() + " cases behaved as expected"
                : "selftest: " + unexpected + " of " + outcomes.size() + " cases behaved otherwise");
    }
}
