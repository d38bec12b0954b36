// The run record behind the harness's reports: one record per combination
// (combinations/NNN, written as each combination ends, see
// CombinationRecord) and the facts of the run (run.facts: NUL-separated
// NAME=VALUE entries the harness gathers: versions, host, times). The outcome decides the harness's exit
// status (SPEC 7): 0 every combination passed, 3 one failed a verdict, 1
// nothing could be judged.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The combinations' result records, in order, the facts of the run and the expectation they were judged against. */
record RunRecord(List<JsonNode> combinations, Map<String, String> facts, JsonNode expectation) {
    static final String COMBINATIONS = "combinations";
    static final String EXPECTED = "expected.json";
    static final String FACTS = "run.facts";
    /** The semantic oracle's document of the source (--mode=oracle-capture). */
    static final String ORACLE_SOURCE = "oracle.source";

    static final int EXIT_PASSED = 0;
    static final int EXIT_CANNOT_JUDGE = 1;
    static final int EXIT_FAILED = 3;

    static final ObjectMapper JSON = new ObjectMapper();

    RunRecord(List<JsonNode> combinations, Map<String, String> facts) {
        this(combinations, facts, JSON.createObjectNode());
    }

    /**
     * Reads FOLDER/combinations/* in name order (none: no combination ran), the expectation in
     * FOLDER/expected.json and the facts in FOLDER/run.facts (absent: no facts).
     */
    static RunRecord read(Path folder) throws Failure {
        List<JsonNode> combinations = new ArrayList<>();
        Path records = folder.resolve(COMBINATIONS);
        JsonNode expected = expectation(folder.resolve(EXPECTED));
        if (Files.isDirectory(records)) {
            try (var files = Files.list(records)) {
                for (Path file : files.sorted().toList()) {
                    combinations.add(CombinationRecord.of(facts(file), expected, folder));
                }
            } catch (IOException e) {
                throw new Failure("cannot read " + records + ": " + Failure.reason(e));
            }
        }
        Map<String, String> facts = facts(folder.resolve(FACTS));
        String oracle = facts.get("second_oracle");
        if (oracle != null && !oracle.isEmpty() && !oracle.startsWith("{")) {
            facts.put("second_oracle", secondOracle(oracle, folder.resolve(ORACLE_SOURCE)).toString());
        }
        return new RunRecord(combinations, facts, expected);
    }

    /**
     * report.json's "second_oracle": the oracle's NAME and, for the semantic
     * one, the row count and digest of every table of the source (evidence of
     * the whole database's content).
     */
    static JsonNode secondOracle(String name, Path source) throws Failure {
        var oracle = JSON.createObjectNode().put("name", name);
        JsonNode document = name.equals("semantic") ? JsonFile.optional(source) : null;
        if (document == null) {
            return oracle;
        }
        var tables = oracle.putObject("source_tables");
        document.path("tables").fields().forEachRemaining(table -> {
            JsonNode digest = table.getValue().path("digest");
            if (!digest.isNull() && !digest.isMissingNode()) {
                var row = tables.putObject(table.getKey());
                row.set("rows", table.getValue().path("rows"));
                row.set("digest", digest);
            }
        });
        return oracle;
    }

    /** NUL-separated NAME=VALUE entries, in order; an absent file has none. */
    static Map<String, String> facts(Path file) throws Failure {
        Map<String, String> facts = new LinkedHashMap<>();
        for (String entry : readText(file).split("\0")) {
            int equals = entry.indexOf('=');
            if (equals > 0) {
                facts.put(entry.substring(0, equals), entry.substring(equals + 1));
            }
        }
        return facts;
    }

    /** An absent expectation is an empty one: no combination got as far as recording it. */
    private static JsonNode expectation(Path file) throws Failure {
        JsonNode expected = JsonFile.optional(file);
        return expected == null ? JSON.createObjectNode() : expected;
    }

    /** The text of FILE, which the user gave with FLAG: an absent file is a failure. */
    static String readGiven(Path file, String flag) throws Failure {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new Failure("cannot read " + flag + " " + file + ": " + Failure.reason(e));
        }
    }

    /** The text of FILE; an absent file is empty. */
    static String readText(Path file) throws Failure {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException absent) {
            return "";
        } catch (IOException e) {
            throw new Failure("cannot read " + file + ": " + Failure.reason(e));
        }
    }

    /**
     * Writes CONTENT beside FILE and renames it into place, so a reader never
     * sees a half-written file.
     */
    static void replace(Path file, byte[] content) throws IOException {
        Path partial = file.resolveSibling("." + file.getFileName() + ".partial");
        Files.write(partial, content);
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    long count(String verdict) {
        return combinations.stream().filter(combination -> verdict.equals(combination.path("verdict").asText()))
                .count();
    }

    /** Passed: at least one combination ran, and none failed. Skipped ones count for neither. */
    boolean passed() {
        return count("fail") == 0 && count("pass") > 0;
    }

    int exitStatus() {
        if (count("fail") > 0) {
            return EXIT_FAILED;
        }
        return count("pass") > 0 ? EXIT_PASSED : EXIT_CANNOT_JUDGE;
    }

    /** One line saying why the run did not pass; empty when it did. */
    String verdictLine() {
        long failed = count("fail");
        if (failed > 0) {
            return failed + " of " + combinations.size() + " combination(s) failed";
        }
        if (count("pass") == 0) {
            return combinations.isEmpty() ? "no combination ran"
                    : "no combination could run: every one was skipped";
        }
        return "";
    }

    String fact(String name) {
        String value = facts.get(name);
        return value == null || value.isEmpty() ? null : value;
    }
}
