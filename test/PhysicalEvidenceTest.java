// The evidence of a physical backup and its restore (PhysicalEvidence), in
// process, from what pgBackRest, Barman, pg_basebackup and a restored
// server print: exact values, no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PhysicalEvidenceTest {
    @TempDir Path temp;

    static final String PGBACKREST_INFO = """
            [{"name":"smoke","status":{"code":0,"message":"ok"},"backup":[
              {"label":"20261206-010000F","lsn":{"start":"0/2000028","stop":"0/2000100"},
               "archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"},
               "info":{"repository":{"size":4012345}}},
              {"label":"20261206-010500F","lsn":{"start":"0/4000028","stop":"0/4000138"},
               "archive":{"start":"0000000A0000000000000004","stop":"0000000A0000000000000005"},
               "info":{"repository":{"size":4099999}}}]}]""";

    static final String VERIFY_OUTPUT = """
            P00   INFO: verify command begin
            stanza: smoke
                status: ok
                  backup: 20261206-010500F, status: valid, total files checked: 1000, total valid files: 1000
            P00   INFO: verify command end: completed successfully
            """;

    static final String BARMAN_SHOW = """
            {"smoke":{"backup_id":"20261206T010000","status":"DONE","base_backup_information":{
              "begin_lsn":"0/3000028","end_lsn":"0/3000100","timeline":1,
              "begin_wal":"000000010000000000000003","end_wal":"000000010000000000000003",
              "disk_usage_bytes":31457280}}}""";

    static final String BACKUP_LABEL = """
            START WAL LOCATION: 0/5000028 (file 000000010000000000000005)
            CHECKPOINT LOCATION: 0/5000060
            BACKUP METHOD: streamed
            BACKUP FROM: primary
            START TIME: 2026-12-06 01:00:00 UTC
            LABEL: pg_basebackup base backup
            START TIMELINE: 1
            """;

    static final String MANIFEST = """
            {"PostgreSQL-Backup-Manifest-Version":1,"Files":[],
             "WAL-Ranges":[{"Timeline":1,"Start-LSN":"0/5000028","End-LSN":"0/5000100"}]}""";

    private static JsonNode json(String text) throws Exception {
        return RunRecord.JSON.readTree(text);
    }

    @Test
    void pgBackRestsNewestBackupWithItsVerdicts() throws Exception {
        assertEquals(json("""
                {"tool":"pgbackrest","backup_id":"20261206-010500F","start_lsn":"0/4000028","stop_lsn":"0/4000138",
                 "timeline":10,"wal_start":"0000000A0000000000000004","wal_stop":"0000000A0000000000000005",
                 "tool_verdict":{"verify":"passed","info_status":"ok","verify_output":
                   "status: ok;backup: 20261206-010500F, status: valid, total files checked: 1000, total valid files: 1000"},
                 "repository_bytes":4099999}"""),
                PhysicalEvidence.pgbackrest(json(PGBACKREST_INFO), VERIFY_OUTPUT, true));
    }

    @Test
    void barmansBackupWithItsVerdict() throws Exception {
        assertEquals(json("""
                {"tool":"barman","backup_id":"20261206T010000","start_lsn":"0/3000028","stop_lsn":"0/3000100",
                 "timeline":1,"wal_start":"000000010000000000000003","wal_stop":"000000010000000000000003",
                 "tool_verdict":{"check_backup":"failed","status":"DONE"},"repository_bytes":31457280}"""),
                PhysicalEvidence.barman(json(BARMAN_SHOW), "smoke", false));
    }

    @Test
    void aBaseBackupIsNamedByItsStartTime() throws Exception {
        assertEquals(json("""
                {"tool":"pg_basebackup","backup_id":"2026-12-06 01:00:00 UTC","start_lsn":"0/5000028",
                 "stop_lsn":"0/5000100","timeline":1,"tool_verdict":{"pg_verifybackup":"passed"}}"""),
                PhysicalEvidence.basebackup(BACKUP_LABEL, json(MANIFEST), true));
    }

    @Test
    void theLabelNamesIdRangeTimelineAndVerdictsButNotVerifysOutput() throws Exception {
        assertEquals("20261206-010500F (0/4000028 - 0/4000138, timeline 10), verify: passed, info_status: ok",
                PhysicalEvidence.label(PhysicalEvidence.pgbackrest(json(PGBACKREST_INFO), VERIFY_OUTPUT, true)));
    }

    @Test
    void timelinesAreTheWalFileNamesFirstEightHexDigits() {
        assertEquals(1, PhysicalEvidence.timeline("000000010000000000000002"));
        assertEquals(0x1A, PhysicalEvidence.timeline("0000001a0000000000000002"));
        assertNull(PhysicalEvidence.timeline(""));
        assertNull(PhysicalEvidence.timeline("not a wal"));
    }

    @Test
    void recoveryFactsComeFromTheWalFileAndTheLastLinesOfTheLog() throws Exception {
        String log = """
                LOG:  starting point-in-time recovery to 2026-12-06 01:00:00+00
                LOG:  redo done at 0/4000100 system usage: CPU
                LOG:  recovery stopping before commit of transaction 750, time 2026-12-06 01:00:01
                LOG:  redo done at 0/4000200 system usage: CPU
                """;
        assertEquals(json("""
                {"restored_timeline":2,"end_of_recovery_lsn":"0/4000200",
                 "recovery_stop":"recovery stopping before commit of transaction 750, time 2026-12-06 01:00:01"}"""),
                PhysicalEvidence.recovery("000000020000000000000004\n", log));
        assertEquals(json("{\"restored_timeline\":null,\"end_of_recovery_lsn\":null,\"recovery_stop\":null}"),
                PhysicalEvidence.recovery("", ""));
    }

    @Test
    void aCombinationsEvidenceIsTheBackupsAndTheRestoresAndThePitrRowsLost() throws Exception {
        Files.writeString(temp.resolve("physical.basebackup.json"), "{\"tool\":\"pg_basebackup\",\"timeline\":1}");
        Files.writeString(temp.resolve("restored.basebackup-pg15.wal"), "000000020000000000000004\n");
        Files.writeString(temp.resolve("restored.basebackup-pg15.log"), "LOG:  redo done at 0/4000200 system usage\n");
        Files.writeString(temp.resolve("pitr.target.json"), """
                {"kind":"lsn","time":"2026-12-06 01:00:00.5+00","lsn":"0/4000100","xid":"750","row_count":24}""");
        Files.writeString(temp.resolve("pitr.latest.json"), "{\"row_count\":32}");
        Files.writeString(temp.resolve("post.basebackup-pg15.json"), "{\"row_count\":24}");
        var evidence = PhysicalEvidence.ofCombination(temp, "basebackup-pg15", "basebackup");
        assertEquals(json("""
                {"tool":"pg_basebackup","timeline":1,"restored_timeline":2,"end_of_recovery_lsn":"0/4000200",
                 "recovery_stop":null}"""), evidence.get("physical"));
        assertEquals(json("""
                {"target_kind":"lsn","target":{"time":"2026-12-06 01:00:00.5+00","lsn":"0/4000100","xid":"750"},
                 "latest_rows":32,"restored_rows":24,"rpo_rows":8}"""), evidence.get("pitr"));
    }

    @Test
    void withoutFilesAPhysicalCombinationHasNullEvidence() throws Exception {
        var evidence = PhysicalEvidence.ofCombination(temp, "command-url-pg15", "command-url");
        assertEquals("null", evidence.get("physical").toString());
        assertEquals("null", evidence.get("pitr").toString());
        Files.writeString(temp.resolve("pitr.target.json"), "{\"kind\":\"time\",\"time\":\"t\",\"lsn\":\"l\",\"xid\":\"1\"}");
        assertEquals(json("""
                {"target_kind":"time","target":{"time":"t","lsn":"l","xid":"1"},"latest_rows":null,"restored_rows":null,
                 "rpo_rows":null}"""), PhysicalEvidence.ofCombination(temp, "command-url-pg15", "command-url").get("pitr"));
    }

    @Test
    void theModeWritesTheEvidenceAndPrintsTheLabel() throws Exception {
        Path folder = Files.createDirectories(temp.resolve("evidence.barman"));
        Files.writeString(folder.resolve("verdict"), "passed");
        Files.writeString(folder.resolve("show-backup.json"), BARMAN_SHOW);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, PhysicalEvidence.backupEvidence(folder, new PrintStream(out, true, StandardCharsets.UTF_8)));
        assertEquals("20261206T010000 (0/3000028 - 0/3000100, timeline 1), check_backup: passed, status: DONE\n",
                out.toString(StandardCharsets.UTF_8));
        assertEquals(PhysicalEvidence.barman(json(BARMAN_SHOW), "smoke", true),
                json(Files.readString(temp.resolve("physical.barman.json"))));
    }

    @Test
    void aFailedToolVerdictFailsTheModeButTheEvidenceIsWritten() throws Exception {
        Path folder = Files.createDirectories(temp.resolve("evidence.basebackup"));
        Files.writeString(folder.resolve("verdict"), "failed");
        Files.writeString(folder.resolve("backup_label"), BACKUP_LABEL);
        Files.writeString(folder.resolve("backup_manifest"), MANIFEST);
        Failure failure = assertThrows(Failure.class, () -> PhysicalEvidence.backupEvidence(folder, System.out));
        assertEquals("pg_verifybackup found problems in the base backup", failure.getMessage());
        assertEquals("failed",
                json(Files.readString(temp.resolve("physical.basebackup.json"))).at("/tool_verdict/pg_verifybackup").asText());
    }

    @Test
    void missingOrWrongInputIsOneClearFailure() throws Exception {
        Path folder = Files.createDirectories(temp.resolve("evidence.pgbackrest"));
        assertEquals(folder.resolve("info.json") + " is empty or missing",
                assertThrows(Failure.class, () -> PhysicalEvidence.backupEvidence(folder, System.out)).getMessage());
        assertEquals("--mode=backup-evidence needs --run-record=WORK/evidence.METHOD",
                assertThrows(Failure.class, () -> PhysicalEvidence.backupEvidence(temp, System.out)).getMessage());
        Path other = Files.createDirectories(temp.resolve("evidence.custom"));
        assertEquals("no evidence is made for method \"custom\"",
                assertThrows(Failure.class, () -> PhysicalEvidence.backupEvidence(other, System.out)).getMessage());
        assertFalse(Files.exists(temp.resolve("physical.pgbackrest.json")));
    }
}
