// junit.xml, for CI systems that show tests: one testcase per combination
// (a failure or skipped element with its reason), and one error testcase
// when no combination ran, so that an empty run never shows green.

import com.fasterxml.jackson.databind.JsonNode;

final class JunitXml {
    private JunitXml() {
    }

    static String of(RunRecord record) {
        boolean nothingRan = record.count("pass") + record.count("fail") == 0;
        StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.append("<testsuite name=\"backup-restore-smoke\" tests=\"")
                .append(record.combinations().size() + (nothingRan ? 1 : 0))
                .append("\" failures=\"").append(record.count("fail"))
                .append("\" errors=\"").append(nothingRan ? 1 : 0)
                .append("\" skipped=\"").append(record.count("skipped")).append("\">\n");
        for (JsonNode combination : record.combinations()) {
            xml.append("  <testcase classname=\"backup-restore-smoke\" name=\"")
                    .append(escape(combination.path("name").asText())).append("\" time=\"")
                    .append(SummaryTable.twoDecimals(totalSeconds(combination.path("seconds")))).append("\">");
            String reason = escape(combination.path("reason").asText(""));
            switch (combination.path("verdict").asText()) {
                case "fail" -> xml.append("<failure message=\"").append(reason).append("\"/>");
                case "skipped" -> xml.append("<skipped message=\"").append(reason).append("\"/>");
                default -> { }
            }
            xml.append("</testcase>\n");
        }
        if (nothingRan) {
            xml.append("  <testcase classname=\"backup-restore-smoke\" name=\"run\" time=\"0.00\"><error message=\"")
                    .append(escape(record.verdictLine())).append("\"/></testcase>\n");
        }
        return xml.append("</testsuite>\n").toString();
    }

    private static double totalSeconds(JsonNode seconds) {
        double total = 0;
        for (JsonNode phase : seconds) {
            total += phase.isNumber() ? phase.asDouble() : 0;
        }
        return total;
    }

    /**
     * TEXT as an attribute value: markup and quotes escaped, tab, newline and carriage return as character
     * references (a parser would make them spaces), and the characters XML 1.0 cannot hold at all (other
     * control characters, such as one in a database's name, and unpaired surrogates) as '?'.
     */
    static String escape(String text) {
        StringBuilder escaped = new StringBuilder();
        text.codePoints().forEach(c -> escaped.append(switch (c) {
            case '&' -> "&amp;";
            case '<' -> "&lt;";
            case '>' -> "&gt;";
            case '"' -> "&quot;";
            case '\t', '\n', '\r' -> "&#" + c + ";";
            default -> xmlCanHold(c) ? Character.toString(c) : "?";
        }));
        return escaped.toString();
    }

    /** XML 1.0's Char production, less what escape writes as a reference. */
    private static boolean xmlCanHold(int c) {
        return c >= 0x20 && c <= 0xD7FF || c >= 0xE000 && c <= 0xFFFD || c >= 0x10000;
    }
}
