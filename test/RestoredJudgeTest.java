// The harness's questions about each side of a round trip, in process:
// --mode=oracle-capture --run-record (SourceCapture: the expectation and the
// source's capture, inside the backups' exported snapshot) and
// --mode=judge-restored (RestoredJudge: the round trip and the second
// oracle of a restored database), on a work folder laid out as the harness
// leaves it, against real databases (OracleTest's schema, restored once
// with pg_dump and pg_restore); and the text oracle (TextOracle): its
// capture through --mode=oracle-capture and its comparison, on files.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestoredJudgeTest {
    static final String NAME = "custom-pg15";
    static final String PASSED = "verdict=pass\0part=\0reason=\0";

    String source;
    String restored;

    @BeforeAll
    void sourceAndRestoredCopy(@TempDir Path setup) throws Exception {
        source = Support.scratchDatabase();
        Support.execute(source, OracleTest.SCHEMA);
        restored = Support.scratchDatabase();
        Path dump = setup.resolve("source.dump");
        var copied = Support.run(List.of("bash", "-c", "pg_dump -Fc --no-owner --no-acl -f \"$2\" -d \"$1\" && "
                + "pg_restore --no-owner --no-acl --exit-on-error -d \"$3\" \"$2\"", "copy", Support.url(source),
                dump.toString(), Support.url(restored)), Map.of(), Support.REPO, 120);
        assertEquals(0, copied.exit(), copied.describe());
    }

    /** A work folder as the harness leaves it before the question: expectation, both snapshots, the source's capture. */
    static Path work(Path temp, String post, String oracle, String database) {
        Support.write(temp.resolve("expected.json"), RoundTripJudgeTest.EXPECTED);
        Support.write(temp.resolve("pre.json"), RoundTripJudgeTest.WORKLOAD);
        Support.write(temp.resolve("post." + NAME + ".json"), post);
        Support.write(temp.resolve("oracle.source"), Support.toolOk("--mode=oracle-capture",
                "--second-oracle=" + oracle, "--db-url=" + Support.url(database)).out());
        return temp;
    }

    static Support.Result judge(Path work, String oracle, String database) {
        return Support.tool("--mode=judge-restored", "--run-record=" + work, "--combination=" + NAME,
                "--second-oracle=" + oracle, "--db-url=" + Support.url(database));
    }

    @Test
    void theRoundTripAndTheSemanticOracleAreOneQuestion(@TempDir Path temp) {
        Path work = work(temp, RoundTripJudgeTest.post(), "semantic", source);
        var judged = judge(work, "semantic", restored);
        assertEquals(0, judged.exit(), judged.describe());
        assertEquals(PASSED, judged.out());
        assertEquals(Support.toolOk("--mode=oracle-capture", "--db-url=" + Support.url(restored)).out(),
                read(work.resolve("oracle." + NAME)));
    }

    /** The text oracle's pg_dump, here waiting for a table's lock, is bounded by the run's --timeout. */
    @Test
    void theTextOraclesDumpEndsAtTheRunsDeadline() throws Exception {
        try (var holder = Support.connect(source); var statement = holder.createStatement()) {
            holder.setAutoCommit(false);
            statement.execute("LOCK TABLE public.events_log IN ACCESS EXCLUSIVE MODE"); // pg_dump waits for it
            long started = System.nanoTime();
            Support.refused(1, "timed out after 1s while running the text oracle's pg_dump of "
                    + Support.url(source) + " (raise the bound with --timeout)",
                    "--mode=oracle-capture", "--second-oracle=text", "--timeout=1s", "--db-url=" + Support.url(source));
            assertTrue(System.nanoTime() - started < java.time.Duration.ofSeconds(20).toNanos(), "waited for the lock");
            holder.rollback();
        }
    }

    @Test
    void theRoundTripsLinesComeWithTheOraclesVerdict(@TempDir Path temp) {
        String withoutClient = "{\"phase\": \"verify\", \"row_count\": 24, \"chain_head_hash\": \""
                + RoundTripJudgeTest.HEAD + "\", \"first_break_pos\": -1, \"verifier_walked\": 24, "
                + RoundTripJudgeTest.INTEGRITY + "}";
        Path work = work(temp, withoutClient, "semantic", source);
        var judged = judge(work, "semantic", restored);
        assertEquals(0, judged.exit(), judged.describe());
        assertEquals("say=" + RoundTripJudge.NO_CLIENT_WARNING + "\0" + PASSED, judged.out());
    }

    @Test
    void aFailingRoundTripCapturesNothing(@TempDir Path temp) {
        Path work = work(temp, RoundTripJudgeTest.post("\"row_count\": 23"), "semantic", source);
        var judged = judge(work, "semantic", restored);
        assertEquals(3, judged.exit(), judged.describe());
        assertEquals("verdict=fail\0part=round_trip\0reason=row_count differs: pre=24 post=23\0", judged.out());
        assertFalse(Files.exists(work.resolve("oracle." + NAME)));
    }

    @Test
    void theSemanticOracleFailsNamingTheDifference(@TempDir Path temp) throws Exception {
        Path work = work(temp, RoundTripJudgeTest.post(), "semantic", source);
        String other = Support.scratchDatabase();
        var judged = judge(work, "semantic", other);
        assertEquals(3, judged.exit(), judged.describe());
        assertTrue(judged.out().contains("verdict=fail\0part=oracle\0reason=the second oracle found "), judged.out());
        assertTrue(judged.out().contains("billing"), judged.out());
    }

    @Test
    void theTextOracleDumpsWithoutTheLinesThatDifferByDesignAndRaisesTheDeparseFalseAlarm(@TempDir Path temp) {
        Path work = work(temp, RoundTripJudgeTest.post(), "text", source);
        String dump = read(work.resolve("oracle.source"));
        assertTrue(dump.contains("CREATE TABLE billing.accounts ("), dump);
        assertFalse(dump.lines().anyMatch(line -> TextOracle.BY_DESIGN.matcher(line).find()), dump);

        var same = judge(work, "text", source);
        assertEquals(0, same.exit(), same.describe());
        assertEquals(PASSED, same.out());
        assertEquals(dump, read(work.resolve("oracle." + NAME)));

        var copy = judge(work, "text", restored);
        assertEquals(3, copy.exit(), copy.describe());
        assertTrue(copy.out().startsWith("verdict=fail\0part=oracle\0reason=the restored database does not dump like"
                + " the source: "), copy.out());
        assertTrue(copy.out().contains("ANY"), copy.out());
    }

    @Test
    void offJudgesTheRoundTripOnly(@TempDir Path temp) {
        Support.write(temp.resolve("expected.json"), RoundTripJudgeTest.EXPECTED);
        Support.write(temp.resolve("pre.json"), RoundTripJudgeTest.WORKLOAD);
        Support.write(temp.resolve("post." + NAME + ".json"), RoundTripJudgeTest.post());
        var judged = judge(temp, "off", "no_such_database");
        assertEquals(0, judged.exit(), judged.describe());
        assertEquals(PASSED, judged.out());
        assertFalse(Files.exists(temp.resolve("oracle." + NAME)));
    }

    @Test
    void itsFlagsAreRefusedElsewhereAndItNeedsItsFiles(@TempDir Path temp) {
        Support.usageError("--combination applies to --mode=judge-restored only",
                "--mode=verify", "--db-url=" + Support.url(source), "--combination=x");
        Support.usageError("--second-oracle applies to --mode=judge-restored and --mode=oracle-capture"
                + " and --mode=report only",
                "--mode=workload", "--db-url=" + Support.url(source), "--second-oracle=text");
        Support.write(temp.resolve("post." + NAME + ".json"), RoundTripJudgeTest.post());
        Support.assertRefused(1, "--second-oracle must be one of semantic, text, off, got \"bogus\"",
                judge(temp, "bogus", source));
        Support.refused(1, "--mode=judge-restored needs --run-record=DIR (the harness's work folder) and"
                + " --combination=NAME",
                "--mode=judge-restored", "--run-record=" + temp, "--db-url=" + Support.url(source));
        Support.write(temp.resolve("pre.json"), RoundTripJudgeTest.WORKLOAD);
        var missing = judge(temp, "off", source);
        assertEquals(1, missing.exit(), missing.describe());
        assertTrue(missing.err().startsWith("backupsmoke: cannot read --run-record " + temp.resolve("expected.json")),
                missing.err());
    }

    /**
     * A --combination the work folder holds no verify snapshot of is a usage error naming the
     * combinations it has (it was a failed verdict, "BackupSmoke --mode=verify did not print one JSON
     * snapshot", as if the restore had failed).
     */
    @Test
    void anUnknownCombinationIsAUsageErrorNamingTheKnownOnes(@TempDir Path temp) {
        String[] unknown = {"--mode=judge-restored", "--run-record=" + temp, "--combination=plain-pg99",
                "--db-url=" + Support.url(source)};
        assertEquals("", Support.usageError("unknown --combination=\"plain-pg99\" (" + temp + " holds no"
                + " combination's verify snapshot, post.NAME.json)", unknown).out());
        work(temp, RoundTripJudgeTest.post(), "off", source);
        Support.write(temp.resolve("post.tar-pg15.json"), RoundTripJudgeTest.post());
        assertEquals("", Support.usageError("unknown --combination=\"plain-pg99\" (" + NAME + " | tar-pg15)", unknown)
                .out());
        assertFalse(Files.exists(temp.resolve("oracle.plain-pg99")));
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void theSourceIsReadInsideTheBackupsSnapshotNotAsItIsLater(@TempDir Path temp) throws Exception {
        String database = Support.migratedWithWorkload(24);
        String head = Support.one(database, "SELECT row_hash FROM audit_chain_head WHERE id = 1");
        try (Connection exporter = Support.connectInTransaction(database);
                Statement statement = exporter.createStatement()) {
            statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            String snapshot;
            try (ResultSet result = statement.executeQuery("SELECT pg_export_snapshot()")) {
                result.next();
                snapshot = result.getString(1);
            }
            Support.toolOk("--mode=workload", "--db-url=" + Support.url(database), "--rows=3", "--id-prefix=later-");
            for (String oracle : List.of("semantic", "text", "off")) {
                Path work = Files.createDirectories(temp.resolve(oracle));
                Support.toolOk("--mode=oracle-capture", "--run-record=" + work, "--snapshot-id=" + snapshot,
                        "--second-oracle=" + oracle, "--db-url=" + Support.url(database));
                assertEquals("{\"row_count\": 24, \"chain_head_hash\": \"" + head + "\"}\n",
                        read(work.resolve("expected.json")));
                Path document = work.resolve("oracle.source");
                if (oracle.equals("off")) {
                    assertFalse(Files.exists(document));
                    continue;
                }
                String inSnapshot = oracle.equals("text")
                        ? Support.toolOk("--mode=oracle-capture", "--second-oracle=text", "--snapshot-id=" + snapshot,
                                "--db-url=" + Support.url(database)).out()
                        : Support.toolOk("--mode=oracle-capture", "--snapshot-id=" + snapshot,
                                "--db-url=" + Support.url(database)).out();
                assertEquals(inSnapshot, read(document));
            }
            // Without the snapshot (PITR, whose target is the expectation): the capture of the source as it is.
            Path latest = Files.createDirectories(temp.resolve("latest"));
            Support.toolOk("--mode=oracle-capture", "--run-record=" + latest, "--db-url=" + Support.url(database));
            assertFalse(Files.exists(latest.resolve("expected.json")));
            assertTrue(read(latest.resolve("oracle.source")).contains("\"rows\": 27"), read(latest.resolve("oracle.source")));
            exporter.rollback();
        }
        Support.refused(1, "--snapshot-id \"1'; --\" is not an exported snapshot's id (pg_export_snapshot(),"
                + " e.g. 00000003-0000001B-1)", "--mode=oracle-capture", "--run-record=" + temp, "--snapshot-id=1'; --",
                "--db-url=" + Support.url(database));
        Support.refused(1, "--snapshot-id \"00000003-0000001B-1 --exclude-table=audit_events\" is not an exported"
                + " snapshot's id (pg_export_snapshot(), e.g. 00000003-0000001B-1)", "--mode=oracle-capture",
                "--second-oracle=text", "--snapshot-id=00000003-0000001B-1 --exclude-table=audit_events",
                "--db-url=" + Support.url(database));
    }

    // ------------------------------------------------ the text comparison, on files

    Judgement compare(Path temp, String source, String restored, boolean replayed) throws Failure {
        return TextOracle.compare(Support.write(temp.resolve("a"), source), Support.write(temp.resolve("b"), restored),
                replayed);
    }

    static final String REASON = "the restored database does not dump like the source: ";

    @Test
    void theTextComparisonQuotesTheFirstDifferenceAsDiffWould(@TempDir Path temp) throws Exception {
        assertTrue(compare(temp, "a\nb\n", "a\nb\n", false).passed());
        assertEquals(REASON + "< b", compare(temp, "a\nb\nc\n", "a\nB\nc\n", false).reason()); // changed
        assertEquals(REASON + "> x", compare(temp, "a\nb\n", "a\nx\nb\n", false).reason()); // inserted
        assertEquals(REASON + "< b", compare(temp, "a\nb\nc\n", "a\nc\n", false).reason()); // deleted
        assertEquals(REASON + "> c", compare(temp, "a\nb\n", "a\nb\nc\n", false).reason()); // appended
        assertEquals(REASON + "< c", compare(temp, "a\nb\nc\n", "a\nb\n", false).reason()); // cut short
        String longLine = "x".repeat(300);
        assertEquals(REASON + "< " + "x".repeat(158), compare(temp, longLine + "\n", "y\n", false).reason());
        // A row's value on one long line: a difference past the first bytes kept of each line still counts.
        String row = "1\t" + "v".repeat(100_000);
        assertEquals(REASON + "< 1\t" + "v".repeat(156), compare(temp, row + "A\n", row + "B\n", false).reason());
        assertEquals(REASON + "> 2", compare(temp, row + "\n", "2\n" + row + "\n", false).reason()); // inserted
        // A function body with CRLF line ends: its carriage return is shown, the reason stays one line.
        assertEquals(REASON + "< select 1\\r", compare(temp, "select 1\r\n", "select 2\r\n", false).reason());
        assertEquals(REASON + "< a\tb\\x1b[2J", compare(temp, "a\tb\u001b[2J\n", "c\n", false).reason());
    }

    @Test
    void aDumpThatCannotBeReadIsOneLineSayingWhy(@TempDir Path temp) throws Exception {
        Path missing = temp.resolve("oracle.source");
        Failure failure = assertThrows(Failure.class,
                () -> TextOracle.compare(missing, Support.write(temp.resolve("b"), "a\n"), false));
        assertEquals("cannot read the text oracle's dump " + missing + ": no such file or directory",
                failure.getMessage());
    }

    @Test
    void afterAReplayTheSequencesValuesAreLeftOut(@TempDir Path temp) throws Exception {
        String source = "CREATE SEQUENCE s;\nSELECT pg_catalog.setval('public.s', 3, true);\n";
        String replayed = "CREATE SEQUENCE s;\nSELECT pg_catalog.setval('public.s', 35, true);\n";
        assertTrue(compare(temp, source, replayed, true).passed());
        assertEquals(REASON + "< SELECT pg_catalog.setval('public.s', 3, true);",
                compare(temp, source, replayed, false).reason());
    }
}
