// The answer of the harness's judges (--mode=judge, --mode=pitr-check): one
// JSON object on stdout, exit 0 when it passes and 3 when it fails (SPEC
// section 9.9). The harness prints each "say" line and, on a failure, the
// reason as the combination's ::error:: line; it decides nothing itself.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** A verdict: null reason when it passes; lines worth telling either way. */
record Judgement(String reason, List<String> say) {
    static final int EXIT_FAILED = 3;

    static Judgement pass(List<String> say) {
        return new Judgement(null, List.copyOf(say));
    }

    static Judgement fail(String reason, List<String> say) {
        return new Judgement(reason, List.copyOf(say));
    }

    boolean passed() {
        return reason == null;
    }

    int exitCode() {
        return passed() ? 0 : EXIT_FAILED;
    }

    /** This verdict, then (when it passed) the next one; the lines of both. */
    Judgement then(Judgement next) {
        if (!passed()) {
            return this;
        }
        List<String> lines = new ArrayList<>(say);
        lines.addAll(next.say);
        return new Judgement(next.reason, List.copyOf(lines));
    }

    /** {"verdict": "pass" | "fail", "reason": …, "say": [...]} on one line. */
    String toJson() {
        return toJson(null);
    }

    /** The same, with "part": which of several judged parts failed (round_trip, continuity, oracle), when one did. */
    String toJson(String part) {
        ObjectNode json = new ObjectMapper().createObjectNode();
        json.put("verdict", passed() ? "pass" : "fail");
        json.put("reason", reason);
        if (part != null) {
            json.put("part", part);
        }
        say.forEach(json.putArray("say")::add);
        return json.toString() + "\n";
    }

    /**
     * The same answer for the harness (--nul): NUL-separated NAME=VALUE
     * entries, say=LINE for each line, then verdict, part and reason (empty
     * when none); read with `read -d ''`, never evaluated. The harness prints them as lines: each stays one
     * whatever a name or id it quotes holds.
     */
    String toNul(String part) {
        StringBuilder out = new StringBuilder();
        say.forEach(line -> out.append("say=").append(FailureReport.oneLine(line)).append('\0'));
        out.append("verdict=").append(passed() ? "pass" : "fail").append('\0');
        out.append("part=").append(part == null ? "" : part).append('\0');
        return out.append("reason=").append(passed() ? "" : FailureReport.oneLine(reason)).append('\0').toString();
    }

    // ------------------------------------------------ jq's rendering, for messages kept byte for byte

    /** What jq -r prints for a value: a string raw, a missing value "null", the rest as JSON. */
    static String text(JsonNode value) {
        if (value == null || value.isMissingNode() || value.isNull()) {
            return "null";
        }
        return value.isTextual() ? value.asText() : value.toString();
    }

    /** What jq -c prints for a value. */
    static String json(JsonNode value) {
        return value == null || value.isMissingNode() ? "null" : value.toString();
    }

    /** jq's "a // b": a unless it is missing, null or false. */
    static JsonNode or(JsonNode value, JsonNode fallback) {
        return value == null || value.isMissingNode() || value.isNull()
                || (value.isBoolean() && !value.asBoolean()) ? fallback : value;
    }

    /** jq's truthiness: anything but missing, null and false. */
    static boolean truthy(JsonNode value) {
        return or(value, null) != null;
    }
}
