// The harness's run record and its reports (RunRecord, SummaryTable,
// ReportJson, JunitXml), in process, on JSON fixtures of results.jsonl: the
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

    /** A work folder holding the fixture as results.jsonl (none: no combination ran) and a few facts. */
    private Path runRecord(String fixture, String passingLine) throws Exception {
        Path folder = Files.createDirectories(temp.resolve("work"));
        if (fixture != null) {
            Files.writeString(folder.resolve(RunRecord.RESULTS), Files.readString(FIXTURES.resolve(fixture)));
        }
        if (passingLine != null) {
            Files.writeString(folder.resolve(RunRecord.RESULTS), passingLine + "\n");
        }
        Files.writeString(folder.resolve(RunRecord.FACTS), "started_at=2026-12-05T13:00:00Z\0host=ci-7\0"
                + "repository_commit=\0tool=backupsmoke 0.1.0\0java=openjdk version \"17.0.9\"\0"
                + "second_oracle={\"name\":\"semantic\"}\0");
        return folder;
    }

    private record Outcome(int exit, String out, String err) {
    }

    private Outcome report(Path record, Path reportDir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = HarnessModes.report(record, reportDir, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String passingLine() throws Exception {
        return Files.readString(FIXTURES.resolve("mixed.jsonl")).lines().findFirst().orElseThrow();
    }

    @Test
    void everyCombinationPassedExitsZeroAndSaysSo() throws Exception {
        Path reports = temp.resolve("reports");
        Outcome outcome = report(runRecord(null, passingLine()), reports);
        assertEquals(0, outcome.exit());
        assertEquals("", outcome.err());
        JsonNode report = RunRecord.JSON.readTree(reports.resolve("report.json").toFile());
        assertTrue(report.get("passed").asBoolean());
        assertEquals("passed", report.get("outcome").asText());
        String junit = Files.readString(reports.resolve("junit.xml"));
        assertTrue(junit.contains("<testsuite name=\"backup-restore-smoke\" tests=\"1\" failures=\"0\" errors=\"0\""
                + " skipped=\"0\">"), junit);
        assertTrue(junit.contains("<testcase classname=\"backup-restore-smoke\" name=\"custom-pg15\" time=\"4.08\">"
                + "</testcase>"), junit);
    }

    @Test
    void aFailedCombinationExitsThreeNamingHowManyFailed() throws Exception {
        Path reports = temp.resolve("reports");
        Outcome outcome = report(runRecord("mixed.jsonl", null), reports);
        assertEquals(3, outcome.exit());
        assertEquals("backupsmoke: 1 of 3 combination(s) failed\n", outcome.err());
        JsonNode report = RunRecord.JSON.readTree(reports.resolve("report.json").toFile());
        assertFalse(report.get("passed").asBoolean());
        assertEquals("failed", report.get("outcome").asText());
        String junit = Files.readString(reports.resolve("junit.xml"));
        assertTrue(junit.contains(" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"), junit);
        assertTrue(junit.contains("<failure message=\"row_count differs: pre=24 post=23 &lt;&amp;&quot;quoted&quot;&gt;\"/>"),
                junit);
        assertTrue(junit.contains("name=\"plain-pg15\" time=\"0.30\">"), junit);
        assertTrue(junit.contains("<skipped message=\"a physical backup only starts under its own major (15)\"/>"), junit);
    }

    @Test
    void everyCombinationSkippedIsNotAPassButAnErrorExitingOne() throws Exception {
        // A configured server skips the built-in pgbackrest method: nothing ran, so nothing passed.
        Path reports = temp.resolve("reports");
        Outcome outcome = report(runRecord("all-skipped.jsonl", null), reports);
        assertEquals(1, outcome.exit());
        assertEquals("backupsmoke: no combination could run: every one was skipped\n", outcome.err());
        JsonNode report = RunRecord.JSON.readTree(reports.resolve("report.json").toFile());
        assertFalse(report.get("passed").asBoolean());
        assertEquals("nothing_ran", report.get("outcome").asText());
        assertEquals("skipped", report.at("/combinations/0/verdict").asText());
        String junit = Files.readString(reports.resolve("junit.xml"));
        assertTrue(junit.contains(" tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"1\">"), junit);
        assertTrue(junit.contains("<testcase classname=\"backup-restore-smoke\" name=\"run\" time=\"0.00\"><error message="
                + "\"no combination could run: every one was skipped\"/></testcase>"), junit);
    }

    @Test
    void noRecordAtAllIsAnErrorToo() throws Exception {
        Path reports = temp.resolve("reports");
        Outcome outcome = report(runRecord(null, null), reports);
        assertEquals(1, outcome.exit());
        assertEquals("backupsmoke: no combination ran\n", outcome.err());
        assertFalse(RunRecord.JSON.readTree(reports.resolve("report.json").toFile()).get("passed").asBoolean());
        assertTrue(Files.readString(reports.resolve("junit.xml")).contains("<error message=\"no combination ran\"/>"));
    }

    @Test
    void reportJsonKeepsItsKeysAndEveryRecordAsWritten() throws Exception {
        Path record = runRecord("mixed.jsonl", null);
        JsonNode report = ReportJson.of(RunRecord.read(record));
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
    void aBrokenRecordLineIsOneClearFailure() throws Exception {
        Path folder = runRecord(null, "{\"name\": ");
        Failure failure = org.junit.jupiter.api.Assertions.assertThrows(Failure.class,
                () -> RunRecord.read(folder));
        assertEquals(folder.resolve("results.jsonl") + ": a line is not JSON: {\"name\": ", failure.getMessage());
    }
}
