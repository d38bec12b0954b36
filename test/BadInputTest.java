// Bad input to the tool's modes (SPEC section 2): a file that is missing, not
// UTF-8, not JSON or a key of another kind, a malformed flag value, a URL
// given by a flag other than --db-url. Each is one line naming the problem,
// exit 1 (2 for a usage error), no Java exception text, no password.

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
            Support.assertRefused(1, "cannot read " + flag + " " + missing + ": no such file or directory",
                    verify(flag + "=" + missing));
        }
    }

    @Test
    void anExpectFileOfBytesThatAreNotUtf8SaysSo() throws Exception {
        Path junk = Files.write(folder.resolve("junk.json"), new byte[] {(byte) 0xff, (byte) 0xfe, '{', '}'});
        Support.assertRefused(1, "cannot read --expect " + junk + ": not UTF-8 text", verify("--expect=" + junk));
    }

    @Test
    void aTruncatedExpectFileIsNotJsonAndSaysWhere() throws Exception {
        Path truncated = Files.writeString(folder.resolve("truncated.json"), "{\"row_count\": 1");
        Support.assertRefused(1, "--expect " + truncated + " is not JSON: Unexpected end-of-input: expected close"
                + " marker for Object (line 1, column 16)", verify("--expect=" + truncated));
    }

    @Test
    void anOracleDocumentThatIsNotOneNamesItsFlagAndFile() throws Exception {
        Path array = Files.writeString(folder.resolve("array.json"), "[1]");
        Support.refused(1, "--oracle-source " + array + ": a semantic oracle document must be one JSON object",
                "--mode=judge", "--oracle-source=" + array, "--oracle-restored=" + array);
        Path empty = Files.writeString(folder.resolve("empty.json"), "{}");
        Path truncated = Files.writeString(folder.resolve("truncated.json"), "{\"tables\"");
        Support.refused(1, "--oracle-restored " + truncated + ": a semantic oracle document is not JSON:"
                + " Unexpected end-of-input within/between Object entries (line 1, column 10)",
                "--mode=judge", "--oracle-source=" + empty, "--oracle-restored=" + truncated);
    }

    @Test
    void aMalformedTimestampIsAUsageErrorWithoutJavaText() {
        Support.usageError("Invalid value for option '--start-time': 'yesterday' is not a timestamp with an offset"
                + " such as 2026-01-01T00:00:00Z",
                "--mode=workload", "--db-url=" + Support.url("postgres"), "--start-time=yesterday");
        Support.usageError("Invalid value for option '--backup-start': '2026-01-01T00:00:00' is not a timestamp with"
                + " an offset such as 2026-01-01T00:00:00Z",
                "--mode=drill-verify", "--ledger=" + folder.resolve("ledger"), "--restore-failed=x",
                "--backup-start=2026-01-01T00:00:00");
    }

    @Test
    void anEmptyOrTooLongSchemaNameIsAUsageError() {
        Support.usageError("--schema must name a schema, got an empty name",
                "--mode=verify", "--db-url=" + Support.url("postgres"), "--schema=");
        String tooLong = "s".repeat(64);
        Support.usageError("--schema must be at most 63 bytes (PostgreSQL's limit for names), got \"" + tooLong + "\"",
                "--mode=verify", "--db-url=" + Support.url("postgres"), "--schema=" + tooLong);
    }

    @Test
    void migrationsPathThatIsAFileIsNamedAsAFile() throws Exception {
        Path file = Files.writeString(folder.resolve("000001_a.up.sql"), "SELECT 1;");
        Support.refused(1, "migrations directory " + file + " is a file: point at the folder that holds it",
                "--mode=workload", "--db-url=" + Support.url(Support.scratchDatabase()), "--migrations-path=" + file);
    }

    @Test
    void aSigningKeyOfAnotherAlgorithmIsNamedWithoutJavaText() throws Exception {
        byte[] rsa = KeyPairGenerator.getInstance("RSA").generateKeyPair().getPrivate().getEncoded();
        Path pem = Files.writeString(folder.resolve("rsa.pem"), "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(rsa) + "\n-----END PRIVATE KEY-----\n");
        Support.assertRefused(1, pem + " is not an Ed25519 private key (openssl genpkey -algorithm ed25519)",
                checkpoint("--signing-key=" + pem));
        assertTrue(Files.notExists(folder.resolve("ledger")), "nothing was written");
    }

    @Test
    void aMissingKeyAndALedgerInAMissingFolderAreNamedAsMissing() throws Exception {
        Path key = folder.resolve("none.pem");
        Support.assertRefused(1, "cannot read key " + key + ": no such file or directory",
                checkpoint("--verify-key=" + key));
        Path ledger = folder.resolve("none/ledger");
        Support.refused(1, "cannot open the ledger " + ledger + ": no such file or directory",
                "--mode=checkpoint", "--db-url=" + Support.url(Support.migratedWithWorkload(2)), "--ledger=" + ledger);
    }

    @Test
    void drillNumbersOutOfRangeAreOneLine() {
        Support.assertRefused(1, "--restore-seconds must be a number of seconds, 0 or more, got NaN",
                unjudgedDrill("--restore-seconds=NaN"));
        Support.assertRefused(1, "--restore-seconds must be a number of seconds, 0 or more, got -3.0",
                unjudgedDrill("--restore-seconds=-3"));
        Support.assertRefused(1, "--backup-timeline must be 1 or more, got 0", unjudgedDrill("--backup-timeline=0"));
    }

    @Test
    void aMissingControldataFileIsNotTakenForAnEmptyOne() {
        Path missing = folder.resolve("controldata");
        Support.assertRefused(1, "cannot read --backup-controldata " + missing + ": no such file or directory",
                unjudgedDrill("--backup-controldata=" + missing));
    }

    @Test
    void anEmptyReasonForAnUnjudgedDrillSaysNoneWasGiven() throws Exception {
        Support.refused(3, "the restore failed (no reason given)", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger"), "--report-dir=" + folder.resolve("report"), "--restore-failed=");
        Support.refused(1, "cannot judge: no reason given", "--mode=drill-verify",
                "--ledger=" + folder.resolve("ledger"), "--report-dir=" + folder.resolve("report"), "--cannot-judge=");
        assertTrue(Files.readString(folder.resolve("report/report.json"))
                .contains("\"failure\": \"cannot judge: no reason given\""));
    }

    @Test
    void aMalformedUrlOfAnotherFlagNamesThatFlagAndNotThePassword() throws Exception {
        String badPort = "postgres://smoke:" + PASSWORD + "@127.0.0.1:abc/x";
        Support.refused(1, "invalid port \"abc\" in --live-url or PGPORT (1-65535)",
                "--mode=drill-verify", "--db-url=" + Support.url(Support.migratedWithWorkload(2)),
                "--ledger=" + folder.resolve("ledger"), "--backup-lsn=0/0", "--live-url=" + badPort);
        Support.refused(1, "invalid port \"abc\" in --source-server or PGPORT (1-65535)",
                "--mode=report", "--run-record=" + folder, "--source-server=" + badPort);
    }

    @Test
    void physicalSetupNamesAFolderWithoutARunningServer() throws Exception {
        Support.refused(1, "--cluster " + folder + " has no running server: " + folder.resolve("data/postmaster.pid")
                + " names no port", "--mode=physical-setup", "--cluster=" + folder, "--bindir=" + folder);
        assertTrue(Files.notExists(folder.resolve("physical")), "nothing was written");
    }

    @Test
    void aRegistryOrReportFolderThatCannotBeUsedSaysWhy() throws Exception {
        Support.refused(1, "cannot read " + folder + ": Is a directory",
                "--mode=drop-scratch-dbs", "--db-url=" + Support.url("postgres"), "--registry=" + folder);
        Path file = Files.writeString(folder.resolve("report"), "");
        Support.refused(1, "cannot make " + file + ": exists and is not a folder",
                "--mode=report", "--run-record=" + folder, "--report-dir=" + file);
    }

    @Test
    void aFileThatCannotBeWrittenInAFolderNamesTheFile() {
        Path cluster = folder.resolve("none");
        Support.refused(1, "cannot ready the restored data directory " + cluster.resolve("data")
                + ": no such file or directory (" + cluster.resolve("data/pg_hba.smoke.conf") + ")",
                "--mode=restored-setup", "--restored-cluster=" + cluster);
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
