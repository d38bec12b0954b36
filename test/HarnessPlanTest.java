// The harness's plan (--mode=plan, HarnessPlan.java), in process, without a
// server (and with the suite's: the wait, the source's scratch database): which backups are taken, which combinations run where or are
// skipped and why, whether the source is wiped, and what is refused before
// anything starts.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

class HarnessPlanTest {
    static final String PG_DUMP_15 = "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n";

    private static Map<String, String> plan(String methods, String majors, String server, String oracle)
            throws Failure {
        HarnessPlan.Options options = new HarnessPlan.Options();
        options.methods = methods;
        options.targetMajors = majors;
        options.serverKind = server;
        options.oracle = oracle;
        return HarnessPlan.of(options, 15, PG_DUMP_15).entries();
    }

    /** NAME: target (skip reason) [oracle skip reason] for every combination, in order. */
    private static String combinations(Map<String, String> plan) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < Integer.parseInt(plan.get("plan.combinations")); i++) {
            String prefix = "combination." + i + ".";
            out.append(plan.get(prefix + "method")).append("-pg").append(plan.get(prefix + "major")).append(": ")
                    .append(plan.get(prefix + "target")).append(" (").append(plan.get(prefix + "skip")).append(") [")
                    .append(plan.get(prefix + "oracle_skip")).append("]\n");
        }
        return out.toString();
    }

    @Test
    void theFirstDatabaseCombinationOfTheSourcesMajorGetsTheWipedSourceTheOthersScratchDatabases() throws Exception {
        Map<String, String> plan = plan("custom,plain,basebackup", "15,16", "throwaway", "text");
        assertEquals("""
                custom-pg15: source () []
                plain-pg15: scratch () []
                basebackup-pg15: server () []
                custom-pg16: major () [pg_dump 15 cannot dump a server of major 16]
                plain-pg16: major () [pg_dump 15 cannot dump a server of major 16]
                basebackup-pg16: skip (a physical backup only starts under its own major (15)) [pg_dump 15 cannot dump a server of major 16]
                """, combinations(plan));
        Support.assertAnswers(plan::get, "plan.source_major", "15", "plan.dump_major", "15", "plan.wipe", "1",
                "plan.tagged", "1", "plan.throwaway_tools", "basebackup", "plan.backup_skip.basebackup", "");
    }

    @Test
    void onAConfiguredServerTheThrowawayOnlyMethodsAreSkippedAndNothingIsWipedWithoutADatabaseMethod()
            throws Exception {
        Map<String, String> plan = plan("pgbackrest,command-url", "", "pgvars", "off");
        assertEquals("""
                pgbackrest-pg15: skip (a physical backup is only taken of the throwaway cluster) [SMOKE_ORACLE=off]
                command-url-pg15: server () [SMOKE_ORACLE=off]
                """, combinations(plan));
        Support.assertAnswers(plan::get,
                "plan.backup_skip.pgbackrest", "a physical backup is only taken of the throwaway cluster",
                "plan.backup_skip.command-url", "", "plan.wipe", "0", "plan.throwaway_tools", "", "plan.tagged", "1");
    }

    @Test
    void oneCombinationIsNotTagged() throws Exception {
        Map<String, String> plan = plan("custom", "", "url", "semantic");
        assertEquals("custom-pg15: source () []\n", combinations(plan));
        assertEquals("0", plan.get("plan.tagged"));
    }

    @Test
    void whatCannotWorkIsRefusedBeforeAnythingStarts() {
        assertEquals("SMOKE_TARGET_MAJORS: 14 is older than the source server (15); restores go to the same or newer"
                + " majors", assertThrows(Failure.class, () -> plan("custom", "15,14", "url", "semantic")).getMessage());
        HarnessPlan.Options options = new HarnessPlan.Options();
        options.methods = "custom";
        assertEquals("pg_dump 15 cannot dump a server of major 17 (newer than itself): install pg_dump 17 or newer",
                assertThrows(Failure.class, () -> HarnessPlan.of(options, 17, PG_DUMP_15)).getMessage());
        assertEquals("cannot tell the version of pg_dump from 'pg_dump --version'",
                assertThrows(Failure.class, () -> HarnessPlan.of(options, 15, "")).getMessage());
    }

    /** Against the suite's server: its major, and the pg_dump on PATH. */
    private static Map<String, String> answer(String out) {
        Map<String, String> answer = new LinkedHashMap<>();
        for (String entry : out.split("\0")) {
            answer.merge(entry.substring(0, entry.indexOf('=')), entry.substring(entry.indexOf('=') + 1),
                    (first, next) -> first + "\n" + next);
        }
        return answer;
    }

    private static final String LABEL = Support.USER + "@" + Support.HOST + ":" + Support.PORT;

    @Test
    void theModeWaitsForTheServerThenAsksItAndPgDump() throws Exception {
        var result = Support.tool(Map.of("PATH", System.getenv("PATH")), "--mode=plan", "--db-url=" + Support.url("postgres"),
                "--methods=custom", "--server-kind=url", "--server-label=" + LABEL);
        assertEquals(0, result.exit(), result.describe());
        Map<String, String> answer = answer(result.out());
        assertEquals("server " + LABEL + " is up", answer.get("say"));
        assertEquals("source", answer.get("combination.0.target"));
        assertEquals(answer.get("plan.source_major"), answer.get("combination.0.major"));
        assertEquals(null, answer.get("source.database"));
        var misplaced = Support.tool("--mode=verify", "--methods=custom");
        assertEquals(2, misplaced.exit(), misplaced.describe());
    }

    /**
     * pg_isready's command line, which ps shows every user, held --db-url as given, its password and
     * sslpassword too (reproduced on PostgreSQL 15 with a shim recording it). It holds the URL without them
     * now; the sslpassword goes by a service file of its own, removed when pg_isready ends.
     */
    @Test
    void pgIsReadysCommandLineHoldsNoSecretOfTheUrl(@TempDir Path work) throws Exception {
        Path record = work.resolve("pg_isready.args");
        String realPgIsReady = Support.run(List.of("bash", "-c", "command -v pg_isready"), Map.of(), Support.REPO, 30)
                .out().strip();
        String path = Support.pathWithShim(work.resolve("bin"), "pg_isready", "#!/bin/sh\n"
                + "printf '%s\\n' \"$*\" \"${PGSERVICEFILE-}\" >>'" + record + "'\n"
                + "[ -z \"${PGSERVICEFILE-}\" ] || cat \"$PGSERVICEFILE\" >>'" + record + "'\n"
                + "exec '" + realPgIsReady + "' \"$@\"\n");
        String server = Support.HOST + ":" + Support.PORT + "/postgres?sslmode=disable";
        var result = Support.tool(Map.of("PATH", path), "--mode=plan",
                "--db-url=postgres://" + Support.USER + ":Pw-Secret-3@" + server + "&sslpassword=Ssl-Secret-7",
                "--methods=custom", "--server-kind=url", "--server-label=" + LABEL);
        assertEquals(0, result.exit(), result.describe());
        List<String> recorded = Files.readAllLines(record);
        assertEquals(List.of("-d postgres://" + Support.USER + "@" + server + " -t 5"), recorded.subList(0, 1));
        assertEquals(List.of("[backupsmoke]", "sslpassword=Ssl-Secret-7"), recorded.subList(2, 4));
        assertFalse(Files.exists(Path.of(recorded.get(1)).getParent()), "the service file's folder is gone");

        // A key=value --db-url alike: pg_isready gets its other keywords, each value quoted.
        Files.delete(record);
        var keywords = Support.tool(Map.of("PATH", path), "--mode=plan", "--db-url=host=" + Support.HOST + " port="
                + Support.PORT + " dbname=postgres user=" + Support.USER + " password=Pw-Secret-3 sslmode=disable"
                + " sslpassword=Ssl-Secret-7", "--methods=custom", "--server-kind=url", "--server-label=" + LABEL);
        assertEquals(0, keywords.exit(), keywords.describe());
        recorded = Files.readAllLines(record);
        assertEquals(List.of("-d host='" + Support.HOST + "' port='" + Support.PORT + "' dbname='postgres' user='"
                + Support.USER + "' sslmode='disable' -t 5"), recorded.subList(0, 1));
        assertEquals(List.of("[backupsmoke]", "sslpassword=Ssl-Secret-7"), recorded.subList(2, 4));
    }

    @Test
    void aUrlLibpqRefusesFailsAtOnceWithPgIsReadysReason() {
        Support.refused(Map.of("PATH", System.getenv("PATH")), 1,
                "cannot connect to " + LABEL + ": invalid URI query parameter: \"bogus\"", "--mode=plan",
                "--db-url=" + Support.url("postgres") + "&bogus=1", "--methods=custom", "--server-kind=url",
                "--server-label=" + LABEL);
    }

    @Test
    void aPlanWithoutMethodsAsksForThem() {
        Support.refused(Map.of("PATH", System.getenv("PATH")), 1,
                "--mode=plan needs --methods=LIST (" + BackupMethod.names() + ")", "--mode=plan",
                "--db-url=" + Support.url("postgres"), "--server-kind=url", "--server-label=" + LABEL);
    }

    /** --mode=plan on the suite's server of KIND, asked to make the source's scratch database. */
    private static Support.Result planWithScratchSource(String kind, Path registry) {
        var result = Support.tool(Map.of("PATH", System.getenv("PATH")), "--mode=plan",
                "--db-url=" + Support.url("postgres"), "--methods=custom", "--server-kind=" + kind,
                "--server-label=" + LABEL, "--scratch-source=" + registry);
        assertEquals(0, result.exit(), result.describe());
        return result;
    }

    private static Connector connector(String database, Deadline deadline) throws Failure {
        return new Connector(ConnectionTarget.parse(Support.url(database), Map.of()), 5, deadline);
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void theSourcesScratchDatabaseIsRegisteredThenCreatedButNotOnAThrowawayServer(@TempDir Path work) throws Exception {
        Path registry = work.resolve("scratch-dbs");
        var result = planWithScratchSource("url", registry);
        String name = answer(result.out()).get("source.database");
        assertTrue(name.matches("backupsmoke_[0-9a-f]{12}"), name);
        assertEquals("server " + LABEL + " is up\nscratch database " + name + " created", answer(result.out()).get("say"));
        assertEquals(name + "\n", Files.readString(registry));
        assertTrue(Support.databases().contains(name), name);
        Support.execute("postgres", "DROP DATABASE " + name);
        // On the throwaway server nothing is registered: the cluster goes as a whole.
        Path unused = work.resolve("unused");
        String thrown = answer(planWithScratchSource("throwaway", unused).out()).get("source.database");
        assertTrue(!Files.exists(unused));
        try (Deadline deadline = new Deadline(java.time.Duration.ofMinutes(1))) {
            var connector = connector("postgres", deadline);
            assertEquals("database " + thrown + " exists already; run again", assertThrows(Failure.class,
                    () -> SourceServer.createScratch(connector, thrown, unused, "x@y:1")).getMessage());
        }
        assertTrue(!Files.exists(unused), "a taken name is not registered");
        Support.execute("postgres", "DROP DATABASE " + thrown);
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void aCombinationsScratchDatabaseIsRegisteredCreatedConfirmedEmptyAndDroppedWithItsSessions(@TempDir Path work)
            throws Exception {
        Path registry = work.resolve("scratch-dbs");
        var made = Support.tool("--mode=new-scratch-db", "--db-url=" + Support.url("postgres"),
                "--server-label=" + LABEL, "--registry=" + registry);
        assertEquals(0, made.exit(), made.describe());
        Map<String, String> answer = answer(made.out());
        String name = answer.get("database");
        assertEquals("scratch database " + name + " created\nconfirmed: no tables in " + name, answer.get("say"));
        assertEquals(name + "\n", Files.readString(registry));
        Support.execute(name, "CREATE TABLE left_over (id int)");
        try (Deadline deadline = new Deadline(java.time.Duration.ofMinutes(1))) {
            assertEquals(1, SourceServer.tableCount(connector(name, deadline), name));
        }
        String template = SourceServer.scratchName(); // a template database cannot be dropped
        Support.execute("postgres", "CREATE DATABASE " + template, "ALTER DATABASE " + template + " IS_TEMPLATE true");
        Files.writeString(registry, template + "\n", java.nio.file.StandardOpenOption.APPEND);
        try (var session = Support.connect(name)) {
            var dropped = Support.tool("--mode=drop-scratch-dbs", "--db-url=" + Support.url("postgres"),
                    "--server-label=" + LABEL, "--registry=" + registry);
            assertEquals(1, dropped.exit(), dropped.describe());
            assertEquals("warning: could not drop scratch database " + template + " on " + LABEL
                    + "; drop it by hand\n", dropped.err());
        }
        assertTrue(!Support.databases().contains(name), name);
        Support.execute("postgres", "ALTER DATABASE " + template + " IS_TEMPLATE false", "DROP DATABASE " + template);
    }

    /**
     * A harness killed during CREATE DATABASE leaves the server finishing it: the watchdog's drop found no
     * such database yet, and it appeared for good once the CREATE went through. Here the CREATE is held up by a
     * rename of its template in an open transaction; the drop now ends the backend still creating it.
     */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void aScratchDatabaseStillBeingCreatedIsNotLeftBehind(@TempDir Path work) throws Exception {
        String template = Support.scratchDatabase();
        String name = SourceServer.scratchName();
        Path registry = Files.writeString(work.resolve("scratch-dbs"), name + "\n");
        try (Connection renaming = Support.connectInTransaction("postgres");
             Connection creating = Support.connect("postgres")) {
            renaming.createStatement().execute("ALTER DATABASE " + template + " RENAME TO " + template + "_held");
            CompletableFuture<Boolean> create = CompletableFuture.supplyAsync(() -> {
                try {
                    return creating.createStatement().execute("CREATE DATABASE " + name + " TEMPLATE " + template);
                } catch (SQLException e) {
                    throw new CompletionException(e);
                }
            });
            String waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    + " AND query LIKE 'CREATE DATABASE " + name + " %'";
            for (int tries = 0; tries < 300 && Support.one("postgres", waiting).equals("0"); tries++) {
                Thread.sleep(100);
            }
            assertEquals("1", Support.one("postgres", waiting), "the CREATE waits for the rename");
            var dropped = Support.tool("--mode=drop-scratch-dbs", "--db-url=" + Support.url("postgres"),
                    "--server-label=" + LABEL, "--registry=" + registry);
            assertEquals(0, dropped.exit(), dropped.describe());
            renaming.rollback();
            ExecutionException ended = assertThrows(ExecutionException.class, () -> create.get(30, TimeUnit.SECONDS));
            assertEquals("FATAL: terminating connection due to administrator command",
                    ended.getCause().getMessage().lines().findFirst().orElseThrow());
        }
        assertFalse(Support.databases().contains(name), name);
    }

    /** The registry lists what the harness made; a name it never makes (edited in, by hand) is never dropped. */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void aRegistryListingAnythingButAScratchDatabaseDropsNothingOfIt(@TempDir Path work) throws Exception {
        String users = Support.scratchDatabase(); // t_…: somebody's database, as far as the harness knows
        Path registry = work.resolve("scratch-dbs");
        Files.writeString(registry, users + "\n");
        try (var session = Support.connect(users)) {
            var dropped = Support.tool("--mode=drop-scratch-dbs", "--db-url=" + Support.url("postgres"),
                    "--server-label=" + LABEL, "--registry=" + registry);
            assertEquals(1, dropped.exit(), dropped.describe());
            assertEquals("warning: " + registry + " lists \"" + users + "\", not a scratch database (backupsmoke_ and"
                    + " 12 hex digits); not dropped\n", dropped.err());
            assertTrue(session.isValid(5), "its sessions go on");
        }
        assertEquals("1", Support.one("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + users + "'"));
    }

    /** The source's wipe: its scratch database dropped and made again from template0, confirmed empty. */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void theSourcesScratchDatabaseIsWipedByMakingItAgainAndNothingElseIsEverDropped(@TempDir Path work)
            throws Exception {
        Path registry = work.resolve("scratch-dbs");
        String name = answer(planWithScratchSource("url", registry).out()).get("source.database");
        Support.execute(name, "CREATE TABLE kept (id int)");
        var renewed = Support.tool("--mode=new-scratch-db", "--db-url=" + Support.url("postgres"),
                "--server-label=" + LABEL, "--renew=" + name, "--registry=" + registry);
        assertEquals(0, renewed.exit(), renewed.describe());
        assertEquals("say=scratch database " + name + " dropped and created again\0say=confirmed: no tables in " + name
                + "\0", renewed.out());
        assertEquals(name + "\n", Files.readString(registry), "registered once, by the plan");
        Support.refused(1, "--renew=\"postgres\" is not a scratch database (backupsmoke_ and 12 hex digits)",
                "--mode=new-scratch-db", "--db-url=" + Support.url("postgres"), "--server-label=" + LABEL,
                "--renew=postgres");
        var held = Support.tool("--mode=new-scratch-db", "--db-url=" + Support.url("postgres"),
                "--server-label=" + LABEL, "--renew=backupsmoke_000000000000");
        assertEquals(1, held.exit(), held.describe());
        assertTrue(held.err().startsWith("backupsmoke: cannot drop scratch database backupsmoke_000000000000 on " + LABEL
                + ": "), held.err());
        Support.execute("postgres", "DROP DATABASE " + name);
    }

    /** With a registry, --renew drops only a database it lists: another run's scratch database survives. */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void renewRefusesAScratchDatabaseTheRegistryDoesNotList(@TempDir Path work) throws Exception {
        Path registry = work.resolve("scratch-dbs");
        Files.writeString(registry, "backupsmoke_000000000000\n");
        String others = answer(planWithScratchSource("url", work.resolve("other-run")).out()).get("source.database");
        Support.execute(others, "CREATE TABLE kept (id int)");
        var refused = Support.refused(1, "--renew=" + others + " is not this run's: " + registry + " does not list it",
                "--mode=new-scratch-db", "--db-url=" + Support.url("postgres"), "--server-label=" + LABEL,
                "--renew=" + others, "--registry=" + registry);
        assertEquals("", refused.out());
        Support.execute(others, "SELECT FROM kept"); // the same database, not one made again
        Support.execute("postgres", "DROP DATABASE " + others);
    }

    /** A drop that waits past --timeout (here for a lock on the database) fails with the timeout's message. */
    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ)
    @Test
    void aRenewStillWaitingAtTheDeadlineFailsWithTheTimeoutsMessage(@TempDir Path work) throws Exception {
        Path registry = work.resolve("scratch-dbs");
        String name = answer(planWithScratchSource("url", registry).out()).get("source.database");
        try (var holder = Support.connect("postgres"); var statement = holder.createStatement()) {
            holder.setAutoCommit(false);
            statement.execute("COMMENT ON DATABASE " + name + " IS 'held'"); // its lock blocks DROP DATABASE
            Support.refused(1, "timed out after 1s while dropping scratch database " + name + " on " + LABEL
                    + " (raise the bound with --timeout)", "--mode=new-scratch-db",
                    "--db-url=" + Support.url("postgres"), "--server-label=" + LABEL, "--renew=" + name,
                    "--registry=" + registry, "--timeout=1s");
            holder.rollback();
        }
        Support.execute("postgres", "DROP DATABASE " + name);
    }
}
