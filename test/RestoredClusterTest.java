// RestoredCluster (--mode=restore-command, restored-setup): pgBackRest's and
// Barman's restore command lines, and the files a restored data directory
// gets before it is served, in process on folders made here.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestoredClusterTest {
    @TempDir Path temp;

    /** The command line the mode prints, NUL-separated. */
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
        assertEquals(List.of("barman", "recover", "--target-lsn", "0/3000060", "--target-action", "promote", "pg",
                "20261205T030000", "/r/data"), restoreCommand("--tool=barman", "--pgdata=/r/data", "--repository=pg",
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

    /** A restored data directory as a tool leaves it: the source's settings and its postmaster.pid. */
    private Path restored() throws Exception {
        Path data = Files.createDirectories(temp.resolve("pgc.1/data"));
        Files.writeString(data.resolve("postgresql.conf"), "port = 5432\n");
        Files.writeString(data.resolve("postmaster.pid"), "123\n");
        Files.writeString(data.resolve("postmaster.opts"), "postgres\n");
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x"));
        return data;
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
        assertEquals("port = 5432\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '" + cluster + "'\n"
                + "hba_file = '" + data.resolve("pg_hba.smoke.conf") + "'\narchive_mode = off\nhot_standby = on\n"
                + "ssl = off\nlogging_collector = off\nmax_logical_replication_workers = 0\n",
                Files.readString(data.resolve("postgresql.conf")));
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
        assertEquals("listen_addresses = '127.0.0.1'\nunix_socket_directories = '/c'\nhba_file = '/c/data/hba'\n"
                + "archive_mode = off\nhot_standby = on\nssl = off\nlogging_collector = off\n"
                + "max_logical_replication_workers = 0\n",
                RestoredCluster.serving(Path.of("/c"), Path.of("/c/data/hba")));
    }

    @Test
    void aBaseBackupRestoredToATargetReplaysTheArchiveUpToItFirst() throws Exception {
        Path data = restored();
        var result = Support.tool(Map.of(), "--mode=restored-setup", "--restored-cluster=" + data.getParent(),
                "--wal-archive=/w/wal-archive", "--recovery-target=time=2026-12-05 03:00:00.5+00");
        assertEquals(0, result.exit(), result.describe());
        assertTrue(Files.readString(data.resolve("postgresql.conf")).startsWith("port = 5432\n"
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
