// RestoredCluster (--mode=restore-command, restored-setup): pgBackRest's and
// Barman's restore command lines, and the files a restored data directory
// gets before it is served, in process on folders made here (the server
// binaries read their configuration, `postgres -C`); and a cluster of its
// own, stopped and served again as a sandbox, for what the backup's
// ALTER SYSTEM settings and pg_cron would do there.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestoredClusterTest {
    @TempDir Path temp;

    /** The command line the mode prints, NUL-separated. */
    @Test
    void theClusterOwnerGetsNoSecretInItsEnvironment() throws Exception {
        // Red-team review (secrets): pgc_as_owner ran the restores and the restored server as the cluster's OS
        // user (SMOKE_PG_OS_USER, when root runs the harness) with the harness's PGPASSWORD and PGSSLPASSWORD in
        // their environment, which that user reads in /proc/PID/environ for as long as the sandbox runs.
        Path dir = Files.createDirectory(temp.resolve("owned"));
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Support.Result result = Support.run(List.of("bash", "-c", ". deploy/lib/pg-cluster.sh && { [[ $(id -u) != 0 ]]"
                + " || chown \"${SMOKE_PG_OS_USER:-postgres}:\" \"$1\"; } && pgc_as_owner \"$1\" env", "test", dir.toString()),
                Map.of("PGPASSWORD", "SECRET-1", "PGSSLPASSWORD", "SECRET-2"), Support.REPO, 30);
        assertEquals(0, result.exit(), result.describe());
        assertTrue(result.out().contains("PATH="), result.describe());
        assertFalse(result.out().contains("SECRET"), result.out());
    }

    private static List<String> restoreCommand(String... args) {
        List<String> all = new ArrayList<>(List.of("--mode=restore-command"));
        all.addAll(List.of(args));
        var result = Support.tool(Map.of(), all.toArray(String[]::new));
        assertEquals(0, result.exit(), result.describe());
        assertTrue(result.out().endsWith("\0"), result.out());
        return Arrays.asList(result.out().split("\0"));
    }

    @Test
    void pgbackrestRestoresTheLatestSetToItsEndOrTheTargetWithoutArchiving() {
        assertEquals(List.of("pgbackrest", "--config=/w/pgbackrest.conf", "--stanza=smoke", "--pg1-path=/r/data",
                "--type=immediate", "--target-action=promote", "--archive-mode=off", "--log-level-console=info",
                "restore"), restoreCommand("--tool=pgbackrest", "--pgdata=/r/data", "--repository=smoke",
                        "--tool-config=/w/pgbackrest.conf"));
        assertEquals(List.of("pgbackrest", "--stanza=main", "--pg1-path=/r/data", "--set=20261205-030000F",
                "--type=time", "--target=2026-12-05 03:00:00+00", "--target-action=promote", "--archive-mode=off",
                "--log-level-console=info", "restore"), restoreCommand("--tool=pgbackrest", "--pgdata=/r/data", "--repository=main",
                        "--backup-set=20261205-030000F", "--recovery-target=time=2026-12-05 03:00:00+00"));
    }

    @Test
    void barmanRecoversTheSetOfItsServerToItsEndOrTheTarget() {
        assertEquals(List.of("barman", "-c", "/w/barman.conf", "recover", "--target-immediate", "--target-action",
                "promote", "smoke", "latest", "/r/data"), restoreCommand("--tool=barman", "--pgdata=/r/data",
                        "--repository=smoke", "--tool-config=/w/barman.conf"));
        // --target-tli latest: Barman copies the WAL of the timelines after the backup's (a failover's).
        assertEquals(List.of("barman", "recover", "--target-lsn", "0/3000060", "--target-tli", "latest",
                "--target-action", "promote", "pg", "20261205T030000", "/r/data"), restoreCommand("--tool=barman", "--pgdata=/r/data", "--repository=pg",
                        "--backup-set=20261205T030000", "--recovery-target=lsn=0/3000060"));
    }

    @Test
    void aRestoreCommandNamesWhatItLacks() {
        Support.refused(1, "--tool must be pgbackrest or barman, got \"wal-g\"",
                "--mode=restore-command", "--tool=wal-g", "--pgdata=/d", "--repository=r");
        var missing = Support.tool(Map.of(), "--mode=restore-command", "--tool=barman");
        assertEquals("backupsmoke: --mode=restore-command needs --tool=NAME, --pgdata=DIR and --repository=NAME\n",
                missing.err());
        Support.usageError("--tool applies to --mode=restore-command only", "--mode=knobs", "--tool=barman");
    }

    @Test
    void eachModeRefusesTheFlagsOnlyTheOtherReads() {
        // The restore command once printed its line (exit 0), ignoring the two.
        var command = Support.tool(Map.of(), "--mode=restore-command", "--tool=pgbackrest", "--pgdata=/nonexistent/x",
                "--repository=r", "--auth=md5", "--wal-archive=/nowhere");
        assertEquals(2, command.exit(), command.describe());
        assertEquals("", command.out());
        assertTrue(command.err().startsWith("--auth, --wal-archive apply to --mode=restored-setup only\n"),
                command.err());
        Support.usageError("--backup-set applies to --mode=restore-command only",
                "--mode=restored-setup", "--restored-cluster=/nonexistent/x", "--backup-set=latest");
    }

    /** The server binaries of the suite (pg-cluster.sh bindir), found once. */
    private static Path bindir;

    static synchronized Path bindir() {
        if (bindir == null) {
            var found = Support.run(List.of("bash", "deploy/lib/pg-cluster.sh", "bindir"), Map.of(), Support.REPO, 30);
            assertEquals(0, found.exit(), found.describe());
            bindir = Path.of(found.out().strip());
        }
        return bindir;
    }

    /**
     * A restored data directory as a tool leaves it: the source's settings and its postmaster.pid, in a
     * cluster folder whose marker names the binaries it runs with (pg-cluster.sh).
     */
    private Path restored() throws Exception {
        Path data = Files.createDirectories(temp.resolve("pgc.1/data"));
        Files.writeString(data.getParent().resolve(RestoredCluster.MARKER), bindir() + "\n");
        Files.writeString(data.resolve("postgresql.conf"), "port = 5432\n");
        Files.writeString(data.resolve("postmaster.pid"), "123\n");
        Files.writeString(data.resolve("postmaster.opts"), "postgres\n");
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x"));
        return data;
    }

    /** What restored-setup appends to postgresql.auto.conf for a cluster in /c (no recovery target). */
    private static String sandboxSettings(String cluster) {
        return "# the restore drill's sandbox (backupsmoke --mode=restored-setup): these win over every setting"
                + " above and in postgresql.conf\n" + "listen_addresses = '127.0.0.1'\nunix_socket_directories = '"
                + cluster + "'\nhba_file = '" + cluster + "/data/pg_hba.smoke.conf'\narchive_mode = 'off'\n"
                + "hot_standby = 'on'\nssl = 'off'\nlogging_collector = 'off'\nmax_logical_replication_workers = '0'\n"
                + "primary_conninfo = ''\nprimary_slot_name = ''\nexternal_pid_file = '" + cluster + "/external.pid'\n";
    }

    @Test
    void aRestoredDataDirectoryIsServedPrivatelyWithItsOwnAccessRules() throws Exception {
        Path data = restored();
        Path cluster = data.getParent();
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + cluster, "--auth=md5");
        assertEquals(0, result.exit(), result.describe());
        assertEquals("", result.out() + result.err());
        assertEquals("local all all trust\nhost all all 127.0.0.1/32 md5\n",
                Files.readString(data.resolve("pg_hba.smoke.conf")));
        assertEquals("port = 5432\n", Files.readString(data.resolve("postgresql.conf")));
        assertEquals(sandboxSettings(cluster.toString()), Files.readString(data.resolve("postgresql.auto.conf")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(data)));
        assertFalse(Files.exists(data.resolve("postmaster.pid")));
        assertFalse(Files.exists(data.resolve("postmaster.opts")));
        assertFalse(Files.exists(data.resolve("recovery.signal")));
    }

    /**
     * A subscription the backup holds must not run in the copy: its apply
     * worker would connect to the live publisher and consume the live
     * subscriber's replication slot (red-team review 7: the rows the
     * subscriber missed while down went to the sandbox instead).
     */
    @Test
    void aRestoredCopyRunsNoSubscription() {
        assertEquals(sandboxSettings("/c"), RestoredCluster.settings("",
                RestoredCluster.sandbox(Path.of("/c"), Path.of("/c/data/pg_hba.smoke.conf"))));
    }

    /**
     * The server reads postgresql.auto.conf after postgresql.conf: settings the live server was given with
     * ALTER SYSTEM came back in the backup and won over the sandbox's, which restored-setup appended to
     * postgresql.conf (reproduced on PostgreSQL 15: a restored copy listened on 0.0.0.0 and [::], archived
     * WAL with the source's archive_command and kept max_logical_replication_workers = 4). They go last into
     * postgresql.auto.conf now, on a line of their own after a last line left open; pg_cron leaves
     * shared_preload_libraries, the other libraries stay. The values are the ones the server binaries read
     * (postgres -C).
     */
    @Test
    void theBackupsAlterSystemSettingsDoNotOverrideTheSandbox() throws Exception {
        Path data = restored();
        Files.writeString(data.resolve("postgresql.auto.conf"), """
                # Do not edit this file manually!
                # It will be overwritten by the ALTER SYSTEM command.
                max_logical_replication_workers = '4'
                listen_addresses = '*'
                archive_mode = 'on'
                archive_command = 'pgbackrest --stanza=main archive-push %p'
                primary_conninfo = 'host=db1 user=replicator'
                shared_preload_libraries = 'pg_stat_statements, "$libdir/pg_cron", auto_explain'""");
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + data.getParent());
        assertEquals(0, result.exit(), result.describe());
        assertEquals("", result.out() + result.err());
        Map<String, String> expected = new java.util.LinkedHashMap<>();
        expected.put("listen_addresses", "127.0.0.1");
        expected.put("archive_mode", "off");
        expected.put("max_logical_replication_workers", "0");
        expected.put("primary_conninfo", "");
        expected.put("shared_preload_libraries", "pg_stat_statements, auto_explain");
        expected.put("unix_socket_directories", data.getParent().toString());
        expected.put("data_directory", data.toString());
        for (Map.Entry<String, String> setting : expected.entrySet()) {
            var shown = Support.run(List.of(bindir().resolve("postgres").toString(), "-C", setting.getKey(), "-D",
                    data.toString()), Map.of(), data, 30);
            assertEquals(setting.getValue() + "\n", shown.out(), setting.getKey() + ": " + shown.describe());
        }
        assertTrue(Files.readString(data.resolve("postgresql.auto.conf")).endsWith("auto_explain'\n"
                + sandboxSettings(data.getParent().toString())
                + "shared_preload_libraries = 'pg_stat_statements, auto_explain'\n"));
    }

    /**
     * A backup of a cluster preloading pg_cron, served as a sandbox where pg_cron is installed: its launcher
     * ran there and, at each minute, the backup's jobs, on the server each job names (cron.job's nodename and
     * nodeport: the live one, when the drill runs on its host; reproduced on PostgreSQL 15 with pg_cron 1.4.2,
     * whose cron.max_running_jobs = 0 does not stop them). The sandbox preloads the other libraries only: no
     * launcher runs, the job stays in cron.job, and the live server's ALTER SYSTEM settings are not in force.
     * Needs pg_cron (Debian: postgresql-15-cron, which .ci/run installs).
     */
    @Test
    void aBackupPreloadingPgCronRunsNoJobInTheSandbox() throws Exception {
        requireInstalled("pg_cron", "postgresql-15-cron");
        Map<String, String> assigned = Support.startCluster("shared_preload_libraries = 'pg_stat_statements, pg_cron'");
        String dir = assigned.get("PGC_DIR");
        String port = assigned.get("PGC_PORT");
        String state = "SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'pg_cron launcher')"
                + " || '|' || (SELECT count(*) FROM cron.job) || '|' || current_setting('shared_preload_libraries')"
                + " || '|' || current_setting('listen_addresses') || '|' || current_setting('max_logical_replication_workers')";
        try {
            try (Connection connection = connect(port); Statement statement = connection.createStatement()) {
                statement.execute("CREATE EXTENSION pg_cron");
                statement.execute("CREATE TABLE ran (at timestamptz DEFAULT now())");
                statement.execute("SELECT cron.schedule('* * * * *', 'INSERT INTO ran DEFAULT VALUES')");
                statement.execute("ALTER SYSTEM SET listen_addresses = '*'");
                statement.execute("ALTER SYSTEM SET max_logical_replication_workers = 4");
                assertEquals("1|1|pg_stat_statements, pg_cron|127.0.0.1|4", one(statement, state));
            }
            pgCtl(dir, "stop", "-m", "fast");
            startAsSandbox(dir, port);
            try (Connection connection = connect(port); Statement statement = connection.createStatement()) {
                assertEquals("0|1|pg_stat_statements|127.0.0.1|0", one(statement, state));
            }
        } finally {
            Support.stopCluster(dir);
        }
    }

    /** LIBRARY.so in the server binaries' lib folder, which the Debian package PACKAGE installs. */
    private static void requireInstalled(String library, String debianPackage) {
        Path file = bindir().getParent().resolve("lib/" + library + ".so");
        assertTrue(Files.exists(file), library + " is not installed (no " + file + "): apt-get install "
                + debianPackage);
    }

    /** The stopped cluster DIR made a sandbox (restored-setup) and started on PORT, its log in DIR/server.log. */
    private static void startAsSandbox(String dir, String port) throws Exception {
        var setup = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + dir);
        assertEquals(0, setup.exit(), setup.describe());
        pgCtl(dir, "start", "-l", dir + "/server.log", "-o", "-p " + port);
    }

    /**
     * A backup of a cluster preloading pg_partman_bgw (pg_partman 4.7.2 on PostgreSQL 15, maintenance every
     * hour): its worker runs run_maintenance() as soon as the server starts, and with a retention of 5 days
     * it dropped 5 of the 14 partitions of a daily partition set, rows and all, in the copy about to be
     * judged. The sandbox preloads the other libraries only: no worker runs, every partition stays.
     * Needs pg_partman (Debian: postgresql-15-partman, which .ci/run installs).
     */
    @Test
    void aBackupPreloadingPgPartmansWorkerDropsNoPartitionInTheSandbox() throws Exception {
        requireInstalled("pg_partman_bgw", "postgresql-15-partman");
        Map<String, String> assigned = Support.startCluster("shared_preload_libraries = 'pg_partman_bgw'\n"
                + "pg_partman_bgw.interval = 3600\npg_partman_bgw.dbname = 'postgres'\npg_partman_bgw.role = 'postgres'");
        String dir = assigned.get("PGC_DIR");
        String port = assigned.get("PGC_PORT");
        String state = "SELECT (SELECT count(*) FROM pg_catalog.pg_inherits WHERE inhparent = 'public.metrics'::regclass)"
                + " || '|' || current_setting('shared_preload_libraries')";
        Path log = Path.of(dir, "server.log");
        try {
            try (Connection connection = connect(port); Statement statement = connection.createStatement()) {
                statement.execute("CREATE SCHEMA partman");
                statement.execute("CREATE EXTENSION pg_partman SCHEMA partman");
                statement.execute("CREATE TABLE public.metrics (id bigint NOT NULL, at timestamptz NOT NULL)"
                        + " PARTITION BY RANGE (at)");
                statement.execute("SELECT partman.create_parent('public.metrics', 'at', 'native', 'daily',"
                        + " p_premake := 2, p_start_partition := (now() - interval '10 days')::text)");
                statement.execute("UPDATE partman.part_config SET retention = '5 days', retention_keep_table = false");
                assertEquals("14|pg_partman_bgw", one(statement, state)); // the hourly run is an hour away
            }
            pgCtl(dir, "stop", "-m", "fast");
            assertTrue(Files.readString(log).contains("pg_partman master background worker"));
            Files.delete(log);
            startAsSandbox(dir, port);
            try (Connection connection = connect(port); Statement statement = connection.createStatement()) {
                Thread.sleep(1000); // the worker's maintenance took 20 ms after the start when it ran
                assertEquals("14|", one(statement, state));
            }
            assertFalse(Files.readString(log).contains("pg_partman"), Files.readString(log));
        } finally {
            Support.stopCluster(dir);
        }
    }

    /**
     * A Debian or Ubuntu cluster (pg_createcluster) keeps postgresql.conf, pg_hba.conf and pg_ident.conf in
     * /etc/postgresql/MAJOR/NAME, and pgBackRest and Barman back up the data directory only: the drill of such
     * a backup failed before its sandbox started (reproduced on PostgreSQL 15 with pgBackRest 2.45: `cannot read
     * the restored configuration: postgres -C shared_preload_libraries failed (exit 2): postgres: could not
     * access the server configuration file ".../data/postgresql.conf": No such file or directory`). Given a
     * postgresql.conf that sets nothing, the copy ran at the default max_connections = 100 while pg_control
     * recorded the live server's 300 from /etc, and its recovery aborted (`FATAL: recovery aborted because of
     * insufficient parameter settings`, `max_connections = 100 is a lower setting than on the primary server,
     * where its value was 300`). The setup writes the file and raises the five settings pg_control records to
     * its values, saying both; the copy recovers and is promoted, without pg_ident.conf.
     */
    @Test
    void aDataDirectoryWhoseConfigurationIsInEtcRecoversAsASandbox() throws Exception {
        Map<String, String> assigned = Support.startCluster("max_connections = 150\nmax_worker_processes = 10\n"
                + "max_wal_senders = 12\nmax_prepared_transactions = 5\nmax_locks_per_transaction = 80");
        String dir = assigned.get("PGC_DIR");
        String port = assigned.get("PGC_PORT");
        Path data = Path.of(dir, "data");
        try {
            pgCtl(dir, "stop", "-m", "fast");
            Path etc = Files.createDirectories(Path.of(dir, "etc"));
            for (String file : List.of("postgresql.conf", "pg_hba.conf", "pg_ident.conf")) {
                Files.move(data.resolve(file), etc.resolve(file));
            }
            // Archive recovery, as a restore's (its WAL: pg_wal's), where hot_standby's checks apply.
            Files.writeString(data.resolve("recovery.signal"), "");
            Files.writeString(data.resolve("postgresql.auto.conf"), "restore_command = 'false'\n",
                    java.nio.file.StandardOpenOption.APPEND);
            var setup = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + dir);
            assertEquals(0, setup.exit(), setup.describe());
            assertEquals("", setup.out());
            assertEquals("backupsmoke: note: the restored data directory holds no postgresql.conf (a Debian or Ubuntu"
                    + " cluster keeps it in /etc/postgresql/MAJOR/NAME, outside the backup): the sandbox wrote "
                    + data.resolve("postgresql.conf") + ", which sets nothing, so the server's defaults apply\n"
                    + "backupsmoke: note: the sandbox raises max_connections from 100 to 150, max_worker_processes"
                    + " from 8 to 10, max_wal_senders from 10 to 12, max_prepared_transactions from 0 to 5,"
                    + " max_locks_per_transaction from 64 to 80: recovery with hot_standby needs at least the values"
                    + " pg_control records, which the restored configuration sets lower\n", setup.err());
            assertEquals(RestoredDefaults.CONF_TEXT, Files.readString(data.resolve("postgresql.conf")));
            assertTrue(Files.readString(data.resolve("postgresql.auto.conf")).endsWith("restore_command = 'false'\n"
                    + sandboxSettings(dir) + "max_connections = '150'\nmax_worker_processes = '10'\n"
                    + "max_wal_senders = '12'\nmax_prepared_transactions = '5'\nmax_locks_per_transaction = '80'\n"));
            assertFalse(Files.exists(data.resolve("pg_ident.conf")));
            pgCtl(dir, "start", "-l", dir + "/server.log", "-o", "-p " + port);
            String settings = "SELECT pg_is_in_recovery() || '|' || current_setting('max_connections') || '|'"
                    + " || current_setting('max_worker_processes') || '|' || current_setting('max_wal_senders')"
                    + " || '|' || current_setting('max_prepared_transactions') || '|'"
                    + " || current_setting('max_locks_per_transaction') || '|' || current_setting('listen_addresses')";
            String state = "";
            for (int attempt = 0; attempt < 100 && !state.startsWith("false|"); attempt++) {
                Thread.sleep(state.isEmpty() ? 0 : 100);
                try (Connection connection = connect(port); Statement statement = connection.createStatement()) {
                    state = one(statement, settings);
                }
            }
            String log = Files.readString(Path.of(dir, "server.log"));
            assertEquals("false|150|10|12|5|80|127.0.0.1", state, log);
            // the external pid file goes to the sandbox's folder: an empty name made the server complain
            assertFalse(log.contains("could not write external PID file"), log);
            assertTrue(Files.isRegularFile(Path.of(dir, "external.pid")), "the sandbox's external pid file");
        } finally {
            Support.stopCluster(dir);
        }
    }

    /** pg_controldata's record of the settings, and the ones the restored configuration has lower. */
    @Test
    void theSettingsPgControlRecordsAreRaisedOnlyWhereTheConfigurationIsLower() throws Exception {
        String controldata = """
                Database cluster state:               in production
                wal_level setting:                    replica
                wal_log_hints setting:                off
                max_connections setting:              300
                max_worker_processes setting:         16
                max_wal_senders setting:              12
                max_prepared_xacts setting:           0
                max_locks_per_xact setting:           64
                track_commit_timestamp setting:       off
                """;
        Map<String, Long> recorded = RestoredDefaults.recorded(controldata);
        assertEquals(List.of("max_connections=300", "max_worker_processes=16", "max_wal_senders=12",
                "max_prepared_transactions=0", "max_locks_per_transaction=64"),
                recorded.entrySet().stream().map(String::valueOf).toList());
        Map<String, String> shown = Map.of("max_connections", "100", "max_worker_processes", "16",
                "max_wal_senders", "20", "max_prepared_transactions", "0", "max_locks_per_transaction", "32");
        List<RestoredDefaults.Raise> raised = RestoredDefaults.raised(recorded, shown::get);
        assertEquals(List.of(new RestoredDefaults.Raise("max_connections", "100", "300"),
                new RestoredDefaults.Raise("max_locks_per_transaction", "32", "64")), raised);
        assertEquals("the sandbox raises max_connections from 100 to 300, max_locks_per_transaction from 32 to 64:"
                + " recovery with hot_standby needs at least the values pg_control records, which the restored"
                + " configuration sets lower", RestoredDefaults.note(raised));
        assertEquals(List.of(), RestoredDefaults.raised(recorded, name -> "300"));
        assertEquals("cannot read the restored control file: pg_controldata names no \"max_locks_per_xact setting\"",
                assertThrows(Failure.class, () -> RestoredDefaults.recorded(controldata.replace("max_locks", "locks")))
                        .getMessage());
    }

    /** The written postgresql.conf is said before a later refusal, which stays the last line. */
    @Test
    void theWrittenConfigurationIsSaidEvenWhenTheSetupIsRefusedAfterIt() throws Exception {
        Path data = restored();
        Files.delete(data.resolve("postgresql.conf"));
        Path marker = data.getParent().resolve(RestoredCluster.MARKER);
        Files.writeString(marker, temp + "\n");
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + data.getParent());
        assertEquals(1, result.exit(), result.describe());
        assertEquals("backupsmoke: note: the restored data directory holds no postgresql.conf (a Debian or Ubuntu"
                + " cluster keeps it in /etc/postgresql/MAJOR/NAME, outside the backup): the sandbox wrote "
                + data.resolve("postgresql.conf") + ", which sets nothing, so the server's defaults apply\n"
                + "backupsmoke: " + marker + " names no folder holding the server (postgres): \"" + temp + "\"\n",
                result.err());
        assertEquals(RestoredDefaults.CONF_TEXT, Files.readString(data.resolve("postgresql.conf")));
    }

    /** A postgresql.conf that is there, even as a link the drill host cannot follow, is left as it is. */
    @Test
    void aPostgresqlConfThatIsThereIsNotWritten() throws Exception {
        Path data = Files.createDirectories(temp.resolve("data"));
        Path elsewhere = temp.resolve("etc/postgresql.conf");
        Files.createSymbolicLink(data.resolve("postgresql.conf"), elsewhere);
        assertEquals(null, RestoredDefaults.writeConfWhenMissing(data));
        assertFalse(Files.exists(elsewhere.getParent()));
        Files.delete(data.resolve("postgresql.conf"));
        Files.writeString(data.resolve("postgresql.conf"), "port = 5432\n");
        assertEquals(null, RestoredDefaults.writeConfWhenMissing(data));
        assertEquals("port = 5432\n", Files.readString(data.resolve("postgresql.conf")));
    }

    private static Connection connect(String port) throws Exception {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port
                + "/postgres?user=postgres&sslmode=disable");
    }

    private static String one(Statement statement, String sql) throws Exception {
        try (ResultSet row = statement.executeQuery(sql)) {
            assertTrue(row.next(), sql);
            return row.getString(1);
        }
    }

    /** pg_ctl ARGS on the cluster in DIR, as its owner (runuser when the tests run as root). */
    private static void pgCtl(String dir, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            command.addAll(List.of("runuser", "-u", Files.getOwner(Path.of(dir)).getName(), "--"));
        }
        command.addAll(List.of(bindir().resolve("pg_ctl").toString(), "-D", dir + "/data", "-w", "-t", "30", "-s"));
        command.addAll(List.of(args));
        var result = Support.run(command, Map.of(), Path.of(dir), 60);
        assertEquals(0, result.exit(), result.describe());
    }

    /** What the schedulers' entries in shared_preload_libraries look like, and the other libraries kept as written. */
    @Test
    void theSchedulersLeaveTheLibrariesPreloadedAndTheOthersStay() {
        assertEquals("", RestoredCluster.withoutSchedulers("pg_cron"));
        assertEquals("pg_stat_statements, \"my lib\"",
                RestoredCluster.withoutSchedulers(" pg_stat_statements , \"pg_cron\",\"my lib\", $libdir/pg_cron.so"));
        assertEquals("auto_explain", RestoredCluster.withoutSchedulers("/usr/lib/postgresql/15/lib/pg_cron.so,auto_explain"));
        assertEquals(null, RestoredCluster.withoutSchedulers("pg_stat_statements, pg_cron_extra, my_pg_cron"));
        assertEquals(null, RestoredCluster.withoutSchedulers(""));
        assertEquals("pg_stat_statements", RestoredCluster.withoutSchedulers("pg_partman_bgw, pg_stat_statements,"
                + " $libdir/pg_partman_bgw.so, pg_cron"));
        assertEquals(null, RestoredCluster.withoutSchedulers("pg_partman, pg_partman_bgw_extra"));
    }

    /**
     * The server canonicalizes each entry's path before it loads it: shared_preload_libraries = 'pg_cron/'
     * ran pg_cron's launcher (PostgreSQL 15, pg_cron 1.4.2), and the sandbox kept it as written.
     */
    @Test
    void pgCronWithATrailingSlashIsPgCron() {
        String[][] preloadAndKept = {
            {"pg_cron/", ""},
            {"auto_explain, \"$libdir/pg_cron.so/.\"", "auto_explain"},
            {"$libdir//pg_cron//, auto_explain", "auto_explain"},
        };
        for (String[] each : preloadAndKept) {
            assertEquals(each[1], RestoredCluster.withoutSchedulers(each[0]), each[0]);
        }
        assertNull(RestoredCluster.withoutSchedulers("pg_cron/x, /"), "a library in a folder named pg_cron is another");
    }

    /**
     * After the sandbox's settings are appended, what the server would read must be them: a data_directory
     * set in the restored postgresql.conf (the server would serve that folder, and read its
     * postgresql.auto.conf instead), a setting in force that is not the sandbox's, or pg_cron preloaded
     * stops the setup with one line.
     */
    @Test
    void aConfigurationTheSandboxCannotOverrideIsRefused() throws Exception {
        Map<String, String> sandbox = RestoredCluster.sandbox(Path.of("/c"), Path.of("/c/data/pg_hba.smoke.conf"));
        Map<String, String> shown = new java.util.HashMap<>(sandbox);
        shown.put("data_directory", "/c/data");
        shown.put("shared_preload_libraries", "pg_stat_statements");
        Path data = Path.of("/c/data");
        assertEquals(null, RestoredCluster.overridden(sandbox, data, shown::get));
        shown.put("data_directory", "/var/lib/postgresql/15/main");
        assertEquals("the restored configuration sets data_directory = '/var/lib/postgresql/15/main': the sandbox"
                + " serves /c/data only", RestoredCluster.overridden(sandbox, data, shown::get));
        shown.put("data_directory", "/c/data");
        shown.put("listen_addresses", "*");
        assertEquals("the restored configuration overrides the sandbox's listen_addresses: postgres -C shows '*',"
                + " the sandbox needs '127.0.0.1'", RestoredCluster.overridden(sandbox, data, shown::get));
        shown.put("listen_addresses", "127.0.0.1");
        shown.put("shared_preload_libraries", "pg_cron");
        assertEquals("the restored configuration preloads a job scheduler (shared_preload_libraries = 'pg_cron'): its"
                + " jobs would run in the sandbox", RestoredCluster.overridden(sandbox, data, shown::get));

        Path restored = restored();
        Files.writeString(restored.resolve("postgresql.conf"), "data_directory = '/var/lib/postgresql/15/main'\n",
                java.nio.file.StandardOpenOption.APPEND);
        Support.refused(1, "the restored configuration sets data_directory = '/var/lib/postgresql/15/main': the"
                + " sandbox serves " + restored + " only", "--mode=restored-setup",
                "--restored-cluster=" + restored.getParent());
    }

    /**
     * A LATIN1 cluster's ALTER SYSTEM writes its values in that encoding (search_path = 'caf\u00e9' as the
     * byte E9): the server reads the file as bytes, and the setup must too. Reading it as UTF-8 to see
     * whether its last line is open failed the setup ("cannot ready the restored data directory …: Input
     * length = 1"), a good backup's restore failing.
     */
    @Test
    void anAutoConfNotInUtf8IsAppendedTo() throws Exception {
        Path data = restored();
        byte[] latin1 = "search_path = 'caf\u00e9'".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        Files.write(data.resolve("postgresql.auto.conf"), latin1);
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + data.getParent());
        assertEquals(0, result.exit(), result.describe());
        byte[] written = Files.readAllBytes(data.resolve("postgresql.auto.conf"));
        assertEquals(new String(latin1, java.nio.charset.StandardCharsets.ISO_8859_1) + "\n"
                + sandboxSettings(data.getParent().toString()),
                new String(written, java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    /** A configuration the server cannot start with is named by postgres -C's FATAL line, not a stack trace. */
    @Test
    void aConfigurationTheServerRefusesIsNamedByItsFatalLine() throws Exception {
        Path data = Files.createDirectories(temp.resolve("refused/data"));
        Files.writeString(data.resolve("postgresql.conf"), "max_connections = lots\n");
        Failure refused = assertThrows(Failure.class,
                () -> RestoredCluster.shown(bindir().resolve("postgres"), data, "shared_preload_libraries"));
        assertEquals("cannot read the restored configuration: postgres -C shared_preload_libraries failed (exit 1):"
                + " FATAL: configuration file \"" + data.resolve("postgresql.conf") + "\" contains errors",
                refused.getMessage());
    }

    /** postgresql.auto.conf as a link (to the live server's?) is not written through; a folder without its marker. */
    @Test
    void aLinkedAutoConfOrAFolderWithoutItsBinariesIsRefused() throws Exception {
        Path data = restored();
        Path live = Files.writeString(temp.resolve("live.auto.conf"), "listen_addresses = '*'\n");
        Files.createSymbolicLink(data.resolve("postgresql.auto.conf"), live);
        Support.refused(1, data.resolve("postgresql.auto.conf") + " is a symbolic link (to " + live
                + "): the sandbox's settings are not written through it", "--mode=restored-setup",
                "--restored-cluster=" + data.getParent());
        assertEquals("listen_addresses = '*'\n", Files.readString(live));
        Path marker = data.getParent().resolve(RestoredCluster.MARKER);
        Files.writeString(marker, temp + "\n");
        Support.refused(1, marker + " names no folder holding the server (postgres): \"" + temp + "\"",
                "--mode=restored-setup", "--restored-cluster=" + data.getParent());
        Files.delete(marker);
        Support.refused(1, "cannot read " + marker + " (the server binaries the restored cluster runs with): no such"
                + " file or directory", "--mode=restored-setup", "--restored-cluster=" + data.getParent());
    }

    @Test
    void aBaseBackupRestoredToATargetReplaysTheArchiveUpToItFirst() throws Exception {
        Path data = restored();
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + data.getParent(),
                "--wal-archive=/w/wal-archive", "--recovery-target=time=2026-12-05 03:00:00.5+00");
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Files.readString(data.resolve("postgresql.auto.conf")).startsWith("# the restore drill's sandbox"
                + " (backupsmoke --mode=restored-setup): these win over every setting above and in postgresql.conf\n"
                + "restore_command = 'cp /w/wal-archive/%f %p'\nrecovery_target_time = '2026-12-05 03:00:00.5+00'\n"
                + "recovery_target_action = 'promote'\nlisten_addresses = '127.0.0.1'\n"));
        assertEquals("", Files.readString(data.resolve("recovery.signal")));
        assertEquals("recovery_target_xid = '742'\n",
                RestoredCluster.recovery("xid=742", Path.of("/w")).lines().skip(1).findFirst().get() + "\n");
        // With its epoch, as pg_current_xact_id() gives it on a cluster past its first wraparound.
        assertEquals("recovery_target_xid = '8589935334'\n",
                RestoredCluster.recovery("xid=8589935334", Path.of("/w")).lines().skip(1).findFirst().get() + "\n");
        assertEquals("--recovery-target=xid must be a transaction id, got '7'42'", assertThrows(Failure.class,
                () -> RestoredCluster.recovery("xid=7'42", Path.of("/w"))).getMessage());
    }

    /**
     * A --recovery-target the server could not be given, or one that would write more than a setting into
     * postgresql.conf, is a usage error of both modes, worded as the SMOKE_RECOVERY_TARGET_* knob's refusal
     * (Knobs.recoveryTargetRefusal): nothing is printed or written.
     */
    @Test
    void aRecoveryTargetTheServerCouldNotTakeIsAUsageErrorOfBothModes() throws Exception {
        Path data = restored();
        String conf = Files.readString(data.resolve("postgresql.conf"));
        Map<String, String> refusals = new java.util.LinkedHashMap<>();
        refusals.put("time=garbage", "--recovery-target=time must be a time with its offset such as"
                + " 2026-12-05 16:30:00+00, got 'garbage'");
        refusals.put("time=2026-02-30 10:00:00+00", "--recovery-target=time is not a valid time, got"
                + " '2026-02-30 10:00:00+00'");
        refusals.put("time=2026-12-05 03:00:00+00'\nrecovery_target_inclusive = 'off", "--recovery-target=time must"
                + " be a time with its offset such as 2026-12-05 16:30:00+00, got '2026-12-05 03:00:00+00'?"
                + "recovery_target_inclusive = 'off'");
        refusals.put("lsn=zz", "--recovery-target=lsn must be an LSN such as 0/3000148, got 'zz'");
        refusals.put("xid=-1", "--recovery-target=xid must be a transaction id, got '-1'");
        refusals.put("xid=18446744073709551616", "--recovery-target=xid must be a transaction id, got"
                + " '18446744073709551616'");
        refusals.put("name=it's", "--recovery-target must be time=VALUE, lsn=VALUE or xid=VALUE, got \"name=it's\"");
        refusals.put("name=a\nb", "--recovery-target must be time=VALUE, lsn=VALUE or xid=VALUE, got \"name=a\\nb\"");
        refusals.put("lsn", "--recovery-target must be time=VALUE, lsn=VALUE or xid=VALUE, got \"lsn\"");
        for (Map.Entry<String, String> refused : refusals.entrySet()) {
            String flag = "--recovery-target=" + refused.getKey();
            assertEquals("", Support.usageError(refused.getValue(), "--mode=restore-command", "--tool=pgbackrest",
                    "--pgdata=/r/data", "--repository=r", flag).out());
            assertEquals("", Support.usageError(refused.getValue(), "--mode=restored-setup",
                    "--restored-cluster=" + data.getParent(), "--wal-archive=/w/wal-archive", flag).out());
        }
        assertEquals(conf, Files.readString(data.resolve("postgresql.conf")));
        assertFalse(Files.exists(data.resolve("postgresql.auto.conf")));
        assertFalse(Files.exists(data.resolve("recovery.signal")));
    }

    @Test
    void aSetupNamesWhatItLacks() {
        var none = Support.tool(Map.of(), "--mode=restored-setup");
        assertEquals("backupsmoke: --mode=restored-setup needs --restored-cluster=DIR\n", none.err());
        var alone = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=/x", "--recovery-target=xid=9");
        assertEquals("backupsmoke: --recovery-target and --wal-archive go together\n", alone.err());
        var auth = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=/x", "--auth=password");
        assertEquals("backupsmoke: --auth must be trust, md5 or scram-sha-256, got \"password\"\n", auth.err());
    }
}
