// --mode=physical-setup --cluster=DIR --bindir=DIR [--tools=LIST] (SPEC 9.6):
// readies the harness's running throwaway cluster in DIR for physical
// backups, in DIR/physical (made by the harness as the cluster's owner):
// the harness's own WAL archive (wal-archive/), pgBackRest's repository,
// spool, log and lock folders and its pgbackrest.conf (stanza "smoke"),
// Barman's home with its incoming folder and barman.conf, the
// archive_command's script archive-wal.sh, and archiving turned on in
// DIR/data/postgresql.conf. No daemon: pgBackRest archives synchronously
// (archive-push), Barman takes its WAL through its incoming folder. The
// harness then hands the folder to the cluster's owner and restarts it.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

final class PhysicalSetup {
    static final String MODE = "physical-setup";

    private PhysicalSetup() {
    }

    /** The folders and files of the TOOLS (pgbackrest, barman; the WAL archive always), as the mode writes them. */
    static int run(Path cluster, Path bindir, List<String> tools, String owner) throws Failure {
        if (cluster == null || bindir == null) {
            throw new Failure("--mode=" + MODE + " needs --cluster=DIR and --bindir=DIR");
        }
        Path physical = cluster.resolve("physical");
        int port = runningPort(cluster);
        boolean pgbackrest = tools.contains("pgbackrest");
        boolean barman = tools.contains("barman");
        try {
            privateFolders(physical.resolve("wal-archive"));
            if (pgbackrest) {
                Path base = physical.resolve("pgbackrest");
                privateFolders(base.resolve("repo"), base.resolve("spool"), base.resolve("log"), base.resolve("lock"));
                Files.writeString(base.resolve("pgbackrest.conf"), pgbackrestConf(physical, cluster, port));
            }
            if (barman) {
                privateFolders(physical.resolve("barman/home/" + PhysicalEvidence.SERVER + "/incoming"));
                Files.writeString(physical.resolve("barman/barman.conf"), barmanConf(physical, bindir, port, owner));
            }
            Path script = physical.resolve("archive-wal.sh");
            Files.writeString(script, archiveScript(physical, barman));
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
            Files.writeString(cluster.resolve("data/postgresql.conf"), archiving(physical, pgbackrest),
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new Failure("cannot ready " + physical + " for physical backups: " + Failure.reasonAt(e, physical));
        }
        return 0;
    }

    /** The port of the cluster served from CLUSTER: the one its postmaster.pid names. */
    private static int runningPort(Path cluster) throws Failure {
        Path pidFile = cluster.resolve("data/postmaster.pid");
        try {
            return PhysicalModes.port(RunRecord.readText(pidFile));
        } catch (Failure noPort) { // that line speaks of a restored server; this one is the source
            throw new Failure("--cluster " + cluster + " has no running server: " + pidFile + " names no port");
        }
    }

    private static void privateFolders(Path... folders) throws IOException {
        for (Path folder : folders) {
            Files.createDirectories(folder);
            for (Path made = folder; made.getParent() != null && !made.getFileName().toString().equals("physical");
                    made = made.getParent()) {
                Files.setPosixFilePermissions(made, PosixFilePermissions.fromString("rwx------"));
            }
        }
    }

    static String pgbackrestConf(Path physical, Path cluster, int port) {
        Path base = physical.resolve("pgbackrest");
        return """
                [global]
                repo1-path=%s/repo
                repo1-retention-full=1
                spool-path=%s/spool
                log-path=%s/log
                lock-path=%s/lock
                log-level-console=warn
                log-level-file=detail
                start-fast=y
                compress-type=none

                [%s]
                pg1-path=%s/data
                pg1-port=%d
                pg1-socket-path=%s
                pg1-user=postgres
                """.formatted(base, base, base, base, PhysicalEvidence.SERVER, cluster, port, cluster);
    }

    /** OWNER: who runs barman (the cluster's owner when the harness runs as root). */
    static String barmanConf(Path physical, Path bindir, int port, String owner) {
        Path base = physical.resolve("barman");
        return """
                [barman]
                barman_user = %s
                barman_home = %s/home
                log_file = %s/barman.log
                log_level = INFO
                path_prefix = %s

                [%s]
                description = BackupSmoke throwaway cluster
                conninfo = host=127.0.0.1 port=%d user=postgres dbname=postgres
                streaming_conninfo = host=127.0.0.1 port=%d user=postgres
                backup_method = postgres
                archiver = on
                streaming_archiver = off
                """.formatted(owner, base, base, bindir, PhysicalEvidence.SERVER, port, port);
    }

    /**
     * archive_command's script (%p %f): a WAL file into the harness's archive
     * and Barman's incoming folder, under a temporary name first, so no
     * reader sees half a segment.
     */
    static String archiveScript(Path physical, boolean barman) {
        StringBuilder script = new StringBuilder("""
                #!/bin/sh
                # archive_command of the BackupSmoke throwaway cluster: %p %f
                set -e
                copy() { test -f "$2/$1" || { cp "$3" "$2/.$1.part" && mv "$2/.$1.part" "$2/$1"; }; }
                """);
        script.append("copy \"$2\" ").append(shellQuoted(physical.resolve("wal-archive").toString())).append(" \"$1\"\n");
        if (barman) {
            script.append("copy \"$2\" ").append(shellQuoted(physical.resolve("barman/home/" + PhysicalEvidence.SERVER
                    + "/incoming").toString())).append(" \"$1\"\n");
        }
        return script.toString();
    }

    /** The settings appended to postgresql.conf; pgBackRest first: its check insists on seeing itself there. */
    static String archiving(Path physical, boolean pgbackrest) {
        String command = (pgbackrest ? "pgbackrest --config=" + physical.resolve("pgbackrest/pgbackrest.conf")
                + " --stanza=" + PhysicalEvidence.SERVER + " archive-push %p && " : "")
                + physical.resolve("archive-wal.sh") + " %p %f";
        return "archive_mode = on\narchive_command = " + confString(command) + "\n";
    }

    static String confString(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    static String shellQuoted(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
