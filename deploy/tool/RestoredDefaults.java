// What a restored data directory may lack that its server needs to recover
// as the drill's sandbox (--mode=restored-setup, SPEC 7; RestoredCluster):
// - a postgresql.conf. A Debian or Ubuntu cluster (pg_createcluster) keeps
//   it, pg_hba.conf and pg_ident.conf in /etc/postgresql/MAJOR/NAME, outside
//   the data directory that pgBackRest and Barman back up; without one the
//   server does not start, nor does `postgres -C` answer ("could not access
//   the server configuration file"). The sandbox writes one that sets
//   nothing: the server's defaults apply, under the backup's ALTER SYSTEM
//   settings and the sandbox's own in postgresql.auto.conf. pg_ident.conf
//   stays missing: the sandbox's hba file maps no user name, and the server
//   only logs that it cannot open it.
// - the settings that recovery with hot_standby = on needs at least as high
//   as the primary had them, which pg_control records (pg_controldata's
//   "max_connections setting" …): a live max_connections = 300 in /etc,
//   left behind with its postgresql.conf, leaves the copy at the default 100,
//   and its recovery aborts ("recovery aborted because of insufficient
//   parameter settings"). Those lower in the restored configuration than in
//   pg_control join the sandbox's settings, at pg_control's values.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class RestoredDefaults {
    static final String CONF = "postgresql.conf";
    /** What the written postgresql.conf holds: comments only. */
    static final String CONF_TEXT = "# Written by the restore drill's sandbox (backupsmoke --mode=restored-setup): the"
            + " restored data directory\n# held no postgresql.conf (a Debian or Ubuntu cluster keeps it in"
            + " /etc/postgresql/MAJOR/NAME,\n# which the backup does not hold). It sets nothing: the server's defaults"
            + " apply, under\n# the backup's ALTER SYSTEM settings and the sandbox's own in postgresql.auto.conf.\n";
    /** pg_controldata's name of each setting recovery needs at least as high as the primary's, and the setting. */
    static final Map<String, String> RECORDED = recordedNames();
    private static final Duration CONTROLDATA_LIMIT = Duration.ofSeconds(30);

    private RestoredDefaults() {
    }

    private static Map<String, String> recordedNames() {
        Map<String, String> names = new LinkedHashMap<>();
        names.put("max_connections setting", "max_connections");
        names.put("max_worker_processes setting", "max_worker_processes");
        names.put("max_wal_senders setting", "max_wal_senders");
        names.put("max_prepared_xacts setting", "max_prepared_transactions");
        names.put("max_locks_per_xact setting", "max_locks_per_transaction");
        return names;
    }

    /**
     * DATA's postgresql.conf, written (CONF_TEXT) when DATA has none, nor anything else of that name (a link is
     * not followed); the note saying so, or null when one was there.
     */
    static String writeConfWhenMissing(Path data) throws IOException {
        Path conf = data.resolve(CONF);
        if (Files.exists(conf, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Files.writeString(conf, CONF_TEXT, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return "the restored data directory holds no " + CONF + " (a Debian or Ubuntu cluster keeps it in"
                + " /etc/postgresql/MAJOR/NAME, outside the backup): the sandbox wrote " + conf
                + ", which sets nothing, so the server's defaults apply";
    }

    /**
     * pg_controldata of DATA, as the server binaries in BINDIR print it in English; null when DATA has no
     * global/pg_control (the server's start says why it cannot run).
     */
    static String controldata(Path bindir, Path data) throws Failure {
        if (!Files.exists(data.resolve("global/pg_control"))) {
            return null;
        }
        List<String> command = List.of(bindir.resolve("pg_controldata").toString(), data.toString());
        Program.Outcome outcome = new Program("pg_controldata", command).errors(Program.Errors.MERGED)
                .environment(Map.of("LC_ALL", "C")).within(CONTROLDATA_LIMIT).in(data).run();
        if (outcome.status() != 0) {
            String said = PhysicalModes.lastSaid(outcome.text());
            throw new Failure("cannot read the restored control file: pg_controldata failed (exit " + outcome.status()
                    + ")" + (said == null ? "" : ": " + said));
        }
        return outcome.text();
    }

    /** The RECORDED settings in CONTROLDATA (pg_controldata's output), by the server's names; a missing one fails. */
    static Map<String, Long> recorded(String controldata) throws Failure {
        Map<String, Long> values = new LinkedHashMap<>();
        for (Map.Entry<String, String> name : RECORDED.entrySet()) {
            Matcher line = Pattern.compile("(?m)^" + Pattern.quote(name.getKey()) + ": *(\\d+)$").matcher(controldata);
            if (!line.find()) {
                throw new Failure("cannot read the restored control file: pg_controldata names no "
                        + Failure.quoted(name.getKey()));
            }
            values.put(name.getValue(), Long.parseLong(line.group(1)));
        }
        return values;
    }

    /** A setting recovery needs higher than the restored configuration has it: SHOWN, pg_control's RECORDED. */
    record Raise(String name, String shown, String recorded) {
    }

    /**
     * The RECORDED settings of DATA's pg_control (read with BINDIR's pg_controldata) that SHOWN has in force
     * below their value join SANDBOX at that value, for its recovery to go on; the note saying so, or null when
     * none is lower (or DATA has no pg_control).
     */
    static String raiseToRecorded(Path bindir, Path data, Map<String, String> sandbox, RestoredCluster.Shown shown)
            throws Failure {
        String controldata = controldata(bindir, data);
        if (controldata == null) {
            return null;
        }
        List<Raise> raised = raised(recorded(controldata), shown);
        raised.forEach(raise -> sandbox.put(raise.name(), raise.recorded()));
        return raised.isEmpty() ? null : note(raised);
    }

    /** Of RECORDED (setting: pg_control's value), those SHOWN in force below their value. */
    static List<Raise> raised(Map<String, Long> recorded, RestoredCluster.Shown shown) throws Failure {
        List<Raise> raised = new ArrayList<>();
        for (Map.Entry<String, Long> setting : recorded.entrySet()) {
            String value = shown.of(setting.getKey());
            if (!value.matches("\\d{1,18}")) {
                throw new Failure("cannot read the restored configuration: postgres -C " + setting.getKey()
                        + " shows " + PhysicalSetup.confString(value));
            }
            if (Long.parseLong(value) < setting.getValue()) {
                raised.add(new Raise(setting.getKey(), value, setting.getValue().toString()));
            }
        }
        return raised;
    }

    /** The note saying which settings the sandbox raises, from what to what. */
    static String note(List<Raise> raised) {
        List<String> each = raised.stream().map(raise -> raise.name() + " from " + raise.shown() + " to "
                + raise.recorded()).toList();
        return "the sandbox raises " + String.join(", ", each) + ": recovery with hot_standby needs at least the"
                + " values pg_control records, which the restored configuration sets lower";
    }
}
