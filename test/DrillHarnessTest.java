// The restore drill of an existing backup (issue 17 "Done when", SPEC 9.10):
// a source cluster configured as an operator would, before the harness
// runs (WAL archiving to a pgBackRest stanza, the audit schema, a signed
// checkpoint ledger around a full and an incremental backup), then
// SMOKE_DRILL=1 restores those backups into a sandbox and judges them. It
// passes with signed evidence and leaves the repository, the source and
// TMPDIR as they were; the negative controls fail with exit 3 naming the
// cause; a drill with nothing to run exits 1 with "passed": false. The
// judge's other findings (a row rewritten before the backup, a backup or a
// ledger of another cluster, a restore past its target), without a
// harness: DrillJudgeTest. The source has Debian's and Ubuntu's layout: its
// configuration (with settings above the defaults that pg_control records)
// outside the data directory the backups hold.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End to end: one configured source for the class, the whole harness per test. */
@Tag("e2e")
class DrillHarnessTest {
    static final String STANZA = "drill";
    /** The live server's settings above the defaults that pg_control records, in its configuration outside the backup. */
    static final String LIVE_SETTINGS = "max_connections = 150\nmax_worker_processes = 10\nmax_wal_senders = 12\n"
            + "max_prepared_transactions = 5\nmax_locks_per_transaction = 80\n";
    /** What the sandbox's setup says of a data directory restored from that layout (the start of its lines). */
    static final String NO_CONF = "backupsmoke: note: the restored data directory holds no postgresql.conf (a Debian or"
            + " Ubuntu cluster keeps it in /etc/postgresql/MAJOR/NAME, outside the backup): the sandbox wrote ";
    static final String RAISED = "backupsmoke: note: the sandbox raises max_connections from 100 to 150,"
            + " max_worker_processes from 8 to 10, max_wal_senders from 10 to 12, max_prepared_transactions from 0"
            + " to 5, max_locks_per_transaction from 64 to 80: recovery with hot_standby needs at least the values"
            + " pg_control records, which the restored configuration sets lower\n";

    static Path base;
    static String clusterDir;
    static String port;
    static Path config;
    static Path barmanConfig;
    static Path catalog;
    static Path repository;
    static Path ledger;
    static Path key;
    static Path publicKey;
    static String fullSet;
    /** The newest backup of each repository, as its tool lists it: what a drill of "latest" restores. */
    static String latestSet;
    static String latestBarmanBackup;
    static String sourceState;

    @TempDir Path temp;

    // ------------------------------------------------------------ the operator's set-up

    private static Support.Result sh(String script, Map<String, String> env) {
        return Support.run(List.of("bash", "-c", script), env, Support.REPO, 300);
    }

    private static String ok(Support.Result result) {
        assertEquals(0, result.exit(), result.describe());
        return result.out();
    }

    /** A command as the cluster's OS user (postgres), as cron would run it; pgBackRest finds its configuration. */
    private static String owner(String command) {
        return ok(Support.run(List.of("runuser", "-u", "postgres", "--", "bash", "-c", "cd / && " + command),
                ownerEnvironment(), Support.REPO, 300));
    }

    private static String sql(String database, String statement) {
        return ok(Support.run(List.of("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", clusterDir, "-p", port,
                "-U", "postgres", "-d", database, "-c", statement), Map.of(), Support.REPO, 60)).trim();
    }

    private static String url(String database) {
        return "postgres://postgres@127.0.0.1:" + port + "/" + database + "?sslmode=disable";
    }

    private static void checkpoint(String database, Path file) {
        Support.Result result = Support.tool("--mode=checkpoint", "--db-url=" + url(database), "--ledger=" + file,
                "--signing-key=" + key);
        assertEquals(0, result.exit(), result.describe());
    }

    private static void workload(String database, int rows, String prefix) {
        Support.Result result = Support.tool("--mode=workload", "--db-url=" + url(database), "--rows=" + rows,
                "--id-prefix=" + prefix);
        assertEquals(0, result.exit(), result.describe());
    }

    @BeforeAll
    static void configureTheSource() throws Exception {
        base = Files.createTempDirectory("drill-source");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        String started = ok(Support.run(List.of("bash", "-c", ". deploy/lib/pg-cluster.sh && pgc_start >&2"
                + " && printf '%s\\n%s\\n' \"$PGC_DIR\" \"$PGC_PORT\""), Map.of("TMPDIR", base.toString()),
                Support.REPO, 120));
        clusterDir = started.lines().toList().get(0);
        port = started.lines().toList().get(1);
        // pgBackRest: a repository in a folder of the cluster's OS user; archive_command pushes to it.
        repository = base.resolve("repo");
        config = base.resolve("pgbackrest.conf");
        for (String folder : List.of("repo", "pgbackrest-log", "pgbackrest-lock", "pgbackrest-spool",
                "barman/" + STANZA + "/incoming")) {
            Files.createDirectories(base.resolve(folder));
        }
        Files.writeString(config, """
                # The stanza: the throwaway cluster, reached on its socket.
                [%s]
                pg1-path=%s/data
                pg1-port=%s
                pg1-socket-path=%s
                pg1-user=postgres

                # Two full backups kept; logs, locks and the async spool beside the repository.
                [global]
                repo1-path=%s
                repo1-retention-full=2
                log-path=%s
                lock-path=%s
                spool-path=%s
                # Quiet, quick and plain: warnings only, an immediate checkpoint, no compression.
                log-level-console=warn
                start-fast=y
                compress-type=none
                """.formatted(STANZA, clusterDir, port, clusterDir, repository, base.resolve("pgbackrest-log"),
                base.resolve("pgbackrest-lock"), base.resolve("pgbackrest-spool")));
        // Barman: its home (the catalog) in a folder of the same user, which Barman runs as; WAL by archive_command.
        String bindir = Files.readString(Path.of(clusterDir, ".pgc-cluster")).trim();
        catalog = base.resolve("barman");
        barmanConfig = base.resolve("barman.conf");
        Files.writeString(barmanConfig, """
                [barman]
                barman_user = postgres
                barman_home = %s
                log_file = %s
                log_level = INFO
                path_prefix = %s

                [%s]
                description = the drill's source
                conninfo = host=127.0.0.1 port=%s user=postgres dbname=postgres
                streaming_conninfo = host=127.0.0.1 port=%s user=postgres
                backup_method = postgres
                archiver = on
                streaming_archiver = off
                """.formatted(catalog, base.resolve("barman.log"), bindir, STANZA, port, port));
        ok(Support.run(List.of("chown", "-R", "postgres:", repository.toString(), base.resolve("pgbackrest-log").toString(),
                base.resolve("pgbackrest-lock").toString(), base.resolve("pgbackrest-spool").toString(), config.toString(),
                catalog.toString(), barmanConfig.toString()), Map.of(), Support.REPO, 30));
        Path incoming = catalog.resolve(STANZA + "/incoming");
        // Debian's and Ubuntu's layout (pg_createcluster): the configuration in a folder of its own, as
        // /etc/postgresql/15/main, which the server is started with; the backups hold the data directory only.
        // pg_control records the five settings that recovery with hot_standby needs at least as high.
        Path etc = Files.createDirectories(base.resolve("etc"));
        for (String file : List.of("postgresql.conf", "pg_hba.conf", "pg_ident.conf")) {
            Files.move(Path.of(clusterDir, "data", file), etc.resolve(file));
        }
        Files.writeString(etc.resolve("postgresql.conf"), "data_directory = '" + clusterDir + "/data'\nhba_file = '"
                + etc + "/pg_hba.conf'\nident_file = '" + etc + "/pg_ident.conf'\n" + LIVE_SETTINGS
                + "archive_mode = on\narchive_command = '"
                + "pgbackrest --config=" + config + " --stanza=" + STANZA + " archive-push %p && test ! -f " + incoming
                + "/%f && cp %p " + incoming + "/.%f.part && mv " + incoming + "/.%f.part " + incoming + "/%f'\n",
                java.nio.file.StandardOpenOption.APPEND);
        ok(Support.run(List.of("chown", "-R", "postgres:", etc.toString()), Map.of(), Support.REPO, 30));
        owner(bindir + "/pg_ctl restart -D " + clusterDir + "/data -o '-p " + port + " -c config_file=" + etc + "/postgresql.conf' -l "
                + clusterDir + "/server.log -m fast -w -t 60 -s");
        owner("pgbackrest --stanza=" + STANZA + " stanza-create && pgbackrest --stanza=" + STANZA + " check");
        owner(BARMAN + "archive-wal " + STANZA);
        // The signing key, and the public half an auditor checks the evidence with.
        key = base.resolve("key.pem");
        publicKey = base.resolve("pub.pem");
        ok(Support.run(List.of("openssl", "genpkey", "-algorithm", "ed25519", "-out", key.toString()), Map.of(),
                Support.REPO, 30));
        ok(Support.run(List.of("openssl", "pkey", "-in", key.toString(), "-pubout", "-out", publicKey.toString()),
                Map.of(), Support.REPO, 30));
        // The audit log, a checkpoint before each backup and after it.
        sql("postgres", "CREATE DATABASE app");
        ledger = base.resolve("ledger.jsonl");
        workload("app", 24, "audit-smoke-");
        checkpoint("app", ledger);
        owner("pgbackrest --stanza=" + STANZA + " --type=full backup");
        fullSet = backupSets().get(0).get("label").asText();
        checkpoint("app", ledger);
        workload("app", 8, "more-");
        checkpoint("app", ledger);
        owner("pgbackrest --stanza=" + STANZA + " --type=incr backup");
        JsonNode sets = backupSets();
        latestSet = sets.get(sets.size() - 1).get("label").asText();
        checkpoint("app", ledger);
        workload("app", 4, "last-");
        checkpoint("app", ledger);
        barmanBackup();
        latestBarmanBackup = owner("barman -c \"$BARMAN_CONFIG\" list-backup --minimal " + STANZA).lines().findFirst()
                .orElseThrow();
        checkpoint("app", ledger);
        sourceState = sourceState();
    }

    /** The stanza's backup sets, oldest first, as `pgbackrest info` lists them. */
    private static JsonNode backupSets() throws IOException {
        return new ObjectMapper().readTree(owner("pgbackrest --stanza=" + STANZA + " --output=json info")).get(0)
                .get("backup");
    }

    static final String BARMAN = "barman -q -c \"$BARMAN_CONFIG\" ";

    /** barman backup, then its WAL moved in until check-backup finds every segment the backup needs. */
    private static void barmanBackup() throws Exception {
        owner(BARMAN + "backup " + STANZA);
        for (int attempt = 0; ; attempt++) {
            var checked = Support.run(List.of("runuser", "-u", "postgres", "--", "bash", "-c", "cd / && " + BARMAN
                    + "archive-wal " + STANZA + " && " + BARMAN + "check-backup " + STANZA + " latest"),
                    ownerEnvironment(), Support.REPO, 120);
            if (checked.exit() == 0) {
                return;
            }
            if (attempt > 60) {
                throw new AssertionError(checked.describe());
            }
            Thread.sleep(500);
        }
    }

    private static Map<String, String> ownerEnvironment() {
        return Map.of("PGBACKREST_CONFIG", config.toString(), "BARMAN_CONFIG", barmanConfig.toString());
    }

    @AfterAll
    static void removeTheSource() {
        if (clusterDir != null) {
            sh(". deploy/lib/pg-cluster.sh && pgc_stop \"$0\"".replace("$0", clusterDir), Map.of());
        }
        if (base != null) {
            sh("rm -rf -- " + base, Map.of());
        }
    }

    // ------------------------------------------------------------ what must not change

    /** Path, size and modification time of every file under ROOT. */
    private static List<String> fileList(Path root) throws IOException {
        List<String> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.sorted().toList()) {
                files.add(root.relativize(path) + " " + (Files.isDirectory(path) ? "dir"
                        : Files.size(path) + " " + Files.getLastModifiedTime(path).toMillis()));
            }
        }
        return files;
    }

    /**
     * Barman's recover takes its server's archive-wal and xlogdb locks: it rewrites the PID in those lock
     * files (barman_lock_directory, barman_home by default). They may be touched, not made or removed;
     * every backup, WAL file and xlog.db must stay as it was.
     */
    private static List<String> withoutLockTimes(List<String> files) {
        return files.stream().map(line -> line.matches("\\.[^/ ]+\\.lock .*") ? line.substring(0, line.indexOf(' '))
                : line).toList();
    }

    /** The lines only one of two file lists has, marked - (before) and + (after). */
    private static List<String> difference(List<String> before, List<String> after) {
        List<String> lines = new ArrayList<>();
        before.stream().filter(line -> !after.contains(line)).forEach(line -> lines.add("- " + line));
        after.stream().filter(line -> !before.contains(line)).forEach(line -> lines.add("+ " + line));
        return lines;
    }

    /** The source's audit logs: row counts and chain heads, and its databases. */
    private static String sourceState() {
        return sql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database") + " app "
                + sql("app", "SELECT count(*) || ' ' || (SELECT row_hash FROM audit_chain_head) FROM audit_events");
    }

    // ------------------------------------------------------------ the drill

    private Support.Result drill(String... more) throws IOException {
        Map<String, String> env = new HashMap<>(Map.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "pgbackrest",
                "SMOKE_PGBACKREST_STANZA", STANZA, "SMOKE_LEDGER", ledger.toString(), "SMOKE_SIGNING_KEY", key.toString(),
                "SMOKE_REPORT_DIR", temp.resolve("report").toString(), "PGBACKREST_CONFIG", config.toString(),
                "SMOKE_RECOVERY_TIMEOUT", "60"));
        for (int i = 0; i < more.length; i += 2) {
            env.put(more[i], more[i + 1]);
        }
        List<String> repositoryBefore = fileList(repository);
        List<String> catalogBefore = withoutLockTimes(fileList(catalog));
        Support.Result result = Support.harness(temp, env);
        assertEquals(List.of(), difference(repositoryBefore, fileList(repository)), "the repository must be unchanged\n" + result.describe());
        assertEquals(List.of(), difference(catalogBefore, withoutLockTimes(fileList(catalog))), "the Barman catalog must be unchanged\n" + result.describe());
        assertEquals(sourceState, sourceState(), "the source must be unchanged\n" + result.describe());
        assertEquals(List.of(), Support.harnessLeftovers(temp), "nothing left in TMPDIR\n" + result.describe());
        return result;
    }

    private JsonNode report() throws IOException {
        return new ObjectMapper().readTree(temp.resolve("report/report.json").toFile());
    }

    private void assertFailed(Support.Result result, int exit, String cause) throws IOException {
        assertEquals(exit, result.exit(), result.describe());
        assertTrue(result.err().contains("::error::backup-restore-smoke: " + cause), result.err());
        assertTrue(!result.out().contains("PASS"), result.out());
        assertEquals(false, report().get("passed").asBoolean(), report().toString());
        assertTrue(Files.readString(temp.resolve("report/metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"" + report().get("method").asText() + "\"} 0"));
    }

    @Test
    void theLatestBackupPassesWithSignedEvidenceAndNothingChanged() throws Exception {
        var result = drill();
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).matches("PASS  drill=pgbackrest  rows=32  chain_head=[0-9a-f]{16}\u2026"
                + "  checkpoint=3 of 6  verifier=clean"), result.out());
        JsonNode report = report();
        assertEquals(true, report.get("passed").asBoolean(), report.toString());
        assertEquals(3, report.get("ledger").get("relied_on").asInt(), report.toString());
        // The incremental backup, as pgBackRest's restore named the set it chose for "latest".
        assertTrue(latestSet.matches(fullSet + "_[0-9]{8}-[0-9]{6}I"), latestSet);
        assertEquals(latestSet, report.get("backup").get("id").asText(), report.toString());
        assertEquals(sql("postgres", "SELECT system_identifier FROM pg_control_system()"),
                report.get("backup").get("system_identifier").asText());
        assertTrue(report.get("backup").get("start_lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), report.toString());
        assertTrue(report.get("rto_seconds").asDouble() > 0, report.toString());
        // The rows written after the incremental backup, which the ledger's newest entry counts.
        assertEquals(4, report.get("rpo_rows").asInt(), report.toString());
        var verified = Support.run(List.of("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", publicKey.toString(),
                "-rawin", "-in", temp.resolve("report/report.json").toString(), "-sigfile",
                temp.resolve("report/report.json.sig").toString()), Map.of(), Support.REPO, 30);
        assertEquals(0, verified.exit(), verified.describe());
        assertTrue(Files.readString(temp.resolve("report/metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"pgbackrest\"} 1\n"));
        assertTrue(!result.err().contains("warning: SMOKE_SIGNING_KEY"), result.err()); // root's alone (0600)
        assertSandboxSaidWhatItSupplied(result);
    }

    /**
     * SMOKE_DRILL_SCHEMA reaches drill-verify's --schema: a schema the ledger does not record cannot be judged.
     * The report is signed with a key anyone may read, which the harness warns of at its start.
     */
    @Test
    void aSchemaTheLedgerDoesNotRecordCannotBeJudged() throws Exception {
        Path openKey = Files.copy(key, temp.resolve("open-key.pem"));
        Files.setPosixFilePermissions(openKey, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        var result = drill("SMOKE_DRILL_SCHEMA", "tenant_b", "SMOKE_SIGNING_KEY", openKey.toString());
        assertTrue(result.err().contains("backup-restore-smoke: warning: SMOKE_SIGNING_KEY=" + openKey
                + " can be read by postgres (anyone may read it), the OS user the drill's sandbox server runs as: "), result.err());
        assertFailed(result, 1, "cannot judge: the drill judges the audit schema tenant_b, the ledger's checkpoint 3"
                + " of 6 was recorded on schema public (--schema, SMOKE_DRILL_SCHEMA)");
    }

    @Test
    void theBarmanBackupPasses() throws Exception {
        // The ledger's signatures checked with its public key alone; SMOKE_TIMEOUT reaches drill-verify once.
        var result = drill("SMOKE_METHODS", "barman", "SMOKE_BARMAN_SERVER", STANZA, "SMOKE_BARMAN_CONFIG",
                barmanConfig.toString(), "SMOKE_VERIFY_KEY", publicKey.toString(), "SMOKE_TIMEOUT", "5m");
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).matches("PASS  drill=barman  rows=36  chain_head=[0-9a-f]{16}\u2026"
                + "  checkpoint=5 of 6  verifier=clean"), result.out());
        assertEquals(true, report().get("passed").asBoolean(), report().toString());
        assertTrue(latestBarmanBackup.matches("[0-9]{8}T[0-9]{6}"), latestBarmanBackup);
        assertEquals(latestBarmanBackup, report().get("backup").get("id").asText(), report().toString());
        assertTrue(Files.readString(temp.resolve("report/metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"barman\"} 1\n"));
        assertSandboxSaidWhatItSupplied(result);
    }

    /**
     * The source's configuration is outside its data directory, as on Debian and Ubuntu: the sandbox wrote a
     * postgresql.conf of its own and raised the settings pg_control records, and said so, once each, in the
     * harness's output.
     */
    private static void assertSandboxSaidWhatItSupplied(Support.Result result) {
        assertTrue(result.err().matches("(?s).*\n" + java.util.regex.Pattern.quote(NO_CONF)
                + "[^\n]*/pgc\\.[A-Za-z0-9]+/data/postgresql\\.conf, which sets nothing, so the server's defaults"
                + " apply\n" + java.util.regex.Pattern.quote(RAISED) + ".*"), result.err());
        assertEquals(1, result.err().split(java.util.regex.Pattern.quote(RAISED), -1).length - 1, result.err());
    }

    /** command-url: the operator's restore brings up a server of its own and says when the backup began. */
    @Test
    void aServerOfTheOperatorsOwnPassesThroughCommandUrl() throws Exception {
        String repo = Support.REPO.toString();
        Path ownServer = temp.resolve("own-server");
        var result = drill("SMOKE_METHODS", "command-url", "SMOKE_RESTORE_CMD", """
                set -eu
                . "%s/deploy/lib/pg-cluster.sh"
                # pgBackRest's restore_command names the data directory: the server runs where it was restored.
                dir=$(mktemp -d "$TMPDIR/own-server.XXXXXX")
                printf '%%s\n' "$dir" >"%s"
                chmod 755 "$dir" && chown postgres "$dir"
                (cd / && runuser -u postgres -- pgbackrest --stanza=%s --pg1-path="$dir/data" --type=immediate \
                  --target-action=promote --archive-mode=off restore)
                cp "$dir/data/backup_label" "$SMOKE_BACKUP_LABEL_FILE"
                # The live server's configuration is not in the backup (Debian's layout): the settings recovery
                # needs, and access rules.
                printf "unix_socket_directories = '%%s'\n%s" "$dir" >>"$dir/data/postgresql.conf"
                printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$dir/data/pg_hba.conf"
                pgc_bindir >"$dir/.pgc-cluster"
                pgc_launch_on_free_port "$(pgc_bindir)" "$dir" >&2
                printf 'postgres://postgres@127.0.0.1:%%s/app?sslmode=disable\n' "$PGC_PORT" >"$SMOKE_RESTORED_URL_FILE"
                """.formatted(repo, ownServer, STANZA, LIVE_SETTINGS.replace("\n", "\\n")),
                "SMOKE_TEARDOWN_CMD", "bash %s/deploy/lib/pg-cluster.sh stop \"$(cat %s)\"".formatted(repo, ownServer));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).startsWith("PASS  drill=command-url  rows=32  "), result.out());
        assertTrue(report().get("backup").get("start_lsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), report().toString());
    }

    @Test
    void anOlderBackupSetFailsAMaxRpoItDoesNotMeet() throws Exception {
        Thread.sleep(1100); // the later checkpoints are more than 1 s old
        var result = drill("SMOKE_BACKUP_SET", fullSet, "SMOKE_MAX_RPO", "1s");
        assertFailed(result, 3, "RPO exceeded: the restore holds 24 rows, checkpoint ");
        assertEquals(fullSet, report().get("backup").get("id").asText());
    }

    /** A stanza the repository lacks fails the restore with pgBackRest's own error, which the report keeps. */
    @Test
    void aWrongStanzaFailsWithPgBackRestsOwnError() throws Exception {
        // Named from the harness's folder: it still reaches the restore, which runs from / as the repository's owner.
        String configFromHere = Support.REPO.toAbsolutePath().relativize(config).toString();
        var result = drill("SMOKE_PGBACKREST_STANZA", "nope", "PGBACKREST_CONFIG", configFromHere);
        String cause = "pgbackrest restore failed (exit 1): ERROR: [075]: no backup set found to restore";
        assertFailed(result, 3, cause + "\n");
        assertEquals(cause, report().get("failure").asText());
        assertTrue(report().get("backup").get("id").isNull(), "no set was chosen: " + report());
    }

    /**
     * A set the repository lacks: pgBackRest restores the set named or fails (so a restore of another set
     * than the one named cannot pass), and the report names the set asked for.
     */
    @Test
    void aBackupSetTheRepositoryLacksFailsWithPgBackRestsOwnError() throws Exception {
        var result = drill("SMOKE_BACKUP_SET", "20200101-000000F");
        String cause = "pgbackrest restore failed (exit 1): ERROR: [075]: backup set 20200101-000000F is not valid";
        assertFailed(result, 3, cause + "\n");
        assertEquals("20200101-000000F", report().get("backup").get("id").asText(), report().toString());
    }

    @Test
    void aRestoreLeftPausedFailsNamingIt() throws Exception {
        var result = drill("SMOKE_METHODS", "command-cluster", "SMOKE_RESTORE_CMD", "cd / && runuser -u postgres --"
                + " pgbackrest --stanza=" + STANZA + " --pg1-path=\"$SMOKE_RESTORE_PGDATA\" --type=immediate"
                + " --target-action=pause --archive-mode=off restore");
        assertFailed(result, 3, "the restored server is paused in recovery (pg_is_wal_replay_paused() = true)");
        // The backup as its data directory says, read before the server started: the latest set's backup_label.
        JsonNode backup = report().get("backup");
        String label = Files.readString(repository.resolve("backup/" + STANZA + "/" + latestSet + "/pg_data/backup_label"));
        JsonNode latest = backupSets().get(backupSets().size() - 1);
        assertEquals(latestSet, latest.get("label").asText());
        assertEquals(latest.get("lsn").get("start").asText(), backup.get("start_lsn").asText(), backup.toString());
        assertEquals(labelLine(label, "LABEL"), backup.get("label").asText(), backup.toString());
        assertEquals(sql("postgres", "SELECT to_char(timestamptz '" + labelLine(label, "START TIME")
                + "' AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"), backup.get("start_time").asText());
        assertEquals(1, backup.get("timeline").asInt(), backup.toString());
        assertEquals(sql("postgres", "SELECT system_identifier FROM pg_control_system()"),
                backup.get("system_identifier").asText());
        assertTrue(backup.get("id").isNull(), "command-cluster's output is not read: " + backup);
    }

    /** The value of a backup_label line "NAME: value". */
    private static String labelLine(String label, String name) {
        return label.lines().filter(line -> line.startsWith(name + ": ")).findFirst().orElseThrow()
                .substring(name.length() + 2);
    }

    @Test
    void aPointInTimeRestoreEndsAtTheLastRowCommittedBeforeTheTarget() throws Exception {
        // When checkpoint 2 was taken: after the full backup, before the next 8 rows.
        String target = new ObjectMapper().readTree(Files.readAllLines(ledger).get(1)).get("time").asText()
                .replace('T', ' ').replace("Z", "+00");
        // The set named: pgBackRest's own choice compares whole seconds of its stop time.
        var result = drill("SMOKE_RECOVERY_TARGET_TIME", target, "SMOKE_BACKUP_SET", fullSet);
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Support.lastLine(result.out()).startsWith("PASS  drill=pgbackrest  rows=24  "), result.out());
        assertEquals("ledger_bracket", report().get("pitr").get("proof").asText(), report().toString());
        assertTrue(result.err().contains("backup-restore-smoke: drill: pgbackrest restore of backup set " + fullSet
                + " to the " + target + " target, judged against " + ledger + "\n"), result.err());
    }

    /**
     * A target past the archived WAL: the server ends recovery with a FATAL, before pg_ctl sees it up or
     * after; either way the failure names PostgreSQL's own line.
     */
    @Test
    void aTargetPastTheArchivedWalFailsNamingPostgresqlsFatalLine() throws Exception {
        var result = drill("SMOKE_RECOVERY_TARGET_TIME", "2099-01-01 00:00:00+00", "SMOKE_BACKUP_SET", fullSet);
        assertFailed(result, 3, "the restored ");
        String cause = report().get("failure").asText();
        assertTrue(cause.matches("the restored (data directory does not start as a server|server stopped during recovery)"
                + " \\(its log is above\\): FATAL: recovery ended before configured recovery target was reached"), cause);
        assertTrue(result.err().endsWith("::error::backup-restore-smoke: " + cause + "\n"), result.err());
    }

    @Test
    void aDrillCutShortBySigtermStillSaysItDidNotPass() throws Exception {
        Map<String, String> env = new HashMap<>(Map.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "command-cluster",
                "SMOKE_RESTORE_CMD", "sleep 60", "SMOKE_LEDGER", ledger.toString(),
                "SMOKE_REPORT_DIR", temp.resolve("report").toString()));
        Process harness = Support.startHarness(temp, env);
        Support.awaitText(temp.resolve("out"), "=== drill: restore ===");
        Support.signal(harness, "TERM");
        assertTrue(harness.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the harness ends");
        assertEquals(1, harness.exitValue(), Files.readString(temp.resolve("err")));
        assertTrue(report().get("failure").asText().startsWith("cannot judge: the drill was cut short: "),
                report().toString());
        assertEquals(false, report().get("passed").asBoolean());
        assertEquals(List.of(), Support.harnessLeftovers(temp));
    }

    /**
     * A drill stopped after drill-verify wrote a passing report.json, while the PASS line is being printed,
     * exits 1: its report.json must then say it did not pass (SPEC 9.10), as any exit but 0. It said passed
     * (metrics.prom's success 1) beside the harness's "interrupted by SIGTERM" and exit 1.
     */
    @Test
    void aDrillInterruptedWhileItsPassLineIsPrintedSaysItDidNotPass() throws Exception {
        Map<String, String> env = new HashMap<>(Map.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "pgbackrest",
                "SMOKE_PGBACKREST_STANZA", STANZA, "SMOKE_LEDGER", ledger.toString(), "PGBACKREST_CONFIG",
                config.toString(), "SMOKE_REPORT_DIR", temp.resolve("report").toString(), "SMOKE_RECOVERY_TIMEOUT", "60"));
        Process harness = Support.startHarness(temp, env);
        // The PASS line's --mode=report (run on the drill's folder in this test's TMPDIR), held once it starts.
        String folder = temp.resolve("tmp").toString();
        ProcessHandle report = null;
        for (long deadline = System.nanoTime() + 180_000_000_000L; report == null && harness.isAlive()
                && System.nanoTime() < deadline; Thread.sleep(2)) {
            report = ProcessHandle.allProcesses().filter(process -> process.info().commandLine()
                    .filter(line -> line.contains("--mode=report") && line.contains("--run-record=" + folder))
                    .isPresent()).findFirst().orElse(null);
        }
        assertTrue(report != null, "never saw the drill's --mode=report\n" + Files.readString(temp.resolve("err")));
        new ProcessBuilder("kill", "-STOP", Long.toString(report.pid())).start().waitFor();
        assertEquals(true, report().get("passed").asBoolean(), "drill-verify's report.json passed by then");
        Support.signal(harness, "TERM");
        assertTrue(harness.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the harness ends");
        String err = Files.readString(temp.resolve("err"));
        assertEquals(1, harness.exitValue(), err);
        assertTrue(err.endsWith("::error::backup-restore-smoke: interrupted by SIGTERM during drill: verify\n"), err);
        assertEquals("cannot judge: the drill was cut short: interrupted by SIGTERM during drill: verify",
                report().get("failure").asText(), report().toString());
        assertEquals(false, report().get("passed").asBoolean());
        assertTrue(Files.readString(temp.resolve("report/metrics.prom"))
                .contains("backupsmoke_drill_success{method=\"pgbackrest\"} 0"));
        assertEquals(List.of(), Support.harnessLeftovers(temp));
    }

    /**
     * Barman's recover makes temporary folders (barman-*, barman_recovery-*) in TMPDIR and removes them
     * when it ends; killed by an interrupt (SIGTERM, then SIGKILL) it cannot: they were left in the drill's
     * TMPDIR, or in /tmp when the harness's TMPDIR was not the Barman user's to write (this test's). Its
     * TMPDIR is the sandbox's folder now, which the cleanup removes.
     */
    @Test
    void aBarmanRecoverCutShortLeavesNoTemporaryFolderInTmpdir() throws Exception {
        // rsync held when it copies the WAL files the backup needs: Barman's barman_recovery-* folder exists then.
        Path held = Files.createDirectories(base.resolve("held-rsync-" + temp.getFileName()));
        Files.setPosixFilePermissions(held, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path started = held.resolve("started");
        Files.setPosixFilePermissions(Support.write(held.resolve("rsync"), "#!/bin/sh\ncase \"$*\" in *--files-from=*)\n"
                + "  echo started > '" + started + "' && exec sleep 116 ;;\nesac\nexec /usr/bin/rsync \"$@\"\n"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Map<String, String> env = new HashMap<>(Map.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "barman",
                "SMOKE_BARMAN_SERVER", STANZA, "SMOKE_BARMAN_CONFIG", barmanConfig.toString(), "SMOKE_LEDGER",
                ledger.toString(), "SMOKE_REPORT_DIR", temp.resolve("report").toString(), "PATH",
                held + ":" + System.getenv("PATH")));
        List<String> systemTmp = barmanFolders(Path.of("/tmp")); // Python's fallback when TMPDIR is not the user's to write
        try {
            Process harness = Support.startHarness(temp, env);
            Support.awaitText(started, "started");
            Support.signal(harness, "TERM");
            assertTrue(harness.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the harness ends");
            String err = Files.readString(temp.resolve("err"));
            assertEquals(1, harness.exitValue(), err);
            assertTrue(err.endsWith("::error::backup-restore-smoke: interrupted by SIGTERM during drill: restore\n"), err);
            assertEquals(List.of(), Support.harnessLeftovers(temp), err);
            assertEquals(systemTmp, barmanFolders(Path.of("/tmp")), err);
            assertEquals(false, report().get("passed").asBoolean());
        } finally {
            sh("rm -rf -- '" + held + "'", Map.of());
        }
    }

    /**
     * A restore bigger than TMPDIR's room: pgBackRest fails with ENOSPC, and the harness's reason file (the
     * tool's stderr, in TMPDIR too) could not be written either: the drill ended with an empty ::error:: line
     * and "the restore failed (no reason given)". The partial data directory is removed before the reason
     * is read.
     */
    @Test
    void aRestoreThatFillsTmpdirIsNamedByPgbackrestsErrorLine() throws Exception {
        Path small = Files.createDirectories(temp.resolve("small"));
        // The stanza's configuration without pgBackRest's retries of a failed write (the second waits 15 s);
        // that the retry lines it adds under the ERROR line are not the reason: PhysicalModesTest.
        Path noRetry = temp.resolve("pgbackrest-no-retry.conf");
        Files.writeString(noRetry, Files.readString(config).replace("[global]\n", "[global]\njob-retry=0\n"));
        ok(Support.run(List.of("mount", "-t", "tmpfs", "-o", "size=16m,mode=1777", "tmpfs", small.toString()),
                Map.of(), Support.REPO, 30));
        try {
            var result = Support.harness(temp, Map.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "pgbackrest",
                    "SMOKE_PGBACKREST_STANZA", STANZA, "SMOKE_LEDGER", ledger.toString(), "PGBACKREST_CONFIG",
                    noRetry.toString(), "SMOKE_REPORT_DIR", temp.resolve("report").toString(), "TMPDIR", small.toString()));
            assertEquals(3, result.exit(), result.describe());
            String cause = report().get("failure").asText();
            assertTrue(cause.matches("pgbackrest restore failed \\(exit [0-9]+\\): ERROR: \\[[0-9]+\\]: .*"), cause);
            assertTrue(result.err().endsWith("::error::backup-restore-smoke: " + cause + "\n"), result.err());
            try (Stream<Path> left = Files.list(small)) {
                assertEquals(List.of(), left.toList(), "nothing left in TMPDIR");
            }
        } finally {
            sh("umount '" + small + "'", Map.of());
        }
    }

    /** The folders named barman* in FOLDER: Barman's recover's temporary ones (barman-*, barman_recovery-*, barman_wal-*). */
    private static List<String> barmanFolders(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(path -> path.getFileName().toString()).filter(name -> name.startsWith("barman")).sorted()
                    .toList();
        }
    }

    @Test
    void aDrillWithNothingToRunExitsOneAndSaysItDidNotPass() throws Exception {
        var result = drill("SMOKE_METHODS", "custom");
        assertFailed(result, 1, "SMOKE_DRILL=1 restores with exactly one of pgbackrest, barman, command-cluster,"
                + " command-url in SMOKE_METHODS, got 'custom'");
        assertTrue(report().get("failure").asText().startsWith("cannot judge: "), report().toString());
        // The drill's other refusals (SMOKE_BACKUP_CMD among them) take the same way: KnobsTest.
    }
}
