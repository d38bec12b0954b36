// --mode=selftest: shows, on scratch databases it creates and drops, that
// verification catches each way a privileged user could rewrite the audit
// log, and stays clean on the changes that are legitimate. Each case starts
// from a copy of one migrated 24-row chain, applies one tampering (or one
// control), verifies as --mode=verify would, and compares with what the
// case expects of the client's verdict.
//
// It works on any schema that implements the contract (SPEC section 6): the
// only names it uses are audit_events, audit_chain_head and
// audit_events_verify_chain(). The triggers it bypasses are found in the
// catalog, and forged hashes are computed here from the canonical payload.
// A control (a legitimate history) on which the server's verifier reports a
// break is a finding about that verifier, not a miss of the gate.

import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

final class SelfTest {
    static final String MODE = "selftest";

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

    /** ok; a miss of the gate; or a finding about the server's verifier (a false alarm on a control). */
    enum Judgement {
        OK("ok"), MISS("UNEXPECTED"), FINDING("finding");

        final String label;

        Judgement(String label) {
            this.label = label;
        }
    }

    record Outcome(Case testCase, String client, String server, Judgement judgement) {}

    /** What the run found: the gate's misses (exit 4) and findings about the server's verifier. */
    record Result(long misses, long findings) {
        static final int EXIT_FAILED = 4;

        /** 4 when the gate missed a case; the server verifier's findings only with FAIL_ON_FINDINGS (said on OUT). */
        int exitStatus(boolean failOnFindings, PrintStream out) {
            if (misses > 0) {
                return EXIT_FAILED;
            }
            if (failOnFindings && findings > 0) {
                out.println("selftest: findings are fatal with --fail-on-findings");
                return EXIT_FAILED;
            }
            return 0;
        }
    }

    static List<Case> cases(String originalHead) {
        var anchor = new ChainWalker.Expectation(originalHead, (long) ROWS);
        var none = ChainWalker.Expectation.NONE;
        return List.of(
                new Case("change one field of a middle row", "modified audit-smoke-0007@7", false, none,
                        db -> bypassingTriggers(db.connection(), "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0007'")),
                new Case("delete a middle row", "missing_predecessor audit-smoke-0011@10", false, none,
                        db -> bypassingTriggers(db.connection(), "DELETE FROM audit_events WHERE id = 'audit-smoke-0010'")),
                new Case("delete the newest rows", "sentinel_mismatch audit-smoke-0020@20", false, none,
                        db -> bypassingTriggers(db.connection(), "DELETE FROM audit_events WHERE id > 'audit-smoke-0020'")),
                new Case("delete the genesis row", "no_genesis audit-smoke-0001@0", false, none,
                        db -> bypassingTriggers(db.connection(), "DELETE FROM audit_events WHERE id = 'audit-smoke-0000'")),
                new Case("insert a forged row claiming an existing predecessor", "fork forged-0001@11", false, none,
                        db -> forgeRowAfterTheEleventh(db.connection())),
                new Case("truncate timestamps to milliseconds", "modified audit-smoke-0001@1", false, none,
                        db -> bypassingTriggers(db.connection(), "UPDATE audit_events SET \"timestamp\" = date_trunc('milliseconds', \"timestamp\")")),
                new Case("rig the server verifier, then change a row", "modified audit-smoke-0015@15", false, none,
                        db -> rigVerifierAndChangeARow(db.connection())),
                new Case("rewrite the sentinel", "sentinel_mismatch audit-smoke-0023@23", false, none,
                        db -> bypassingTriggers(db.connection(), "UPDATE audit_chain_head SET row_hash = "
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

    /**
     * What a privileged user does: switch off every trigger of the audit
     * tables (found in the catalog, whatever their names), change rows, and
     * put each trigger back in the state it was in, all in one transaction.
     */
    static void bypassingTriggers(Connection connection, String sql) throws SQLException {
        bypassingTriggers(connection, () -> execute(connection, sql));
    }

    interface Change {
        void apply() throws SQLException;
    }

    static void bypassingTriggers(Connection connection, Change change) throws SQLException {
        List<String> disable = new ArrayList<>();
        List<String> restore = new ArrayList<>();
        try (Statement statement = connection.createStatement();
             ResultSet triggers = statement.executeQuery("""
                     SELECT format('ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname),
                            format('ALTER TABLE %s ENABLE %s TRIGGER %I', t.tgrelid::regclass,
                                   CASE t.tgenabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, t.tgname)
                       FROM pg_trigger t
                      WHERE t.tgrelid IN ('audit_events'::regclass, 'audit_chain_head'::regclass)
                        AND NOT t.tgisinternal AND t.tgenabled <> 'D'
                      ORDER BY t.tgrelid, t.tgname""")) {
            while (triggers.next()) {
                disable.add(triggers.getString(1));
                restore.add(triggers.getString(2));
            }
        }
        Sql.inTransaction(connection, () -> {
            execute(connection, disable.toArray(String[]::new));
            change.apply();
            execute(connection, restore.toArray(String[]::new));
        });
    }

    private static String insert(String id, String actor, String timestamp) {
        return "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, \"timestamp\")"
                + " VALUES ('" + id + "', '" + actor + "', 'User', 'auth.login', 'session', 'sess-smoke', '{}', "
                + timestamp + ")";
    }

    /** The hash the contract's trigger would give a row: SHA-256 of the canonical payload, in hex. */
    static String rowHash(String prevHash, String id, String actor, String actorType, String action,
                          String resourceType, String resourceId, String details, OffsetDateTime timestamp,
                          String eventCategory) {
        return AuditRow.sha256Hex(new AuditRow(prevHash, id, actor, actorType, action, resourceType, resourceId,
                details, AuditRow.utcMicros(timestamp), eventCategory).canonicalPayload());
    }

    /** A row with a valid hash of its own that names row 10 as predecessor, written past the chain trigger. */
    private static void forgeRowAfterTheEleventh(Connection connection) throws SQLException {
        String predecessorHash;
        OffsetDateTime timestamp;
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(
                     "SELECT row_hash, \"timestamp\" FROM audit_events WHERE id = 'audit-smoke-0010'")) {
            row.next();
            predecessorHash = row.getString(1);
            timestamp = row.getObject(2, OffsetDateTime.class);
        }
        String forged = rowHash(predecessorHash, "forged-0001", "mallory", "User", "certificate.revoke", "certificate",
                "mc-smoke", "{}", timestamp, "cert_lifecycle");
        bypassingTriggers(connection, () -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                              "timestamp", event_category, prev_hash, row_hash)
                    VALUES ('forged-0001', 'mallory', 'User', 'certificate.revoke', 'certificate', 'mc-smoke', '{}',
                            ?, 'cert_lifecycle', ?, ?)""")) {
                insert.setObject(1, timestamp);
                insert.setString(2, predecessorHash);
                insert.setString(3, forged);
                insert.executeUpdate();
            }
        });
    }

    private static void rigVerifierAndChangeARow(Connection connection) throws SQLException {
        // Replaced where the real one lives: the tool's search_path puts
        // pg_catalog first, so an unqualified CREATE would land there instead.
        execute(connection, """
                DO $rig$
                BEGIN
                    EXECUTE format($create$
                        CREATE OR REPLACE FUNCTION %s.audit_events_verify_chain(
                            OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
                        LANGUAGE sql STABLE
                        AS $$ SELECT NULL::TEXT, -1, (SELECT count(*)::INT FROM audit_events) $$
                        $create$, (SELECT relnamespace::regnamespace FROM pg_class
                                    WHERE oid = 'audit_events'::regclass));
                END
                $rig$
                """);
        bypassingTriggers(connection, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0015'");
    }

    /** Rows 20-23 changed and re-linked with correct hashes, sentinel moved along: only an anchor can tell. */
    private static void rewriteTailConsistently(Connection connection) throws SQLException {
        bypassingTriggers(connection, () -> {
            String prev;
            try (Statement statement = connection.createStatement();
                 ResultSet row = statement.executeQuery("SELECT row_hash FROM audit_events WHERE id = 'audit-smoke-0019'")) {
                row.next();
                prev = row.getString(1);
            }
            try (Statement statement = connection.createStatement();
                 ResultSet rows = statement.executeQuery("""
                         SELECT id, actor_type, action, resource_type, resource_id, details::text, "timestamp",
                                event_category
                           FROM audit_events WHERE id > 'audit-smoke-0019' ORDER BY id""");
                 PreparedStatement update = connection.prepareStatement(
                         "UPDATE audit_events SET actor = 'mallory', prev_hash = ?, row_hash = ? WHERE id = ?")) {
                while (rows.next()) {
                    String forged = rowHash(prev, rows.getString(1), "mallory", rows.getString(2), rows.getString(3),
                            rows.getString(4), rows.getString(5), rows.getString(6),
                            rows.getObject(7, OffsetDateTime.class), rows.getString(8));
                    update.setString(1, prev);
                    update.setString(2, forged);
                    update.setString(3, rows.getString(1));
                    update.executeUpdate();
                    prev = forged;
                }
            }
            try (PreparedStatement sentinel = connection.prepareStatement(
                    "UPDATE audit_chain_head SET row_hash = ? WHERE id = 1")) {
                sentinel.setString(1, prev);
                sentinel.executeUpdate();
            }
        });
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
    /** Every database this run made or is making: a name goes in before its CREATE DATABASE. */
    private final List<String> created = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** What the run is doing, named when it is interrupted. */
    private volatile String step = "connecting to the server";
    private volatile int adminPid;
    private volatile boolean interrupted;

    /** The scratch databases are new: the migrations install into public, as on any fresh database. */
    private static final AuditSchema SCHEMA = new AuditSchema(AuditSchema.DEFAULT, false, List.of());

    SelfTest(Connector server, Path migrations) {
        this.server = server.withSearchPath(SCHEMA.queryPath());
        this.migrations = migrations;
        this.deadline = server.deadline();
    }

    /**
     * Runs every case, prints the table and the findings, and drops every
     * database it made, whatever happens: an interrupt (SIGINT, SIGTERM)
     * included, through the shutdown hook.
     */
    Result run(PrintStream out) throws Failure {
        Progress.onInterrupt = this::dropAfterInterrupt;
        try (Connection admin = server.openForCleanUp()) {
            adminPid = Integer.parseInt(Sql.queryOne(admin, "SELECT pg_backend_pid()", deadline,
                    "starting the selftest"));
            try {
                String template = createDatabase(admin, "template");
                step = "building the selftest's " + ROWS + "-row chain in " + template;
                String head = buildChain(template);
                List<Outcome> outcomes = new ArrayList<>();
                for (Case testCase : cases(head)) {
                    outcomes.add(runCase(admin, testCase));
                }
                step = "printing the selftest's results";
                printTable(out, outcomes);
                return new Result(count(outcomes, Judgement.MISS), count(outcomes, Judgement.FINDING));
            } finally {
                if (!interrupted) {
                    dropCreated(admin);
                }
            }
        } catch (SQLException e) {
            awaitHaltIfInterrupted();
            throw new Failure("selftest could not close its connection: " + Sql.oneLine(e));
        } catch (Failure | RuntimeException e) {
            awaitHaltIfInterrupted();
            throw e;
        } finally {
            Progress.onInterrupt = null;
        }
    }

    private static long count(List<Outcome> outcomes, Judgement judgement) {
        return outcomes.stream().filter(outcome -> outcome.judgement() == judgement).count();
    }

    private String createDatabase(Connection admin, String suffix) throws Failure {
        String name = prefix + suffix;
        step = "creating the selftest database " + name;
        created.add(name);
        awaitHaltIfInterrupted(); // recorded before the check: the shutdown hook drops it or it is never made
        try (Statement statement = admin.createStatement()) {
            statement.execute("CREATE DATABASE " + name + (suffix.equals("template") ? "" : " TEMPLATE " + prefix + "template"));
            return name;
        } catch (SQLException e) {
            created.remove(name); // not made: nothing to drop, and nothing of someone else's to drop either
            awaitHaltIfInterrupted();
            throw new Failure("selftest cannot create its scratch database " + name + " on " + server.target().describe() + ": "
                    + Sql.oneLine(e) + ("42501".equals(e.getSQLState()) ? " (the role needs CREATEDB)" : ""));
        }
    }

    /** Migrates the template and writes the fixed 24-row chain; returns its head. */
    private String buildChain(String database) throws Failure {
        Connector target = server.forDatabase(database);
        new MigrationRunner(migrations).run(
                target.withSearchPath(SCHEMA.migrationPath()).open(MigrationRunner.CONNECTION_PROPERTIES), deadline);
        try (Connection connection = target.open()) {
            new Workload(ROWS, "audit-smoke-", java.time.OffsetDateTime.parse(START),
                    Workload.DEFAULT_BATCH_ROWS).insert(connection, deadline);
            return Sql.queryOne(connection, "SELECT row_hash FROM audit_chain_head WHERE id = 1", deadline,
                    "reading the selftest chain head");
        } catch (SQLException e) {
            throw deadline.failure("building the selftest chain", e);
        }
    }

    private Outcome runCase(Connection admin, Case testCase) throws Failure {
        String database = createDatabase(admin, "case" + created.size());
        step = "running selftest case \"" + testCase.name() + "\" in " + database;
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
            Snapshot snapshot = Verification.run(target, new Verification.Request(null, testCase.anchor(), true));
            String client = clientNotation(snapshot.client());
            String serverVerdict = snapshot.firstBreakId() == null ? "clean"
                    : "broken " + snapshot.firstBreakId() + "@" + snapshot.firstBreakPos();
            return new Outcome(testCase, client, serverVerdict, judge(testCase, client, serverVerdict, snapshot));
        } catch (SQLException e) {
            awaitHaltIfInterrupted();
            throw new Failure("selftest case \"" + testCase.name() + "\" failed to run: " + Sql.oneLine(e));
        }
    }

    /**
     * The gate misses when the client's verdict is not the expected one. On a
     * control the server's verifier must say clean too; when it reports a
     * break there, on a history that is legitimate, that is a finding about
     * the verifier (a false alarm), which the client's verdict does not share.
     */
    static Judgement judge(Case testCase, String client, String serverVerdict, Snapshot snapshot) {
        if (!client.equals(testCase.expectedClient())) {
            return Judgement.MISS;
        }
        if (testCase.control() && (!serverVerdict.equals("clean") || !snapshot.client().agreesWithServer())) {
            return Judgement.FINDING;
        }
        return Judgement.OK;
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
                System.err.println(FailureReport.PREFIX + "selftest could not drop " + created.get(i) + ": "
                        + Sql.oneLine(e));
            }
        }
    }

    // ------------------------------------------------------------ interrupted

    /**
     * Run by the shutdown hook when SIGINT or SIGTERM ends the run: says what
     * the selftest was doing, ends its own sessions (the main thread may be
     * half-way through a CREATE DATABASE, or connected to a case), and drops
     * every database whose name it recorded. It drops nothing else: the
     * names carry this process's id. The names are read once those sessions
     * have ended: until then the main thread may still record and create
     * the next case's database (it did, and that one was left behind).
     */
    void dropAfterInterrupt() {
        interrupted = true;
        String doing = step;
        if (created.isEmpty() && adminPid == 0) {
            System.err.println(FailureReport.PREFIX + "interrupted while " + doing
                    + "; no selftest database had been created");
            return;
        }
        List<String> names = List.copyOf(created);
        try (Connection cleaner = server.openForCleanUp()) {
            endOwnSessions(cleaner, names);
            names = List.copyOf(created);
            if (names.isEmpty()) {
                System.err.println(FailureReport.PREFIX + "interrupted while " + doing
                        + "; no selftest database had been created");
                return;
            }
            boolean force = Integer.parseInt(queryText(cleaner, "SHOW server_version_num")) >= 130000;
            try (Statement statement = cleaner.createStatement()) {
                for (int i = names.size() - 1; i >= 0; i--) {
                    statement.execute("SET client_min_messages = warning");
                    statement.execute("DROP DATABASE IF EXISTS " + names.get(i) + (force ? " WITH (FORCE)" : ""));
                }
            }
            System.err.println(FailureReport.PREFIX + "interrupted while " + doing
                    + "; dropped the selftest's databases " + String.join(", ", names));
        } catch (SQLException | Failure | RuntimeException e) {
            System.err.println(FailureReport.PREFIX + "interrupted while " + doing
                    + "; could not drop the selftest's databases " + String.join(", ", names) + " ("
                    + e.getMessage() + "): drop them by hand");
        }
    }

    /** Terminates the main thread's admin session and any session in the selftest's databases, and waits for them to end. */
    private void endOwnSessions(Connection cleaner, List<String> names) throws SQLException {
        String ours = "pid <> pg_backend_pid() AND (pid = ? OR datname = ANY (?))";
        try (PreparedStatement terminate = cleaner.prepareStatement(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " + ours);
             PreparedStatement left = cleaner.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE " + ours)) {
            for (PreparedStatement statement : List.of(terminate, left)) {
                statement.setInt(1, adminPid);
                statement.setArray(2, cleaner.createArrayOf("text", names.toArray()));
            }
            terminate.executeQuery().close();
            for (int attempt = 0; attempt < 50; attempt++) {
                try (ResultSet count = left.executeQuery()) {
                    count.next();
                    if (count.getLong(1) == 0) {
                        return;
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static String queryText(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet result = statement.executeQuery(sql)) {
            result.next();
            return result.getString(1);
        }
    }

    /**
     * Once the shutdown hook has ended this run's sessions, the errors that
     * brings to the main thread are its doing, not news: the main thread
     * waits quietly for the JVM to halt instead of reporting them.
     */
    private void awaitHaltIfInterrupted() {
        while (interrupted) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    // ------------------------------------------------------------ the report

    static void printTable(PrintStream out, List<Outcome> outcomes) {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"case", "expected (client)", "client", "server", ""});
        for (Outcome outcome : outcomes) {
            lines.add(new String[] {outcome.testCase().name(), outcome.testCase().expectedClient(), outcome.client(),
                    outcome.server(), outcome.judgement().label});
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
        List<Outcome> findings = outcomes.stream().filter(outcome -> outcome.judgement() == Judgement.FINDING).toList();
        for (Outcome finding : findings) {
            out.println("finding: the server's verifier audit_events_verify_chain() reports " + finding.server()
                    + " on a legitimate history (" + finding.testCase().name() + "), where the client's walk by"
                    + " the links is " + finding.client() + ": a verifier that walks rows in (timestamp, id) order"
                    + " instead of following prev_hash raises such false alarms");
        }
        long misses = count(outcomes, Judgement.MISS);
        String summary = misses == 0
                ? "selftest: all " + outcomes.size() + " cases behaved as expected"
                : "selftest: " + misses + " of " + outcomes.size() + " cases behaved otherwise";
        out.println(summary + (findings.isEmpty() ? ""
                : "; " + findings.size() + " finding" + (findings.size() == 1 ? "" : "s") + " about the server's verifier"));
    }
}
