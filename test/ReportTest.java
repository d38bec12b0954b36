// The harness's run record and its reports (RunRecord, CombinationRecord,
// SummaryTable, ReportJson, JunitXml), in process, on JSON fixtures: the
// exit status a scheduler acts on (issue 17 item 3), a skipped combination
// never counted as passed, and the report keys of SPEC 9.6.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
    static final Path FIXTURES = Support.REPO.resolve("test/fixtures/run-record");

    @TempDir Path temp;

    static final java.util.Map<String, String> FACTS = java.util.Map.of("started_at", "2026-12-05T13:00:00Z",
            "host", "ci-7", "repository_commit", "", "tool", "backupsmoke 0.1.0",
            "java", "openjdk version \"17.0.9\"", "second_oracle", "{\"name\":\"semantic\"}");

    /** The records of FIXTURE (JSON lines; none: no combination ran), or only LINE. */
    private static RunRecord runRecord(String fixture, String line) throws Exception {
        List<JsonNode> combinations = new ArrayList<>();
        String lines = fixture != null ? Files.readString(FIXTURES.resolve(fixture)) : line == null ? "" : line;
        for (String json : lines.lines().toList()) {
            combinations.add(RunRecord.JSON.readTree(json));
        }
        return new RunRecord(combinations, new java.util.LinkedHashMap<>(new java.util.TreeMap<>(FACTS)));
    }

    private record Outcome(int exit, String out, String err) {
    }

    private Outcome report(RunRecord record, Path reportDir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = HarnessModes.report(record, reportDir, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** What the report mode made of RECORD: its exit and output, report.json and junit.xml. */
    private record Reports(Outcome outcome, JsonNode json, String junit) {
    }

    private Reports reportsOf(RunRecord record) throws Exception {
        Path folder = temp.resolve("reports");
        Outcome outcome = report(record, folder);
        return new Reports(outcome, RunRecord.JSON.readTree(folder.resolve("report.json").toFile()),
                Files.readString(folder.resolve("junit.xml")));
    }

    /** The mode exited EXIT printing ERR on stderr, and report.json says PASSED and OUTCOME. */
    private static void assertOutcome(Reports reports, int exit, String err, boolean passed, String outcome) {
        assertEquals(exit, reports.outcome().exit());
        assertEquals(err, reports.outcome().err());
        assertEquals(passed, reports.json().get("passed").asBoolean());
        assertEquals(outcome, reports.json().get("outcome").asText());
    }

    private static String passingLine() throws Exception {
        return Files.readString(FIXTURES.resolve("mixed.jsonl")).lines().findFirst().orElseThrow();
    }

    @Test
    void everyCombinationPassedExitsZeroAndSaysSo() throws Exception {
        Reports reports = reportsOf(runRecord(null, passingLine()));
        assertOutcome(reports, 0, "", true, "passed");
        String junit = reports.junit();
        assertTrue(junit.contains("<testsuite name=\"backup-restore-smoke\" tests=\"1\" failures=\"0\" errors=\"0\""
                + " skipped=\"0\">"), junit);
        assertTrue(junit.contains("<testcase classname=\"backup-restore-smoke\" name=\"custom-pg15\" time=\"4.08\">"
                + "</testcase>"), junit);
    }

    @Test
    void aFailedCombinationExitsThreeNamingHowManyFailed() throws Exception {
        Reports reports = reportsOf(runRecord("mixed.jsonl", null));
        assertOutcome(reports, 3, "backupsmoke: 1 of 3 combination(s) failed\n", false, "failed");
        String junit = reports.junit();
        assertTrue(junit.contains(" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"), junit);
        assertTrue(junit.contains("<failure message=\"row_count differs: pre=24 post=23 &lt;&amp;&quot;quoted&quot;&gt;\"/>"),
                junit);
        assertTrue(junit.contains("name=\"plain-pg15\" time=\"0.30\">"), junit);
        assertTrue(junit.contains("<skipped message=\"a physical backup only starts under its own major (15)\"/>"), junit);
    }

    @Test
    void junitXmlStaysWellFormedWhateverTheReasonHolds() throws Exception {
        // An in-place database named with a control character is named in the restore's failure reason
        // (red-team review 8): XML 1.0 has no way to write U+0001 or ESC, so a JUnit parser refused the file.
        String line = passingLine().replace("\"verdict\":\"pass\",\"reason\":null", "\"verdict\":\"fail\",\"reason\":"
                + "\"restore into source database sm\\u0001o\\u001b]]>ke\\r\\n::error::x\\tfailed (exit 1)\"");
        Reports reports = reportsOf(runRecord(null, line));
        assertTrue(reports.junit().contains("<failure message=\"restore into source database sm?o?]]&gt;ke&#13;&#10;"
                + "::error::x&#9;failed (exit 1)\"/>"), reports.junit());
        javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new java.io.ByteArrayInputStream(reports.junit().getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void everyCombinationSkippedIsNotAPassButAnErrorExitingOne() throws Exception {
        // A configured server skips the built-in pgbackrest method: nothing ran, so nothing passed.
        Reports reports = reportsOf(runRecord("all-skipped.jsonl", null));
        assertOutcome(reports, 1, "backupsmoke: no combination could run: every one was skipped\n", false,
                "nothing_ran");
        assertEquals("skipped", reports.json().at("/combinations/0/verdict").asText());
        String junit = reports.junit();
        assertTrue(junit.contains(" tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"1\">"), junit);
        assertTrue(junit.contains("<testcase classname=\"backup-restore-smoke\" name=\"run\" time=\"0.00\"><error message="
                + "\"no combination could run: every one was skipped\"/></testcase>"), junit);
    }

    @Test
    void noRecordAtAllIsAnErrorToo() throws Exception {
        Reports reports = reportsOf(runRecord(null, null));
        assertEquals(1, reports.outcome().exit());
        assertEquals("backupsmoke: no combination ran\n", reports.outcome().err());
        assertFalse(reports.json().get("passed").asBoolean());
        assertTrue(reports.junit().contains("<error message=\"no combination ran\"/>"));
    }

    @Test
    void reportJsonKeepsItsKeysAndEveryRecordAsWritten() throws Exception {
        JsonNode report = ReportJson.of(runRecord("mixed.jsonl", null));
        List<String> keys = new ArrayList<>();
        report.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("gate", "started_at", "finished_at", "host", "repository_commit", "versions", "passed",
                "outcome", "second_oracle", "combinations"), keys);
        assertEquals("backup-restore-smoke", report.get("gate").asText());
        assertEquals("2026-12-05T13:00:00Z", report.get("started_at").asText());
        assertTrue(report.get("repository_commit").isNull(), "an empty fact is null");
        assertTrue(report.get("finished_at").isNull());
        assertEquals("backupsmoke 0.1.0", report.at("/versions/tool").asText());
        assertEquals("openjdk version \"17.0.9\"", report.at("/versions/java").asText());
        assertTrue(report.at("/versions/pg_dump").isNull());
        assertEquals("semantic", report.at("/second_oracle/name").asText());
        List<String> lines = Files.readString(FIXTURES.resolve("mixed.jsonl")).lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(RunRecord.JSON.readTree(lines.get(i)), report.get("combinations").get(i));
        }
    }

    @Test
    void theSummaryTableHasOneRowPerCombinationWithTwoDecimals() throws Exception {
        Outcome outcome = report(runRecord("mixed.jsonl", null), null);
        assertEquals("""
                method       major verdict  rows     chain_head         seconds backup/restore/verify/continuity
                custom       15    pass     24       03101834d4c1101d   0.50/1.25/0.33/2.00
                plain        15    fail     24       -                  0.10/0.20/-/-
                basebackup   17    skipped  24       -                  1.50/-/-/-
                """, outcome.out());
        assertFalse(Files.exists(temp.resolve("reports")), "no report files without --report-dir");
    }

    @Test
    void theHarnesssFactsBecomeTheRecordsOfTheReport() throws Exception {
        // What the harness writes: WORK/combinations/NNN and WORK/run.facts, NUL-separated NAME=VALUE.
        Path work = Files.createDirectories(temp.resolve("work/combinations"));
        Files.writeString(work.resolve("../expected.json"), "{\"row_count\": 24, \"chain_head_hash\": \"0310\"}");
        Path post = Files.writeString(temp.resolve("work/post.custom-pg15.json"), "{\"row_count\": 24, \"chain_head_hash\": \"0310\"}");
        Files.writeString(work.resolve("000"), "name=custom-pg15\0method=custom\0target_major=15\0verdict=pass\0"
                + "reason=\0target=source database b\0restored_snapshot=" + post + "\0oracle=compared\0backup_sha256=1f2e\0"
                + "backup_bytes=4096\0seconds.backup=0.50\0seconds.restore=1.25\0seconds.verify=\0seconds.continuity=2\0");
        Files.writeString(work.resolve("001"), "name=basebackup-pg15\0method=basebackup\0target_major=15\0"
                + "verdict=fail\0reason=the restore is of another cluster\0backup_bytes=\0");
        // A physical method's evidence comes from the files the harness keeps (PhysicalEvidence).
        Files.writeString(work.resolve("../physical.basebackup.json"), "{\"timeline\": 2}");
        Files.writeString(work.resolve("../run.facts"), "host=ci-7\0second_oracle=null\0");
        RunRecord record = RunRecord.read(temp.resolve("work"));
        assertEquals(RunRecord.JSON.readTree("""
                {"name":"custom-pg15","method":"custom","target_major":15,"verdict":"pass","reason":null,
                 "target":"source database b","rows":24,"expected_chain_head":"0310","restored_chain_head":"0310",
                 "oracle":"compared","backup_sha256":"1f2e","backup_bytes":4096,
                 "seconds":{"backup":0.50,"restore":1.25,"verify":null,"continuity":2}}"""), record.combinations().get(0));
        JsonNode failed = record.combinations().get(1);
        assertEquals("the restore is of another cluster", failed.get("reason").asText());
        assertEquals("{\"physical\":{\"timeline\":2},\"pitr\":null}", failed.get("evidence").toString());
        assertTrue(failed.get("backup_bytes").isNull() && failed.at("/seconds/restore").isNull(), failed.toString());
        assertEquals("ci-7", record.fact("host"));
        assertEquals(3, record.exitStatus());
    }

    /** Without them in the facts, a file backup's size and SHA-256 are read from it, a repository's size from its evidence. */
    @Test
    void theReportFingerprintsTheBackupsItself() throws Exception {
        Path work = Files.createDirectories(temp.resolve("work/combinations"));
        Files.writeString(work.resolve("../backup.custom"), "abc");
        Path folder = Files.createDirectories(temp.resolve("work/backup.directory/sub"));
        Files.writeString(folder.resolve("../toc.dat"), "abc");
        Files.writeString(folder.resolve("3.dat"), "de");
        Files.writeString(work.resolve("../physical.pgbackrest.json"), "{\"repository_bytes\": 12345}");
        Files.writeString(work.resolve("000"), "name=custom-pg15\0method=custom\0verdict=pass\0url=postgres://x\0");
        Files.writeString(work.resolve("001"), "name=directory-pg15\0method=directory\0verdict=pass\0");
        Files.writeString(work.resolve("002"), "name=pgbackrest-pg15\0method=pgbackrest\0verdict=pass\0");
        Files.writeString(work.resolve("003"), "name=command-pg15\0method=command\0verdict=pass\0");
        List<JsonNode> combinations = RunRecord.read(temp.resolve("work")).combinations();
        // sha256("abc"), as sha256sum prints it
        String abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assertEquals(abc, combinations.get(0).get("backup_sha256").asText());
        assertEquals(3, combinations.get(0).get("backup_bytes").asLong());
        // (cd backup.directory && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
        assertEquals("aaa98b6b63824b128a5dbb586d9d22fc485b5c78ef687fd5a203f5453a8b1d7f",
                combinations.get(1).get("backup_sha256").asText());
        assertEquals(5, combinations.get(1).get("backup_bytes").asLong());
        assertEquals(12345, combinations.get(2).get("backup_bytes").asLong());
        assertTrue(combinations.get(2).get("backup_sha256").isNull());
        assertTrue(combinations.get(3).get("backup_sha256").isNull() && combinations.get(3).get("backup_bytes").isNull());
    }

    @Test
    void evidenceThatIsNotJsonIsOneClearFailure() throws Exception {
        Path work = Files.createDirectories(temp.resolve("work/combinations"));
        Files.writeString(work.resolve("000"), "name=x\0evidence.physical={\"timeline\": \0");
        Failure failure = org.junit.jupiter.api.Assertions.assertThrows(Failure.class,
                () -> RunRecord.read(temp.resolve("work")));
        assertEquals("evidence physical is not JSON: {\"timeline\": ", failure.getMessage());
    }

    /** A passing run: the next SMOKE_SINCE checkpoint is written, and PASS ends stdout whatever the locale. */
    @Test
    void aPassingRunWritesTheCheckpointAndEndsWithThePassLine() throws Exception {
        Path work = Files.createDirectories(temp.resolve("work/combinations"));
        Files.writeString(work.resolve("../expected.json"), "{\"row_count\": 24, \"chain_head_hash\": "
                + "\"03101834d4c1101d77aa\"}");
        Files.writeString(work.resolve("000"), "name=custom-pg15\0method=custom\0target_major=15\0verdict=pass\0");
        Path checkpoint = temp.resolve("since.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = HarnessModes.report(temp.resolve("work"), null, checkpoint, "backupsmoke 0.1.0", new PrintStream(out, true,
                StandardCharsets.US_ASCII), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, exit);
        String stdout = out.toString(StandardCharsets.UTF_8);
        assertTrue(stdout.endsWith("\nPASS  rows=24  chain_head=03101834d4c1101d\u2026  verifier=clean\n"), stdout);
        assertEquals(RunRecord.JSON.readTree("{\"row_count\": 24, \"chain_head_hash\": \"03101834d4c1101d77aa\"}"),
                RunRecord.JSON.readTree(checkpoint.toFile()));
        assertEquals("checkpoint: " + checkpoint + " now at row 24; the next run hashes only what comes after it\n",
                err.toString(StandardCharsets.UTF_8));
        // A failing run leaves both alone.
        Files.writeString(work.resolve("001"), "name=plain-pg15\0method=plain\0target_major=15\0verdict=fail\0");
        Files.delete(checkpoint);
        out.reset();
        assertEquals(3, HarnessModes.report(temp.resolve("work"), null, checkpoint, "backupsmoke 0.1.0", new PrintStream(out, true,
                StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertFalse(out.toString(StandardCharsets.UTF_8).contains("PASS"));
        assertFalse(Files.exists(checkpoint));
    }

    /** run.facts names the oracle; the semantic one's source tables come from WORK/oracle.source. */
    @Test
    void theSecondOracleKeepsTheSourcesTablesWithADigest() throws Exception {
        Path work = Files.createDirectories(temp.resolve("work"));
        Files.writeString(work.resolve("run.facts"), "host=ci-7\0second_oracle=semantic\0");
        Files.writeString(work.resolve("oracle.source"), """
                {"schemas": [], "tables": {"public.audit_events": {"rows": 24, "digest": "ab12", "order": "key"},
                 "public.audit_chain_head": {"rows": 1, "digest": null}}}""");
        assertEquals("{\"name\":\"semantic\",\"source_tables\":{\"public.audit_events\":{\"rows\":24,"
                + "\"digest\":\"ab12\"}}}", RunRecord.read(work).fact("second_oracle"));
        Files.writeString(work.resolve("run.facts"), "second_oracle=off\0tool=\0");
        assertEquals("{\"name\":\"off\"}", RunRecord.read(work).fact("second_oracle"));
        // Without SMOKE_TOOL the harness leaves the tool's version to the report, which is that tool.
        HarnessModes.report(work, temp.resolve("reports"), null, "backupsmoke 0.1.0", new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertEquals("backupsmoke 0.1.0", RunRecord.JSON.readTree(temp.resolve("reports/report.json").toFile())
                .at("/versions/tool").asText());
    }

    /** --source-server: the report adds the run's facts to the started_at the harness wrote; without it, nothing. */
    @Test
    void theReportGathersTheRunsFactsWhenTheHarnessNamesTheSourceServer() throws Exception {
        Path work = Files.createDirectories(temp.resolve("work"));
        Path facts = Files.writeString(work.resolve("run.facts"), "started_at=2026-12-06T10:00:00Z\0");
        Support.tool("--mode=report", "--run-record=" + work);
        assertEquals("started_at=2026-12-06T10:00:00Z\0", Files.readString(facts));

        var report = Support.tool(java.util.Map.of("SMOKE_TOOL", "echo other-tool 2.0 #"), "--mode=report",
                "--run-record=" + work, "--report-dir=" + temp.resolve("reports"),
                "--source-server=" + Support.url("postgres"), "--second-oracle=text");
        assertEquals(1, report.exit(), report.describe()); // no combination ran; the facts are there all the same
        java.util.Map<String, String> gathered = RunRecord.facts(facts);
        assertEquals(List.of("started_at", "finished_at", "host", "repository_commit", "tool", "jbang", "java",
                "pg_dump", "source_server", "second_oracle"), List.copyOf(gathered.keySet()));
        assertEquals("2026-12-06T10:00:00Z", gathered.get("started_at"));
        assertTrue(gathered.get("finished_at").matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), gathered.toString());
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/hostname")).trim(), gathered.get("host"));
        assertTrue(gathered.get("repository_commit").matches("[0-9a-f]{40}"), gathered.toString());
        assertEquals("other-tool 2.0", gathered.get("tool"));
        assertTrue(gathered.get("jbang").matches("\\d+\\.\\d+\\.\\d+"), gathered.toString());
        assertTrue(gathered.get("java").contains(" version \""), gathered.toString());
        assertTrue(gathered.get("pg_dump").startsWith("pg_dump (PostgreSQL) "), gathered.toString());
        assertEquals(Support.one("postgres", "SHOW server_version"), gathered.get("source_server"));
        assertEquals("text", gathered.get("second_oracle"));

        Support.usageError("--source-server applies to --mode=report only",
                "--mode=verify", "--db-url=" + Support.url("postgres"), "--source-server=x");
    }
}
