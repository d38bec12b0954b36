// --expect FILE: the anchor read from a snapshot recorded earlier (SPEC
// section 9.3). Only a snapshot of a chain that was clean when it was
// recorded can anchor today's: a workload snapshot, or a verify snapshot
// with no break on either side (yesterday's verify is a fair anchor).

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The chain_head_hash and row_count of one clean snapshot (or of an object
 * holding just those two), and its integrity fingerprint when it holds one
 * (null otherwise): verify compares today's fingerprint with it (issue 18
 * item 8).
 */
record AnchorFile(String head, long rows, Map<String, String> integrity) {

    static AnchorFile read(Path file) throws Failure {
        JsonNode snapshot = parseOne(file);
        String prefix = "--expect " + file;
        if (snapshot == null || !snapshot.isObject() || !snapshot.path("chain_head_hash").isTextual()
                || !snapshot.path("row_count").isIntegralNumber()) {
            throw new Failure(prefix + " is not a snapshot: it needs chain_head_hash and row_count");
        }
        JsonNode rows = snapshot.get("row_count");
        if (!rows.canConvertToLong() || rows.asLong() < 0) {
            throw new Failure(prefix + ": row_count " + rows.asText() + " is not a row count (0 to "
                    + Long.MAX_VALUE + ")");
        }
        // Without a phase it is an anchor written by hand or by the harness: just the two values.
        String phase = snapshot.path("phase").asText("workload");
        if (!phase.equals("workload") && !phase.equals("verify")) {
            throw new Failure(prefix + " is not a snapshot: its phase is " + Failure.quoted(phase)
                    + ", not workload or verify");
        }
        String broken = whyNotClean(snapshot);
        if (broken != null) {
            throw new Failure(prefix + " records a broken chain (" + broken + "): anchor to a workload snapshot"
                    + " or to a verify snapshot of a clean chain");
        }
        return new AnchorFile(snapshot.get("chain_head_hash").asText(), rows.asLong(),
                fingerprint(snapshot.get("integrity"), prefix));
    }

    /** The "integrity" object: entry name to description, every value a string; null when absent. */
    private static Map<String, String> fingerprint(JsonNode integrity, String prefix) throws Failure {
        if (integrity == null || integrity.isNull()) {
            return null;
        }
        if (!integrity.isObject()) {
            throw new Failure(prefix + ": integrity is not an object of fingerprint entries");
        }
        Map<String, String> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : integrity.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new Failure(prefix + ": integrity entry " + Failure.quoted(entry.getKey()) + " is not a string");
            }
            entries.put(entry.getKey(), entry.getValue().asText());
        }
        return entries;
    }

    /** Exactly one JSON value: two snapshots one after the other are refused, not read as the first. */
    private static JsonNode parseOne(Path file) throws Failure {
        ObjectMapper mapper = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new Failure("cannot read --expect " + file + ": " + Failure.reason(e));
        }
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            if (e.getOriginalMessage().startsWith("Trailing token")) {
                throw new Failure("--expect " + file + " holds more than one JSON value: give exactly one snapshot");
            }
            throw new Failure("--expect " + file + " is " + Failure.reason(e));
        }
    }

    /** Why a verify snapshot does not describe a clean chain, or null when it does. */
    private static String whyNotClean(JsonNode snapshot) {
        if (snapshot.hasNonNull("first_break_id")) {
            return "the server's verifier broke at " + snapshot.get("first_break_id").asText();
        }
        if ("broken".equals(snapshot.path("client").path("verdict").asText())) {
            return "client verification: " + snapshot.path("client").path("break_kind").asText();
        }
        if (snapshot.has("verifier_missing") || snapshot.has("shadow_schemas")) {
            return snapshot.has("verifier_missing") ? "no server verifier" : "shadowed audit tables";
        }
        return null;
    }
}
