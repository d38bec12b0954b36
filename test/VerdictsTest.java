// Issue 18, verify's items: verdicts that must not pass (8: the anchor's
// integrity fingerprint, missing append-only triggers; 9: columns outside the
// hash), the messages of a fatal verdict (10), other tenants' chains in one
// database (5) and timestamps the payload cannot express (6). Each example
// is reproduced in-process against the suite's cluster through the classes
// verify runs; a few go through the command where the exit code is the point.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VerdictsTest {
    @TempDir Path folder;

    private static final ChainWalker.Expectation NO_ANCHOR = ChainWalker.Expectation.NONE;

    // ------------------------------------------------------------ in-process plumbing

    private static Connector connector(String database, Deadline deadline) throws Failure {
        return new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 10, deadline);
    }

    /** Migrations into SCHEMA (its connection's search_path is PATH) and ROWS workload rows, as --mode=workload does. */
    private static void migrate(String database, String schema, String path, int rows) throws Exception {
        Support.execute(database, "CREATE SCHEMA IF NOT EXISTS " + schema);
        AuditSchema audit = new AuditSchema(schema, true, List.of());
        try (Deadline deadline = new Deadline(Duration.ofMinutes(2))) {
            Connector connector = connector(database, deadline);
            new MigrationRunner(Support.MIGRATIONS).run(
                    connector.withSearchPath(path).open(MigrationRunner.CONNECTION_PROPERTIES), deadline);
            try (Connection connection = connector.withSearchPath(audit.queryPath()).open()) {
                Support.insert(new Workload(rows, "audit-smoke-", OffsetDateTime.parse(Support.FIXED_START), null),
                        connection, deadline);
            }
        }
    }

    private static String migrated(int rows) throws Exception {
        String database = Support.scratchDatabase();
        migrate(database, "public", "public", rows);
        return database;
    }

    private static Snapshot verify(String database, String schema, ChainWalker.Expectation anchor,
                                   Map<String, String> fingerprint) throws Exception {
        try (Deadline deadline = new Deadline(Duration.ofMinutes(2))) {
            return Verification.run(connector(database, deadline),
                    new Verification.Request(schema, anchor, true, null, true, fingerprint));
        }
    }

    private static Snapshot verify(String database) throws Exception {
        return verify(database, null, NO_ANCHOR, null);
    }

    private static Support.Result tool(String database, String... flags) {
        String[] args = new String[flags.length + 2];
        args[0] = "--mode=verify";
        args[1] = "--db-url=" + Support.url(database);
        System.arraycopy(flags, 0, args, 2, flags.length);
        return Support.tool(args);
    }

    private static final String BEFORE_UPDATE_DELETE = "BEFORE UPDATE DELETE public.audit_events_reject_change()";

    // ------------------------------------------------------------ 8: the anchor's fingerprint, the append-only triggers

    /** The example: both protections dropped, verified against an anchor that holds the fingerprint. */
    @Test
    void droppedProtectionsBreakAnAnchorThatHoldsTheFingerprint() throws Exception {
        String database = migrated(5);
        Snapshot pre = verify(database);
        assertNull(pre.integrityChanges());
        assertNull(pre.missingTriggers());
        assertFalse(pre.isBroken(), pre.toJson());
        Support.execute(database, "DROP TRIGGER audit_events_append_only ON audit_events",
                "DROP TRIGGER audit_events_no_truncate ON audit_events");

        var anchor = new ChainWalker.Expectation(pre.chainHeadHash(), pre.rowCount(), true);
        Snapshot post = verify(database, null, anchor, pre.integrity());
        assertEquals(List.of("trigger audit_events_append_only on public.audit_events: missing",
                "trigger audit_events_no_truncate on public.audit_events: missing"), post.integrityChanges());
        assertEquals(false, post.client().expectationsMet());
        assertEquals("clean", post.client().verdict());
        assertEquals(true, post.client().agreesWithServer());
        assertEquals("the integrity machinery is not the anchor's: trigger audit_events_append_only on"
                + " public.audit_events: missing; trigger audit_events_no_truncate on public.audit_events: missing",
                post.whyBroken());
        // Without the anchor the missing protections are a finding of their own.
        Snapshot alone = verify(database);
        assertNull(alone.integrityChanges());
        assertEquals(List.of("BEFORE UPDATE row trigger (append-only)", "BEFORE DELETE row trigger (append-only)",
                "BEFORE TRUNCATE trigger (no-truncate)"), alone.missingTriggers());
        assertEquals("audit_events is not append-only: no enabled BEFORE UPDATE row trigger (append-only),"
                + " no enabled BEFORE DELETE row trigger (append-only)", alone.whyBroken());
        assertEquals(List.of("warning: audit_events has no enabled BEFORE UPDATE row trigger (append-only), no enabled"
                + " BEFORE DELETE row trigger (append-only), no enabled BEFORE TRUNCATE trigger (no-truncate)"
                + " (missing_triggers in the snapshot)"), VerifyNotes.of(alone));
    }

    /**
     * SPEC section 6 asks for the append-only row trigger only: applications
     * of the contract without a TRUNCATE trigger (test/fixtures) are told,
     * not failed.
     */
    @Test
    void aMissingTruncateTriggerIsReportedButNotFatal() throws Exception {
        String database = migrated(2);
        Support.execute(database, "DROP TRIGGER audit_events_no_truncate ON audit_events");
        Snapshot snapshot = verify(database);
        assertEquals(List.of("BEFORE TRUNCATE trigger (no-truncate)"), snapshot.missingTriggers());
        assertNull(snapshot.whyBroken());
        assertEquals(List.of("warning: audit_events has no enabled BEFORE TRUNCATE trigger (no-truncate)"
                + " (missing_triggers in the snapshot)"), VerifyNotes.of(snapshot));
    }

    /** DATABASE verified, STATEMENTS run, and DATABASE verified against the first snapshot as its anchor. */
    private static Snapshot verifiedAgainstTheAnchorBefore(String database, String... statements) throws Exception {
        Snapshot pre = verify(database);
        var anchor = new ChainWalker.Expectation(pre.chainHeadHash(), pre.rowCount(), true);
        Support.execute(database, statements);
        return verify(database, null, anchor, pre.integrity());
    }

    @Test
    void aDisabledReplicaOnlyOrRewrittenTriggerBreaksTheAnchorNamingIt() throws Exception {
        Snapshot post = verifiedAgainstTheAnchorBefore(migrated(3),
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain",
                "ALTER TABLE audit_events ENABLE REPLICA TRIGGER audit_events_append_only",
                "CREATE OR REPLACE FUNCTION audit_events_reject_truncate() RETURNS trigger LANGUAGE plpgsql"
                        + " AS $$ BEGIN RETURN NULL; END; $$");
        List<String> changes = post.integrityChanges();
        assertEquals(3, changes.size(), changes.toString());
        assertEquals("trigger audit_events_append_only on public.audit_events: was enabled " + BEFORE_UPDATE_DELETE
                + ", now replica-only " + BEFORE_UPDATE_DELETE, changes.get(0));
        assertTrue(changes.get(1).matches("trigger audit_events_chain on public\\.audit_events: was enabled BEFORE"
                + " INSERT (\\S+), now disabled BEFORE INSERT \\1"), changes.get(1));
        assertEquals("trigger audit_events_no_truncate on public.audit_events: definition changed", changes.get(2));
        assertEquals(false, post.client().expectationsMet());
        // The rewritten no-truncate trigger is still there and enabled: only the fingerprint shows it.
        assertEquals(List.of("BEFORE UPDATE row trigger (append-only)", "BEFORE DELETE row trigger (append-only)"),
                post.missingTriggers());
    }

    /**
     * The append-only trigger made again with its name, events and function
     * but a WHEN that never holds (or a column list that leaves the other
     * columns writable) neither protects nor changed the fingerprint: an
     * anchor with the fingerprint and --fail-on-break passed (red-team
     * review). Both are named now, and neither counts as the protection.
     */
    @Test
    void anAppendOnlyTriggerThatNeverFiresIsNoProtectionAndChangesTheFingerprint() throws Exception {
        String database = migrated(3);
        Snapshot post = verifiedAgainstTheAnchorBefore(database, "DROP TRIGGER audit_events_append_only ON audit_events",
                "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW"
                        + " WHEN (pg_trigger_depth() < 0) EXECUTE FUNCTION audit_events_reject_change()",
                "CREATE TRIGGER audit_events_reject_id_changes BEFORE UPDATE OF id, actor ON audit_events FOR EACH ROW"
                        + " EXECUTE FUNCTION audit_events_reject_change('only', 'these')");
        assertEquals(List.of("trigger audit_events_append_only on public.audit_events: was enabled "
                + BEFORE_UPDATE_DELETE + ", now enabled " + BEFORE_UPDATE_DELETE + " WHEN ((pg_trigger_depth() < 0))",
                "trigger audit_events_reject_id_changes on public.audit_events: added (enabled BEFORE UPDATE OF id,"
                        + " actor public.audit_events_reject_change() CALLED AS public.audit_events_reject_change('only',"
                        + " 'these'))"), post.integrityChanges());
        assertEquals(List.of("BEFORE UPDATE row trigger (append-only)", "BEFORE DELETE row trigger (append-only)"),
                post.missingTriggers());
        assertTrue(post.whyBroken().startsWith("the integrity machinery is not the anchor's: "), post.whyBroken());
        // Without the anchor: no protection.
        assertEquals("audit_events is not append-only: no enabled BEFORE UPDATE row trigger (append-only),"
                + " no enabled BEFORE DELETE row trigger (append-only)", verify(database).whyBroken());
    }

    /**
     * Every read of audit_events returns the rows of a table that inherits
     * from it (a partition, a child), and the parent's triggers do not guard
     * a change made there: such a table without an append-only trigger of
     * its own passed as protected (red-team review).
     */
    @Test
    void aTableInheritingFromAuditEventsNeedsItsOwnAppendOnlyTrigger() throws Exception {
        String database = migrated(2);
        Support.execute(database, "CREATE TABLE audit_events_archive () INHERITS (audit_events)");
        assertEquals(List.of("BEFORE UPDATE row trigger (append-only)", "BEFORE DELETE row trigger (append-only)",
                "BEFORE TRUNCATE trigger (no-truncate)"), verify(database).missingTriggers());
        Support.execute(database, "CREATE TRIGGER archive_append_only BEFORE UPDATE OR DELETE ON audit_events_archive"
                + " FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change()");
        assertEquals(List.of("BEFORE TRUNCATE trigger (no-truncate)"), verify(database).missingTriggers());
    }

    /** Pure logic: each kind of difference, one line naming the entry. */
    @Test
    void integrityChangesNameEachEntry() {
        Map<String, String> before = new LinkedHashMap<>();
        before.put("trigger t on s.audit_events", "enabled BEFORE INSERT s.f() sha256:aa");
        before.put("trigger gone on s.audit_events", "enabled BEFORE TRUNCATE s.g() sha256:bb");
        before.put("verifier s.audit_events_verify_chain()", "sha256:cc");
        Map<String, String> after = new LinkedHashMap<>();
        after.put("trigger t on s.audit_events", "disabled BEFORE INSERT s.f() sha256:ab");
        after.put("verifier s.audit_events_verify_chain()", "sha256:cd");
        after.put("trigger new on s.audit_events", "enabled AFTER INSERT s.h() sha256:dd");
        assertEquals(List.of(
                "trigger t on s.audit_events: was enabled BEFORE INSERT s.f(), now disabled BEFORE INSERT s.f()"
                        + " (definition changed)",
                "trigger gone on s.audit_events: missing",
                "verifier s.audit_events_verify_chain(): definition changed",
                "trigger new on s.audit_events: added (enabled AFTER INSERT s.h())"),
                Integrity.changes(before, after));
        assertEquals(List.of(), Integrity.changes(before, before));
    }

    /** Through the command: the exact run, every trigger dropped; exit 3 and one line naming them. */
    @Test
    void theCommandExitsThreeNamingTheDroppedTriggers() throws Exception {
        String database = migrated(3);
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0");
        Path pre = Support.write(folder.resolve("pre.json"), workload.out());
        Support.execute(database, "DROP TRIGGER audit_events_append_only ON audit_events",
                "DROP TRIGGER audit_events_no_truncate ON audit_events",
                "DROP TRIGGER audit_events_chain ON audit_events",
                "DROP TRIGGER audit_events_chain_flush ON audit_events");
        var result = tool(database, "--expect", pre.toString(), "--expect-exact", "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.out().contains("  \"integrity_changes\": [\n"
                + "    \"trigger audit_events_append_only on public.audit_events: missing\",\n"
                + "    \"trigger audit_events_chain on public.audit_events: missing\",\n"
                + "    \"trigger audit_events_chain_flush on public.audit_events: missing\",\n"
                + "    \"trigger audit_events_no_truncate on public.audit_events: missing\",\n"
                // The helper the chain triggers call (migration 000011) is reached through them only.
                + "    \"function public.audit_events_chain_begin(): missing\"\n  ],\n"), result.out());
        assertTrue(result.out().contains("\"expectations_met\": false"), result.out());
        assertEquals("backupsmoke: --fail-on-break: the integrity machinery is not the anchor's:"
                + " trigger audit_events_append_only on public.audit_events: missing;"
                + " trigger audit_events_chain on public.audit_events: missing;"
                + " trigger audit_events_chain_flush on public.audit_events: missing;"
                + " trigger audit_events_no_truncate on public.audit_events: missing;"
                + " function public.audit_events_chain_begin(): missing", Support.lastLine(result.err()));
    }

    // ------------------------------------------------------------ 9: columns outside the hash

    @Test
    void columnsOutsideTheHashAreListedAndFatalOnRequest() throws Exception {
        String database = migrated(4);
        assertNull(verify(database).unhashedColumns());
        Support.execute(database, "ALTER TABLE audit_events ADD COLUMN ip inet, ADD COLUMN reason text");
        Support.tamper(database, "UPDATE audit_events SET ip = '203.0.113.9', reason = 'rewritten'");
        Snapshot snapshot = verify(database);
        assertEquals("clean", snapshot.client().verdict());
        assertEquals(List.of("ip", "reason"), snapshot.unhashedColumns());
        assertFalse(snapshot.isBroken());
        assertTrue(snapshot.toJson().contains("  \"unhashed_columns\": [\n    \"ip\",\n    \"reason\"\n  ],\n"),
                snapshot.toJson());
        assertEquals(List.of("warning: audit_events columns ip, reason are outside the hash: rewriting them leaves"
                + " the chain clean (unhashed_columns in the snapshot; --fail-on-unhashed makes it fatal)"),
                VerifyNotes.of(snapshot));
        assertNull(new FatalVerdicts(true, true, false).firstOf(snapshot));
        assertEquals("--fail-on-unhashed: audit_events columns outside the hash: ip, reason",
                new FatalVerdicts(false, false, true).firstOf(snapshot));

        var result = tool(database, "--fail-on-unhashed");
        assertEquals(3, result.exit(), result.describe());
        assertEquals("backupsmoke: --fail-on-unhashed: audit_events columns outside the hash: ip, reason",
                Support.lastLine(result.err()));
    }

    @Test
    void aColumnNamedWithALineBreakStaysOnTheLineThatNamesIt() throws Exception {
        // Red-team review 8: a column "re\n::error::injected" added to audit_events printed a line of its own in the
        // warning and in the fatal line, which GitHub Actions ran as a workflow command.
        String database = migrated(4);
        Support.execute(database, "ALTER TABLE audit_events ADD COLUMN \"re\n::error::injected\" text");
        var result = tool(database, "--fail-on-unhashed");
        assertEquals(3, result.exit(), result.describe());
        assertEquals("backupsmoke: warning: audit_events column re?::error::injected is outside the hash: rewriting it"
                + " leaves the chain clean (unhashed_columns in the snapshot; --fail-on-unhashed makes it fatal)\n"
                + "backupsmoke: --fail-on-unhashed: audit_events columns outside the hash: re?::error::injected\n",
                result.err());
    }

    // ------------------------------------------------------------ 10: messages, agreement apart from expectation

    @Test
    void anUnmetAnchorIsNoDisagreementWithTheServer() throws Exception {
        String database = migrated(5);
        Snapshot snapshot = verify(database, null, new ChainWalker.Expectation(null, 9L), null);
        assertEquals("expectation_mismatch", snapshot.client().breakKind());
        assertEquals(false, snapshot.client().expectationsMet());
        assertEquals(true, snapshot.client().agreesWithServer());
        assertEquals("the chain does not hold the expected rows: expectation_mismatch at audit-smoke-0004 position 4",
                snapshot.whyBroken());

        var result = tool(database, "--expect-rows=9", "--fail-on-break");
        assertEquals(3, result.exit(), result.describe());
        assertTrue(result.out().contains("\"agrees_with_server\": true"), result.out());
        assertEquals("backupsmoke: --fail-on-break: the chain does not hold the expected rows: expectation_mismatch"
                + " at audit-smoke-0004 position 4\n", result.err());
    }

    @Test
    void aFatalBreakIsNamedInOneLine() throws Exception {
        String database = migrated(5);
        Support.tamper(database, "UPDATE audit_events SET actor = 'mallory' WHERE id = 'audit-smoke-0002'");
        Snapshot snapshot = verify(database);
        assertEquals(true, snapshot.client().agreesWithServer());
        assertEquals("--fail-on-break: the server's verifier breaks at audit-smoke-0002 position 2",
                new FatalVerdicts(true, false, false).firstOf(snapshot));
        assertNull(new FatalVerdicts(false, true, true).firstOf(snapshot));
        Support.execute(database, "DROP FUNCTION audit_events_verify_chain()");
        assertEquals("--fail-on-break: client verification: modified at audit-smoke-0002 position 2",
                new FatalVerdicts(true, false, false).firstOf(verify(database)));
    }

    // ------------------------------------------------------------ 5: other tenants' chains

    /**
     * tenant_b is migrated with tenant_a (where pgcrypto landed) on its
     * path: until migration 000011 qualifies digest(), a second --schema
     * workload fails there (the migration half of item 5).
     */
    @Test
    void anotherTenantsCompleteChainIsListedNotABreak() throws Exception {
        String database = Support.scratchDatabase();
        migrate(database, "tenant_a", "tenant_a", 4);
        migrate(database, "tenant_b", "tenant_b, tenant_a", 3);
        Snapshot snapshot = verify(database, "tenant_a", NO_ANCHOR, null);
        assertNull(snapshot.shadowSchemas());
        assertEquals(List.of("tenant_b"), snapshot.otherAuditSchemas());
        assertFalse(snapshot.isBroken(), snapshot.toJson());
        assertTrue(snapshot.toJson().contains("  \"other_audit_schemas\": [\n    \"tenant_b\"\n  ],\n"), snapshot.toJson());
        assertEquals(List.of(), VerifyNotes.of(snapshot));
        var clean = tool(database, "--schema=tenant_a", "--fail-on-break");
        assertEquals(0, clean.exit(), clean.describe());
        assertEquals("", clean.err());

        // A bare copy of an audit table still shadows, and so does a tenant without its own verifier.
        Support.execute(database, "CREATE SCHEMA copy",
                "CREATE TABLE copy.audit_events AS SELECT * FROM tenant_a.audit_events");
        Snapshot shadowed = verify(database, "tenant_a", NO_ANCHOR, null);
        assertEquals(List.of("copy"), shadowed.shadowSchemas());
        assertEquals(List.of("tenant_b"), shadowed.otherAuditSchemas());
        assertEquals("copy also holds audit_events or audit_chain_head", shadowed.whyBroken());
        Support.execute(database, "DROP FUNCTION tenant_b.audit_events_verify_chain()");
        Snapshot incomplete = verify(database, "tenant_a", NO_ANCHOR, null);
        assertEquals(List.of("copy", "tenant_b"), incomplete.shadowSchemas());
        assertNull(incomplete.otherAuditSchemas());
        var broken = tool(database, "--schema=tenant_a", "--fail-on-break");
        assertEquals(3, broken.exit(), broken.describe());
        assertEquals("backupsmoke: --fail-on-break: copy, tenant_b also hold audit_events or audit_chain_head",
                Support.lastLine(broken.err()));
    }

    /** Without --schema the choice of tables is a guess, so every other holder stays a shadow. */
    @Test
    void withoutSchemaAnotherChainStillShadows() throws Exception {
        String database = Support.scratchDatabase();
        migrate(database, "public", "public", 2);
        migrate(database, "tenant_b", "tenant_b, public", 2);
        Snapshot snapshot = verify(database);
        assertEquals(List.of("tenant_b"), snapshot.shadowSchemas());
        assertNull(snapshot.otherAuditSchemas());
    }

    // ------------------------------------------------------------ 6: timestamps the payload cannot express

    /**
     * Inserts a row with the triggers bypassed (as a privileged user or a
     * restore could), its hash forged from the payload the trigger would
     * compute, and points the sentinel at it.
     */
    private static void forgeRow(String database, String id, String prevHash, String timestamp, String payloadTime)
            throws Exception {
        String payload = String.join("|", prevHash == null ? "" : prevHash, id, "app", "User", "x", "r", "i", "{}",
                payloadTime, "cert_lifecycle");
        String hash = AuditRow.sha256Hex(payload);
        try (Connection connection = Support.connect(database)) {
            connection.createStatement().execute("SET session_replication_role = replica");
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO audit_events (id, actor,"
                    + " actor_type, action, resource_type, resource_id, details, \"timestamp\", prev_hash, row_hash)"
                    + " VALUES (?, 'app', 'User', 'x', 'r', 'i', '{}', ?::timestamptz, ?, ?)")) {
                insert.setString(1, id);
                insert.setString(2, timestamp);
                insert.setString(3, prevHash);
                insert.setString(4, hash);
                insert.execute();
            }
            connection.createStatement().execute("UPDATE audit_chain_head SET row_hash = '" + hash + "' WHERE id = 1");
        }
    }

    /**
     * A BC date hashes as the same date AD (the payload omits the era), so
     * the hash cannot vouch for the row: ambiguous, and modified for the
     * client and, since migration 000017, for our server's verifier, which
     * called it clean before.
     */
    @Test
    void aStoredBcDateIsAmbiguousAndModified() throws Exception {
        String database = migrated(0);
        forgeRow(database, "bc", null, "0044-03-15 10:00:00+00 BC", "0044-03-15T10:00:00.000000Z");
        Snapshot snapshot = verify(database);
        assertEquals("broken", snapshot.client().verdict());
        assertEquals("modified", snapshot.client().breakKind());
        assertEquals("bc", snapshot.client().firstBreakId());
        assertEquals(1, snapshot.client().ambiguousRows());
        assertEquals("bc", snapshot.client().firstAmbiguousId());
        assertEquals("bc|0|true", snapshot.firstBreakId() + "|" + snapshot.firstBreakPos() + "|"
                + snapshot.client().agreesWithServer());
        assertTrue(VerifyNotes.of(snapshot).contains("client verification: 1 ambiguous row, whose payload another row"
                + " could share; the first, bc: its timestamp 0044-03-15 10:00:00.000000 BC (UTC) has the payload of"
                + " the same date AD: the payload omits the era"), VerifyNotes.of(snapshot).toString());
        assertEquals("--fail-on-break: the server's verifier breaks at bc position 0",
                new FatalVerdicts(true, true, false).firstOf(snapshot));
        assertEquals("--fail-on-ambiguous: 1 ambiguous row, the first bc",
                new FatalVerdicts(false, true, false).firstOf(snapshot));
    }

    @Test
    void storedInfinitiesAreAmbiguousAndUnhashable() throws Exception {
        String database = migrated(0);
        forgeRow(database, "neg", null, "-infinity", "-infinity");
        String negHash = Support.one(database, "SELECT row_hash FROM audit_events WHERE id = 'neg'");
        forgeRow(database, "pos", negHash, "infinity", "infinity");
        Snapshot snapshot = verify(database);
        assertEquals(2, snapshot.client().ambiguousRows());
        assertEquals("neg", snapshot.client().firstAmbiguousId());
        assertEquals("modified", snapshot.client().breakKind());
        assertEquals("neg", snapshot.client().firstBreakId());
        assertTrue(VerifyNotes.of(snapshot).contains("client verification: 2 ambiguous rows, whose payload another"
                + " row could share; the first, neg: its timestamp -infinity has no text in the payload"),
                VerifyNotes.of(snapshot).toString());
    }
}
