// One reader for the JSON files the harness leaves in its work folder
// (expected.json, oracle.source, the verify snapshots, the physical and PITR
// evidence). Each caller says whether the file must be there: a required file
// that is missing or blank fails, an optional one is then absent (null). Either
// way a file that is there but is not JSON fails, naming it.

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;

final class JsonFile {
    private JsonFile() {
    }

    /** FILE's JSON; "FILE is empty or missing" when there is none, "FILE is not JSON" when it is not. */
    static JsonNode required(Path file) throws Failure {
        JsonNode json = optional(file);
        if (json == null) {
            throw new Failure(file + " is empty or missing");
        }
        return json;
    }

    /** FILE's JSON; null when FILE is missing or blank, "FILE is not JSON" when it is not. */
    static JsonNode optional(Path file) throws Failure {
        String text = RunRecord.readText(file);
        if (text.isBlank()) {
            return null;
        }
        try {
            return RunRecord.JSON.readTree(text);
        } catch (IOException e) {
            throw new Failure(file + " is not JSON");
        }
    }
}
