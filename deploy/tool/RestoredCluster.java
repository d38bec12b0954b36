// How the harness makes a restored cluster of a physical backup (SPEC 7,
// 9.6), asked by smoke-physical.sh; the two modes share one class of
// options, of which both read only --recovery-target (FLAGS).
//   --mode=restore-command --tool=pgbackrest|barman --pgdata=DIR
//     --repository=NAME [--backup-set=SET] [--tool-config=FILE]
//     [--recovery-target=KIND=VALUE]: the tool's restore command line,
//     NUL-separated on stdout: backup SET (default latest) of the stanza or
//     server NAME into DIR, to the end of the backup or to the target, then
//     promoted (pgBackRest without archiving on the restored cluster, and
//     saying which backup set it restored).
//   --mode=restored-setup --restored-cluster=DIR [--auth=METHOD]
//     [--recovery-target=KIND=VALUE --wal-archive=DIR]: readies the
//     restored data directory DIR/data to be served as a private copy on
//     127.0.0.1 (smoke-physical.sh then hands it to the server user and
//     starts it). With a recovery target (a base backup restored to the
//     PITR target): the settings that replay the WAL archive up to it and
//     promote, and recovery.signal. Always: a pg_hba file of its own (trust
//     on the socket, METHOD on the loopback: md5 when the copy keeps the
//     source's passwords), its own socket folder, no archiving (it must not
//     write into the source's archives), no logical replication worker (a
//     subscription must not consume the live publisher's slot), no SSL or
//     log collector, appended
//     last so they win; mode 0700, and no postmaster.pid or postmaster.opts
//     of the server it was copied from.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

final class RestoredCluster {
    static final String SETUP = "restored-setup";
    static final String COMMAND = "restore-command";
    static final List<String> MODES = List.of(SETUP, COMMAND);

    /** Which of the two modes read which of the Options (FlagReaders); other modes refuse it (exit 2). */
    static final List<ModeFlags> FLAGS = List.of(
            ModeFlags.namedFor(List.of(SETUP), "--restored-cluster", "--auth", "--wal-archive"),
            ModeFlags.namedFor(List.of(SETUP, COMMAND), "--recovery-target"),
            ModeFlags.namedFor(List.of(COMMAND), "--tool", "--pgdata", "--repository", "--backup-set",
                    "--tool-config"));

    static final String HBA_FILE = "pg_hba.smoke.conf";
    private static final Pattern AUTH = Pattern.compile("trust|md5|scram-sha-256");

    private RestoredCluster() {
    }

    /** The modes' options (picocli mixin); FLAGS says which mode reads which. */
    static final class Options {
        @Option(names = "--restored-cluster", paramLabel = "DIR")
        Path cluster;

        @Option(names = "--auth", paramLabel = "METHOD", defaultValue = "trust")
        String auth;

        @Option(names = "--recovery-target", paramLabel = "KIND=VALUE")
        String recoveryTarget;

        @Option(names = "--wal-archive", paramLabel = "DIR")
        Path walArchive;

        @Option(names = "--tool", paramLabel = "NAME")
        String tool;

        @Option(names = "--pgdata", paramLabel = "DIR")
        Path pgdata;

        @Option(names = "--repository", paramLabel = "NAME")
        String repository;

        @Option(names = "--backup-set", paramLabel = "SET", defaultValue = "latest")
        String backupSet;

        @Option(names = "--tool-config", paramLabel = "FILE")
        Path toolConfig;
    }

    /** --mode=restore-command: the restore command line, NUL-separated words on OUT. */
    static int printCommand(Options options, PrintStream out) throws Failure {
        for (String word : restoreCommand(options)) {
            out.print(word + "\0");
        }
        out.flush();
        return 0;
    }

    /** pgBackRest's or Barman's restore, as the options describe it. */
    static List<String> restoreCommand(Options options) throws Failure {
        if (options.tool == null || options.pgdata == null || options.repository == null) {
            throw new Failure("--mode=" + COMMAND + " needs --tool=NAME, --pgdata=DIR and --repository=NAME");
        }
        String[] target = options.recoveryTarget == null ? null : target(options.recoveryTarget);
        List<String> argv = new ArrayList<>();
        switch (options.tool) {
            case "pgbackrest" -> {
                argv.add("pgbackrest");
                if (options.toolConfig != null) {
                    argv.add("--config=" + options.toolConfig);
                }
                argv.addAll(List.of("--stanza=" + options.repository, "--pg1-path=" + options.pgdata));
                if (!"latest".equals(options.backupSet)) {
                    argv.add("--set=" + options.backupSet);
                }
                argv.addAll(target == null ? List.of("--type=immediate")
                        : List.of("--type=" + target[0], "--target=" + target[1]));
                // info: its output names the backup set it restored (RestoreOutput), "latest" or not.
                argv.addAll(List.of("--target-action=promote", "--archive-mode=off", "--log-level-console=info",
                        "restore"));
            }
            case "barman" -> {
                argv.add("barman");
                if (options.toolConfig != null) {
                    argv.addAll(List.of("-c", options.toolConfig.toString()));
                }
                argv.add("recover");
                argv.addAll(target == null ? List.of("--target-immediate") : List.of("--target-" + target[0], target[1]));
                argv.addAll(List.of("--target-action", "promote", options.repository, options.backupSet,
                        options.pgdata.toString()));
            }
            default -> throw new Failure("--tool must be pgbackrest or barman, got " + Failure.quoted(options.tool));
        }
        return argv;
    }

    /** --mode=restored-setup: DIR/data readied to be served as a private copy (the header says how). */
    static int setup(Options options) throws Failure {
        if (options.cluster == null) {
            throw new Failure("--mode=" + SETUP + " needs --restored-cluster=DIR");
        }
        if ((options.recoveryTarget == null) != (options.walArchive == null)) {
            throw new Failure("--recovery-target and --wal-archive go together");
        }
        if (!AUTH.matcher(options.auth).matches()) {
            throw new Failure("--auth must be trust, md5 or scram-sha-256, got " + Failure.quoted(options.auth));
        }
        Path data = options.cluster.resolve("data");
        String settings = (options.recoveryTarget == null ? "" : recovery(options.recoveryTarget, options.walArchive))
                + serving(options.cluster, data.resolve(HBA_FILE));
        try {
            if (options.recoveryTarget != null) {
                Files.writeString(data.resolve("recovery.signal"), "");
            }
            Files.writeString(data.resolve(HBA_FILE), hba(options.auth));
            Files.writeString(data.resolve("postgresql.conf"), settings, StandardOpenOption.APPEND);
            Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwx------"));
            Files.deleteIfExists(data.resolve("postmaster.pid"));
            Files.deleteIfExists(data.resolve("postmaster.opts"));
        } catch (IOException e) {
            throw new Failure("cannot ready the restored data directory " + data + ": " + Failure.reasonAt(e, data));
        }
        return 0;
    }

    /** Replay of WAL_ARCHIVE up to TARGET (KIND=VALUE), then promotion. */
    static String recovery(String target, Path walArchive) throws Failure {
        String[] kindAndValue = target(target);
        return "restore_command = " + PhysicalSetup.confString("cp " + walArchive + "/%f %p") + "\nrecovery_target_"
                + kindAndValue[0] + " = " + PhysicalSetup.confString(kindAndValue[1])
                + "\nrecovery_target_action = 'promote'\n";
    }

    /** KIND=VALUE as its kind (time, lsn or xid) and its value; one targetRefusal refuses is a Failure. */
    static String[] target(String target) throws Failure {
        String refusal = targetRefusal(target);
        if (refusal != null) {
            throw new Failure(refusal);
        }
        int equals = target.indexOf('=');
        return new String[] {target.substring(0, equals), target.substring(equals + 1)};
    }

    /**
     * Why --recovery-target=TARGET is no KIND=VALUE the server can be given, in one line (the command line's
     * usage error, exit 2); null when it is one. The value's rule is the SMOKE_RECOVERY_TARGET_* knobs' own.
     */
    static String targetRefusal(String target) {
        int equals = target.indexOf('=');
        String kind = equals < 0 ? "" : target.substring(0, equals);
        if (!Knobs.PITR_TARGETS.contains(kind)) {
            return "--recovery-target must be time=VALUE, lsn=VALUE or xid=VALUE, got " + Failure.quoted(target);
        }
        return Knobs.recoveryTargetRefusal("--recovery-target=" + kind, kind, target.substring(equals + 1));
    }

    static String hba(String auth) {
        return "local all all trust\nhost all all 127.0.0.1/32 " + auth + "\n";
    }

    static String serving(Path cluster, Path hbaFile) {
        return "listen_addresses = '127.0.0.1'\nunix_socket_directories = " + PhysicalSetup.confString(cluster.toString())
                + "\nhba_file = " + PhysicalSetup.confString(hbaFile.toString())
                + "\narchive_mode = off\nhot_standby = on\nssl = off\nlogging_collector = off\n"
                // No subscription's apply worker: it would take the live subscriber's rows from the publisher's slot.
                + "max_logical_replication_workers = 0\n";
    }
}
