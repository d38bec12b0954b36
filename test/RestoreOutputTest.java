// Which backup a restore says it restored (RestoreOutput, drill-verify's
// --restore-log): pgBackRest's and Barman's own output as they printed it
// on this machine (pgBackRest 2.45, Barman 3.4), in process.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestoreOutputTest {
    /** pgbackrest restore --log-level-console=info of the latest set, an incremental. */
    static final String PGBACKREST = """
            2026-12-07 03:08:45.724 P00   INFO: restore command begin 2.45: --archive-mode=off --config=/etc/pgbackrest/pgbackrest.conf --exec-id=9937-bc7f2a97 --log-level-console=info --pg1-path=/tmp/s/data --stanza=main --target-action=promote --type=immediate
            2026-12-07 03:08:45.727 P00   INFO: repo1: restore backup set 20261207-030759F_20261207-030802I, recovery will start at 2026-12-07 03:08:02
            2026-12-07 03:08:45.727 P00   INFO: remap data directory to '/tmp/s/data'
            2026-12-07 03:08:46.109 P00   INFO: write updated /tmp/s/data/postgresql.auto.conf
            2026-12-07 03:08:46.111 P00   INFO: restore global/pg_control (performed last to ensure aborted restores cannot be started)
            2026-12-07 03:08:46.111 P00   INFO: restore size = 21.9MB, file total = 965
            2026-12-07 03:08:46.112 P00   INFO: restore command end: completed successfully (389ms)
            """;

    /** pgbackrest restore of a stanza the repository lacks: it fails before choosing a set. */
    static final String PGBACKREST_NO_SET = """
            2026-12-07 03:08:45.711 P00   INFO: restore command begin 2.45: --archive-mode=off --log-level-console=info --stanza=nope
            WARN: repo1: [FileMissingError] unable to load info file '/var/lib/pgbackrest/backup/nope/backup.info' or '/var/lib/pgbackrest/backup/nope/backup.info.copy':
                  HINT: has a stanza-create been performed?
            ERROR: [075]: no backup set found to restore
            2026-12-07 03:08:45.712 P00   INFO: restore command end: aborted with exception [075]
            """;

    /** barman recover SERVER latest DIR. */
    static final String BARMAN = """
            Starting local restore for server pg-main using backup 20261207T030900
            Destination directory: /tmp/s/data
            Doing PITR. Recovery target immediate: True
            Copying the base backup.
            Copying required WAL segments.
            Generating recovery configuration
            Recovery completed (start time: 2026-12-07 03:09:06.892882+00:00, elapsed time: less than one second)
            Your PostgreSQL server has been successfully prepared for recovery!
            """;

    @TempDir Path folder;

    @Test
    void pgBackRestsRestoreNamesTheSetItRestored() {
        assertEquals("20261207-030759F_20261207-030802I", RestoreOutput.backupId(PGBACKREST));
        assertEquals("20261207-030759F", RestoreOutput.backupId(
                "P00   INFO: repo2: restore backup set 20261207-030759F, recovery will start at 2026-12-07 03:07:59\n"));
        // pgBackRest before 2.33 (one repository) names no repository.
        assertEquals("20191205-163000F_20191205-170000D", RestoreOutput.backupId(
                "2019-12-05 17:05:00.000 P00   INFO: restore backup set 20191205-163000F_20191205-170000D\n"));
    }

    @Test
    void barmansRecoverNamesTheBackupItRestored() {
        assertEquals("20261207T030900", RestoreOutput.backupId(BARMAN));
        assertEquals("20261207T030900", RestoreOutput.backupId(
                "Starting remote restore for server pg-main using backup 20261207T030900\n"));
    }

    @Test
    void outputNamingNoBackupNamesNone() {
        assertNull(RestoreOutput.backupId(PGBACKREST_NO_SET));
        assertNull(RestoreOutput.backupId("ERROR: Unknown server 'pg-nope'\n"));
        assertNull(RestoreOutput.backupId(""));
    }

    @Test
    void garbageNamesNoBackup() {
        for (String garbage : new String[] {
                "P00   INFO: repo1: restore backup set $(touch pwned), recovery will start\n",
                "P00   INFO: repo1: restore backup set 20261207-030759, recovery will start\n", // no type
                "P00   INFO: repo1: restore backup set 20261207-030759F_x, recovery will start\n",
                "restore backup set 20261207-030759F\n", // not a pgBackRest log line
                "Starting local restore for server pg-main using backup 20261207T030900 and more\n",
                "Starting local restore for server pg-main using backup latest\n",
                "\u0000\u00ff\ufffd binary \r\n"}) {
            assertNull(RestoreOutput.backupId(garbage), garbage);
        }
    }

    /** Two restores appended to one log: the last one's. */
    @Test
    void theLastRestoreInTheLogCounts() {
        assertEquals("20261207-030759F_20261207-030802I", RestoreOutput.backupId(
                PGBACKREST.replace("20261207-030759F_20261207-030802I", "20261206-030000F") + PGBACKREST));
    }

    private JsonNode unjudged(String... more) throws Exception {
        String[] args = new String[] {"--mode=drill-verify", "--ledger=" + folder.resolve("ledger.jsonl"),
                "--method=pgbackrest", "--report-dir=" + folder.resolve("report"), "--restore-failed=the restore failed"};
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.Arrays.stream(more))
                .toArray(String[]::new);
        var result = Support.tool(all);
        assertEquals(3, result.exit(), result.describe());
        return new ObjectMapper().readTree(folder.resolve("report/report.json").toFile()).get("backup");
    }

    /** drill-verify's report: the restore's word over --backup-id (a name or a shortcut it resolved), else --backup-id. */
    @Test
    void theReportsBackupIdIsTheOneTheRestoreLogNames() throws Exception {
        Path pgbackrest = Files.writeString(folder.resolve("restore.log"), PGBACKREST);
        assertEquals("20261207-030759F_20261207-030802I", unjudged("--restore-log=" + pgbackrest).get("id").asText());
        Path barman = Files.writeString(folder.resolve("recover.log"), BARMAN);
        assertEquals("20261207T030900", unjudged("--restore-log=" + barman, "--backup-id=last").get("id").asText());
        Path none = Files.writeString(folder.resolve("failed.log"), PGBACKREST_NO_SET);
        assertEquals("20261206-030000F", unjudged("--restore-log=" + none, "--backup-id=20261206-030000F")
                .get("id").asText());
        assertTrue(unjudged("--restore-log=" + none).get("id").isNull());
        // Bytes that are no UTF-8 (a path in Latin-1) are read all the same.
        Path latin1 = Files.write(folder.resolve("latin1.log"), ("WARN: r\u00e9pertoire\n" + PGBACKREST)
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        assertEquals("20261207-030759F_20261207-030802I", unjudged("--restore-log=" + latin1).get("id").asText());
    }

    @Test
    void anUnreadableRestoreLogIsOneLineAndExitOne() {
        Path missing = folder.resolve("missing.log");
        Support.refused(1, "cannot read --restore-log " + missing + ": no such file or directory", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger.jsonl"), "--restore-failed=the restore failed",
                "--restore-log=" + missing);
    }
}
