// The harness's knobs (Knobs.java) and method table (BackupMethod.java), in
// process, without a server: every knob is parsed once, numbers are digits
// before any arithmetic sees them, a bad value names its variable, and no
// hostile value comes back changed (issue 18 item 1).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KnobsTest {
    static final List<String> HOSTILE = List.of("$(touch pwned)", "`touch pwned`", "a[$(touch pwned)]", "1; touch pwned");
    /** Knobs that hold a number or a name from a list: each hostile value is refused, naming the knob. */
    static final List<String> CHECKED = List.of("SMOKE_ROWS", "SMOKE_BATCH_ROWS", "SMOKE_JOBS", "SMOKE_APPEND_ROWS",
            "SMOKE_PITR_ROWS", "SMOKE_RECOVERY_TIMEOUT", "SMOKE_TIMEOUT", "SMOKE_IN_PLACE", "SMOKE_PITR",
            "SMOKE_PITR_TARGET", "SMOKE_ORACLE", "SMOKE_TARGET_MAJORS", "SMOKE_METHODS", "SMOKE_SINCE",
            "SMOKE_PG_OS_USER", "PGPORT", "PGCONNECT_TIMEOUT", "MIGRATIONS_PATH");
    /** Knobs that hold free text (a host, a role, a database, a folder): taken as given, never evaluated. */
    static final List<String> VERBATIM = List.of("PGHOST", "PGUSER", "PGDATABASE", "SMOKE_PG_BINDIR", "SMOKE_REPORT_DIR");

    @TempDir Path temp;

    /** An environment with PATH holding the programs every run needs, plus KEYS_AND_VALUES. */
    private Map<String, String> env(String... keysAndValues) throws Exception {
        Path bin = temp.resolve("bin");
        if (!Files.isDirectory(bin)) {
            Files.createDirectories(bin);
            for (String program : List.of("pg_dump", "pg_restore", "psql", "pg_isready", "jq", "pgbackrest")) {
                Files.setPosixFilePermissions(Files.writeString(bin.resolve(program), "#!/bin/sh\n"),
                        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            }
        }
        Map<String, String> env = new HashMap<>(Map.of("PATH", bin.toString()));
        for (int i = 0; i < keysAndValues.length; i += 2) {
            env.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return env;
    }

    private String refusal(String... keysAndValues) throws Exception {
        Map<String, String> env = env(keysAndValues);
        return assertThrows(Failure.class, () -> Knobs.parse(env)).getMessage();
    }

    @Test
    void aDrillsMaxRpoIsOneTheToolTakes() throws Exception {
        assertEquals("0", Knobs.parse(env(drill("SMOKE_MAX_RPO", "0"))).get("SMOKE_MAX_RPO"));
        assertEquals("SMOKE_MAX_RPO must be under 292 years, got '999999999999h'",
                refusal(drill("SMOKE_MAX_RPO", "999999999999h")));
    }

    @Test
    void defaultsAreTheDocumentedOnes() throws Exception {
        Support.assertAnswers(Knobs.parse(env())::get, "SMOKE_ROWS", "24", "SMOKE_BATCH_ROWS", "", "SMOKE_JOBS", "2",
                "SMOKE_APPEND_ROWS", "8", "SMOKE_RECOVERY_TIMEOUT", "120", "SMOKE_METHODS", "custom",
                "SMOKE_ORACLE", "semantic", "SMOKE_PITR_TARGET", "time", "SMOKE_IN_PLACE", "0",
                "PGCONNECT_TIMEOUT", "10", "SMOKE_PG_OS_USER", "postgres");
    }

    @Test
    void everyCheckedKnobRefusesEveryHostileValueNamingItself() throws Exception {
        for (String knob : CHECKED) {
            for (String value : HOSTILE) {
                String message = refusal(knob, value);
                assertTrue(message.startsWith(knob + " ") || message.startsWith(knob + ":")
                        || message.contains(" in " + knob + " ") , knob + "=" + value + ": " + message);
            }
        }
        assertEquals(List.of(), List.of(temp.toFile().list()).stream().filter(name -> name.contains("pwned")).toList());
    }

    /** Root runs the throwaway servers as SMOKE_PG_OS_USER: one that cannot is refused before any starts. */
    @Test
    void runByRootTheServerUserMustBeAnUnprivilegedUserOfThisMachine() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "only root runs the servers as another user");
        assertEquals("SMOKE_PG_OS_USER must be a user of this machine (root runs the throwaway servers as it),"
                + " got 'nosuchuser'", refusal("SMOKE_PG_OS_USER", "nosuchuser"));
        assertEquals("SMOKE_PG_OS_USER must be an unprivileged user (PostgreSQL refuses to run as root), got 'root'",
                refusal("SMOKE_PG_OS_USER", "root"));
        assertEquals("postgres", Knobs.parse(env("SMOKE_PG_OS_USER", "postgres")).get("SMOKE_PG_OS_USER"));
    }

    /**
     * SMOKE_PG_OS_USER unset, root runs the servers as postgres: a machine without that user stops the run at
     * the knobs with one line saying what to set (pg-cluster.sh printed its line, then the harness its own).
     * This machine has a postgres user, so the decision is shown on a name it lacks.
     */
    @Test
    void anUnsetServerUserThatTheMachineLacksIsOneLineNamingTheKnob() throws Exception {
        assertEquals("SMOKE_PG_OS_USER is unset and this machine has no user nosuchuser to run the harness's"
                + " PostgreSQL servers as (root does not): set SMOKE_PG_OS_USER to an unprivileged user of this"
                + " machine", assertThrows(Failure.class, () -> Knobs.requireServerUser("nosuchuser", false))
                .getMessage());
        assertEquals("SMOKE_PG_OS_USER must be a user of this machine (root runs the throwaway servers as it),"
                + " got 'nosuchuser'", assertThrows(Failure.class, () -> Knobs.requireServerUser("nosuchuser", true))
                .getMessage());
        Knobs.requireServerUser(Knobs.DEFAULT_OS_USER, false);
    }

    /** The default user is looked up only when the run starts a server of its own: else it needs none. */
    @Test
    void aRunStartsServersForAThrowawayARestoredClusterATargetMajorOrADrillsSandbox() throws Exception {
        assertTrue(Knobs.parse(env()).startsServers(), "the throwaway server");
        assertTrue(!Knobs.parse(env("PGHOST", "db.internal")).startsServers(), "pg_dump against PGHOST");
        assertTrue(!Knobs.parse(env("PGHOST", "db.internal", "SMOKE_METHODS", "command-url", "SMOKE_BACKUP_CMD", "b",
                "SMOKE_RESTORE_CMD", "r")).startsServers(), "the command brings its own server up");
        assertTrue(Knobs.parse(env("PGHOST", "db.internal", "SMOKE_METHODS", "command-cluster", "SMOKE_BACKUP_CMD", "b",
                "SMOKE_RESTORE_CMD", "r")).startsServers(), "the restored cluster");
        assertTrue(Knobs.parse(env(drill())).startsServers(), "the drill's sandbox");
        assertTrue(!Knobs.parse(env(drill("SMOKE_METHODS", "command-url", "SMOKE_RESTORE_CMD", "r"))).startsServers(),
                "a drill of command-url");
    }

    @Test
    void freeTextKnobsComeBackExactlyAsGiven() throws Exception {
        for (String knob : VERBATIM) {
            for (String value : HOSTILE) {
                assertEquals(value, Knobs.parse(env(knob, value)).get(knob), knob);
            }
        }
    }

    @Test
    void theInjectionOfIssue18IsRefusedNamingTheKnob() throws Exception {
        assertEquals("SMOKE_RECOVERY_TIMEOUT must be a whole number from 1, got 'BASH_VERSINFO[$(touch pwned)0]+120'",
                refusal("SMOKE_RECOVERY_TIMEOUT", "BASH_VERSINFO[$(touch pwned)0]+120"));
    }

    @Test
    void numbersAreDecimalDigitsAndComeBackWithoutLeadingZeros() throws Exception {
        // bash would read 010 as octal 8 and 08 as an error.
        assertEquals("10", Knobs.parse(env("SMOKE_ROWS", "010")).get("SMOKE_ROWS"));
        assertEquals("8", Knobs.parse(env("SMOKE_APPEND_ROWS", "08")).get("SMOKE_APPEND_ROWS"));
        assertEquals("SMOKE_ROWS must be a whole number, got '-1'", refusal("SMOKE_ROWS", "-1"));
        assertEquals("SMOKE_ROWS must be a whole number, got '0x10'", refusal("SMOKE_ROWS", "0x10"));
        assertEquals("SMOKE_ROWS must be a whole number, got '9999999999'", refusal("SMOKE_ROWS", "9999999999"));
        assertEquals("SMOKE_BATCH_ROWS must be a whole number from 1, got '0'", refusal("SMOKE_BATCH_ROWS", "0"));
        assertEquals("PGPORT must be a port number (1-65535), got '70000'", refusal("PGPORT", "70000"));
        assertEquals("SMOKE_TIMEOUT must be a duration such as 90s or 2m, got '2 min'", refusal("SMOKE_TIMEOUT", "2 min"));
        assertEquals("90s", Knobs.parse(env("SMOKE_TIMEOUT", "90s")).get("SMOKE_TIMEOUT"));
        // what the tool's --timeout would refuse with its usage help, mid-run
        assertEquals("SMOKE_TIMEOUT must be longer than 0, got '0'", refusal("SMOKE_TIMEOUT", "0"));
        assertEquals("SMOKE_TIMEOUT must be under 292 years, got '99999999999h'",
                refusal("SMOKE_TIMEOUT", "99999999999h"));
        assertEquals("SMOKE_ROWS must be a whole number, got '1?2'", refusal("SMOKE_ROWS", "1\n2"));
    }

    @Test
    void namesFromAListAndFlags() throws Exception {
        assertEquals("SMOKE_IN_PLACE must be 1 or 0, got 'yes'", refusal("SMOKE_IN_PLACE", "yes"));
        assertEquals("SMOKE_PITR_TARGET must be time, lsn or xid, got 'name'", refusal("SMOKE_PITR_TARGET", "name"));
        assertEquals("SMOKE_ORACLE must be one of semantic, text, off, got 'both'", refusal("SMOKE_ORACLE", "both"));
        assertEquals("SMOKE_TARGET_MAJORS must be a comma list of major versions, got '15,'",
                refusal("SMOKE_TARGET_MAJORS", "15,"));
        // 11 has no build on Maven Central, so no program is needed to fetch it (refused later, by the plan).
        assertEquals("15,11", Knobs.parse(env("SMOKE_TARGET_MAJORS", "15,11")).get("SMOKE_TARGET_MAJORS"));
    }

    /** A target major whose binaries come from Maven Central needs xz and mvn (here neither), refused up front. */
    @Test
    void aTargetMajorWhoseBinariesNeedProgramsNotOnPathIsRefusedNamingThem() throws Exception {
        String cache = temp.resolve("c").toString();
        for (String major : List.of("15", "18")) {
            boolean installed = Files.isExecutable(Path.of("/usr/lib/postgresql/" + major + "/bin/initdb"));
            if (installed) {
                assertEquals(major, Knobs.parse(env("SMOKE_TARGET_MAJORS", major, "BACKUPSMOKE_CACHE", cache))
                        .get("SMOKE_TARGET_MAJORS"), "major " + major);
            } else {
                assertEquals("SMOKE_TARGET_MAJORS=" + major + ": PostgreSQL " + major + " server binaries come from"
                        + " Maven Central and need xz mvn, not on PATH",
                        refusal("SMOKE_TARGET_MAJORS", major, "BACKUPSMOKE_CACHE", cache), "major " + major);
            }
        }
    }

    @Test
    void methodsAreCheckedAgainstTheTableAndWhatTheyNeed() throws Exception {
        assertEquals("unknown backup method 'rsync' in SMOKE_METHODS (custom, directory, tar, plain, basebackup, "
                + "pgbackrest, barman, command, command-cluster, command-url)", refusal("SMOKE_METHODS", "custom,rsync"));
        assertEquals("the command method needs SMOKE_BACKUP_CMD and SMOKE_RESTORE_CMD", refusal("SMOKE_METHODS", "command"));
        assertEquals("the command-url method needs SMOKE_BACKUP_CMD and SMOKE_RESTORE_CMD",
                refusal("SMOKE_METHODS", "command-url", "SMOKE_BACKUP_CMD", "true"));
        assertEquals("the barman method needs barman on PATH (Debian package barman)", refusal("SMOKE_METHODS", "barman"));
        assertEquals("pgbackrest", Knobs.parse(env("SMOKE_METHODS", "pgbackrest")).get("SMOKE_METHODS"));
        assertEquals("SMOKE_PITR=1 restores to a point in time, which a custom backup cannot: use basebackup, "
                + "pgbackrest, barman, command-cluster or command-url", refusal("SMOKE_METHODS", "basebackup,custom",
                "SMOKE_PITR", "1"));
        assertEquals("SMOKE_IN_PLACE=1 runs one method only", refusal("SMOKE_METHODS", "custom,plain",
                "SMOKE_IN_PLACE", "1"));
        assertEquals("not on PATH: pg_dump pg_restore psql pg_isready jq", refusal("PATH", temp.toString()));
    }

    @Test
    void theAnswerCarriesEachChosenMethodsRowOfTheTable() throws Exception {
        Knobs knobs = Knobs.parse(env("SMOKE_METHODS", "directory,pgbackrest,command-url",
                "SMOKE_BACKUP_CMD", "b", "SMOKE_RESTORE_CMD", "r"));
        assertEquals("logical database pg_dump pg_restore 0 file", row(knobs, "directory"));
        assertEquals("physical cluster pgbackrest pgbackrest restore 1 repository", row(knobs, "pgbackrest"));
        assertEquals("command server SMOKE_BACKUP_CMD the restore command (SMOKE_RESTORE_CMD) 0 none",
                row(knobs, "command-url"));
        assertEquals(null, knobs.get("method.custom.kind"), "only the methods asked for");
        // The commands themselves are never part of the answer.
        assertTrue(knobs.values().values().stream().noneMatch(value -> value.equals("b") || value.equals("r")));
        String record = knobs.toNulRecord();
        assertTrue(record.startsWith("SMOKE_ROWS=24\0SMOKE_BATCH_ROWS=\0"), record);
        assertTrue(record.endsWith("\0"));
    }

    private static String row(Knobs knobs, String method) {
        return String.join(" ", List.of("kind", "target", "taken_by", "restored_by", "throwaway_only", "fingerprint")
                .stream().map(attribute -> knobs.get("method." + method + "." + attribute)).toList());
    }

    @Test
    void theMethodTableSaysWhichRestoreLandsWhere() {
        assertEquals(List.of("custom", "directory", "tar", "plain", "command"), BackupMethod.ALL.stream()
                .filter(method -> !method.restoresAServer()).map(BackupMethod::name).toList());
        assertEquals(List.of("basebackup", "pgbackrest", "barman"), BackupMethod.ALL.stream()
                .filter(BackupMethod::throwawayOnly).map(BackupMethod::name).toList());
        assertEquals("psql", BackupMethod.named("plain").orElseThrow().restoredBy());
        assertEquals(List.of("pgbackrest"), BackupMethod.named("pgbackrest").orElseThrow().programs());
    }

    @Test
    void sinceNeedsInPlaceAndAFileThatIsACheckpoint() throws Exception {
        Path checkpoint = temp.resolve("checkpoint.json");
        assertEquals("SMOKE_SINCE needs SMOKE_IN_PLACE=1: the checkpoint follows one long-lived database, and a "
                + "scratch database starts empty every run", refusal("SMOKE_SINCE", checkpoint.toString()));
        assertEquals("SMOKE_SINCE cannot be combined with SMOKE_PITR", refusal("SMOKE_SINCE", checkpoint.toString(),
                "SMOKE_IN_PLACE", "1", "SMOKE_PITR", "1", "SMOKE_METHODS", "basebackup"));
        Knobs first = Knobs.parse(env("SMOKE_SINCE", checkpoint.toString(), "SMOKE_IN_PLACE", "1"));
        assertEquals("0", first.get("since.found"));
        assertTrue(first.get("since.id_tag").matches("r\\d{8}t\\d{6}z-"), first.get("since.id_tag"));
        Files.writeString(checkpoint, "{\"row_count\": 0, \"chain_head_hash\": \"\"}\n");
        assertEquals("SMOKE_SINCE=" + checkpoint + " is not a checkpoint: it needs row_count (above 0) and "
                + "chain_head_hash; remove it to start over with a full verify",
                refusal("SMOKE_SINCE", checkpoint.toString(), "SMOKE_IN_PLACE", "1"));
        Files.writeString(checkpoint, "{\"row_count\": 3, \"chain_head_hash\": \"ab\"}\n");
        Knobs found = Knobs.parse(env("SMOKE_SINCE", checkpoint.toString(), "SMOKE_IN_PLACE", "1"));
        assertEquals("1", found.get("since.found"));
        assertEquals("3", found.get("since.row_count"));
        // Every verify is anchored to the checkpoint once it exists, else to the run's expectation.
        assertEquals("--since=" + checkpoint, HarnessModes.verifyAgainst(found, temp));
        assertEquals("--expect=" + temp.resolve("expected.json"), HarnessModes.verifyAgainst(first, temp));
        String missingFolder = temp.resolve("nowhere/checkpoint.json").toString();
        assertEquals("SMOKE_SINCE=" + missingFolder + ": folder " + temp.resolve("nowhere") + " does not exist or "
                + "cannot be written (a passing run writes the next checkpoint there)",
                refusal("SMOKE_SINCE", missingFolder, "SMOKE_IN_PLACE", "1"));
    }

    /** A FIFO as the checkpoint was read, and waited on for ever: it is refused unopened. */
    @Test
    void aSinceFileThatIsAFifoIsRefusedUnread() throws Exception {
        Path fifo = temp.resolve("checkpoint.fifo");
        assertEquals(0, Support.run(List.of("mkfifo", fifo.toString()), Map.of(), temp, 30).exit());
        String refused = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                () -> refusal("SMOKE_SINCE", fifo.toString(), "SMOKE_IN_PLACE", "1"));
        assertEquals("SMOKE_SINCE=" + fifo + " is not a regular file", refused);
    }

    @Test
    void pathsAreCheckedWithoutMakingAnything() throws Exception {
        Path reports = temp.resolve("reports/nested");
        assertEquals(reports.toString(), Knobs.parse(env("SMOKE_REPORT_DIR", reports.toString())).get("SMOKE_REPORT_DIR"));
        assertTrue(!Files.exists(reports), "the report mode makes it, not the validator");
        Files.writeString(temp.resolve("file"), "");
        assertEquals("SMOKE_REPORT_DIR " + temp.resolve("file/reports") + " cannot be written",
                refusal("SMOKE_REPORT_DIR", temp.resolve("file/reports").toString()));
        assertEquals("MIGRATIONS_PATH: migrations folder not found: " + temp.resolve("none"),
                refusal("MIGRATIONS_PATH", temp.resolve("none").toString()));
        assertEquals(Support.MIGRATIONS.toRealPath().toString(),
                Knobs.parse(env("MIGRATIONS_PATH", Support.MIGRATIONS.toString())).get("MIGRATIONS_PATH"));
    }

    // ------------------------------------------------------------ SMOKE_DRILL=1 (SPEC 9.10)

    /** A ledger whose last entry was recorded in database app. */
    private Path ledger() throws Exception {
        return Files.writeString(temp.resolve("ledger.jsonl"), "{\"time\":\"2026-12-05T13:00:00Z\",\"database\":\"other\"}\n"
                + "{\"time\":\"2026-12-05T14:00:00Z\",\"database\":\"app\"}\n");
    }

    /**
     * The drill's database is read from the ledger's last line while a
     * checkpoint may be appending it: the read waits for the checkpoint's
     * lock. Unlocked, it read half a line and stopped the drill ("holds no
     * checkpoint naming its database").
     */
    @Test
    void theLedgersDatabaseIsReadAfterTheCheckpointAppendingALine() throws Exception {
        String[] knobs = drill();
        Process appending = LedgerTest.appendingUnderLock(temp, ledger(), "{\"time\":\"2026-12-05T15:00:00Z\","
                + "\"database\":\"appended\",\"schema\":\"" + "public".repeat(1000) + "\"}");
        try {
            assertEquals("appended", Knobs.parse(env(knobs)).get("drill.database"));
        } finally {
            assertEquals(0, appending.waitFor());
        }
    }

    /**
     * The drill's database comes from the ledger's last line, read one line
     * at a time: the ledger's whole text was decoded (twice its size as
     * chars) and split, and a year of 15-minute checkpoints (60 MB) ran the
     * knobs out of the launcher's 160 MiB heap (exit 1) before any drill
     * began. Here 24 MB with a 48 MiB heap.
     */
    @Test
    @Tag("e2e")
    void theDrillsDatabaseComesFromALongLedgerInASmallHeap() throws Exception {
        Path ledger = temp.resolve("long.jsonl");
        String line = "{\"database\":\"app\",\"integrity\":{\"x\":\"" + "y".repeat(1_600) + "\"}}\n";
        try (var out = Files.newBufferedWriter(ledger)) {
            for (int i = 0; i < 15_000; i++) {
                out.write(line);
            }
            out.write(line.replace("\"app\"", "\"last\""));
        }
        var knobs = Support.launched(Map.of("BACKUPSMOKE_JAVA_OPTS", "-XX:+UseSerialGC -Xmx48m", "SMOKE_DRILL", "1",
                "SMOKE_METHODS", "pgbackrest", "SMOKE_PGBACKREST_STANZA", "main", "SMOKE_LEDGER", ledger.toString()),
                "--mode=knobs");
        assertEquals(0, knobs.exit(), knobs.describe());
        assertTrue(knobs.out().contains("drill.database=last"), knobs.out());
    }

    private String[] drill(String... more) throws Exception {
        List<String> pairs = new java.util.ArrayList<>(List.of("SMOKE_DRILL", "1", "SMOKE_METHODS", "pgbackrest",
                "SMOKE_PGBACKREST_STANZA", "main", "SMOKE_LEDGER", ledger().toString()));
        for (int i = 0; i < more.length; i += 2) {
            int at = pairs.indexOf(more[i]);
            if (at >= 0 && at % 2 == 0) {
                pairs.set(at + 1, more[i + 1]);
            } else {
                pairs.add(more[i]);
                pairs.add(more[i + 1]);
            }
        }
        return pairs.toArray(String[]::new);
    }

    @Test
    void aDrillNeedsALedgerAndExactlyOneRestoreMethodAndTakesNoBackup() throws Exception {
        Knobs knobs = Knobs.parse(env(drill()));
        assertEquals("1", knobs.get("SMOKE_DRILL"));
        assertEquals("pgbackrest", knobs.get("SMOKE_METHODS"));
        assertEquals("main", knobs.get("SMOKE_PGBACKREST_STANZA"));
        assertEquals("main", knobs.get("drill.repository"), "the stanza pgBackRest restores from");
        assertEquals("", knobs.get("drill.tool_config"));
        assertEquals("latest", knobs.get("SMOKE_BACKUP_SET"));
        assertEquals("", knobs.get("drill.backup_id"), "latest names no id: the restore's output does");
        assertEquals(temp.resolve("ledger.jsonl").toString(), knobs.get("SMOKE_LEDGER"));
        assertEquals("app", knobs.get("drill.database"), "the database of the ledger's last entry");
        assertEquals("", knobs.get("drill.schema"), "the ledger's: drill-verify gets no --schema");
        assertEquals("", knobs.get("drill.target_kind"));
        assertEquals("", knobs.get("drill.target_flag"));
        assertEquals("0", Knobs.parse(env()).get("SMOKE_DRILL"));
        assertEquals("SMOKE_BACKUP_CMD is refused in a drill (SMOKE_DRILL=1): the drill restores an existing backup"
                + " and takes none", refusal(drill("SMOKE_BACKUP_CMD", "pgbackrest backup")));
        for (String methods : List.of("custom", "pgbackrest,barman", "basebackup")) {
            assertEquals("SMOKE_DRILL=1 restores with exactly one of pgbackrest, barman, command-cluster, command-url"
                    + " in SMOKE_METHODS, got '" + methods + "'", refusal(drill("SMOKE_METHODS", methods)));
        }
        assertEquals("SMOKE_DRILL=1 with SMOKE_METHODS=pgbackrest needs SMOKE_PGBACKREST_STANZA",
                refusal(drill("SMOKE_PGBACKREST_STANZA", "")));
        assertEquals("SMOKE_DRILL=1 with SMOKE_METHODS=barman needs SMOKE_BARMAN_SERVER",
                refusal(drill("SMOKE_METHODS", "barman")));
        assertEquals("the command-cluster method needs SMOKE_RESTORE_CMD", refusal(drill("SMOKE_METHODS", "command-cluster")));
        Knobs command = Knobs.parse(env(drill("SMOKE_METHODS", "command-url", "SMOKE_RESTORE_CMD", "r")));
        assertEquals("command-url", command.get("SMOKE_METHODS"));
        assertEquals("", command.get("drill.repository") + command.get("drill.tool_config"), "a command needs neither");
        Files.writeString(temp.resolve("bin/barman"), "#!/bin/sh\n");
        temp.resolve("bin/barman").toFile().setExecutable(true);
        Path config = Files.writeString(temp.resolve("barman.conf"), "[barman]\n");
        Knobs barman = Knobs.parse(env(drill("SMOKE_METHODS", "barman", "SMOKE_BARMAN_SERVER", "pg",
                "SMOKE_BARMAN_CONFIG", config.toString())));
        assertEquals("pg " + config, barman.get("drill.repository") + " " + barman.get("drill.tool_config"),
                "the server Barman restores from, and its configuration");
        // The restore runs as the repository's owner from /: a configuration named from here is passed absolute.
        String fromHere = Path.of("").toAbsolutePath().relativize(config).toString();
        assertEquals(config.toString(), Knobs.parse(env(drill("SMOKE_METHODS", "barman", "SMOKE_BARMAN_SERVER", "pg",
                "SMOKE_BARMAN_CONFIG", fromHere))).get("drill.tool_config"));
        assertEquals(config.toString(), Knobs.parse(env(drill("PGBACKREST_CONFIG", fromHere))).get("drill.tool_config"),
                "pgBackRest's configuration, as PGBACKREST_CONFIG names it");
        assertEquals("PGBACKREST_CONFIG=" + temp.resolve("none") + " is not a readable file",
                refusal(drill("PGBACKREST_CONFIG", temp.resolve("none").toString())));
        assertEquals("SMOKE_DRILL=1 needs SMOKE_LEDGER: the checkpoint ledger (--mode=checkpoint) the restore is"
                + " judged against", refusal(drill("SMOKE_LEDGER", "")));
        assertEquals("SMOKE_LEDGER=" + temp.resolve("none") + " is not a readable file",
                refusal(drill("SMOKE_LEDGER", temp.resolve("none").toString())));
        assertEquals("SMOKE_PITR=1 cannot be combined with SMOKE_DRILL=1 (a drill restores to SMOKE_RECOVERY_TARGET_TIME,"
                + " _LSN or _XID)", refusal(drill("SMOKE_PITR", "1")));
        assertEquals("SMOKE_IN_PLACE=1 cannot be combined with SMOKE_DRILL=1", refusal(drill("SMOKE_IN_PLACE", "1")));
        assertEquals("SMOKE_DRILL must be 1 or 0, got 'yes'", refusal("SMOKE_DRILL", "yes"));
    }

    @Test
    void theDrillsOwnKnobsAreCheckedNamingThemselves() throws Exception {
        assertEquals("SMOKE_MAX_RPO must be a duration such as 26h or 90m, got '1 day'",
                refusal(drill("SMOKE_MAX_RPO", "1 day")));
        assertEquals("26h", Knobs.parse(env(drill("SMOKE_MAX_RPO", "26h"))).get("SMOKE_MAX_RPO"));
        assertEquals("SMOKE_SIGNING_KEY=" + temp.resolve("key.pem") + " is not a readable file",
                refusal(drill("SMOKE_SIGNING_KEY", temp.resolve("key.pem").toString())));
        assertEquals("SMOKE_VERIFY_KEY=" + temp.resolve("pub.pem") + " is not a readable file",
                refusal(drill("SMOKE_VERIFY_KEY", temp.resolve("pub.pem").toString())));
        assertEquals("SMOKE_BACKUP_SET must be a backup set's label or id, or latest, got '$(touch pwned)'",
                refusal(drill("SMOKE_BACKUP_SET", "$(touch pwned)")));
        Knobs named = Knobs.parse(env(drill("SMOKE_BACKUP_SET", "20261205-163000F_20261205-163100I")));
        assertEquals("20261205-163000F_20261205-163100I", named.get("SMOKE_BACKUP_SET"));
        assertEquals("20261205-163000F_20261205-163100I", named.get("drill.backup_id"));
        assertEquals("SMOKE_PGBACKREST_STANZA must be a name, got 'a b'", refusal(drill("SMOKE_PGBACKREST_STANZA", "a b")));
        assertEquals("other", Knobs.parse(env(drill("SMOKE_DRILL_DATABASE", "other"))).get("drill.database"));
        assertEquals("tenant_a", Knobs.parse(env(drill("SMOKE_DRILL_SCHEMA", "tenant_a"))).get("drill.schema"));
        assertEquals("SMOKE_DRILL_SCHEMA must be a schema's name (at most 63 bytes, no line break), got '"
                + "s".repeat(64) + "'", refusal(drill("SMOKE_DRILL_SCHEMA", "s".repeat(64))));
        Files.writeString(temp.resolve("empty.jsonl"), "");
        assertEquals("SMOKE_LEDGER=" + temp.resolve("empty.jsonl") + " holds no checkpoint naming its database (run"
                + " --mode=checkpoint, or set SMOKE_DRILL_DATABASE)",
                refusal(drill("SMOKE_LEDGER", temp.resolve("empty.jsonl").toString())));
    }

    /**
     * Run by root, the drill's sandbox server runs as SMOKE_PG_OS_USER (postgres) and runs what the backup
     * holds: a signing key that user may read is said in a warning; one root alone may read is not, nor any
     * key when the sandbox is the operator's own server (command-url).
     */
    @Test
    void aSigningKeyTheSandboxsUserMayReadIsWarnedOf() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the sandbox runs as another user only for root");
        Path key = Files.writeString(temp.resolve("report.pem"), "not read here\n");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        assertEquals(null, sandboxWarning(key, "pgbackrest"));
        String warning = "warning: SMOKE_SIGNING_KEY=" + key + " can be read by postgres (%s), the OS user the drill's"
                + " sandbox server runs as: code the backup holds could read it and sign a false report; run the harness"
                + " as root with the key readable by root alone (drill.md)";
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(warning.formatted("anyone may read it"), sandboxWarning(key, "pgbackrest"));
        assertEquals(null, sandboxWarning(key, "command-url"));
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r-----"));
        String group = Files.readAttributes(key, PosixFileAttributes.class).group().getName();
        assertEquals(warning.formatted("its group " + group + " may read it"), sandboxWarning(key, "pgbackrest"));
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("r--------"));
        Files.setOwner(key, key.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres"));
        assertEquals(warning.formatted("it owns the file"), sandboxWarning(key, "pgbackrest"));
    }

    /** The say= line of the knobs of a drill of METHOD signing its report with KEY, or null. */
    private String sandboxWarning(Path key, String method) throws Exception {
        return Knobs.parse(env(drill("SMOKE_METHODS", method, "SMOKE_RESTORE_CMD", "r", "SMOKE_SIGNING_KEY",
                key.toString()))).get("say");
    }

    @Test
    void aDrillsRecoveryTargetIsOneTimeLsnOrXid() throws Exception {
        Knobs time = Knobs.parse(env(drill("SMOKE_RECOVERY_TARGET_TIME", "2026-12-05 16:30:00.25+00")));
        assertEquals("time", time.get("drill.target_kind"));
        assertEquals("2026-12-05 16:30:00.25+00", time.get("SMOKE_RECOVERY_TARGET_TIME"));
        assertEquals("--recovery-target-time=2026-12-05T16:30:00.250Z", time.get("drill.target_flag"));
        assertEquals("--recovery-target-time=2026-12-05T16:30+05:30", Knobs.parse(env(drill(
                "SMOKE_RECOVERY_TARGET_TIME", "2026-12-05T16:30:00+0530"))).get("drill.target_flag"));
        // PostgreSQL 15 refuses recovery_target_time = '2026-12-07T15:04:51.5Z' when it starts, pgBackRest
        // 2.45 the T when it picks the backup set for the time.
        Knobs zulu = Knobs.parse(env(drill("SMOKE_RECOVERY_TARGET_TIME", "2026-12-07T15:04:51.5Z")));
        assertEquals("2026-12-07 15:04:51.5+00", zulu.get("SMOKE_RECOVERY_TARGET_TIME"));
        assertEquals("2026-12-05 16:30:00+0530", Knobs.parse(env(drill("SMOKE_RECOVERY_TARGET_TIME",
                "2026-12-05T16:30:00+0530"))).get("SMOKE_RECOVERY_TARGET_TIME"));
        assertEquals("--recovery-target-time=2026-12-07T15:04:51.500Z", zulu.get("drill.target_flag"));
        Knobs lsn = Knobs.parse(env(drill("SMOKE_RECOVERY_TARGET_LSN", "0/3000148")));
        assertEquals("lsn --recovery-target-lsn=0/3000148", lsn.get("drill.target_kind") + " "
                + lsn.get("drill.target_flag"));
        Knobs xid = Knobs.parse(env(drill("SMOKE_RECOVERY_TARGET_XID", "745")));
        assertEquals("xid --recovery-target-xid=745", xid.get("drill.target_kind") + " " + xid.get("drill.target_flag"));
        assertEquals("SMOKE_RECOVERY_TARGET_TIME must be a time with its offset such as 2026-12-05 16:30:00+00, got"
                + " 'yesterday'", refusal(drill("SMOKE_RECOVERY_TARGET_TIME", "yesterday")));
        assertEquals("SMOKE_RECOVERY_TARGET_LSN must be an LSN such as 0/3000148, got '3000148'",
                refusal(drill("SMOKE_RECOVERY_TARGET_LSN", "3000148")));
        assertEquals("SMOKE_RECOVERY_TARGET_XID must be a transaction id, got '-1'",
                refusal(drill("SMOKE_RECOVERY_TARGET_XID", "-1")));
        assertEquals("SMOKE_RECOVERY_TARGET_TIME, _LSN and _XID: give one target at most",
                refusal(drill("SMOKE_RECOVERY_TARGET_LSN", "0/1", "SMOKE_RECOVERY_TARGET_XID", "7")));
    }

    @Test
    void anSslpasswordGoesToAServiceFileOnlyItsOwnerReads() throws Exception {
        Map<String, String> env = env("DATABASE_URL", "postgres://u@h/d?sslpassword=s%26cret");
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        HarnessModes.knobs(env, temp, "backupsmoke 0.1.0", new java.io.PrintStream(out));
        Path file = temp.resolve("pg_service.conf");
        assertTrue(out.toString().endsWith("\0run.verify_against=--expect=" + temp.resolve("expected.json")
                + "\0server.service_file=" + file + "\0"), out.toString());
        assertEquals("[backupsmoke]\nsslpassword=s&cret\n", Files.readString(file));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)));
        java.io.ByteArrayOutputStream plain = new java.io.ByteArrayOutputStream();
        HarnessModes.knobs(env("DATABASE_URL", "postgres://u@h/d"), temp.resolve("none"), "v",
                new java.io.PrintStream(plain));
        assertTrue(!plain.toString().contains("service_file"), plain.toString());
        assertEquals("cannot write the connection service file in " + temp.resolve("none"), assertThrows(
                Failure.class, () -> ServiceFile.write(temp.resolve("none"), "x")).getMessage());
    }

    @Test
    void aDrillStoppedByAKnobStillWritesItsReportSayingItDidNotPass() throws Exception {
        Path reports = temp.resolve("reports");
        Map<String, String> env = env(drill("SMOKE_METHODS", "custom", "SMOKE_REPORT_DIR", reports.toString()));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        assertThrows(Failure.class, () -> HarnessModes.knobs(env, null, "backupsmoke 0.1.0", new java.io.PrintStream(out)));
        assertEquals(0, out.size(), "no answer on stdout");
        var report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(reports.resolve("report.json").toFile());
        assertEquals(false, report.get("passed").asBoolean());
        assertTrue(report.get("failure").asText().startsWith("cannot judge: SMOKE_DRILL=1 restores with exactly one"),
                report.toString());
        assertTrue(Files.readString(reports.resolve("metrics.prom")).contains("backupsmoke_drill_success{method=\"custom\"} 0"));
    }

    @Test
    void aBackupLabelGivesTheBackupsStartLsnTimeLabelAndTimeline() throws Exception {
        BackupLabel label = BackupLabel.parse("""
                START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
                CHECKPOINT LOCATION: 0/2000060
                BACKUP METHOD: streamed
                BACKUP FROM: primary
                START TIME: 2026-12-05 16:30:07 UTC
                LABEL: pgBackRest backup 20261205-163007F
                START TIMELINE: 1
                """, "backup_label");
        assertEquals(new BackupLabel("0/2000028", java.time.Instant.parse("2026-12-05T16:30:07Z"),
                "pgBackRest backup 20261205-163007F", 1L), label);
        assertEquals(java.time.Instant.parse("2026-12-05T15:30:07Z"), BackupLabel.parse(
                "START WAL LOCATION: 1A/FF000028 (file x)\nSTART TIME: 2026-12-05 16:30:07 +01\n", "f").startTime());
        assertEquals(null, BackupLabel.parse("START WAL LOCATION: 0/5 (file x)\nSTART TIME: 2026-12-05 16:30:07 UTC\n",
                "f").timeline());
        assertEquals(null, BackupLabel.parse("START TIME: 2026-12-05 16:30:07 UTC\n", "f").startLsn());
        assertEquals("f is not a backup label: it needs a START TIME line",
                assertThrows(Failure.class, () -> BackupLabel.parse("LABEL: x\n", "f")).getMessage());
    }

    /**
     * An abbreviation stands for one offset, whatever region writes it: java.time's own parsing read AEST in
     * December as Sydney's +11 (AEDT then; Brisbane writes AEST at +10), EST in July as New York's -4 (Panama
     * writes EST at -5), BST in July as Bougainville's +11, and CST as Chicago's though China's servers write
     * it at +8. One standing for several offsets is left out beside an LSN (which chooses the entry relied on)
     * and refused without one.
     */
    @Test
    void aBackupLabelsZoneAbbreviationIsReadAsTheOffsetItStandsFor() throws Exception {
        assertStartTimesAre(
                "START TIME: 2026-12-05 16:30:07 AEST\n", "2026-12-05T06:30:07Z",
                "START TIME: 2026-07-05 16:30:07 EST\n", "2026-07-05T21:30:07Z",
                "START TIME: 2026-12-05 16:30:07 MSK\n", "2026-12-05T13:30:07Z",
                "START TIME: 2026-07-05 16:30:07 CEST\n", "2026-07-05T14:30:07Z");
        assertEquals(null, BackupLabel.parse("START WAL LOCATION: 0/5 (file x)\nSTART TIME: 2026-12-05 16:30:07 CST\n",
                "f").startTime());
        assertEquals("f: START TIME \"2026-12-05 16:30:07 CST\" names its zone CST, which stands for several offsets"
                + " then (+08:00, -05:00, -06:00): write it in UTC or with its offset", assertThrows(Failure.class,
                        () -> BackupLabel.parse("START TIME: 2026-12-05 16:30:07 CST\n", "f")).getMessage());
        assertEquals("f: START TIME \"2026-12-05 16:30:07 XYZ\" is not a time this tool can read", assertThrows(
                Failure.class, () -> BackupLabel.parse("START TIME: 2026-12-05 16:30:07 XYZ\n", "f")).getMessage());
    }

    /**
     * The hour a zone's clocks go back happens twice, once in each offset, and the server writes the
     * abbreviation of the one it is in (PostgreSQL at Pacific/Auckland: 02:30:00 NZDT, then 02:30:00 NZST).
     * Only the first was found, so a backup that began in the second hour there, in Portugal (WET) or in
     * Newfoundland (NST) could not be judged, its START WAL LOCATION given or not.
     */
    @Test
    void aBackupLabelsTimeInTheRepeatedHourIsReadInTheOffsetItNames() throws Exception {
        assertStartTimesAre(
                "START TIME: 2026-04-05 02:30:00 NZDT\n", "2026-04-04T13:30:00Z",
                "START TIME: 2026-04-05 02:30:00 NZST\n", "2026-04-04T14:30:00Z",
                "START WAL LOCATION: 0/5 (file x)\nSTART TIME: 2026-10-25 01:30:00 WET\n", "2026-10-25T01:30:00Z",
                "START TIME: 2026-11-01 01:30:00 NST\n", "2026-11-01T05:00:00Z");
    }

    /** Each backup label's start time is the instant after it. */
    private static void assertStartTimesAre(String... labelsAndInstants) throws Failure {
        for (int i = 0; i < labelsAndInstants.length; i += 2) {
            String label = labelsAndInstants[i];
            assertEquals(java.time.Instant.parse(labelsAndInstants[i + 1]), BackupLabel.parse(label, "f").startTime(),
                    label);
        }
    }
}
