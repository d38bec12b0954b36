// --mode=selftest on schemas other than ours (issue 10 item 2) and when it
// is interrupted (issue 11 item 7). Our own migrations' table is checked in
// ClientVerifyTest.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

class SelftestTest {
    /**
     * Two other applications' migrations: their own trigger and function names (ledger-app: a trigger that
     * moves the sentinel per row, another that writes a bookkeeping table), verifiers walking (timestamp, id).
     */
    static final Path LEDGER_APP = Support.REPO.resolve("test/fixtures/ledger-app");
    static final Path OTHER_APP = Support.REPO.resolve("test/fixtures/other-app");
    static final String FINDING = "finding: the server's verifier audit_events_verify_chain() reports %s on a"
            + " legitimate history (%s), where the client's walk by the links is clean";

    @TempDir Path folder;

    private static List<String> selftestDatabases() throws Exception {
        return Support.rows("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'backupsmoke\\_selftest\\_%'");
    }

    /** "case  expected  client  server  verdict" -> "case|client|server|verdict". */
    private static List<String> caseLines(String out) {
        return out.lines().skip(1).takeWhile(line -> !line.startsWith("finding: ") && !line.startsWith("selftest: "))
                .map(line -> {
                    String[] columns = line.split(" {2,}");
                    return columns[0] + "|" + columns[2] + "|" + columns[3] + "|" + columns[4];
                }).toList();
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void catchesEveryTamperingOnAnotherSchemaAndReportsItsVerifiersFalseAlarmsAsFindings() throws Exception {
        var result = Support.tool("--mode=selftest", "--db-url=" + Support.url("postgres"), "--migrations-path=" + LEDGER_APP);
        assertEquals(0, result.exit(), result.describe());
        assertEquals(List.of(
                "change one field of a middle row|modified audit-smoke-0007@7|broken audit-smoke-0007@7|ok",
                "delete a middle row|missing_predecessor audit-smoke-0011@10|broken audit-smoke-0011@10|ok",
                "delete the newest rows|sentinel_mismatch audit-smoke-0020@20|clean|ok",
                "delete the genesis row|no_genesis audit-smoke-0001@0|broken audit-smoke-0001@0|ok",
                "insert a forged row claiming an existing predecessor|fork forged-0001@11|broken audit-smoke-0011@12|ok",
                "truncate timestamps to milliseconds|modified audit-smoke-0001@1|broken audit-smoke-0001@1|ok",
                "rig the server verifier, then change a row|modified audit-smoke-0015@15|clean|ok",
                "rewrite the sentinel|sentinel_mismatch audit-smoke-0023@23|clean|ok",
                "rewrite tail and sentinel consistently, no anchor|clean|clean|ok",
                "rewrite tail and sentinel consistently, anchored|expectation_mismatch audit-smoke-0023@23|clean|ok",
                "control: backdated insert|clean|broken late-0001@0|finding",
                "control: two writers commit in reversed order|clean|broken writer-a@24|finding",
                "control: a field containing '|'|clean, 1 ambiguous|clean|ok"), caseLines(result.out()));
        assertTrue(result.out().contains(FINDING.formatted("broken late-0001@0", "control: backdated insert")), result.out());
        assertTrue(result.out().contains(FINDING.formatted("broken writer-a@24", "control: two writers commit in reversed order")),
                result.out());
        assertTrue(result.out().endsWith("selftest: all 13 cases behaved as expected; 2 findings about the server's verifier\n"),
                result.out());
        assertEquals("", result.err());
        assertEquals(List.of(), selftestDatabases());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void failOnFindingsMakesTheVerifiersFalseAlarmsFatal() throws Exception {
        var result = Support.tool("--mode=selftest", "--db-url=" + Support.url("postgres"), "--migrations-path=" + OTHER_APP,
                "--fail-on-findings");
        assertEquals(4, result.exit(), result.describe());
        assertTrue(result.out().endsWith("selftest: all 13 cases behaved as expected; 2 findings about the server's verifier\n"
                + "selftest: findings are fatal with --fail-on-findings\n"), result.out());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void aTriggerThatHashesAnotherPayloadIsAMissOfTheGateExit4() throws Exception {
        // The other application, but its trigger leaves event_category out of the payload: no row verifies.
        Path migrations = folder.resolve("migrations");
        Files.createDirectories(migrations);
        try (var files = Files.list(OTHER_APP)) {
            for (Path file : files.toList()) {
                String text = Files.readString(file);
                if (file.getFileName().toString().equals("0002_chain.up.sql")) {
                    text = text.replace("'%s|%s|%s|%s|%s|%s|%s|%s|%s|%s'", "'%s|%s|%s|%s|%s|%s|%s|%s|%s|x%s'");
                }
                Files.writeString(migrations.resolve(file.getFileName()), text);
            }
        }
        var result = Support.tool("--mode=selftest", "--db-url=" + Support.url("postgres"), "--migrations-path=" + migrations);
        assertEquals(4, result.exit(), result.describe());
        assertTrue(caseLines(result.out()).contains("control: backdated insert|modified audit-smoke-0000@0|broken late-0001@0|UNEXPECTED"),
                result.out());
        assertTrue(result.out().lines().anyMatch(line -> line.matches("selftest: \\d+ of 13 cases behaved otherwise")), result.out());
        assertEquals(List.of(), selftestDatabases());
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    @Tag("e2e")
    void anInterruptedSelftestDropsItsDatabasesAndSaysWhatItWasDoing() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Support.JBANG.toString(), Support.TOOL.toString(), "--mode=selftest",
                "--db-url=" + Support.url("postgres"))
                .directory(Support.REPO.toFile())
                .redirectOutput(folder.resolve("out").toFile()).redirectError(folder.resolve("err").toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("PG") || name.equals("DATABASE_URL"));
        Process selftest = builder.start();
        try {
            // Wait until it is working in its third case, so there is something to drop.
            String pid = null;
            for (int attempt = 0; attempt < 600 && pid == null; attempt++) {
                for (String name : selftestDatabases()) {
                    Matcher third = Pattern.compile("backupsmoke_selftest_(\\d+)_case3").matcher(name);
                    if (third.matches()) {
                        pid = third.group(1);
                    }
                }
                Thread.sleep(100);
            }
            assertTrue(pid != null, "the selftest reached its third case");
            // The JVM itself (the databases carry its pid), as a kill or a service manager would.
            new ProcessBuilder("kill", "-TERM", pid).start().waitFor();
            assertTrue(selftest.waitFor(60, TimeUnit.SECONDS), "the selftest stopped");
            String err = Files.readString(folder.resolve("err"));
            String prefix = "backupsmoke_selftest_" + pid + "_";
            assertTrue(err.matches("backupsmoke: interrupted while (running selftest case \"[^\"]+\" in|creating the selftest"
                    + " database) " + prefix + "case\\d+; dropped the selftest's databases " + prefix + "template, "
                    + prefix + "case1, " + prefix + "case2, " + prefix + "case3(, " + prefix + "case\\d+)*\n"), err);
            assertEquals(List.of(), selftestDatabases());
        } finally {
            selftest.descendants().forEach(ProcessHandle::destroyForcibly);
            selftest.destroyForcibly();
        }
    }
}
