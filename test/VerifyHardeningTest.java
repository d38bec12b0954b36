// Issue 11 (the tool's items) and issue 9 item 4: the holes an adversarial
// review found in verify's command line, each through the command users run.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VerifyHardeningTest {
    @TempDir Path folder;

    private static Support.Result verify(String database, String... flags) {
        List<String> args = new ArrayList<>(List.of("--mode=verify", "--db-url=" + Support.url(database)));
        args.addAll(List.of(flags));
        return Support.tool(args.toArray(String[]::new));
    }

    /** RESULT's snapshot names BREAK_KIND, and NOTES is all it printed on stderr. */
    private static void assertBreakAndNotes(Support.Result result, String breakKind, String notes) {
        assertTrue(result.out().contains("\"break_kind\": \"" + breakKind + "\""), result.out());
        assertEquals(notes, result.err());
    }

    /** verify(DATABASE, FLAGS), which must exit EXIT. */
    private static Support.Result verifyExiting(int exit, String database, String... flags) {
        var result = verify(database, flags);
        assertEquals(exit, result.exit(), result.describe());
        return result;
    }

    private Path workloadSnapshot(String database) throws Exception {
        var workload = Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=0");
        return Support.write(folder.resolve(database + ".json"), workload.out());
    }

    // ------------------------------------------------------------ 11.1 the audit schema

    /**
     * A copy of the tables in a schema named like the role came first in the
     * role's default search_path: verify read the copy and called a chain with
     * a deleted row clean, anchor and fingerprint included.
     */
    @Test
    void aShadowSchemaNeitherHidesTamperingNorGoesUnreported() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Path pre = workloadSnapshot(database);
        Support.execute(database, "CREATE SCHEMA \"" + Support.USER + "\"",
                "CREATE TABLE \"" + Support.USER + "\".audit_events AS SELECT * FROM public.audit_events",
                "CREATE TABLE \"" + Support.USER + "\".audit_chain_head AS SELECT * FROM public.audit_chain_head");
        Support.execute(database, "ALTER TABLE public.audit_events DISABLE TRIGGER USER",
                "DELETE FROM public.audit_events WHERE id = 'audit-smoke-0010'",
                "ALTER TABLE public.audit_events ENABLE TRIGGER USER");

        var result = verifyExiting(3, database, "--expect=" + pre, "--fail-on-break");
        assertTrue(result.out().contains("  \"first_break_id\": \"audit-smoke-0011\",\n  \"first_break_pos\": 10,\n"
                + "  \"verifier_walked\": 11,\n  \"shadow_schemas\": [\n    \"" + Support.USER + "\"\n  ],\n"),
                result.out());
        assertTrue(result.out().contains("\"break_kind\": \"missing_predecessor\""), result.out());
        assertTrue(result.out().contains("\"trigger audit_events_chain on public.audit_events\": "), result.out());
        assertTrue(result.out().contains("\"verifier public.audit_events_verify_chain()\": "), result.out());
        assertTrue(result.err().startsWith("backupsmoke: warning: " + Support.USER + " also holds audit_events or"
                + " audit_chain_head: "), result.err());

        // A database-wide search_path that puts the copy first changes nothing either.
        Support.execute(database, "ALTER DATABASE " + database + " SET search_path = \"" + Support.USER + "\", public");
        var pinned = verifyExiting(3, database, "--schema=public", "--expect=" + pre, "--fail-on-break");
        assertTrue(pinned.out().contains("\"first_break_id\": \"audit-smoke-0011\""), pinned.out());
    }

    @Test
    void schemaNamesWhereTheWorkloadInstallsAndWhatVerifyReads() throws Exception {
        String database = Support.scratchDatabase();
        var workload = Support.tool("--mode=workload", "--db-url=" + Support.url(database), "--schema=ledger",
                "--start-time=" + Support.FIXED_START);
        assertEquals(0, workload.exit(), workload.describe());
        assertEquals(Support.snapshotJson("workload", 24, Support.FIXED_HEAD_24), Support.withoutIntegrity(workload.out()));
        assertEquals("ledger", Support.one(database, "SELECT relnamespace::regnamespace FROM pg_class"
                + " WHERE relname = 'audit_events'"));
        // The only schema holding both tables is found without --schema.
        var found = verifyExiting(0, database, "--fail-on-break");
        assertTrue(found.out().contains(Support.cleanClientJson(24)), found.out());
        assertTrue(found.out().contains("\"verifier ledger.audit_events_verify_chain()\": "), found.out());
        var wrong = verifyExiting(1, database, "--schema=public");
        assertEquals("backupsmoke: schema public has no audit_events, audit_chain_head: it lacks the audit chain schema;"
                + " run the migrations first (--mode=workload)\n", wrong.err());
    }

    /**
     * A "timestamp" column of another type than timestamptz (its zone cut
     * off) ended verify in an "unexpected error" naming Java's exception;
     * it is a schema outside the contract, said in one line.
     */
    @Test
    void aTimestampWithoutTimeZoneIsNamedAsOutsideTheContract() throws Exception {
        String database = Support.migratedWithWorkload(2);
        Support.execute(database, "ALTER TABLE audit_events ALTER \"timestamp\" TYPE timestamp"
                + " USING \"timestamp\" AT TIME ZONE 'UTC'");
        Support.assertRefused(1, "audit_events.\"timestamp\" is timestamp without time zone, not the schema"
                + " contract's timestamptz (SPEC section 6): the payload's UTC time cannot be read from it",
                verify(database, "--fail-on-break"));
    }

    /**
     * The audit schema's owner, no superuser, dropped the append-only
     * trigger and put an &(smallint, integer) in that schema that says every
     * trigger has every bit: verify's check of the triggers (tgtype & bits)
     * called that one, as PostgreSQL takes an exact match from any schema
     * on the path, and --fail-on-break passed. Verify's queries now run with
     * the catalogs alone on the path.
     */
    @Test
    void anOperatorInTheAuditSchemaDoesNotAnswerVerifysQueries() throws Exception {
        String database = Support.migratedWithWorkload(24);
        String head = Support.one(database, "SELECT row_hash FROM audit_chain_head");
        Support.execute(database, "DROP TRIGGER audit_events_append_only ON public.audit_events",
                "CREATE FUNCTION public.every_bit(smallint, integer) RETURNS integer LANGUAGE sql IMMUTABLE"
                        + " AS 'SELECT $2'",
                "CREATE OPERATOR public.& (LEFTARG = smallint, RIGHTARG = integer, FUNCTION = public.every_bit)");

        var result = verifyExiting(3, database, "--expect-head=" + head, "--expect-rows=24", "--fail-on-break");
        assertTrue(result.err().endsWith("backupsmoke: --fail-on-break: audit_events is not append-only: no enabled"
                + " BEFORE UPDATE row trigger (append-only), no enabled BEFORE DELETE row trigger (append-only)\n"),
                result.err());
    }

    // ------------------------------------------------------------ 11.2 the message of a skipped insert

    /** Migrations before 000007: ON CONFLICT DO NOTHING left the sentinel on a hash no row has. */
    @Test
    void aHashNoRowHasIsExplainedAsALikelySkippedInsert() throws Exception {
        Path earlier = folder.resolve("earlier");
        Files.createDirectories(earlier);
        try (var files = Files.list(Support.MIGRATIONS)) {
            for (Path file : files.filter(f -> f.getFileName().toString().compareTo("000007") < 0).toList()) {
                Files.copy(file, earlier.resolve(file.getFileName()));
            }
        }
        String database = Support.scratchDatabase();
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=3", "--migrations-path=" + earlier);
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)"
                + " VALUES ('audit-smoke-0001', 'app', 'User', 'x', 'r', 'i') ON CONFLICT (id) DO NOTHING");
        assertBreakAndNotes(verifyExiting(0, database), "sentinel_mismatch", "backupsmoke: client verification: sentinel_mismatch at audit-smoke-0002 position 2: "
                + "a hash no row has: likely an insert that ON CONFLICT DO NOTHING skipped after a chain trigger"
                + " older than migration 000007 had linked it (or rows were deleted)\n");
    }

    // ------------------------------------------------------------ 11.3, 9.4 anchors

    @Test
    void noClientVerifyStillChecksTheAnchor() throws Exception {
        String database = Support.migratedWithWorkload(24);
        var result = verifyExiting(3, database, "--no-client-verify", "--expect-rows=30", "--fail-on-break");
        assertTrue(result.out().contains("\"expectations_met\": false"), result.out());
        assertBreakAndNotes(result, "expectation_mismatch", "backupsmoke: --expect… is checked on the client's walk"
                + " of the chain: it runs despite --no-client-verify\nbackupsmoke: --fail-on-break: the chain does not"
                + " hold the expected rows: expectation_mismatch at audit-smoke-0023 position 23\n");
    }

    @Test
    void expectExactRefusesAChainThatGrewSinceTheAnchor() throws Exception {
        String database = Support.migratedWithWorkload(24);
        Path anchor = workloadSnapshot(database);
        Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=8", "--id-prefix=later-");
        var grown = verifyExiting(0, database, "--expect=" + anchor, "--fail-on-break");
        var exact = verifyExiting(3, database, "--expect=" + anchor, "--expect-exact", "--fail-on-break");
        assertTrue(exact.out().contains("    \"first_break_id\": \"later-0000\",\n    \"first_break_pos\": 24,\n"
                + "    \"break_kind\": \"expectation_mismatch\","), exact.out());
        assertTrue(exact.out().contains("    \"expectations_met\": false,\n    \"extra_rows\": 8\n"), exact.out());
        var alone = verifyExiting(2, database, "--expect-exact");
        assertTrue(alone.err().startsWith("--expect-exact needs --expect, --expect-head or --expect-rows\n"), alone.err());
    }

    /** Exactly one snapshot of a chain that was clean when recorded, row_count an exact integer in range. */
    @Test
    void expectAcceptsOnlyOneCleanSnapshot() throws Exception {
        String database = Support.migratedWithWorkload(3);
        String snapshot = Files.readString(workloadSnapshot(database));
        Path two = Support.write(folder.resolve("two.json"), snapshot + snapshot);
        assertRefused(database, two, " holds more than one JSON value: give exactly one snapshot");
        Path huge = Support.write(folder.resolve("huge.json"),
                snapshot.replace("\"row_count\": 3,", "\"row_count\": 18446744073709551619,"));
        assertRefused(database, huge, ": row_count 18446744073709551619 is not a row count (0 to 9223372036854775807)");
        Path broken = Support.write(folder.resolve("broken.json"), snapshot.replace("\"chain_head_hash\"",
                "\"first_break_id\": \"audit-smoke-0001\",\n  \"chain_head_hash\"").replace("workload", "verify"));
        assertRefused(database, broken, " records a broken chain (the server's verifier broke at audit-smoke-0001):"
                + " anchor to a workload snapshot or to a verify snapshot of a clean chain");
        // Just the two values, as the harness writes them, still anchor.
        Path bare = Support.write(folder.resolve("bare.json"), "{\"row_count\": 3, \"chain_head_hash\": \""
                + Support.one(database, "SELECT row_hash FROM audit_chain_head") + "\"}");
        assertEquals(0, verify(database, "--expect=" + bare, "--fail-on-break").exit());
        // Yesterday's clean verify is a fair anchor for today's.
        Path clean = Support.write(folder.resolve("clean.json"), Support.toolOk("--mode=verify",
                "--db-url=" + Support.url(database)).out());
        var anchored = verifyExiting(0, database, "--expect=" + clean, "--fail-on-break");
        assertTrue(anchored.out().contains("\"expectations_met\": true"), anchored.out());
    }

    private static void assertRefused(String database, Path file, String why) {
        var result = verifyExiting(1, database, "--expect=" + file);
        assertEquals("backupsmoke: --expect " + file + why + "\n", result.err());
        assertEquals("", result.out());
    }

    // ------------------------------------------------------------ 11.4 one snapshot for the pair

    /**
     * A writer holds the sentinel while the workload snapshot is read, then
     * adds rows and commits: read in two statements, the count was from before
     * and the head from after, a pair the chain never was in.
     */
    @Test
    void theWorkloadSnapshotReadsCountAndHeadTogether() throws Exception {
        String database = Support.migratedWithWorkload(24);
        try (Connection writer = Support.connectInTransaction(database); Statement statement = writer.createStatement()) {
            statement.execute("LOCK TABLE audit_chain_head IN ACCESS EXCLUSIVE MODE");
            CompletableFuture<Support.Result> workload = CompletableFuture.supplyAsync(() ->
                    Support.tool("--mode=workload", "--db-url=" + Support.url(database), "--rows=0"));
            awaitLockWait(database);
            statement.execute("INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)"
                    + " SELECT 'w-' || i, 'app', 'User', 'x', 'r', 'i' FROM generate_series(1, 5) AS i");
            writer.commit();
            var result = workload.join();
            assertEquals(0, result.exit(), result.describe());
            String head = Support.one(database, "SELECT row_hash FROM audit_chain_head");
            assertEquals(Support.snapshotJson("workload", 29, head), Support.withoutIntegrity(result.out()));
        }
    }

    private static void awaitLockWait(String database) throws Exception {
        for (int attempt = 0; attempt < 1200; attempt++) {
            if (!"0".equals(Support.one(database, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    + " WHERE NOT l.granted AND c.relname = 'audit_chain_head' AND l.database = (SELECT oid FROM"
                    + " pg_database WHERE datname = current_database())"))) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the workload never waited for audit_chain_head");
    }

    // ------------------------------------------------------------ 11.5, 11.11 the deadline

    @Test
    void theTimeoutBoundsConnectingAndSelftestAndRefusesWhatCannotBeCounted() throws Exception {
        String database = Support.migratedWithWorkload(3);
        var tiny = verifyExiting(1, database, "--timeout=1ms");
        assertEquals("backupsmoke: timed out after 1ms while connecting to postgres://" + Support.USER + "@"
                + Support.HOST + ":" + Support.PORT + "/" + database + " (raise the bound with --timeout)\n", tiny.err());
        assertEquals("", tiny.out());
        var selftest = Support.tool("--mode=selftest", "--db-url=" + Support.url("postgres"), "--timeout=1ms");
        assertEquals(1, selftest.exit(), selftest.describe());
        assertTrue(selftest.err().startsWith("backupsmoke: timed out after 1ms while connecting to "), selftest.err());
        var huge = verifyExiting(2, database, "--timeout=99999999999999h");
        assertTrue(huge.err().startsWith("Invalid value for option '--timeout': '99999999999999h' is too long a"
                + " duration\n"), huge.err());
    }

    /** A server that accepts connections and never answers: --timeout, not --connect-timeout, ends the wait. */
    @Test
    void theTimeoutBoundsAConnectionThatNeverAnswers() throws Exception {
        try (ServerSocket silent = new ServerSocket(0)) {
            List<Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept());
                    }
                } catch (IOException closed) {
                    // The test is over.
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            long started = System.nanoTime();
            Support.refused(1, "timed out after 1s while connecting to postgres://u@127.0.0.1:"
                    + silent.getLocalPort() + "/d (raise the bound with --timeout)", "--mode=verify",
                    "--db-url=postgres://u@127.0.0.1:" + silent.getLocalPort() + "/d?sslmode=disable", "--timeout=1s",
                    "--connect-timeout=30");
            long seconds = (System.nanoTime() - started) / 1_000_000_000L;
            assertTrue(seconds < 25, "returned after " + seconds + " s");
            for (Socket socket : accepted) {
                socket.close();
            }
        }
    }

    // ------------------------------------------------------------ 11.8, 11.9 missing pieces are verdicts

    @Test
    void aDeletedSentinelIsASentinelMismatchNotAFailure() throws Exception {
        String database = Support.migratedWithWorkload(5);
        Support.execute(database, "DELETE FROM audit_chain_head");
        var result = verifyExiting(3, database, "--fail-on-break");
        assertTrue(result.out().contains("  \"row_count\": 5,\n  \"chain_head_hash\": null,\n"), result.out());
        assertTrue(result.out().contains(Support.clientJson(5, "audit-smoke-0004", 4, "sentinel_mismatch", false, 0,
                false)), result.out());
        assertEquals("backupsmoke: warning: audit_chain_head has no row with id = 1: the chain has no sentinel\n"
                + "backupsmoke: --fail-on-break: client verification: sentinel_mismatch at audit-smoke-0004 position 4\n",
                result.err());
    }

    @Test
    void aDroppedVerifierLeavesTheClientsVerdictAndNoAdviceToWrite() throws Exception {
        String database = Support.migratedWithWorkload(5);
        Support.execute(database, "DROP FUNCTION audit_events_verify_chain()");
        var result = verifyExiting(0, database);
        assertTrue(result.out().contains("  \"chain_head_hash\": \"" + Support.one(database,
                "SELECT row_hash FROM audit_chain_head") + "\",\n  \"verifier_missing\": true,\n  \"client\": {\n"
                + "    \"walked\": 5,\n    \"verdict\": \"clean\",\n    \"sentinel_matches\": true,\n"
                + "    \"ambiguous_rows\": 0\n  },\n"), result.out());
        assertFalse(result.err().contains("--mode=workload"), result.err());
        assertTrue(result.err().startsWith("backupsmoke: warning: audit_events_verify_chain() is missing: only the"
                + " client's verdict is given"), result.err());
        assertEquals(3, verify(database, "--fail-on-break").exit());
    }

    // ------------------------------------------------------------ 11.15, 11.16 flags

    @Test
    void verifyOnlyFlagsAreRefusedInWorkloadMode() throws Exception {
        String database = Support.scratchDatabase();
        Support.usageError("--fail-on-break, --[no-]client-verify apply to --mode=verify only",
                "--mode=workload", "--db-url=" + Support.url(database), "--fail-on-break", "--no-client-verify");
        assertEquals("0", Support.one(database, "SELECT count(*) FROM pg_class WHERE relname = 'audit_events'"));
    }

    @Test
    void failOnAmbiguousFailsAndNamesTheFirstAmbiguousRow() throws Exception {
        String database = Support.migratedWithWorkload(3);
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id)"
                + " VALUES ('pipe-1', 'alice|bob', 'User', 'x', 'r', 'i')");
        var lenient = verifyExiting(0, database, "--fail-on-break");
        var strict = verifyExiting(3, database, "--fail-on-ambiguous");
        assertTrue(strict.out().contains("    \"ambiguous_rows\": 1,\n    \"first_ambiguous_id\": \"pipe-1\",\n"),
                strict.out());
    }
}
