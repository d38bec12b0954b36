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
//     starts it with the binaries DIR/.pgc-cluster names). With a recovery
//     target (a base backup restored to the PITR target): the settings that
//     replay the WAL archive up to it and promote, and recovery.signal.
//     Always: a pg_hba file of its own (trust on the socket, METHOD on the
//     loopback: md5 when the copy keeps the source's passwords), its own
//     socket folder, no archiving (it must not write into the source's
//     archives), no logical replication worker (a subscription must not
//     consume the live publisher's slot), no streaming from a primary, no
//     SSL, log collector or external pid file, and no job scheduler
//     preloaded: pg_cron (its jobs would run in the copy, on the servers
//     they name: the live one) and pg_partman_bgw (its maintenance, run
//     at start, would drop and create partitions in the copy).
//     These go last into postgresql.auto.conf, which the server reads after
//     postgresql.conf and its includes, so whatever the backup's ALTER
//     SYSTEM settings say, the sandbox's win; then `postgres -C` (which
//     starts no server) must show each of them in force, and the data
//     directory the server would serve to be DIR/data, or the setup fails.
//     Mode 0700, and no postmaster.pid or postmaster.opts of the server it
//     was copied from. A data directory without postgresql.conf (Debian's
//     and Ubuntu's are in /etc) gets one that sets nothing, and the settings
//     recovery needs at least at pg_control's values are raised to them
//     (RestoredDefaults), each said in a note on stderr.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
    /** The harness's marker in a cluster folder (pg-cluster.sh): the server binaries the cluster runs with. */
    static final String MARKER = ".pgc-cluster";
    static final String AUTO_CONF = "postgresql.auto.conf";
    /** The libraries that would run the backup's scheduled jobs in the copy. */
    static final List<String> SCHEDULERS = List.of("pg_cron", "pg_partman_bgw");
    private static final Duration SHOW_LIMIT = Duration.ofSeconds(30);
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
                // --target-tli latest: else Barman copies only the backup's timeline's WAL (and every history
                // file), PostgreSQL heads for the latest timeline, misses its segments and replays the older
                // timeline's in their place, past the fork: a branch a failover or a restore abandoned.
                argv.addAll(target == null ? List.of("--target-immediate")
                        : List.of("--target-" + target[0], target[1], "--target-tli", "latest"));
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
        Path data = options.cluster.resolve("data").toAbsolutePath().normalize();
        String recovery = options.recoveryTarget == null ? "" : recovery(options.recoveryTarget, options.walArchive);
        String confNote;
        try {
            if (options.recoveryTarget != null) {
                Files.writeString(data.resolve("recovery.signal"), "");
            }
            Files.writeString(data.resolve(HBA_FILE), hba(options.auth));
            Files.deleteIfExists(data.resolve("postmaster.pid"));
            Files.deleteIfExists(data.resolve("postmaster.opts"));
            confNote = RestoredDefaults.writeConfWhenMissing(data);
        } catch (IOException e) {
            throw new Failure("cannot ready the restored data directory " + data + ": " + Failure.reasonAt(e, data));
        }
        note(confNote);
        Path bindir = binaries(options.cluster);
        Shown shown = name -> shown(bindir.resolve("postgres"), data, name);
        Map<String, String> sandbox = sandbox(options.cluster.toAbsolutePath().normalize(), data.resolve(HBA_FILE));
        String preload = withoutSchedulers(shown.of("shared_preload_libraries"));
        if (preload != null) {
            sandbox.put("shared_preload_libraries", preload);
        }
        note(RestoredDefaults.raiseToRecorded(bindir, data, sandbox, shown));
        try {
            appendLast(data.resolve(AUTO_CONF), settings(recovery, sandbox));
            Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new Failure("cannot ready the restored data directory " + data + ": " + Failure.reasonAt(e, data));
        }
        String refusal = overridden(sandbox, data, shown);
        if (refusal != null) {
            throw new Failure(refusal);
        }
        return 0;
    }

    /** NOTE, when there is one, on stderr: what the setup supplied that the restore lacked. */
    private static void note(String note) {
        if (note != null) {
            System.err.println(FailureReport.PREFIX + "note: " + note);
        }
    }

    /** The server binaries the harness starts the cluster in CLUSTER with: the folder its marker names. */
    static Path binaries(Path cluster) throws Failure {
        Path marker = cluster.resolve(MARKER);
        String named;
        try {
            named = Files.readString(marker).strip();
        } catch (IOException e) {
            throw new Failure("cannot read " + marker + " (the server binaries the restored cluster runs with): "
                    + Failure.reasonAt(e, marker));
        }
        if (named.isEmpty() || !Files.isExecutable(Path.of(named, "postgres"))) {
            throw new Failure(marker + " names no folder holding the server (postgres): " + Failure.quoted(named));
        }
        return Path.of(named);
    }

    /**
     * TEXT appended to FILE, created when missing, on a line of its own (after a last line the file leaves
     * open); never through a symbolic link, which could name the live server's file.
     */
    static void appendLast(Path file, String text) throws IOException, Failure {
        if (Files.isSymbolicLink(file)) {
            throw new Failure(file + " is a symbolic link (to " + Files.readSymbolicLink(file)
                    + "): the sandbox's settings are not written through it");
        }
        String before = "";
        if (Files.exists(file)) {
            // Bytes, not text: the server reads the file as bytes, and ALTER SYSTEM writes a LATIN1 cluster's
            // values in LATIN1 (not UTF-8 text, which Files.readString refuses).
            byte[] held = Files.readAllBytes(file);
            before = held.length == 0 || held[held.length - 1] == '\n' ? "" : "\n";
        }
        Files.writeString(file, before + text, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                LinkOption.NOFOLLOW_LINKS);
    }

    /** What `postgres -C NAME -D DATA` says NAME is in DATA's configuration (no server starts). */
    static String shown(Path postgres, Path data, String name) throws Failure {
        // -C first: only then may root run it (the harness as root runs this before handing DATA over).
        List<String> command = List.of(postgres.toString(), "-C", name, "-D", data.toString());
        Program.Outcome outcome = new Program("postgres -C " + name, command).within(SHOW_LIMIT).in(data).run();
        if (outcome.status() != 0) {
            // Again for what it says, on stderr: its last FATAL line, else its last line (a step's reason).
            String said = PhysicalModes.lastSaid(new Program("postgres -C " + name, command)
                    .errors(Program.Errors.MERGED).within(SHOW_LIMIT).in(data).run().text());
            throw new Failure("cannot read the restored configuration: postgres -C " + name + " failed (exit "
                    + outcome.status() + ")" + (said == null ? "" : ": " + said));
        }
        return outcome.text().strip();
    }

    /** How a setting's value is asked for (postgres -C). */
    interface Shown {
        String of(String name) throws Failure;
    }

    /**
     * Why the configuration of DATA, as SHOWN answers, does not serve the sandbox (one line): a setting of
     * SANDBOX not in force, a preloaded scheduler, or another data directory; null when it serves it.
     */
    static String overridden(Map<String, String> sandbox, Path data, Shown shown) throws Failure {
        String directory = shown.of("data_directory");
        if (!directory.equals(data.toString())) {
            return "the restored configuration sets data_directory = " + PhysicalSetup.confString(directory)
                    + ": the sandbox serves " + data + " only";
        }
        for (Map.Entry<String, String> setting : sandbox.entrySet()) {
            String value = shown.of(setting.getKey());
            if (!value.equals(setting.getValue())) {
                return "the restored configuration overrides the sandbox's " + setting.getKey() + ": postgres -C shows "
                        + PhysicalSetup.confString(value) + ", the sandbox needs "
                        + PhysicalSetup.confString(setting.getValue());
            }
        }
        if (!sandbox.containsKey("shared_preload_libraries")) {
            String preload = shown.of("shared_preload_libraries");
            if (withoutSchedulers(preload) != null) {
                return "the restored configuration preloads a job scheduler (shared_preload_libraries = "
                        + PhysicalSetup.confString(preload) + "): its jobs would run in the sandbox";
            }
        }
        return null;
    }

    /**
     * The list of libraries PRELOAD (shared_preload_libraries as the server reads it: comma-separated,
     * blanks around an entry, an entry possibly in double quotes) without its entries naming a scheduler
     * (pg_cron, $libdir/pg_cron, pg_cron.so, a path to it; likewise pg_partman_bgw), the others as
     * written; null when it names none.
     */
    static String withoutSchedulers(String preload) {
        List<String> kept = new ArrayList<>();
        boolean removed = false;
        for (String entry : entries(preload)) {
            String file = entry.startsWith("\"") && entry.endsWith("\"") && entry.length() > 1
                    ? entry.substring(1, entry.length() - 1).replace("\"\"", "\"") : entry;
            // The server canonicalizes the path first: 'pg_cron/' and 'pg_cron/.' load pg_cron as well.
            file = file.replaceFirst("(/\\.?)+$", "");
            file = file.substring(file.lastIndexOf('/') + 1);
            if (SCHEDULERS.contains(file.replaceFirst("\\.so$", ""))) {
                removed = true;
            } else {
                kept.add(entry);
            }
        }
        return removed ? String.join(", ", kept) : null;
    }

    /** PRELOAD's entries, trimmed, split at the commas outside double quotes; no empty one. */
    private static List<String> entries(String preload) {
        List<String> entries = new ArrayList<>();
        StringBuilder entry = new StringBuilder();
        boolean quoted = false;
        for (char c : (preload + ",").toCharArray()) {
            if (c == ',' && !quoted) {
                if (!entry.toString().isBlank()) {
                    entries.add(entry.toString().strip());
                }
                entry.setLength(0);
                continue;
            }
            quoted ^= c == '"';
            entry.append(c);
        }
        return entries;
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

    /**
     * The sandbox's own settings, as `postgres -C` shows them in force: whatever the restored configuration
     * says, the copy serves its own folder and loopback only, archives nothing (the source's archives are
     * not its to write), runs no subscription's apply worker (it would take the live subscriber's rows from
     * the publisher's slot) and streams from no primary (nor takes its slot), writes its external pid file in
     * its own folder, not the source's (it may be the live server's, on this host; an empty name makes the
     * server complain at each start), no SSL or log collector.
     */
    static Map<String, String> sandbox(Path cluster, Path hbaFile) {
        return new LinkedHashMap<>(ConnectionTarget.orderedMap("listen_addresses", "127.0.0.1",
                "unix_socket_directories", cluster.toString(), "hba_file", hbaFile.toString(), "archive_mode", "off",
                "hot_standby", "on", "ssl", "off", "logging_collector", "off", "max_logical_replication_workers", "0",
                "primary_conninfo", "", "primary_slot_name", "", "external_pid_file",
                cluster.resolve("external.pid").toString()));
    }

    /** RECOVERY (lines) and SANDBOX as lines of a configuration file, under a line saying whose they are. */
    static String settings(String recovery, Map<String, String> sandbox) {
        StringBuilder text = new StringBuilder("# the restore drill's sandbox (backupsmoke --mode=" + SETUP
                + "): these win over every setting above and in postgresql.conf\n").append(recovery);
        sandbox.forEach((name, value) -> text.append(name).append(" = ").append(PhysicalSetup.confString(value))
                .append('\n'));
        return text.toString();
    }
}
