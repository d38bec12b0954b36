// Which backup a restore tool says it restored (SPEC 9.10, drill-verify's
// --restore-log): the drill keeps the output of pgBackRest's or Barman's
// restore, and each names there the backup it resolved the set asked for
// (latest, Barman's other shortcuts, a name) to, before restoring it:
//   pgBackRest, at --log-level-console=info (the restore command the tool
//   builds asks for it; RestoredCluster):
//     2026-12-07 03:08:07.548 P00   INFO: repo1: restore backup set 20261207-030759F_20261207-030802I, recovery will start at 2026-12-07 03:08:02
//   Barman:
//     Starting local restore for server main using backup 20261207T030900
// Not the restored data directory, which does not name it for every
// backup: pgBackRest 2.45 removes the backup.manifest it writes there when
// the restore ends, and the backup_label of a Barman backup taken with
// pg_basebackup (backup_method = postgres) says "LABEL: pg_basebackup base
// backup". Nor the repository asked again afterwards: a backup taken since
// would be "latest" by then.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class RestoreOutput {
    /** pgBackRest's backup label: a full backup's, or a differential's or incremental's after its full's. */
    private static final Pattern PGBACKREST = Pattern.compile(
            "\\bINFO: (?:repo[0-9]+: )?restore backup set ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)\\b");
    /** Barman's backup id: the time the backup began. */
    private static final Pattern BARMAN = Pattern.compile(
            "(?m)^Starting (?:local|remote) restore for server \\S+ using backup ([0-9]{8}T[0-9]{6})$");

    private RestoreOutput() {
    }

    /** The backup the restore's output in LOG names, or null; any bytes (a tool may print a path in any encoding). */
    static String backupId(Path log) throws Failure {
        try {
            return backupId(new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            throw new Failure("cannot read --restore-log " + log + ": " + Failure.reason(e));
        }
    }

    /** The backup OUTPUT says was restored, or null when it names none (a restore that failed before choosing one). */
    static String backupId(String output) {
        String id = lastMatch(PGBACKREST, output);
        return id != null ? id : lastMatch(BARMAN, output);
    }

    /** The last: the harness appends each restore's output to the log. */
    private static String lastMatch(Pattern pattern, String text) {
        String last = null;
        Matcher match = pattern.matcher(text);
        while (match.find()) {
            last = match.group(1);
        }
        return last;
    }
}
