// Bad input to the tool's modes (SPEC section 2): a file that is missing, not
// UTF-8, not JSON or a key of another kind, a malformed flag value, a URL
// given by a flag other than --db-url. Each is one line naming the problem,
// exit 1 (2 for a usage error), no Java exception text, no password.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BadInputTest {
    @TempDir Path folder;

    private static final String PASSWORD = "S3cr3t-bad-input";

    @Test
    void aMissingExpectOrSinceFileIsNamedAsMissing() throws Exception {
        Path missing = folder.resolve("missing.json");
        for (String flag : List.of("--expect", "--since")) {
            var result = verify(flag + "=" + missing);
            assertEquals(1, result.exit(), result.describe());
            assertEquals("backupsmoke: cannot read " + flag + " " + missing + ": no such file or directory\n",
                    result.err());
        }
    }

    @Test
    void anExpectFileOfBytesThatAreNotUtf8SaysSo() throws Exception {
        Path junk = Files.write(folder.resolve("junk.json"), new byte[] {(byte) 0xff, (byte) 0xfe, '{', '}'});
        var result = verify("--expect=" + junk);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: cannot read --expect " + junk + ": not UTF-8 text\n", result.err());
    }

    @Test
    void aTruncatedExpectFileIsNotJsonAndSaysWhere() throws Exception {
        Path truncated = Files.writeString(folder.resolve("truncated.json"), "{\"row_count\": 1");
        var result = verify("--expect=" + truncated);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: --expect " + truncated + " is not JSON: Unexpected end-of-input: expected close"
                + " marker for Object (line 1, column 16)\n", result.err());
    }

    @Test
    void anOracleDocumentThatIsNotOneNamesItsFlagAndFile() throws Exception {
        Path array = Files.writeString(folder.resolve("array.json"), "[1]");
        var notAnObject = Support.tool("--mode=judge", "--oracle-source=" + array, "--oracle-restored=" + array);
        assertEquals(1, notAnObject.exit(), notAnObject.describe());
        assertEquals("backupsmoke: --oracle-source " + array + ": a semantic oracle document must be one JSON"
                + " object\n", notAnObject.err());
        Path empty = Files.writeString(folder.resolve("empty.json"), "{}");
        Path truncated = Files.writeString(folder.resolve("truncated.json"), "{\"tables\"");
        var notJson = Support.tool("--mode=judge", "--oracle-source=" + empty, "--oracle-restored=" + truncated);
        assertEquals(1, notJson.exit(), notJson.describe());
        assertEquals("backupsmoke: --oracle-restored " + truncated + ": a semantic oracle document is not JSON:"
                + " Unexpected end-of-input within/between Object entries (line 1, column 10)\n", notJson.err());
    }

    @Test
    void aMalformedTimestampIsAUsageErrorWithoutJavaText() {
        var start = Support.tool("--mode=workload", "--db-url=" + Support.url("postgres"), "--start-time=yesterday");
        assertEquals(2, start.exit(), start.describe());
        assertTrue(start.err().startsWith("Invalid value for option '--start-time': 'yesterday' is not a timestamp"
                + " with an offset such as 2026-01-01T00:00:00Z\nUsage: backupsmoke"), start.err());
        var backup = Support.tool("--mode=drill-verify", "--ledger=" + folder.resolve("ledger"),
                "--restore-failed=x", "--backup-start=2026-01-01T00:00:00");
        assertEquals(2, backup.exit(), backup.describe());
        assertTrue(backup.err().startsWith("Invalid value for option '--backup-start': '2026-01-01T00:00:00' is not"
                + " a timestamp with an offset such as 2026-01-01T00:00:00Z\nUsage: backupsmoke"), backup.err());
    }

    @Test
    void anEmptyOrTooLongSchemaNameIsAUsageError() {
        var result = Support.tool("--mode=verify", "--db-url=" + Support.url("postgres"), "--schema=");
        assertEquals(2, result.exit(), result.describe());
        assertTrue(result.err().startsWith("--schema must name a schema, got an empty name\nUsage: backupsmoke"),
                result.err());
        String tooLong = "s".repeat(64);
        var longer = Support.tool("--mode=verify", "--db-url=" + Support.url("postgres"), "--schema=" + tooLong);
        assertEquals(2, longer.exit(), longer.describe());
        assertTrue(longer.err().startsWith("--schema must be at most 63 bytes (PostgreSQL's limit for names), got \""
                + tooLong + "\"\nUsage: backupsmoke"), longer.err());
    }

    @Test
    void migrationsPathThatIsAFileIsNamedAsAFile() throws Exception {
        Path file = Files.writeString(folder.resolve("000001_a.up.sql"), "SELECT 1;");
        var result = Support.tool("--mode=workload", "--db-url=" + Support.url(Support.scratchDatabase()),
                "--migrations-path=" + file);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: migrations directory " + file + " is a file: point at the folder that holds it\n",
                result.err());
    }

    @Test
    void aSigningKeyOfAnotherAlgorithmIsNamedWithoutJavaText() throws Exception {
        byte[] rsa = KeyPairGenerator.getInstance("RSA").generateKeyPair().getPrivate().getEncoded();
        Path pem = Files.writeString(folder.resolve("rsa.pem"), "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(rsa) + "\n-----END PRIVATE KEY-----\n");
        var result = checkpoint("--signing-key=" + pem);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: " + pem + " is not an Ed25519 private key (openssl genpkey -algorithm ed25519)\n",
                result.err());
        assertTrue(Files.notExists(folder.resolve("ledger")), "nothing was written");
    }

    @Test
    void aMissingKeyAndALedgerInAMissingFolderAreNamedAsMissing() throws Exception {
        Path key = folder.resolve("none.pem");
        var noKey = checkpoint("--verify-key=" + key);
        assertEquals(1, noKey.exit(), noKey.describe());
        assertEquals("backupsmoke: cannot read key " + key + ": no such file or directory\n", noKey.err());
        Path ledger = folder.resolve("none/ledger");
        var noFolder = Support.tool("--mode=checkpoint", "--db-url=" + Support.url(Support.migratedWithWorkload(2)),
                "--ledger=" + ledger);
        assertEquals(1, noFolder.exit(), noFolder.describe());
        assertEquals("backupsmoke: cannot open the ledger " + ledger + ": no such file or directory\n",
                noFolder.err());
    }

    @Test
    void drillNumbersOutOfRangeAreOneLine() {
        var notANumber = unjudgedDrill("--restore-seconds=NaN");
        assertEquals(1, notANumber.exit(), notANumber.describe());
        assertEquals("backupsmoke: --restore-seconds must be a number of seconds, 0 or more, got NaN\n",
                notANumber.err());
        var negative = unjudgedDrill("--restore-seconds=-3");
        assertEquals("backupsmoke: --restore-seconds must be a number of seconds, 0 or more, got -3.0\n",
                negative.err());
        var timeline = unjudgedDrill("--backup-timeline=0");
        assertEquals(1, timeline.exit(), timeline.describe());
        assertEquals("backupsmoke: --backup-timeline must be 1 or more, got 0\n", timeline.err());
    }

    @Test
    void aMissingControldataFileIsNotTakenForAnEmptyOne() {
        Path missing = folder.resolve("controldata");
        var result = unjudgedDrill("--backup-controldata=" + missing);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: cannot read --backup-controldata " + missing + ": no such file or directory\n",
                result.err());
    }

    @Test
    void anEmptyReasonForAnUnjudgedDrillSaysNoneWasGiven() throws Exception {
        var restore = Support.tool("--mode=drill-verify", "--ledger=" + folder.resolve("ledger"),
                "--report-dir=" + folder.resolve("report"), "--restore-failed=");
        assertEquals(3, restore.exit(), restore.describe());
        assertEquals("backupsmoke: the restore failed (no reason given)\n", restore.err());
        var judge = Support.tool("--mode=drill-verify", "--ledger=" + folder.resolve("ledger"),
                "--report-dir=" + folder.resolve("report"), "--cannot-judge=");
        assertEquals(1, judge.exit(), judge.describe());
        assertEquals("backupsmoke: cannot judge: no reason given\n", judge.err());
        assertTrue(Files.readString(folder.resolve("report/report.json"))
                .contains("\"failure\": \"cannot judge: no reason given\""));
    }

    @Test
    void aMalformedUrlOfAnotherFlagNamesThatFlagAndNotThePassword() throws Exception {
        String badPort = "postgres://smoke:" + PASSWORD + "@127.0.0.1:abc/x";
        var live = Support.tool("--mode=drill-verify", "--db-url=" + Support.url(Support.migratedWithWorkload(2)),
                "--ledger=" + folder.resolve("ledger"), "--backup-lsn=0/0", "--live-url=" + badPort);
        assertEquals(1, live.exit(), live.describe());
        assertEquals("backupsmoke: invalid port \"abc\" in --live-url or PGPORT (1-65535)\n", live.err());
        var source = Support.tool("--mode=report", "--run-record=" + folder, "--source-server=" + badPort);
        assertEquals(1, source.exit(), source.describe());
        assertEquals("backupsmoke: invalid port \"abc\" in --source-server or PGPORT (1-65535)\n", source.err());
    }

    @Test
    void physicalSetupNamesAFolderWithoutARunningServer() throws Exception {
        var stopped = Support.tool("--mode=physical-setup", "--cluster=" + folder, "--bindir=" + folder);
        assertEquals(1, stopped.exit(), stopped.describe());
        assertEquals("backupsmoke: --cluster " + folder + " has no running server: "
                + folder.resolve("data/postmaster.pid") + " names no port\n", stopped.err());
        assertTrue(Files.notExists(folder.resolve("physical")), "nothing was written");
    }

    @Test
    void aRegistryOrReportFolderThatCannotBeUsedSaysWhy() throws Exception {
        var registry = Support.tool("--mode=drop-scratch-dbs", "--db-url=" + Support.url("postgres"),
                "--registry=" + folder);
        assertEquals(1, registry.exit(), registry.describe());
        assertEquals("backupsmoke: cannot read " + folder + ": Is a directory\n", registry.err());
        Path file = Files.writeString(folder.resolve("report"), "");
        var report = Support.tool("--mode=report", "--run-record=" + folder, "--report-dir=" + file);
        assertEquals(1, report.exit(), report.describe());
        assertEquals("backupsmoke: cannot make " + file + ": exists and is not a folder\n", report.err());
    }

    @Test
    void aFileThatCannotBeWrittenInAFolderNamesTheFile() {
        Path cluster = folder.resolve("none");
        var result = Support.tool("--mode=restored-setup", "--restored-cluster=" + cluster);
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: cannot ready the restored data directory " + cluster.resolve("data")
                + ": no such file or directory (" + cluster.resolve("data/pg_hba.smoke.conf") + ")\n", result.err());
    }

    private static Support.Result verify(String... flags) throws Exception {
        String[] args = new String[flags.length + 2];
        args[0] = "--mode=verify";
        args[1] = "--db-url=" + Support.url(Support.migratedWithWorkload(2));
        System.arraycopy(flags, 0, args, 2, flags.length);
        return Support.tool(args);
    }

    private Support.Result checkpoint(String flag) throws Exception {
        return Support.tool("--mode=checkpoint", "--db-url=" + Support.url(Support.migratedWithWorkload(2)),
                "--ledger=" + folder.resolve("ledger"), flag);
    }

    /** A drill whose restore failed: judged from its flags alone, without a server. */
    private Support.Result unjudgedDrill(String flag) {
        return Support.tool("--mode=drill-verify", "--ledger=" + folder.resolve("ledger"),
                "--report-dir=" + folder.resolve("report"), "--restore-failed=the restore failed", flag);
    }
}
