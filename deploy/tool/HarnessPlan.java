// The plan of a round trip (SPEC 7), decided here once the source server is
// up so that the harness only acts on it (--mode=plan): which backups are
// taken, whether the source is wiped, and for every combination of method
// and target major, in order, where it is restored or why it is skipped, and
// why its second oracle cannot judge it. The answer is NUL-separated
// NAME=VALUE entries, which the harness adds to its record K.

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** The plan: the source's and pg_dump's majors, and every combination in order. */
record HarnessPlan(int sourceMajor, int dumpMajor, Map<String, String> entries) {
    static final String MODE = "plan";

    /** Where a combination is judged. */
    static final String SOURCE = "source";   // the wiped source database
    static final String SCRATCH = "scratch"; // a new scratch database on the source server
    static final String MAJOR = "major";     // a new database on a throwaway cluster of another major
    static final String SERVER = "server";   // a server of its own, restored by the method
    static final String SKIP = "skip";

    static final String THROWAWAY_ONLY = "a physical backup is only taken of the throwaway cluster";

    /**
     * What the harness tells the plan: the knobs as --mode=knobs normalized them, and where it runs (help texts:
     * usage.properties).
     */
    static final class Options {
        @Option(names = "--methods", paramLabel = "LIST")
        String methods = "";

        @Option(names = "--target-majors", paramLabel = "LIST")
        String targetMajors = "";

        @Option(names = "--server-kind", paramLabel = "KIND")
        String serverKind = "";

        @Option(names = "--oracle", paramLabel = "NAME")
        String oracle = "semantic";

        @Option(names = "--scratch-source", paramLabel = "FILE")
        java.nio.file.Path scratchSource;
    }

    /**
     * Once the source server is up (SourceServer.awaitReady), asks it its
     * major and pg_dump (on the PATH of ENV) its own, plans, then creates the
     * source's scratch database when asked (source.database: its name).
     */
    static int run(Options options, String label, Connector connector, Map<String, String> env,
            java.io.PrintStream out) throws Failure {
        HarnessPlan plan = of(options, sourceMajor(connector), pgDumpVersion(env));
        StringBuilder answer = new StringBuilder("say=server " + label + " is up\0");
        plan.entries.forEach((name, value) -> answer.append(name).append('=').append(value).append('\0'));
        if (options.scratchSource != null) {
            String name = SourceServer.scratchName();
            SourceServer.createScratch(connector, name,
                    options.serverKind.equals("throwaway") ? null : options.scratchSource, label);
            answer.append("source.database=").append(name).append("\0say=scratch database ").append(name)
                    .append(" created\0");
        }
        out.print(answer);
        out.flush();
        return 0;
    }

    /** The plan for OPTIONS on a source of SOURCE_MAJOR, backed up by the pg_dump that printed DUMP_VERSION. */
    static HarnessPlan of(Options options, int sourceMajor, String dumpVersion) throws Failure {
        int dumpMajor = dumpMajor(dumpVersion);
        if (sourceMajor > dumpMajor) {
            throw new Failure("pg_dump " + dumpMajor + " cannot dump a server of major " + sourceMajor
                    + " (newer than itself): install pg_dump " + sourceMajor + " or newer");
        }
        if (options.methods.isEmpty()) {
            throw new Failure("--mode=" + MODE + " needs --methods=LIST (" + BackupMethod.names() + ")");
        }
        List<BackupMethod> methods = new ArrayList<>();
        for (String name : options.methods.split(",")) {
            methods.add(BackupMethod.named(name).orElseThrow(() -> new Failure("unknown backup method '"
                    + Knobs.printable(name) + "' in --methods (" + BackupMethod.names() + ")")));
        }
        boolean throwaway = options.serverKind.equals("throwaway");
        Map<String, String> entries = new LinkedHashMap<>();
        entries.put("plan.source_major", Integer.toString(sourceMajor));
        entries.put("plan.dump_major", Integer.toString(dumpMajor));
        entries.put("plan.wipe", methods.stream().anyMatch(method -> !method.restoresAServer()) ? "1" : "0");
        entries.put("plan.throwaway_tools", throwaway ? String.join(" ",
                methods.stream().filter(BackupMethod::throwawayOnly).map(BackupMethod::name).toList()) : "");
        for (BackupMethod method : methods) {
            entries.put("plan.backup_skip." + method.name(), backupSkipReason(method, throwaway));
        }
        List<Integer> majors = targetMajors(options.targetMajors, sourceMajor);
        entries.put("plan.tagged", majors.size() * methods.size() > 1 ? "1" : "0");
        entries.put("plan.combinations", Integer.toString(majors.size() * methods.size()));
        boolean wipedSourceFree = true;
        int index = 0;
        for (int major : majors) {
            for (BackupMethod method : methods) {
                String prefix = "combination." + index++ + ".";
                String target = target(method, major, sourceMajor, throwaway, wipedSourceFree);
                wipedSourceFree &= !target.equals(SOURCE);
                entries.put(prefix + "method", method.name());
                entries.put(prefix + "major", Integer.toString(major));
                entries.put(prefix + "target", target);
                entries.put(prefix + "skip", skipReason(method, major, sourceMajor, throwaway));
                entries.put(prefix + "oracle_skip", oracleSkipReason(options.oracle, major, dumpMajor));
            }
        }
        return new HarnessPlan(sourceMajor, dumpMajor, entries);
    }

    /** SMOKE_TARGET_MAJORS in order (empty: the source's), each the source's or newer. */
    static List<Integer> targetMajors(String wanted, int sourceMajor) throws Failure {
        List<Integer> majors = new ArrayList<>();
        for (String major : (wanted.isEmpty() ? Integer.toString(sourceMajor) : wanted).split(",")) {
            int value = Integer.parseInt(major);
            if (value < sourceMajor) {
                throw new Failure("SMOKE_TARGET_MAJORS: " + major + " is older than the source server (" + sourceMajor
                        + "); restores go to the same or newer majors");
            }
            majors.add(value);
        }
        return majors;
    }

    /**
     * A physical method restores a server of its own; a database method the
     * wiped source for the first combination of the source's major (SPEC 7),
     * a new scratch database for the others, or a database on a throwaway
     * cluster of another major.
     */
    private static String target(BackupMethod method, int major, int sourceMajor, boolean throwaway,
                                 boolean wipedSourceFree) {
        if (method.restoresAServer()) {
            return skipReason(method, major, sourceMajor, throwaway).isEmpty() ? SERVER : SKIP;
        }
        if (major != sourceMajor) {
            return MAJOR;
        }
        return wipedSourceFree ? SOURCE : SCRATCH;
    }

    private static String skipReason(BackupMethod method, int major, int sourceMajor, boolean throwaway) {
        if (!method.restoresAServer()) {
            return "";
        }
        if (major != sourceMajor) {
            return "a physical backup only starts under its own major (" + sourceMajor + ")";
        }
        return backupSkipReason(method, throwaway);
    }

    /** Why METHOD's backup is not taken (empty: it is): a throwaway-only method away from the throwaway cluster. */
    private static String backupSkipReason(BackupMethod method, boolean throwaway) {
        return method.throwawayOnly() && !throwaway ? THROWAWAY_ONLY : "";
    }

    /** Why the second oracle cannot judge a restore into MAJOR; empty when it can. */
    static String oracleSkipReason(String oracle, int major, int dumpMajor) {
        if (oracle.equals("off")) {
            return "SMOKE_ORACLE=off";
        }
        if (oracle.equals("text") && major > dumpMajor) {
            return "pg_dump " + dumpMajor + " cannot dump a server of major " + major;
        }
        return "";
    }

    private static final Pattern FIRST_NUMBER = Pattern.compile("([0-9]+)");

    /** The major in "pg_dump (PostgreSQL) 15.5 (Debian 15.5-1)": its first number. */
    static int dumpMajor(String version) throws Failure {
        Matcher number = FIRST_NUMBER.matcher(version);
        if (!number.find() || number.group(1).length() > 4) {
            throw new Failure("cannot tell the version of pg_dump from 'pg_dump --version'");
        }
        return Integer.parseInt(number.group(1));
    }

    private static int sourceMajor(Connector connector) throws Failure {
        try (Connection connection = connector.open();
             ResultSet version = connection.createStatement().executeQuery("SHOW server_version_num")) {
            version.next();
            return Integer.parseInt(version.getString(1)) / 10000;
        } catch (SQLException | NumberFormatException e) {
            throw new Failure("cannot read the server version: " + e.getMessage());
        }
    }

    /** What the first pg_dump on ENV's PATH says of itself ("" when it says nothing). */
    private static String pgDumpVersion(Map<String, String> env) throws Failure {
        java.nio.file.Path program = ProgramSearch.find(env.get("PATH"), "pg_dump");
        if (program == null) {
            return "";
        }
        return new Program(program + " --version", List.of(program.toString(), "--version"))
                .errors(Program.Errors.MERGED).run().text();
    }
}
