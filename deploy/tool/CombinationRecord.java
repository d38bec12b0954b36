// One combination's result record, as report.json keeps it (SPEC 9.6), made
// from the facts the harness wrote when the combination ended
// (WORK/combinations/NNN: NUL-separated NAME=VALUE) and the expectation it
// was judged against (WORK/expected.json). A file backup's size and SHA-256
// come from the backup itself (BackupFingerprint), a repository's size from
// its tool's evidence, unless the facts give them. Text left empty is null; a number
// that is not one is null; evidence.KEY values are JSON; restored_snapshot
// names the restored database's verify snapshot, whose chain head it keeps.
// A physical method's combination also gets its physical and pitr evidence
// from the files in WORK (PhysicalEvidence).

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

final class CombinationRecord {
    private CombinationRecord() {
    }

    static ObjectNode of(Map<String, String> facts, JsonNode expected, java.nio.file.Path work) throws Failure {
        ObjectNode record = RunRecord.JSON.createObjectNode();
        record.put("name", facts.getOrDefault("name", ""));
        record.put("method", facts.getOrDefault("method", ""));
        record.set("target_major", number(facts.get("target_major")));
        record.put("verdict", facts.getOrDefault("verdict", ""));
        record.set("reason", text(facts.get("reason")));
        record.set("target", text(facts.get("target")));
        record.set("rows", expected.path("row_count").isMissingNode() ? RunRecord.JSON.nullNode() : expected.get("row_count"));
        record.set("expected_chain_head", text(expected.path("chain_head_hash").asText("")));
        record.set("restored_chain_head", restoredHead(facts.get("restored_snapshot")));
        record.set("oracle", text(facts.get("oracle")));
        String method = facts.getOrDefault("method", "");
        BackupFingerprint file = facts.containsKey("backup_sha256") || work == null ? null
                : BackupMethod.named(method).filter(known -> known.fingerprint().equals("file"))
                        .map(known -> BackupFingerprint.of(work.resolve("backup." + method))).orElse(null);
        record.set("backup_sha256", text(file == null ? facts.get("backup_sha256") : file.sha256()));
        record.set("backup_bytes", number(file != null ? Long.toString(file.bytes())
                : facts.getOrDefault("backup_bytes", "").isEmpty() ? repositoryBytes(work, method)
                : facts.get("backup_bytes")));
        ObjectNode seconds = record.putObject("seconds");
        for (String phase : SummaryTable.PHASES) {
            seconds.set(phase, number(facts.get("seconds." + phase)));
        }
        Map<String, String> evidence = new TreeMap<>();
        facts.forEach((name, value) -> {
            if (name.startsWith("evidence.")) {
                evidence.put(name.substring("evidence.".length()), value);
            }
        });
        Map<String, JsonNode> found = new TreeMap<>();
        for (var entry : evidence.entrySet()) {
            found.put(entry.getKey(), json(entry.getKey(), entry.getValue()));
        }
        if (isPhysical(record.get("method").asText())) {
            found.putAll(PhysicalEvidence.ofCombination(work, record.get("name").asText(), record.get("method").asText()));
        }
        if (!found.isEmpty()) {
            record.putObject("evidence").setAll(found);
        }
        return record;
    }

    /** A method whose restore lands in a server of its own has physical and PITR evidence (PhysicalEvidence). */
    private static boolean isPhysical(String method) {
        return BackupMethod.named(method).map(known -> !known.target().equals(BackupMethod.DATABASE)).orElse(false);
    }

    /** A backup kept in a repository: the size its tool reported (WORK/physical.METHOD.json), else null. */
    static String repositoryBytes(java.nio.file.Path work, String method) {
        if (work == null || method.isEmpty()) {
            return null;
        }
        JsonNode evidence;
        try {
            evidence = JsonFile.optional(work.resolve("physical." + method + ".json"));
        } catch (Failure unreadable) {
            return null; // the evidence itself names the damage (PhysicalEvidence)
        }
        JsonNode bytes = evidence == null ? null : evidence.path("repository_bytes");
        return bytes != null && bytes.isNumber() ? bytes.asText() : null;
    }

    /** The chain head of the verify snapshot in FILE; null when no snapshot was judged. */
    private static JsonNode restoredHead(String file) throws Failure {
        if (file == null || file.isEmpty()) {
            return RunRecord.JSON.nullNode();
        }
        JsonNode snapshot;
        try {
            snapshot = JsonFile.optional(java.nio.file.Path.of(file));
        } catch (Failure notASnapshot) {
            return RunRecord.JSON.nullNode(); // the judge failed the combination for it
        }
        return snapshot == null ? RunRecord.JSON.nullNode() : text(snapshot.path("chain_head_hash").asText(""));
    }

    private static JsonNode text(String value) {
        return value == null || value.isEmpty() ? RunRecord.JSON.nullNode() : RunRecord.JSON.getNodeFactory().textNode(value);
    }

    /** A decimal number as JSON (integers stay integers), else null. */
    private static JsonNode number(String value) {
        if (value == null || !value.matches("[0-9]{1,15}(\\.[0-9]{1,9})?")) {
            return RunRecord.JSON.nullNode();
        }
        try {
            return RunRecord.JSON.readTree(value); // as JSON reads it: an int stays an int
        } catch (IOException notANumber) {
            return RunRecord.JSON.nullNode();
        }
    }

    private static JsonNode json(String key, String value) throws Failure {
        try {
            return RunRecord.JSON.readTree(value.isEmpty() ? "null" : value);
        } catch (IOException e) {
            throw new Failure("evidence " + key + " is not JSON: " + Knobs.printable(value));
        }
    }
}
