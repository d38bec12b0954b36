// Issue 19 item 2: set -e is in force in every step of a combination, and a
// command failing where nothing expected it fails that combination only. A
// cat shim on PATH fails the one call that prints the plain method's restored
// snapshot, a command whose status the step does not test; the custom
// method's combination never touches that file.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.io.TempDir;

/** End to end: the whole harness, one of its commands made to fail. */
@Tag("e2e")
class StepFailureTest {
    @TempDir Path temp;

    /** A cat that fails (exit 5) when given a file named FILE_NAME, else the real one. */
    private Map<String, String> catFailingOn(String fileName) throws Exception {
        String realCat = Support.run(List.of("bash", "-c", "command -v cat"), Map.of(), Support.REPO, 30).out().trim();
        return Map.of("PATH", Support.pathWithShim(temp.resolve("bin"), "cat", """
                #!/bin/sh
                for argument in "$@"; do
                  case "$argument" in */%s) exit 5 ;; esac
                done
                exec "%s" "$@"
                """.formatted(fileName, realCat)));
    }

    @ResourceLock(value = Support.SUITE_DATABASES, mode = ResourceAccessMode.READ_WRITE)
    @Test
    void anUnexpectedFailureInsideAStepFailsOnlyItsCombinationNamingTheStep() throws Exception {
        List<String> before = Support.databases();
        Map<String, String> env = new HashMap<>(catFailingOn("post.plain-pg15.json"));
        env.putAll(Support.configuredServer("SMOKE_METHODS", "plain,custom", "SMOKE_ROWS", "5",
                "SMOKE_APPEND_ROWS", "2", "SMOKE_REPORT_DIR", temp.resolve("report").toString()));
        var result = Support.harness(temp, env);

        assertEquals(3, result.exit(), result.describe());
        String reason = "the verify step failed unexpectedly: cat -- \"$post\" (exit 5)";
        assertTrue(result.err().contains("::error::backup-restore-smoke: [plain-pg15] " + reason + "\n"), result.err());
        assertTrue(!result.out().contains("PASS  rows="), result.out());
        // The other combination was judged after the failing one, and passed.
        JsonNode report = new ObjectMapper().readTree(temp.resolve("report/report.json").toFile());
        JsonNode plain = report.get("combinations").get(0);
        JsonNode custom = report.get("combinations").get(1);
        assertEquals("plain-pg15", plain.get("name").asText());
        assertEquals("fail", plain.get("verdict").asText(), plain.toString());
        assertEquals(reason, plain.get("reason").asText());
        assertEquals("custom-pg15", custom.get("name").asText());
        assertEquals("pass", custom.get("verdict").asText(), custom.toString());
        assertTrue(Files.readString(temp.resolve("report/junit.xml")).contains("plain-pg15"));
        // Its scratch database and the run's files are gone all the same.
        assertEquals(before, Support.databases());
        assertEquals(List.of(), Support.harnessLeftovers(temp));
    }
}
