// The harness's knobs (SMOKE_* and the PG* it reads), parsed once, here,
// before the harness uses any of them: numbers are decimal digits before
// any arithmetic sees them, names are one of a list, and a bad value stops
// the run with one line naming the variable. The harness reads the answer
// (--mode=knobs) as NUL-separated NAME=VALUE entries with `read`; nothing
// of it is ever evaluated by the shell.
//
// Not validated: the knobs that are commands by design (SMOKE_BACKUP_CMD,
// SMOKE_RESTORE_CMD, SMOKE_TEARDOWN_CMD, SMOKE_TOOL) and the passwords;
// those are never part of the answer, but for the password and sslpassword
// DATABASE_URL carries (server.password, server.sslpassword: ServerChoice),
// which the harness reads from a pipe, never a file.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** The normalized knobs, in the order they are read: NAME (or method.NAME.ATTRIBUTE) to value. */
final class Knobs {
    static final List<String> ORACLES = List.of("semantic", "text", "off");
    static final List<String> PITR_TARGETS = List.of("time", "lsn", "xid");
    /** Programs every run needs, whatever the methods. */
    static final List<String> ALWAYS_NEEDED = List.of("pg_dump", "pg_restore", "psql", "pg_isready", "jq");

    private static final Pattern DIGITS = Pattern.compile("[0-9]{1,9}");
    private static final Pattern MAJORS = Pattern.compile("[0-9]{1,3}(,[0-9]{1,3})*");
    private static final Pattern DURATION = Pattern.compile("[0-9]{1,12}(ms|s|m|h)?");
    private static final Pattern OS_USER = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,31}");

    private final Map<String, String> env;
    private final Map<String, String> values = new LinkedHashMap<>();

    private Knobs(Map<String, String> env) {
        this.env = env;
    }

    /** Parses every knob of ENV; the first bad one is a Failure naming it. */
    static Knobs parse(Map<String, String> env) throws Failure {
        Knobs knobs = new Knobs(env);
        knobs.readCounts();
        knobs.readModes();
        if (knobs.isOn("SMOKE_DRILL")) {
            knobs.readDrill();
        } else {
            knobs.readMethods();
        }
        knobs.readSince();
        knobs.readPaths();
        knobs.readServer();
        knobs.readServerUser();
        if (knobs.isOn("SMOKE_DRILL")) {
            knobs.warnOfASigningKeyTheSandboxCanRead();
        }
        knobs.requirePrograms();
        knobs.requireMajorsPrograms();
        return knobs;
    }

    Map<String, String> values() {
        return values;
    }

    String get(String name) {
        return values.get(name);
    }

    /** The answer for the harness: NAME=VALUE entries, each ended by a NUL byte. */
    String toNulRecord() {
        StringBuilder out = new StringBuilder();
        values.forEach((name, value) -> out.append(name).append('=').append(value).append('\0'));
        return out.toString();
    }

    // ------------------------------------------------------------ the knobs

    private void readCounts() throws Failure {
        wholeNumber("SMOKE_ROWS", "24", 0);
        optionalWholeNumber("SMOKE_BATCH_ROWS", 1);
        wholeNumber("SMOKE_JOBS", "2", 1);
        wholeNumber("SMOKE_APPEND_ROWS", "8", 0);
        wholeNumber("SMOKE_PITR_ROWS", "8", 1);
        wholeNumber("SMOKE_RECOVERY_TIMEOUT", "120", 1);
        values.put("SMOKE_TIMEOUT", duration("SMOKE_TIMEOUT", "90s or 2m", true));
    }

    private void readModes() throws Failure {
        flag("SMOKE_DRILL");
        flag("SMOKE_IN_PLACE");
        flag("SMOKE_PITR");
        oneOf("SMOKE_PITR_TARGET", "time", PITR_TARGETS, "time, lsn or xid");
        oneOf("SMOKE_ORACLE", "semantic", ORACLES, "one of " + String.join(", ", ORACLES));
        String majors = raw("SMOKE_TARGET_MAJORS");
        if (!majors.isEmpty() && !MAJORS.matcher(majors).matches()) {
            throw bad("SMOKE_TARGET_MAJORS", "must be a comma list of major versions", majors);
        }
        values.put("SMOKE_TARGET_MAJORS", majors);
    }

    /** SMOKE_METHODS, each checked against the method table and what it needs; then the table's rows. */
    private void readMethods() throws Failure {
        String given = raw("SMOKE_METHODS").isEmpty() ? "custom" : raw("SMOKE_METHODS");
        List<BackupMethod> methods = new ArrayList<>();
        for (String name : given.split(",")) {
            BackupMethod method = BackupMethod.named(name).orElseThrow(() -> new Failure("unknown backup method '"
                    + printable(name) + "' in SMOKE_METHODS (" + BackupMethod.names() + ")"));
            requireWhatItNeeds(method);
            methods.add(method);
        }
        if (methods.isEmpty()) {
            throw new Failure("SMOKE_METHODS names no method");
        }
        if (isOn("SMOKE_IN_PLACE") && methods.size() > 1) {
            throw new Failure("SMOKE_IN_PLACE=1 runs one method only");
        }
        values.put("SMOKE_METHODS", String.join(",", methods.stream().map(BackupMethod::name).toList()));
        methods.forEach(this::putMethodRow);
    }

    private void putMethodRow(BackupMethod method) {
        String prefix = "method." + method.name() + ".";
        values.put(prefix + "kind", method.kind());
        values.put(prefix + "target", method.target());
        values.put(prefix + "taken_by", method.takenBy());
        values.put(prefix + "restored_by", method.restoredBy());
        values.put(prefix + "throwaway_only", method.throwawayOnly() ? "1" : "0");
        values.put(prefix + "fingerprint", method.fingerprint());
    }

    // ------------------------------------------------------------ the drill

    /** The methods a drill restores an existing backup with (SPEC 9.10): exactly one of them. */
    static final List<String> DRILL_METHODS = List.of("pgbackrest", "barman", "command-cluster", "command-url");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}");
    private static final Pattern TIME = Pattern.compile(
            "([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?)"
                    + "(Z|[+-][0-9]{2}(:?[0-9]{2})?)");

    /**
     * SMOKE_DRILL=1: a restore of an existing backup judged against
     * SMOKE_LEDGER. No workload, no backup: SMOKE_BACKUP_CMD, SMOKE_IN_PLACE,
     * SMOKE_PITR and SMOKE_SINCE are refused; SMOKE_METHODS names exactly one
     * of DRILL_METHODS and what it needs.
     */
    private void readDrill() throws Failure {
        if (!raw("SMOKE_BACKUP_CMD").isEmpty()) {
            throw new Failure("SMOKE_BACKUP_CMD is refused in a drill (SMOKE_DRILL=1): the drill restores an existing"
                    + " backup and takes none");
        }
        for (String refused : List.of("SMOKE_IN_PLACE", "SMOKE_PITR")) {
            if (isOn(refused)) {
                throw new Failure(refused + "=1 cannot be combined with SMOKE_DRILL=1"
                        + (refused.equals("SMOKE_PITR") ? " (a drill restores to SMOKE_RECOVERY_TARGET_TIME, _LSN or _XID)" : ""));
            }
        }
        if (!raw("SMOKE_SINCE").isEmpty()) {
            throw new Failure("SMOKE_SINCE cannot be combined with SMOKE_DRILL=1 (the drill's reference is SMOKE_LEDGER)");
        }
        String given = raw("SMOKE_METHODS");
        if (given.isEmpty() || given.contains(",") || !DRILL_METHODS.contains(given)) {
            throw new Failure("SMOKE_DRILL=1 restores with exactly one of " + String.join(", ", DRILL_METHODS)
                    + " in SMOKE_METHODS, got '" + printable(given) + "'");
        }
        BackupMethod method = BackupMethod.named(given).orElseThrow();
        values.put("SMOKE_METHODS", given);
        putMethodRow(method);
        switch (given) {
            case "pgbackrest" -> {
                name("SMOKE_PGBACKREST_STANZA", true);
                requireProgram(method, "pgbackrest");
                values.put("drill.tool_config", toolConfig("PGBACKREST_CONFIG"));
            }
            case "barman" -> {
                name("SMOKE_BARMAN_SERVER", true);
                requireProgram(method, "barman");
                values.put("SMOKE_BARMAN_CONFIG", toolConfig("SMOKE_BARMAN_CONFIG"));
                values.put("drill.tool_config", values.get("SMOKE_BARMAN_CONFIG"));
            }
            default -> {
                if (raw("SMOKE_RESTORE_CMD").isEmpty()) {
                    throw new Failure("the " + given + " method needs SMOKE_RESTORE_CMD");
                }
            }
        }
        // The repository a tool's restore reads (phys_tool_argv): pgBackRest's stanza or Barman's server, and
        // the tool's configuration when named; none for a command.
        values.put("drill.repository", values.getOrDefault(given.equals("barman") ? "SMOKE_BARMAN_SERVER"
                : "SMOKE_PGBACKREST_STANZA", ""));
        values.putIfAbsent("drill.tool_config", "");
        String set = raw("SMOKE_BACKUP_SET").isEmpty() ? "latest" : raw("SMOKE_BACKUP_SET");
        if (!NAME.matcher(set).matches()) {
            throw bad("SMOKE_BACKUP_SET", "must be a backup set's label or id, or latest", set);
        }
        values.put("SMOKE_BACKUP_SET", set);
        // drill-verify's --backup-id: the set named; none for latest, which only the restore's output names.
        values.put("drill.backup_id", set.equals("latest") ? "" : set);
        readLedger();
        values.put("SMOKE_MAX_RPO", duration("SMOKE_MAX_RPO", "26h or 90m", false));
        String key = raw("SMOKE_SIGNING_KEY");
        if (!key.isEmpty()) {
            readableFile("SMOKE_SIGNING_KEY", key);
        }
        values.put("SMOKE_SIGNING_KEY", key);
        String verifyKey = raw("SMOKE_VERIFY_KEY");
        if (!verifyKey.isEmpty()) {
            readableFile("SMOKE_VERIFY_KEY", verifyKey);
        }
        values.put("SMOKE_VERIFY_KEY", verifyKey);
        String live = raw("SMOKE_LIVE_URL");
        if (live.indexOf('\n') >= 0 || live.indexOf('\0') >= 0) {
            throw new Failure("SMOKE_LIVE_URL cannot hold a line break");
        }
        values.put("SMOKE_LIVE_URL", live);
        readRecoveryTarget();
    }

    private void requireProgram(BackupMethod method, String program) throws Failure {
        if (!onPath(program)) {
            throw new Failure("the " + method.name() + " method needs " + program + " on PATH (Debian package "
                    + program + ")");
        }
    }

    private void name(String knob, boolean required) throws Failure {
        String value = raw(knob);
        if (value.isEmpty() && required) {
            throw new Failure("SMOKE_DRILL=1 with SMOKE_METHODS=" + raw("SMOKE_METHODS") + " needs " + knob);
        }
        if (!value.isEmpty() && !NAME.matcher(value).matches()) {
            throw bad(knob, "must be a name", value);
        }
        values.put(knob, value);
    }

    /**
     * The tool's configuration file named by KNOB, readable, as its real
     * path (the restore runs as another user from /), or empty when unset.
     */
    private String toolConfig(String knob) throws Failure {
        String config = raw(knob);
        if (config.isEmpty()) {
            return "";
        }
        readableFile(knob, config);
        try {
            return Path.of(config).toRealPath().toString();
        } catch (IOException e) {
            throw new Failure(knob + "=" + printable(config) + " cannot be read: " + Failure.reason(e));
        }
    }

    private static void readableFile(String knob, String value) throws Failure {
        Path file = Path.of(value);
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new Failure(knob + "=" + printable(value) + " is not a readable file");
        }
    }

    /**
     * SMOKE_LEDGER, required, readable; the database the restored audit
     * log is in (SMOKE_DRILL_DATABASE, else the one the ledger's last entry
     * was recorded in) as drill.database; its audit schema, when
     * SMOKE_DRILL_SCHEMA names it (drill-verify's --schema), as drill.schema.
     */
    private void readLedger() throws Failure {
        String ledger = raw("SMOKE_LEDGER");
        if (ledger.isEmpty()) {
            throw new Failure("SMOKE_DRILL=1 needs SMOKE_LEDGER: the checkpoint ledger (--mode=checkpoint) the restore"
                    + " is judged against");
        }
        readableFile("SMOKE_LEDGER", ledger);
        values.put("SMOKE_LEDGER", Path.of(ledger).toAbsolutePath().toString());
        String database = raw("SMOKE_DRILL_DATABASE");
        if (database.indexOf('\n') >= 0 || database.indexOf('\0') >= 0) {
            throw new Failure("SMOKE_DRILL_DATABASE cannot hold a line break");
        }
        if (database.isEmpty()) {
            database = lastLedgerDatabase(Path.of(ledger), ledger);
        }
        values.put("drill.database", database);
        values.put("drill.schema", drillSchema());
    }

    /** Empty, or a name --schema takes: the ledger must record it, else the drill cannot judge. */
    private String drillSchema() throws Failure {
        String schema = raw("SMOKE_DRILL_SCHEMA");
        if (!schema.isEmpty() && (AuditSchema.unusableName(schema) != null || schema.indexOf('\n') >= 0
                || schema.indexOf('\0') >= 0)) {
            throw bad("SMOKE_DRILL_SCHEMA", "must be a schema's name (at most 63 bytes, no line break)", schema);
        }
        return schema;
    }

    private static String lastLedgerDatabase(Path file, String given) throws Failure {
        String line;
        try {
            line = Ledger.lastLineOf(file); // locked: a checkpoint appending is waited for
        } catch (IOException e) {
            throw new Failure("SMOKE_LEDGER=" + printable(given) + " cannot be read: " + Failure.reason(e));
        }
        if (line != null) {
            try {
                JsonNode entry = new ObjectMapper().readTree(line);
                if (entry.path("database").isTextual() && !entry.get("database").asText().isEmpty()) {
                    return entry.get("database").asText();
                }
            } catch (IOException unparsable) {
                // named below
            }
        }
        throw new Failure("SMOKE_LEDGER=" + printable(given) + " holds no checkpoint naming its database"
                + " (run --mode=checkpoint, or set SMOKE_DRILL_DATABASE)");
    }

    /**
     * At most one of SMOKE_RECOVERY_TARGET_TIME, _LSN, _XID; drill.target_flag
     * is drill-verify's flag for it (the time as ISO-8601), or empty.
     */
    private void readRecoveryTarget() throws Failure {
        String time = raw("SMOKE_RECOVERY_TARGET_TIME");
        String lsn = raw("SMOKE_RECOVERY_TARGET_LSN");
        String xid = raw("SMOKE_RECOVERY_TARGET_XID");
        if (List.of(time, lsn, xid).stream().filter(value -> !value.isEmpty()).count() > 1) {
            throw new Failure("SMOKE_RECOVERY_TARGET_TIME, _LSN and _XID: give one target at most");
        }
        String kind = !time.isEmpty() ? "time" : !lsn.isEmpty() ? "lsn" : !xid.isEmpty() ? "xid" : "";
        String value = kind.equals("time") ? time : kind.equals("lsn") ? lsn : xid;
        String refusal = kind.isEmpty() ? null : recoveryTargetRefusal(
                "SMOKE_RECOVERY_TARGET_" + kind.toUpperCase(java.util.Locale.ROOT), kind, value);
        if (refusal != null) {
            throw new Failure(refusal);
        }
        values.put("SMOKE_RECOVERY_TARGET_TIME", asServerTakesIt(time));
        values.put("SMOKE_RECOVERY_TARGET_LSN", lsn);
        values.put("SMOKE_RECOVERY_TARGET_XID", xid);
        values.put("drill.target_kind", kind);
        values.put("drill.target_flag", kind.isEmpty() ? "" : "--recovery-target-" + kind + "="
                + (kind.equals("time") ? targetTime(time).toString() : value));
    }

    /**
     * Why VALUE is no recovery target of KIND (time, lsn or xid), as NAME's refusal ("NAME must be an LSN
     * such as 0/3000148, got 'zz'"); null when it is one. The one rule for the SMOKE_RECOVERY_TARGET_*
     * knobs and --recovery-target (RestoredCluster): what reaches postgresql.conf is one of these.
     */
    static String recoveryTargetRefusal(String name, String kind, String value) {
        String rule = switch (kind) {
            case "time" -> !TIME.matcher(value).matches()
                    ? "must be a time with its offset such as 2026-12-05 16:30:00+00"
                    : targetTime(value) == null ? "is not a valid time" : null;
            case "lsn" -> LedgerEntry.LSN.matcher(value).matches() ? null : "must be an LSN such as 0/3000148";
            case "xid" -> isTransactionId(value) ? null : "must be a transaction id";
            default -> throw new IllegalArgumentException("no kind of recovery target: " + kind);
        };
        return rule == null ? null : name + " " + rule + ", got '" + printable(value) + "'";
    }

    /**
     * Digits of an unsigned 64-bit number, as recovery_target_xid takes it: a
     * 32-bit xid, or one with its epoch as pg_current_xact_id() prints it (a
     * cluster past its first wraparound gives such numbers).
     */
    private static boolean isTransactionId(String value) {
        if (!value.matches("[0-9]{1,20}")) {
            return false;
        }
        try {
            Long.parseUnsignedLong(value);
            return true;
        } catch (NumberFormatException tooLarge) {
            return false;
        }
    }

    /**
     * TIME (the TIME pattern) as the restores take it: a space between date and time, +00 for a final Z.
     * The server refuses Z in recovery_target_time ('invalid value for parameter "recovery_target_time"':
     * it parses it when it starts, before it knows zone abbreviations), and pgBackRest a T when it picks
     * the backup set for the time ('time format must be YYYY-MM-DD HH:MM:SS …').
     */
    static String asServerTakesIt(String time) {
        var matcher = TIME.matcher(time);
        if (!matcher.matches()) {
            return time;
        }
        return matcher.group(1) + " " + matcher.group(2) + (matcher.group(4).equals("Z") ? "+00" : matcher.group(4));
    }

    /** TIME (2026-12-05 16:30:00+00, the TIME pattern) as an instant with its offset; null when it is none. */
    private static java.time.OffsetDateTime targetTime(String time) {
        var matcher = TIME.matcher(time);
        if (!matcher.matches()) {
            return null;
        }
        String zone = matcher.group(4);
        String offset = zone.equals("Z") ? "Z" : zone.length() == 3 ? zone + ":00"
                : zone.substring(0, 3) + ":" + zone.substring(zone.length() - 2);
        try {
            return java.time.OffsetDateTime.parse(matcher.group(1) + "T" + matcher.group(2) + offset);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private void requireWhatItNeeds(BackupMethod method) throws Failure {
        if (isOn("SMOKE_PITR") && !method.restoresAServer()) {
            throw new Failure("SMOKE_PITR=1 restores to a point in time, which a " + method.name()
                    + " backup cannot: use " + BackupMethod.pitrNames());
        }
        if (method.commands().stream().anyMatch(name -> raw(name).isEmpty())) {
            throw new Failure("the " + method.name() + " method needs " + String.join(" and ", method.commands()));
        }
        for (String program : method.programs()) {
            if (!ALWAYS_NEEDED.contains(program) && !onPath(program)) {
                throw new Failure("the " + method.name() + " method needs " + program
                        + " on PATH (Debian package " + program + ")");
            }
        }
    }

    /** SMOKE_SINCE: a checkpoint file for in-place runs; its folder must take the next one. */
    private void readSince() throws Failure {
        String since = raw("SMOKE_SINCE");
        values.put("SMOKE_SINCE", since);
        values.put("since.found", "0");
        values.put("since.id_tag", "");
        if (since.isEmpty()) {
            return;
        }
        if (!isOn("SMOKE_IN_PLACE")) {
            throw new Failure("SMOKE_SINCE needs SMOKE_IN_PLACE=1: the checkpoint follows one long-lived database,"
                    + " and a scratch database starts empty every run");
        }
        if (isOn("SMOKE_PITR")) {
            throw new Failure("SMOKE_SINCE cannot be combined with SMOKE_PITR");
        }
        Path file = Path.of(since).toAbsolutePath();
        Path folder = file.getParent();
        if (!Files.isDirectory(folder) || !Files.isWritable(folder)) {
            throw new Failure("SMOKE_SINCE=" + since + ": folder " + Path.of(since).toAbsolutePath().getParent()
                    + " does not exist or cannot be written (a passing run writes the next checkpoint there)");
        }
        if (Files.exists(file) && !Files.isRegularFile(file)) { // a FIFO would be waited on for ever
            throw new Failure("SMOKE_SINCE=" + printable(since) + " is not a regular file");
        }
        if (Files.exists(file)) {
            values.put("since.row_count", requireCheckpoint(file, since));
            values.put("since.found", "1");
        }
        values.put("since.id_tag", "r" + ZonedDateTime.now(ZoneOffset.UTC)
                .format(DateTimeFormatter.ofPattern("yyyyMMdd't'HHmmss'z'")) + "-");
    }

    /** The checkpoint's row count, for messages; a Failure when FILE is not a checkpoint. */
    private static String requireCheckpoint(Path file, String given) throws Failure {
        JsonNode checkpoint;
        try {
            checkpoint = new ObjectMapper().readTree(file.toFile());
        } catch (IOException unreadable) {
            checkpoint = null;
        }
        boolean usable = checkpoint != null && checkpoint.isObject() && checkpoint.path("row_count").isNumber()
                && checkpoint.get("row_count").asLong() > 0 && checkpoint.path("chain_head_hash").isTextual();
        if (!usable) {
            throw new Failure("SMOKE_SINCE=" + given + " is not a checkpoint: it needs row_count (above 0) and"
                    + " chain_head_hash; remove it to start over with a full verify");
        }
        return checkpoint.get("row_count").asText();
    }

    private void readPaths() throws Failure {
        String migrations = raw("MIGRATIONS_PATH");
        if (!migrations.isEmpty()) {
            Path folder = Path.of(migrations);
            if (!Files.isDirectory(folder)) {
                throw new Failure("MIGRATIONS_PATH: migrations folder not found: " + printable(migrations));
            }
            try {
                migrations = folder.toRealPath().toString();
            } catch (IOException e) {
                throw new Failure("MIGRATIONS_PATH: migrations folder cannot be read: " + printable(migrations));
            }
        }
        values.put("MIGRATIONS_PATH", migrations);
        String reports = raw("SMOKE_REPORT_DIR");
        if (!reports.isEmpty() && !canBeMadeAndWritten(Path.of(reports).toAbsolutePath())) {
            throw new Failure("SMOKE_REPORT_DIR " + printable(reports) + " cannot be written");
        }
        values.put("SMOKE_REPORT_DIR", reports);
        values.put("SMOKE_PG_BINDIR", raw("SMOKE_PG_BINDIR"));
    }

    /** The user the servers run as when root runs the harness, SMOKE_PG_OS_USER unset. */
    static final String DEFAULT_OS_USER = "postgres";

    /**
     * SMOKE_PG_OS_USER (default postgres). Run by root, the servers the
     * harness starts run as it (pg-cluster.sh): a given name is checked
     * always, the default only when this run starts a server, so a bad one
     * stops the run in one line before any starts.
     */
    private void readServerUser() throws Failure {
        String osUser = raw("SMOKE_PG_OS_USER");
        if (!osUser.isEmpty() && !OS_USER.matcher(osUser).matches()) {
            throw bad("SMOKE_PG_OS_USER", "must be a user name", osUser);
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root && (!osUser.isEmpty() || startsServers())) {
            requireServerUser(osUser.isEmpty() ? DEFAULT_OS_USER : osUser, !osUser.isEmpty());
        }
        values.put("SMOKE_PG_OS_USER", osUser.isEmpty() ? DEFAULT_OS_USER : osUser);
    }

    /**
     * Whether the harness starts a server of its own: the throwaway server
     * of a round trip (no PGHOST or DATABASE_URL), one per target major, or
     * the cluster a method restores into (a drill's sandbox too).
     */
    boolean startsServers() {
        boolean restoresIntoACluster = values.keySet().stream().anyMatch(name -> name.startsWith("method.")
                && name.endsWith(".target") && values.get(name).equals("cluster"));
        return restoresIntoACluster || !isOn("SMOKE_DRILL") && ("throwaway".equals(values.get("server.kind"))
                || !values.get("SMOKE_TARGET_MAJORS").isEmpty());
    }

    /**
     * Run by root, the servers run as USER: a user of this machine other than root. GIVEN says whether
     * SMOKE_PG_OS_USER named it; unset, the line says the default user is missing and what to set.
     */
    static void requireServerUser(String user, boolean given) throws Failure {
        if (user.equals("root")) {
            throw bad("SMOKE_PG_OS_USER", "must be an unprivileged user (PostgreSQL refuses to run as root)", user);
        }
        try {
            java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(user);
        } catch (IOException noSuchUser) {
            if (!given) {
                throw new Failure("SMOKE_PG_OS_USER is unset and this machine has no user " + user + " to run the"
                        + " harness's PostgreSQL servers as (root does not): set SMOKE_PG_OS_USER to an unprivileged"
                        + " user of this machine");
            }
            throw bad("SMOKE_PG_OS_USER", "must be a user of this machine (root runs the throwaway servers as it)",
                    user);
        }
    }

    /**
     * The drill's sandbox runs what the backup holds, as its OS user
     * (drill.md, "OS users: who runs what"): a SMOKE_SIGNING_KEY that user
     * can read, code planted in the live database or the repository can
     * read too, and sign a false report with. A warning (say=), not a
     * refusal: the operator knows who else is on the host.
     */
    private void warnOfASigningKeyTheSandboxCanRead() {
        String key = values.get("SMOKE_SIGNING_KEY");
        if (key.isEmpty() || !startsServers()) {
            return; // command-url: the sandbox is the operator's server, not started here
        }
        String harnessUser = System.getProperty("user.name");
        boolean root = "root".equals(harnessUser);
        String sandboxUser = root ? values.get("SMOKE_PG_OS_USER") : harnessUser;
        String why = root ? whyReadable(Path.of(key), sandboxUser) : "the harness runs as that user";
        if (why != null) {
            values.put("say", "warning: SMOKE_SIGNING_KEY=" + printable(key) + " can be read by " + sandboxUser
                    + " (" + why + "), the OS user the drill's sandbox server runs as: code the backup holds could"
                    + " read it and sign a false report; run the harness as root with the key readable by root alone"
                    + " (drill.md)");
        }
    }

    /** Why USER may read FILE by its permission bits, or null (none, or no POSIX attributes to tell). */
    static String whyReadable(Path file, String user) {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (IOException | UnsupportedOperationException unknown) {
            return null;
        }
        Set<PosixFilePermission> permissions = attributes.permissions();
        if (permissions.contains(PosixFilePermission.OTHERS_READ)) {
            return "anyone may read it";
        }
        if (permissions.contains(PosixFilePermission.GROUP_READ)) {
            return "its group " + attributes.group().getName() + " may read it";
        }
        if (permissions.contains(PosixFilePermission.OWNER_READ) && attributes.owner().getName().equals(user)) {
            return "it owns the file";
        }
        return null;
    }

    /** The PG* the harness itself reads; libpq and the tool read the others (and the password) themselves. */
    private void readServer() throws Failure {
        String port = raw("PGPORT");
        if (!port.isEmpty() && (!DIGITS.matcher(port).matches() || Integer.parseInt(port) < 1
                || Integer.parseInt(port) > 65535)) {
            throw bad("PGPORT", "must be a port number (1-65535)", port);
        }
        values.put("PGPORT", port);
        wholeNumber("PGCONNECT_TIMEOUT", "10", 0);
        for (String name : List.of("PGHOST", "PGUSER", "PGDATABASE")) {
            String value = raw(name);
            if (value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) {
                throw new Failure(name + " cannot hold a line break");
            }
            values.put(name, value);
        }
        ServerChoice server = ServerChoice.of(env, isOn("SMOKE_IN_PLACE"));
        values.putAll(server.entries());
        values.putAll(LibpqUrl.entries(server));
    }

    private void requirePrograms() throws Failure {
        List<String> missing = ALWAYS_NEEDED.stream().filter(program -> !onPath(program)).toList();
        if (!missing.isEmpty()) {
            throw new Failure("not on PATH: " + String.join(" ", missing));
        }
    }

    /**
     * A target major the system lacks comes from Maven Central (ServerBinaries):
     * the programs that takes (xz; mvn while not cached) must be on PATH
     * before anything runs, not when the restores start.
     */
    private void requireMajorsPrograms() throws Failure {
        String majors = values.get("SMOKE_TARGET_MAJORS");
        ServerBinaries binaries = new ServerBinaries(ServerBinaries.DEBIAN, ServerBinaries.cacheOf(env), env.get("PATH"));
        for (String major : majors.isEmpty() ? new String[0] : majors.split(",")) {
            List<String> missing = binaries.missingPrograms(Integer.parseInt(major));
            if (!missing.isEmpty()) {
                throw new Failure("SMOKE_TARGET_MAJORS=" + majors + ": PostgreSQL " + major + " server binaries come"
                        + " from Maven Central and need " + String.join(" ", missing) + ", not on PATH");
            }
        }
    }

    // ------------------------------------------------------------ value kinds

    /**
     * NAME as the tool's --timeout or --max-rpo reads it (DurationConverter), or empty: a value the tool
     * would refuse is refused here, not mid-run as the tool's usage help.
     */
    private String duration(String name, String example, boolean positive) throws Failure {
        String value = raw(name);
        if (value.isEmpty()) {
            return value;
        }
        if (!DURATION.matcher(value).matches()) {
            throw bad(name, "must be a duration such as " + example, value);
        }
        java.time.Duration duration;
        try {
            duration = new DurationConverter().convert(value);
        } catch (picocli.CommandLine.TypeConversionException tooLong) {
            throw bad(name, "must be under 292 years", value);
        }
        if (positive && duration.isZero()) {
            throw bad(name, "must be longer than 0", value);
        }
        return value;
    }

    private String raw(String name) {
        String value = env.get(name);
        return value == null ? "" : value;
    }

    private boolean isOn(String name) {
        return "1".equals(values.get(name));
    }

    private void wholeNumber(String name, String fallback, int min) throws Failure {
        String value = raw(name).isEmpty() ? fallback : raw(name);
        values.put(name, checkedWholeNumber(name, value, min));
    }

    private void optionalWholeNumber(String name, int min) throws Failure {
        String value = raw(name);
        values.put(name, value.isEmpty() ? "" : checkedWholeNumber(name, value, min));
    }

    /** Decimal digits only, and at least MIN; leading zeros are dropped (bash would read 010 as octal). */
    static String checkedWholeNumber(String name, String value, int min) throws Failure {
        if (!DIGITS.matcher(value).matches() || Integer.parseInt(value) < min) {
            throw bad(name, "must be a whole number" + (min == 0 ? "" : " from " + min), value);
        }
        return Integer.toString(Integer.parseInt(value));
    }

    private void flag(String name) throws Failure {
        String value = raw(name);
        if (!value.isEmpty() && !value.equals("0") && !value.equals("1")) {
            throw bad(name, "must be 1 or 0", value);
        }
        values.put(name, value.equals("1") ? "1" : "0");
    }

    private void oneOf(String name, String fallback, List<String> allowed, String described) throws Failure {
        String value = raw(name).isEmpty() ? fallback : raw(name);
        if (!allowed.contains(value)) {
            throw bad(name, "must be " + described, value);
        }
        values.put(name, value);
    }

    private static Failure bad(String name, String rule, String value) {
        return new Failure(name + " " + rule + ", got '" + printable(value) + "'");
    }

    /** A bad value in a message: on one line, and no longer than a line should be. */
    static String printable(String value) {
        String oneLine = FailureReport.oneLine(value);
        return oneLine.length() <= 80 ? oneLine : oneLine.substring(0, 77) + "...";
    }

    /** FOLDER is a writable folder, or the nearest that exists above it is (the report mode makes it). */
    private static boolean canBeMadeAndWritten(Path folder) {
        Path existing = folder;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        return existing != null && Files.isDirectory(existing) && Files.isWritable(existing);
    }

    private boolean onPath(String program) {
        return ProgramSearch.find(env.get("PATH"), program) != null;
    }
}
