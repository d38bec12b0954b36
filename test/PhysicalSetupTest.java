// What --mode=physical-setup writes for the throwaway cluster's physical
// backups (PhysicalSetup), in process, no server: exact text and modes.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PhysicalSetupTest {
    @TempDir Path temp;

    @Test
    void pgBackRestAndBarmanAreConfiguredInTheClustersOwnFolder() {
        Path cluster = Path.of("/t/pgc.1");
        Path physical = cluster.resolve("physical");
        assertEquals("""
                [global]
                repo1-path=/t/pgc.1/physical/pgbackrest/repo
                repo1-retention-full=1
                spool-path=/t/pgc.1/physical/pgbackrest/spool
                log-path=/t/pgc.1/physical/pgbackrest/log
                lock-path=/t/pgc.1/physical/pgbackrest/lock
                log-level-console=warn
                log-level-file=detail
                start-fast=y
                compress-type=none

                [smoke]
                pg1-path=/t/pgc.1/data
                pg1-port=5433
                pg1-socket-path=/t/pgc.1
                pg1-user=postgres
                """, PhysicalSetup.pgbackrestConf(physical, cluster, 5433));
        assertEquals("""
                [barman]
                barman_user = postgres
                barman_home = /t/pgc.1/physical/barman/home
                log_file = /t/pgc.1/physical/barman/barman.log
                log_level = INFO
                path_prefix = /usr/lib/postgresql/15/bin

                [smoke]
                description = BackupSmoke throwaway cluster
                conninfo = host=127.0.0.1 port=5433 user=postgres dbname=postgres
                streaming_conninfo = host=127.0.0.1 port=5433 user=postgres
                backup_method = postgres
                archiver = on
                streaming_archiver = off
                """, PhysicalSetup.barmanConf(physical, Path.of("/usr/lib/postgresql/15/bin"), 5433, "postgres"));
    }

    @Test
    void theArchiveCommandFeedsPgBackRestFirstThenTheScript() {
        Path physical = Path.of("/t/it's/physical");
        assertEquals("""
                #!/bin/sh
                # archive_command of the BackupSmoke throwaway cluster: %p %f
                set -e
                copy() { test -f "$2/$1" || { cp "$3" "$2/.$1.part" && mv "$2/.$1.part" "$2/$1"; }; }
                copy "$2" '/t/it'\\''s/physical/wal-archive' "$1"
                copy "$2" '/t/it'\\''s/physical/barman/home/smoke/incoming' "$1"
                """, PhysicalSetup.archiveScript(physical, true));
        assertEquals("archive_mode = on\narchive_command = 'pgbackrest --config=/t/it''s/physical/pgbackrest/pgbackrest.conf"
                + " --stanza=smoke archive-push %p && /t/it''s/physical/archive-wal.sh %p %f'\n",
                PhysicalSetup.archiving(physical, true));
        assertEquals("archive_mode = on\narchive_command = '/t/it''s/physical/archive-wal.sh %p %f'\n",
                PhysicalSetup.archiving(physical, false));
    }

    @Test
    void theModeWritesPrivateFoldersTheScriptAndTheSettings() throws Exception {
        Path cluster = temp.resolve("pgc.2");
        Files.createDirectories(cluster.resolve("data"));
        Files.createDirectories(cluster.resolve("physical"));
        Support.write(cluster.resolve("data/postmaster.pid"), "4242\n" + cluster + "/data\n1700000000\n5433\n");
        Support.write(cluster.resolve("data/postgresql.conf"), "port = 5432\n");
        var result = Support.tool("--mode=physical-setup", "--cluster=" + cluster, "--bindir=/usr/bin", "--tools=barman");
        assertEquals(0, result.exit(), result.describe());
        Path physical = cluster.resolve("physical");
        assertEquals("port = 5432\n" + PhysicalSetup.archiving(physical, false),
                Files.readString(cluster.resolve("data/postgresql.conf")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(physical.resolve("archive-wal.sh"))));
        for (String folder : new String[] {"wal-archive", "barman", "barman/home", "barman/home/smoke/incoming"}) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(physical.resolve(folder))),
                    folder);
        }
        assertEquals(PhysicalSetup.archiveScript(physical, true), Files.readString(physical.resolve("archive-wal.sh")));
        assertFalse(Files.exists(physical.resolve("pgbackrest")));
        var missing = Support.tool("--mode=physical-setup", "--cluster=" + cluster);
        assertEquals("backupsmoke: --mode=physical-setup needs --cluster=DIR and --bindir=DIR\n", missing.err());
    }
}
