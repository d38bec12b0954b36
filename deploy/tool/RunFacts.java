// The facts of a harness run that report.json names (SPEC 7, run.facts):
// the harness writes what only it knows (started_at) into WORK/run.facts,
// and --mode=report --source-server=URL adds the rest here: the end, the
// host, the repository's commit, the versions of the tool, JBang, Java and
// pg_dump, the source server's version and the second oracle's name. A
// program that cannot answer leaves its fact empty.

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

final class RunFacts {
    private RunFacts() {}

    /** The harness's flag: where the source server is, and that the run's facts are to be gathered. */
    static final class Options {
        @Option(names = "--source-server", paramLabel = "URL")
        String sourceServer;
    }

    /**
     * Before the report: the facts added to WORK/run.facts when the harness
     * named the source server (else the facts are left as they are). REPO:
     * BackupSmoke.java's folder, as the launcher says (jbang.source).
     */
    static void complete(Options options, Path work, String oracle, Map<String, String> env, int connectTimeout,
            Duration timeout) throws Failure {
        if (options.sourceServer == null || work == null) {
            return;
        }
        String script = System.getProperty(DefaultMigrations.SOURCE_PROPERTY, "BackupSmoke.java");
        Path repo = Path.of(script).toAbsolutePath().getParent();
        try (Deadline deadline = new Deadline(timeout)) {
            Connector source = new Connector(ConnectionTarget.parse("--source-server", options.sourceServer, env),
                    connectTimeout, deadline);
            write(gather(work.resolve(RunRecord.FACTS), repo, source, oracle, env), work.resolve(RunRecord.FACTS));
        }
    }

    /** How long a program asked for its version may take. */
    private static final Duration ANSWER_WITHIN = Duration.ofSeconds(60);

    /**
     * The facts after those of FACTS_FILE: REPO the repository of the tool
     * (BackupSmoke.java's folder), SOURCE the source server's maintenance
     * database (null: no server version), ENV's SMOKE_TOOL the tool under
     * test (absent: this one, named by the report).
     */
    static Map<String, String> gather(Path factsFile, Path repo, Connector source, String oracle,
            Map<String, String> env) throws Failure {
        Map<String, String> facts = new LinkedHashMap<>(RunRecord.facts(factsFile));
        facts.put("finished_at", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        facts.put("host", output(List.of("uname", "-n")));
        facts.put("repository_commit", output(List.of("git", "-C", repo.toString(), "rev-parse", "HEAD")));
        String tool = env.getOrDefault("SMOKE_TOOL", "");
        facts.put("tool", tool.isEmpty() ? "" : output(List.of("bash", "-c", tool + " \"$@\"", "backupsmoke", "--version")));
        facts.put("jbang", lastLine(output(List.of(repo.resolve("deploy/bin/jbang").toString(), "--version"), true)));
        facts.put("java", output(List.of("java", "-version"), true).lines().findFirst().orElse(""));
        facts.put("pg_dump", output(List.of("pg_dump", "--version")));
        facts.put("source_server", source == null ? "" : serverVersion(source));
        facts.put("second_oracle", oracle);
        return facts;
    }

    /** The facts as run.facts holds them: NUL-separated NAME=VALUE entries. */
    static void write(Map<String, String> facts, Path file) throws Failure {
        StringBuilder text = new StringBuilder();
        facts.forEach((name, value) -> text.append(name).append('=').append(value).append('\0'));
        HarnessModes.write(file, text.toString());
    }

    /** SHOW server_version; empty when the server does not answer (the report still gets written). */
    static String serverVersion(Connector source) {
        try (Connection connection = source.open(); Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("SHOW server_version")) {
            return row.next() ? row.getString(1) : "";
        } catch (SQLException | Failure e) {
            return "";
        }
    }

    static String output(List<String> command) {
        return output(command, false);
    }

    /** COMMAND's stdout (WITH_ERRORS: and stderr) without its last newlines, whatever its status; empty when it cannot run. */
    static String output(List<String> command, boolean withErrors) {
        try {
            Program program = new Program(command.get(0), command).within(ANSWER_WITHIN)
                    .errors(withErrors ? Program.Errors.MERGED : Program.Errors.DISCARDED);
            return program.run().text().replaceAll("\n+$", "");
        } catch (Failure cannotAnswer) {
            return "";
        }
    }

    private static String lastLine(String text) {
        List<String> lines = new ArrayList<>(text.lines().toList());
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }
}
