// The harness's questions about physical restores and PITR that need a
// server (SPEC 9.6, 9.10), asked by deploy/lib/smoke-physical.sh and
// smoke-drill.sh; answers are NUL-separated NAME=VALUE entries on stdout,
// a failure one line on stderr (exit 3: the restore is not what it must be;
// exit 1: it cannot be judged).
//   --mode=await-recovery  waits until a restored server has left recovery
//                  and names its database's URL (no password in it).
//   --mode=pitr-target     records the PITR target on the source.
//   --mode=switch-wal      pg_switch_wal() when the role may run it.
// --mode=physical-setup (PhysicalSetup) shares their options; FLAGS says
// which mode reads which.

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

final class PhysicalModes {
    static final String AWAIT = "await-recovery";
    static final String PITR_TARGET = "pitr-target";
    static final String SWITCH_WAL = "switch-wal";
    static final List<String> NAMES = List.of(AWAIT, PITR_TARGET, SWITCH_WAL, PhysicalSetup.MODE);

    /**
     * Which of these modes read which of the Options (FlagReaders):
     * each flag is refused (exit 2) by every other mode, a sibling too;
     * switch-wal reads none of them.
     */
    static final List<ModeFlags> FLAGS = List.of(
            ModeFlags.namedFor(List.of(AWAIT), "--restored-url-file", "--database", "--roles", "--need-superuser",
                    "--need-writes", "--source-url", "--controldata", "--recovery-timeout", "--step-failed",
                    "--step-output"),
            ModeFlags.namedFor(List.of(AWAIT, PhysicalSetup.MODE), "--cluster"),
            ModeFlags.namedFor(List.of(PITR_TARGET), "--target-kind", "--target-file"),
            ModeFlags.namedFor(List.of(PhysicalSetup.MODE), "--tools", "--bindir"));

    static final Duration POLL = Duration.ofMillis(500);

    private static final Pattern SYSTEM_IDENTIFIER = Pattern.compile("(?m)^Database system identifier: *(\\d+)$");
    private static final String STATE = """
            SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false),
                   pg_catalog.pg_is_in_recovery(),
                   CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() ELSE false END,
                   pg_catalog.current_setting('transaction_read_only') = 'on',
                   coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, '-')""";

    private PhysicalModes() {
    }

    /** The options of these modes (picocli mixin; help in usage.properties); FLAGS says which mode reads which. */
    static final class Options {
        @Option(names = "--restored-url-file", paramLabel = "FILE")
        Path restoredUrlFile;

        @Option(names = "--cluster", paramLabel = "DIR")
        Path cluster;

        @Option(names = "--database", paramLabel = "NAME")
        String database = "postgres";

        @Option(names = "--roles", paramLabel = "LIST", split = ",")
        List<String> roles = List.of("postgres");

        @Option(names = "--need-superuser")
        boolean needSuperuser;

        @Option(names = "--need-writes")
        boolean needWrites;

        @Option(names = "--source-url", paramLabel = "URL")
        String sourceUrl;

        @Option(names = "--controldata", paramLabel = "FILE")
        Path controldata;

        @Option(names = "--recovery-timeout", paramLabel = "SECONDS", defaultValue = "120")
        int recoveryTimeout;

        @Option(names = "--step-failed", paramLabel = "REASON")
        String stepFailed;

        @Option(names = "--step-output", paramLabel = "FILE")
        Path stepOutput;

        @Option(names = "--target-kind", paramLabel = "KIND", defaultValue = "time")
        String targetKind;

        @Option(names = "--target-file", paramLabel = "FILE")
        Path targetFile;

        @Option(names = "--tools", paramLabel = "LIST", split = ",")
        List<String> tools = List.of();

        @Option(names = "--bindir", paramLabel = "DIR")
        Path bindir;

        /** Who runs barman: the cluster's owner, postgres when the harness runs as root. */
        static String osUser() {
            String user = System.getProperty("user.name");
            return "root".equals(user) ? "postgres" : user;
        }
    }

    /** One place to try: the URL answered (no password) and where to connect. */
    record Candidate(String url, String role, ConnectionTarget target) {
    }

    /** A poll's answer (the STATE query). */
    record State(boolean superuser, boolean inRecovery, boolean paused, boolean readOnly, String replayLsn) {
    }

    // ---------------------------------------------------------------- await-recovery

    static int await(Options options, Map<String, String> env, int connectTimeout, PrintStream out)
            throws Failure {
        if (options.stepFailed != null) {
            throw stepFailed(options.stepFailed, options.stepOutput);
        }
        Duration limit = Duration.ofSeconds(options.recoveryTimeout);
        try (Deadline deadline = new Deadline(limit.plusSeconds(30))) {
            List<Candidate> candidates = candidates(options, env);
            if (options.controldata != null && options.sourceUrl != null) {
                String reason = otherClusterReason(RunRecord.readText(options.controldata),
                        valueOrNull(new Connector(ConnectionTarget.parse("--source-url", options.sourceUrl, env),
                                connectTimeout, deadline),
                                "SELECT system_identifier FROM pg_catalog.pg_control_system()"));
                if (reason != null) {
                    throw new Refusal(reason);
                }
            }
            Candidate found = pollUntilOutOfRecovery(options, candidates, connectTimeout, deadline, limit);
            Map<String, String> answer = new LinkedHashMap<>();
            answer.put("url", found.url());
            answer.put("database", found.target().database());
            answer.put("role", found.role());
            answer.put("password", found.target().password() == null ? "" : found.target().password());
            answer.put("sslpassword", found.target().driverOptions().getOrDefault("sslpassword", ""));
            answer.put("wal", Objects.requireNonNullElse(valueOrNull(new Connector(found.target(), connectTimeout,
                    deadline), "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn())"), ""));
            answer.forEach((name, value) -> out.print(name + "=" + value + "\0"));
            out.flush();
            return 0;
        }
    }

    /** The restore command's URL, or each role on the restored cluster's loopback port. */
    static List<Candidate> candidates(Options options, Map<String, String> env) throws Failure {
        List<Candidate> candidates = new ArrayList<>();
        if (options.restoredUrlFile != null) {
            String text = firstUrl(RunRecord.readText(options.restoredUrlFile));
            if (text == null) {
                throw new Refusal("the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE");
            }
            ConnectionTarget target = ConnectionTarget.parse("the URL in SMOKE_RESTORED_URL_FILE", text, env);
            candidates.add(new Candidate(withoutPassword(text), target.user(), target));
            return candidates;
        }
        if (options.cluster == null) {
            throw new Failure("--mode=" + AWAIT + " needs --restored-url-file=FILE or --cluster=DIR");
        }
        // Read once: a server ending recovery with a FATAL removes the file as it stops, between two reads.
        String postmasterPid = RunRecord.readText(options.cluster.resolve("data/postmaster.pid"));
        if (!runs(postmasterPid)) { // it started, then ended recovery with a FATAL before this first look
            throw stoppedDuringRecovery(options.cluster);
        }
        int port = port(postmasterPid);
        for (String role : options.roles) {
            String url = sandboxUrl(role, port, options.database);
            candidates.add(new Candidate(url, role, ConnectionTarget.parse(url, env)));
        }
        return candidates;
    }

    /** The first line of FILE's text that is not blank, when it is a postgres:// URL; its blanks removed. */
    static String firstUrl(String text) {
        String line = text.lines().filter(l -> !l.isBlank()).findFirst().orElse("").replaceAll("\\s", "");
        return UrlParts.of(line).hasPostgresScheme() ? line : null;
    }

    /**
     * A password in the URL is used, never shown: the URL without it (UrlParts.withoutSecrets), taken apart as
     * ConnectionTarget reads it, whatever a raw '@' or '/' in the password.
     */
    static String withoutPassword(String url) {
        return UrlParts.of(url).withoutSecrets();
    }

    static String sandboxUrl(String role, int port, String database) {
        return LibpqUrl.of(role, "127.0.0.1", String.valueOf(port), database, "sslmode=disable");
    }

    /** The port on the fourth line of a postmaster.pid. */
    static int port(String postmasterPid) throws Failure {
        List<String> lines = postmasterPid.lines().toList();
        if (lines.size() < 4 || !lines.get(3).strip().matches("\\d+")) {
            throw new Failure("the restored server names no port in its postmaster.pid");
        }
        return Integer.parseInt(lines.get(3).strip());
    }

    /** The system identifier in pg_controldata's output, or null when it names none. */
    static String systemIdentifier(String controldata) {
        Matcher found = SYSTEM_IDENTIFIER.matcher(controldata);
        return found.find() ? found.group(1) : null;
    }

    /** Why the restore is of another cluster than the source, or null (they agree, or either is unknown). */
    static String otherClusterReason(String controldata, String sourceIdentifier) {
        String restored = systemIdentifier(controldata);
        if (restored == null || sourceIdentifier == null || restored.equals(sourceIdentifier)) {
            return null;
        }
        return "the restore is of another cluster: its system identifier is " + restored
                + ", the source's is " + sourceIdentifier
                + " (a backup of another server: check the stanza or server the restore reads)";
    }

    /** The first value SQL returns on CONNECTOR; null when it cannot be read (nothing to compare, report). */
    private static String valueOrNull(Connector connector, String sql) {
        try (Connection connection = connector.open(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(sql)) {
            return row.next() ? row.getString(1) : null;
        } catch (Failure | SQLException unreadable) {
            return null;
        }
    }

    /**
     * Polls every POLL until one candidate answers out of recovery. A refused
     * connection is retried (recovery may not have replayed the role yet);
     * a paused replay, a server that stopped, or one still in recovery at
     * the end fail (Refusal); one that never answered cannot be judged.
     */
    static Candidate pollUntilOutOfRecovery(Options options, List<Candidate> candidates, int connectTimeout,
            Deadline deadline, Duration limit) throws Failure {
        long end = System.nanoTime() + limit.toNanos();
        long caller = callerPid();
        String last = "";
        while (callerPid() == caller) { // a harness killed outright leaves no poller behind
            for (Candidate candidate : candidates) {
                State state;
                try {
                    state = state(new Connector(candidate.target().withDatabase(pollDatabase(options, candidate)),
                            connectTimeout, deadline));
                } catch (Failure refused) {
                    last = refused.getMessage();
                    continue;
                }
                String unfit = unfitRole(options, candidate, state);
                if (unfit != null) {
                    last = unfit;
                    continue;
                }
                if (outOfRecovery(options, state)) {
                    return candidate;
                }
                last = "still in recovery, replayed up to " + state.replayLsn();
                break;
            }
            if (options.cluster != null && !serverRuns(options.cluster)) {
                throw stoppedDuringRecovery(options.cluster);
            }
            if (System.nanoTime() >= end) {
                throw timedOut(last, options.recoveryTimeout);
            }
            sleep();
        }
        throw new Failure("the caller is gone: no longer waiting for the end of recovery");
    }

    private static long callerPid() {
        return ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
    }

    /** The sandbox is polled in template1: a missing database is the judge's finding, not a wait. */
    private static String pollDatabase(Options options, Candidate candidate) {
        return options.cluster != null ? "template1" : candidate.target().database();
    }

    static String unfitRole(Options options, Candidate candidate, State state) {
        return options.needSuperuser && !state.superuser()
                ? "role " + candidate.role() + " is not a superuser of the restored cluster" : null;
    }

    /** True when it left recovery; a paused replay or (for continuity) a read-only server fails. */
    static boolean outOfRecovery(Options options, State state) throws Refusal {
        if (state.paused()) {
            String lower = options.cluster == null ? null
                    : insufficientSetting(tail(options.cluster.resolve("server.log"), 200));
            throw new Refusal("the restored server is paused in recovery (pg_is_wal_replay_paused() = true) at "
                    + "replay LSN " + state.replayLsn() + (lower == null
                            ? ": the restore must end with recovery_target_action = promote"
                            : ": the WAL raises a setting above the sandbox's, " + lower
                                    + " (the live server raised it after the backup: restore a later backup)"));
        }
        if (state.inRecovery()) {
            return false;
        }
        if (options.needWrites && state.readOnly()) {
            throw new Refusal("the restored server is read-only (transaction_read_only = on): continuity cannot "
                    + "write on it");
        }
        return true;
    }

    static Failure timedOut(String last, int seconds) {
        if (last.startsWith("still")) {
            return new Refusal("the restored server is still in recovery after " + seconds
                    + " s (SMOKE_RECOVERY_TIMEOUT): " + last);
        }
        return new Failure("the restored server does not answer within " + seconds + " s (SMOKE_RECOVERY_TIMEOUT): "
                + last);
    }

    private static State state(Connector connector) throws Failure {
        try (Connection connection = connector.open(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(STATE)) {
            row.next();
            return new State(row.getBoolean(1), row.getBoolean(2), row.getBoolean(3), row.getBoolean(4),
                    row.getString(5));
        } catch (SQLException e) {
            throw new Failure(Sql.oneLine(e));
        }
    }

    private static final Pattern LOWER_SETTING = Pattern.compile(
            "DETAIL: +(\\S+ = \\d+ is a lower setting than on the primary server, where its value was \\d+)");

    /**
     * The last setting LOG (a server's log) says is lower than the primary's, as "NAME = N is a lower setting
     * than on the primary server, where its value was M": why a replay paused though its target did not ask
     * for it (hot standby needs at least the primary's value); null when it says none.
     */
    static String insufficientSetting(String log) {
        Matcher detail = LOWER_SETTING.matcher(log);
        String last = null;
        while (detail.find()) {
            last = detail.group(1);
        }
        return last;
    }

    /**
     * The end of the server's log on stderr, and the failure: its last FATAL
     * line says why (a recovery target past the archived WAL, a missing
     * checkpoint record), else the backup cannot be restored.
     */
    static Refusal stoppedDuringRecovery(Path cluster) {
        String end = tail(cluster.resolve("server.log"), 15);
        System.err.print(end);
        String why = lastFatal(end);
        return new Refusal("the restored server stopped during recovery (its log is above): "
                + (why != null ? why : "the backup cannot be restored"));
    }

    /** TEXT's last line saying FATAL:, from there on and with one space after it (PostgreSQL writes two); or null. */
    static String lastFatal(String text) {
        return text.lines().filter(line -> line.contains("FATAL:")).reduce((first, second) -> second)
                .map(line -> line.substring(line.indexOf("FATAL:")).replaceFirst("FATAL:\\s+", "FATAL: "))
                .orElse(null);
    }

    /** A line of pgBackRest's at --log-level-console=info: progress, not the reason it failed. */
    private static final Pattern PGBACKREST_INFO = Pattern.compile(" P[0-9]+ +INFO: ");

    /**
     * A line pgBackRest adds under its ERROR line for each retry ("       [FileWriteError] on retry after
     * 15000ms"): the error is the line above it, which names what failed (a restore that filled TMPDIR).
     */
    private static final Pattern PGBACKREST_RETRY = Pattern.compile("^\\s+\\[[A-Za-z]+\\] on retry after [0-9]+ms\\s*$");

    /**
     * --step-failed: a restore that failed before there was a server to wait
     * for (its tool, or the start of the restored data directory), REASON
     * followed by what the step's OUTPUT says last (lastSaid), when it says
     * anything.
     */
    static Refusal stepFailed(String reason, Path output) {
        String said = output == null ? null : lastSaid(readEnd(output));
        return new Refusal(reason + (said == null ? "" : ": " + printable(said)));
    }

    /**
     * The reason OUTPUT gives: its last FATAL: line (a server's), else its
     * last line but blank ones and pgBackRest's INFO and retry lines (a restore tool's
     * error, or this tool's own, without its prefix: the harness's line
     * names the gate already), without leading blanks; null when none.
     */
    static String lastSaid(String output) {
        String fatal = lastFatal(output);
        if (fatal != null) {
            return fatal;
        }
        return output.lines().filter(line -> !line.isBlank() && !PGBACKREST_INFO.matcher(line).find()
                && !PGBACKREST_RETRY.matcher(line).find())
                .reduce((first, second) -> second).map(line -> line.strip().replace(":  ", ": "))
                .map(line -> line.startsWith(FailureReport.PREFIX) ? line.substring(FailureReport.PREFIX.length())
                        : line)
                .orElse(null);
    }

    /** How much of a step's output is read, from its end: what it says last, whatever its size. */
    static final int STEP_OUTPUT_END = 64 * 1024;

    /**
     * The whole lines of FILE's last STEP_OUTPUT_END bytes, any bytes (a tool may print a path in any
     * encoding); empty when it cannot be read. Read whole, a verbose tool's output ran the heap out.
     */
    private static String readEnd(Path file) {
        try (java.nio.channels.SeekableByteChannel channel = Files.newByteChannel(file)) {
            long from = Math.max(0, channel.size() - STEP_OUTPUT_END);
            java.nio.ByteBuffer end = java.nio.ByteBuffer.allocate((int) (channel.size() - from));
            channel.position(from);
            while (end.hasRemaining() && channel.read(end) > 0) {
                // until the buffer is full or the file ends
            }
            String text = new String(end.array(), 0, end.position(), StandardCharsets.UTF_8);
            return from == 0 ? text : text.substring(text.indexOf('\n') + 1); // its first line is cut
        } catch (java.io.IOException unreadable) {
            return "";
        }
    }

    /** LINE with its control characters but tabs (a terminal's escapes, a NUL) shown as ?. */
    private static String printable(String line) {
        return line.replaceAll("[\\p{Cntrl}&&[^\t]]", "?");
    }

    /** The postmaster of cluster folder DIR still runs (its pid file names a live process). */
    static boolean serverRuns(Path cluster) {
        try {
            return runs(Files.readString(cluster.resolve("data/postmaster.pid")));
        } catch (IOException gone) {
            return false;
        }
    }

    /** POSTMASTER_PID (a postmaster.pid's text, empty when there was none) names a live process first. */
    static boolean runs(String postmasterPid) {
        String first = postmasterPid.lines().findFirst().orElse("").strip();
        return first.matches("\\d{1,18}") && ProcessHandle.of(Long.parseLong(first)).map(ProcessHandle::isAlive)
                .orElse(false);
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
        } catch (Exception unreadable) {
            return "";
        }
    }

    private static void sleep() throws Failure {
        try {
            Thread.sleep(POLL.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for the end of recovery");
        }
    }

    // ---------------------------------------------------------------- pitr-target

    /**
     * A marker transaction of its own records, once every commit of workload
     * A is done, its xid, the WAL insert position and the clock, with A's row
     * count and chain head: every commit of A lies before all three, every
     * later one after them. The JSON goes to --target-file; stdout names the
     * kind and the three values, and says the target.
     */
    static int pitrTarget(Options options, Connector source, PrintStream out) throws Failure {
        if (!Knobs.PITR_TARGETS.contains(options.targetKind) || options.targetFile == null) {
            throw new Failure("--mode=" + PITR_TARGET + " needs --target-kind=time|lsn|xid and --target-file=FILE");
        }
        AuditSchema audit;
        try (Connection connection = source.open()) {
            audit = AuditSchema.resolve(connection, null, source.deadline());
        } catch (SQLException e) {
            throw new Failure("cannot record the PITR target: " + Sql.oneLine(e));
        }
        ObjectNode target;
        try (Connection connection = source.withSearchPath(audit.queryPath()).open()) {
            connection.setAutoCommit(false);
            try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery("""
                    SELECT pg_current_xact_id()::text, pg_current_wal_insert_lsn()::text,
                           to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00',
                           (SELECT count(*) FROM audit_events), (SELECT row_hash FROM audit_chain_head WHERE id = 1)""")) {
                row.next();
                target = targetJson(options.targetKind, row.getString(3), row.getString(2), row.getString(1),
                        row.getLong(4), row.getString(5));
            }
            connection.commit();
        } catch (SQLException e) {
            throw new Failure("cannot record the PITR target: " + Sql.oneLine(e));
        }
        HarnessModes.write(options.targetFile, target.toPrettyString() + "\n");
        for (String name : List.of("kind", "time", "lsn", "xid")) {
            out.print(name + "=" + target.get(name).asText() + "\0");
        }
        out.print("say=PITR target (" + options.targetKind + "): " + target.get(options.targetKind).asText() + " after "
                + target.get("row_count").asText() + " rows of workload A\0");
        out.flush();
        return 0;
    }

    static ObjectNode targetJson(String kind, String time, String lsn, String xid, long rows, String head) {
        ObjectNode target = JsonNodeFactory.instance.objectNode();
        target.put("kind", kind).put("time", time).put("lsn", lsn).put("xid", xid).put("row_count", rows)
                .put("chain_head_hash", head);
        return target;
    }

    // ---------------------------------------------------------------- switch-wal

    /** Asked before it is called, so the server logs no refusal. */
    static int switchWal(Connector connector) throws Failure {
        try (Connection connection = connector.open(); Statement statement = connection.createStatement()) {
            try (ResultSet row = statement.executeQuery("SELECT pg_catalog.has_function_privilege("
                    + "'pg_catalog.pg_switch_wal()', 'EXECUTE'), current_user, pg_catalog.quote_ident(current_user)")) {
                row.next();
                if (!row.getBoolean(1)) {
                    throw new Failure(switchWalRefused(row.getString(2), row.getString(3)));
                }
            }
            statement.execute("SELECT pg_catalog.pg_switch_wal()");
            return 0;
        } catch (SQLException e) {
            throw new Failure("cannot switch the WAL: " + Sql.oneLine(e));
        }
    }

    static String switchWalRefused(String role, String quotedRole) {
        return "role " + role + " may not run pg_switch_wal() (it needs superuser, or GRANT EXECUTE ON FUNCTION "
                + "pg_catalog.pg_switch_wal() TO " + quotedRole + ")";
    }
}
