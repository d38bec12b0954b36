// The harness's summary table on stdout: one row per combination, every
// time with two decimals, "-" for a phase that did not run.

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

final class SummaryTable {
    private static final String ROW = "%-12s %-5s %-8s %-8s %-18s %s%n";
    static final List<String> PHASES = List.of("backup", "restore", "verify", "continuity");

    private SummaryTable() {
    }

    static void write(RunRecord record, PrintStream out) {
        out.printf(ROW, "method", "major", "verdict", "rows", "chain_head", "seconds backup/restore/verify/continuity");
        for (JsonNode combination : record.combinations()) {
            String head = text(combination.get("restored_chain_head"), "-");
            out.printf(ROW, text(combination.get("method"), "-"), text(combination.get("target_major"), "-"),
                    text(combination.get("verdict"), "-"), text(combination.get("rows"), "-"),
                    head.substring(0, Math.min(16, head.length())), times(combination.path("seconds")));
        }
    }

    /** "1.50/-/0.25/-": each phase's seconds with two decimals. */
    static String times(JsonNode seconds) {
        List<String> times = new ArrayList<>();
        for (String phase : PHASES) {
            JsonNode value = seconds.get(phase);
            times.add(value == null || !value.isNumber() ? "-" : twoDecimals(value.asDouble()));
        }
        return String.join("/", times);
    }

    static String twoDecimals(double seconds) {
        return String.format(Locale.ROOT, "%.2f", seconds);
    }

    private static String text(JsonNode value, String fallback) {
        return value == null || value.isNull() || value.asText().isEmpty() ? fallback : value.asText();
    }
}
