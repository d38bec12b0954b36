// The semantic second oracle's comparison (SPEC section 9.7): two documents
// of SemanticOracle, the source's and the restored database's, compared
// object by object. Each difference is one line naming the table or object;
// lines starting with "note: " are facts worth telling that do not fail.
// Pure logic on JSON, so every kind of difference has a unit test.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class OracleComparison {
    private OracleComparison() {}

    static final String NOTE = "note: ";

    /** The table properties compared as one object: all but these. */
    private static final List<String> NOT_PROPERTIES = List.of("columns", "rows", "digest", "kind");

    /** A line naming an object whose spelled value differs, for the other-major extension note. */
    private static final Pattern CHANGED_VALUE = Pattern.compile(": source \"[^\"]*\", restored \"[^\"]*\"$");

    private static final Pattern SHA256 = Pattern.compile("([0-9a-f]{16})[0-9a-f]{48}");

    /** A spelled column's name: quote_ident's, a word or a quoted name that may hold spaces ("due date"). */
    private static final Pattern COLUMN_NAME = Pattern.compile("^(\"(?:[^\"]|\"\")*\"|[^ ]+)");

    /** The document's keys of objects kept as one spelled value each, by the kind a line names. */
    private static final Map<String, String> INVENTORY_KEYS = ConnectionTarget.orderedMap(
            "constraint", "constraints", "index", "indexes", "trigger", "triggers", "function", "functions",
            "type", "types", "event trigger", "event_triggers", "publication", "publications");

    /**
     * The comparison in the harness's terms: every line (notes too) to be
     * said as "second oracle: LINE", and the differences joined in the one
     * reason line of the combination.
     */
    static Judgement judge(JsonNode source, JsonNode restored) {
        List<String> lines = differences(source, restored);
        List<String> say = lines.stream().map(line -> "second oracle: " + line).toList();
        List<String> differences = lines.stream().filter(line -> !line.startsWith(NOTE)).toList();
        if (differences.isEmpty()) {
            return Judgement.pass(say);
        }
        String joined = String.join("; ", differences);
        return Judgement.fail(differences.size() == 1 ? "the second oracle found a difference: " + joined
                : "the second oracle found " + differences.size() + " differences: " + joined, say);
    }

    /** Every difference and note, tables first, then sequences, then the inventory by kind. */
    static List<String> differences(JsonNode a, JsonNode b) {
        List<String> lines = new ArrayList<>();
        for (String name : names(a.path("tables"), b.path("tables"))) {
            table(name, a.path("tables").get(name), b.path("tables").get(name), lines);
        }
        for (String name : names(a.path("sequences"), b.path("sequences"))) {
            sequence(name, a.path("sequences").get(name), b.path("sequences").get(name), lines);
        }
        inventory("schema", schemas(a), schemas(b), lines);
        INVENTORY_KEYS.forEach((kind, key) -> inventory(kind, a.path(key), b.path(key), lines));
        extensions(a, b, lines);
        largeObjects(a, b, lines);
        databaseSettings(a, b, lines);
        return lines;
    }

    /**
     * The database's own settings (ALTER DATABASE ... SET), which pg_restore
     * brings back only with --create: a logical restore into a database made
     * beforehand has none. A note: the restore is the data, but a session
     * there may read it otherwise (another search_path, DateStyle, ...).
     */
    private static void databaseSettings(JsonNode a, JsonNode b, List<String> lines) {
        String source = settings(a);
        String restored = settings(b);
        if (!source.equals(restored)) {
            lines.add(NOTE + "database settings: source " + source + ", restored " + restored
                    + " (ALTER DATABASE ... SET: pg_restore restores them only with --create)");
        }
    }

    /** The settings as the document lists them; none when it lists none (a document of an earlier version). */
    private static String settings(JsonNode document) {
        JsonNode settings = document.path("database_settings");
        return settings.isArray() ? settings.toString() : "[]";
    }

    /** Large objects: their number, else (the same number) their contents' digest. */
    private static void largeObjects(JsonNode a, JsonNode b, List<String> lines) {
        JsonNode count = a.path("large_objects");
        if (!count.equals(b.path("large_objects"))) {
            lines.add("large objects: " + Judgement.text(count) + " in the source, "
                    + Judgement.text(b.path("large_objects")) + " restored");
        } else if (!a.path("large_object_digest").equals(b.path("large_object_digest"))) {
            lines.add("large objects: content differs with the same " + Judgement.text(count) + " large objects (digest "
                    + shortened(a.path("large_object_digest")) + " in the source, "
                    + shortened(b.path("large_object_digest")) + " restored)");
        }
    }

    /** Objects kept as one spelled value each: missing, extra or changed. */
    private static void inventory(String kind, JsonNode a, JsonNode b, List<String> lines) {
        for (String name : names(a, b)) {
            JsonNode before = a.get(name);
            JsonNode after = b.get(name);
            if (after == null) {
                lines.add(kind + " " + name + ": missing after the restore (source: " + said(before) + ")");
            } else if (before == null) {
                lines.add(kind + " " + name + ": not in the source (restored: " + said(after) + ")");
            } else if (!before.equals(after)) {
                lines.add(kind + " " + name + ": source " + said(before) + ", restored " + said(after));
            }
        }
    }

    private static void table(String name, JsonNode a, JsonNode b, List<String> lines) {
        if (b == null) {
            lines.add("table " + name + ": missing after the restore (" + Judgement.text(a.path("kind")) + ", "
                    + rowsOrZero(a) + " rows)");
            return;
        }
        if (a == null) {
            lines.add("table " + name + ": not in the source (restored: " + Judgement.text(b.path("kind")) + ", "
                    + rowsOrZero(b) + " rows)");
            return;
        }
        if (!a.path("kind").equals(b.path("kind"))) {
            lines.add("table " + name + ": source " + Judgement.text(a.path("kind")) + ", restored "
                    + Judgement.text(b.path("kind")));
        }
        ObjectNode propertiesA = properties(a);
        ObjectNode propertiesB = properties(b);
        if (!propertiesA.equals(propertiesB)) {
            lines.add("table " + name + ": properties differ: source " + propertiesA + ", restored " + propertiesB);
        }
        columns(name, a.path("columns"), b.path("columns"), lines);
        if (!a.path("rows").equals(b.path("rows"))) {
            if (Judgement.truthy(a.path("unlogged")) && b.path("rows").isNumber() && b.path("rows").asLong() == 0) {
                lines.add(NOTE + "table " + name + ": unlogged, " + Judgement.text(a.path("rows"))
                        + " rows in the source, empty after the restore (a physical backup does not carry unlogged"
                        + " tables)");
            } else {
                lines.add("table " + name + ": " + Judgement.text(a.path("rows")) + " rows in the source, "
                        + Judgement.text(b.path("rows")) + " restored");
            }
        } else if (!a.path("digest").equals(b.path("digest"))) {
            lines.add("table " + name + ": content differs with the same " + Judgement.text(a.path("rows"))
                    + " rows (digest " + shortened(a.path("digest")) + " in the source, "
                    + shortened(b.path("digest")) + " restored)");
        }
    }

    /** Columns by name; the same columns in another order are one line of their own. */
    private static void columns(String table, JsonNode a, JsonNode b, List<String> lines) {
        ObjectNode byNameA = byName(a);
        ObjectNode byNameB = byName(b);
        if (byNameA.equals(byNameB) && !a.equals(b)) {
            lines.add("table " + table + ": columns in another order: source " + columnNames(a) + ", restored "
                    + columnNames(b));
            return;
        }
        inventory("table " + table + ": column", byNameA, byNameB, lines);
    }

    /**
     * Sequences hold at least the source's value: a restore through WAL replay
     * legitimately brings them back up to 32 values ahead. An unlogged one
     * back at its start is a note, as an unlogged table restored empty.
     */
    private static void sequence(String name, JsonNode a, JsonNode b, List<String> lines) {
        String prefix = "sequence " + name + ": ";
        if (b == null) {
            lines.add(prefix + "missing after the restore");
        } else if (a == null) {
            lines.add(prefix + "not in the source");
        } else if (!a.path("definition").equals(b.path("definition"))) {
            lines.add(prefix + "source " + Judgement.text(a.path("definition")) + ", restored "
                    + Judgement.text(b.path("definition")));
        } else if (a.path("value").isNumber()) {
            JsonNode before = a.path("value");
            JsonNode after = b.path("value");
            if (!after.isNumber()) {
                lines.add(Judgement.truthy(a.path("unlogged"))
                        ? NOTE + prefix + "unlogged, at " + before.asText() + " in the source, back at its start after the"
                                + " restore (a physical backup does not carry unlogged sequences)"
                        : prefix + "at " + before.asText() + " in the source, never used after the restore");
                return;
            }
            int order = after.decimalValue().compareTo(before.decimalValue());
            double increment = a.path("increment").asDouble();
            if ((increment > 0 && order < 0) || (increment < 0 && order > 0)) {
                lines.add(prefix + "at " + after.asText() + " after the restore, behind the source's "
                        + before.asText());
            }
        }
    }

    /**
     * pg_dump records no extension's version: restored, an extension comes
     * back at the restoring server's default version. A note then, when the
     * version changed across majors or to that default; a difference else.
     */
    private static void extensions(JsonNode a, JsonNode b, List<String> lines) {
        String majorA = major(a.path("server_version"));
        String majorB = major(b.path("server_version"));
        List<String> found = new ArrayList<>();
        inventory("extension", a.path("extensions"), b.path("extensions"), found);
        for (String line : found) {
            if (!CHANGED_VALUE.matcher(line).find()) {
                lines.add(line);
            } else if (!majorA.equals(majorB)) {
                lines.add(NOTE + line + " (PostgreSQL " + majorA + " to " + majorB + ")");
            } else if (backAtTheDefaultVersion(b, line)) {
                lines.add(NOTE + line + " (the restored server's default version: pg_dump does not record versions)");
            } else {
                lines.add(line);
            }
        }
    }

    /** Whether LINE names an extension that the restored document holds at its server's default version. */
    private static boolean backAtTheDefaultVersion(JsonNode restored, String line) {
        JsonNode defaults = restored.path("extension_default_versions");
        for (Iterator<String> names = defaults.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (line.startsWith("extension " + name + ": ")
                    && defaults.get(name).equals(restored.path("extensions").path(name))) {
                return true;
            }
        }
        return false;
    }

    /** "15.4 (Debian 15.4-1)" → "15". */
    private static String major(JsonNode version) {
        return Judgement.text(version).split("\\.", -1)[0].split(" ", -1)[0];
    }

    // ------------------------------------------------ spelling

    /** The names of both objects' keys, sorted (a JSON object, or nothing). */
    private static TreeSet<String> names(JsonNode a, JsonNode b) {
        TreeSet<String> names = new TreeSet<>();
        a.fieldNames().forEachRemaining(names::add);
        b.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static ObjectNode schemas(JsonNode document) {
        ObjectNode byName = JsonNodeFactory.instance.objectNode();
        document.path("schemas").forEach(schema -> byName.put(schema.asText(), "schema"));
        return byName;
    }

    private static ObjectNode properties(JsonNode table) {
        ObjectNode properties = ((ObjectNode) table).deepCopy();
        properties.remove(NOT_PROPERTIES);
        return sortedCopy(properties);
    }

    private static ObjectNode sortedCopy(ObjectNode node) {
        Map<String, JsonNode> fields = new TreeMap<>();
        node.fields().forEachRemaining(field -> fields.put(field.getKey(), field.getValue()));
        ObjectNode copy = JsonNodeFactory.instance.objectNode();
        fields.forEach(copy::set);
        return copy;
    }

    /** Each column's spelling under its name. */
    private static ObjectNode byName(JsonNode columns) {
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        for (Iterator<JsonNode> it = columns.elements(); it.hasNext(); ) {
            JsonNode spelled = it.next();
            fields.put(columnName(spelled), spelled);
        }
        ObjectNode byName = JsonNodeFactory.instance.objectNode();
        fields.forEach(byName::set);
        return byName;
    }

    private static String columnNames(JsonNode columns) {
        List<String> names = new ArrayList<>();
        columns.forEach(column -> names.add(columnName(column)));
        return String.join(", ", names);
    }

    private static String columnName(JsonNode spelled) {
        Matcher name = COLUMN_NAME.matcher(spelled.asText());
        return name.find() ? name.group(1) : spelled.asText();
    }

    private static String rowsOrZero(JsonNode table) {
        return Judgement.text(Judgement.or(table.path("rows"), IntNode.valueOf(0)));
    }

    /** A digest cut to 16 digits and an ellipsis. */
    private static String shortened(JsonNode digest) {
        String text = Judgement.text(digest);
        return digest.isTextual() && text.length() > 16 ? text.substring(0, 16) + "…" : text;
    }

    /** A spelled object as JSON, its SHA-256 digests shortened to 16 digits. */
    private static String said(JsonNode value) {
        if (value == null || value.isNull()) {
            return "absent";
        }
        JsonNode printed = value.isObject() ? sortedCopy((ObjectNode) value) : value;
        return SHA256.matcher(printed.toString()).replaceAll("$1…");
    }
}
