// What the migrations' SQL makes on its tables besides columns, read from
// their text for in-place mode (InPlace): the constraints it names or leaves
// PostgreSQL to name, and the columns it makes NOT NULL. A user's constraint
// or NOT NULL on those tables is what the wipe would silently take.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the migrations' SQL makes on its tables besides columns, each as TABLE.NAME, the table by its
 * name alone (PostgreSQL names constraints after it, whatever the schema): the CONSTRAINTS it names or
 * leaves PostgreSQL to name, and the columns it makes NOT_NULL (NOT NULL, or in a primary key).
 */
record TableDefinitions(Set<String> constraints, Set<String> notNull) {
    /** Whether the migrations make WHAT (a kind of ADDED's rows) named NAME on TABLE; a column by WORDS. */
    boolean has(String what, String table, String name, Set<String> words) {
        return switch (what) {
            case "column" -> words.contains(name);
            case "constraint" -> constraints.contains(table + "." + name);
            case "not null" -> notNull.contains(table + "." + name);
            default -> false; // a comment: the migrations make none
        };
    }

    /**
     * One definition of TABLE: a column's (COLUMN, then the TOKENS after its name) or a table constraint's
     * (COLUMN null), from a CREATE TABLE or an ALTER TABLE.
     */
    private record Clause(String table, String column, List<String> tokens) {
    }

    /** The parts of the name PostgreSQL gives a constraint left unnamed: table_COLUMNS_LABEL (COLUMNS may be null). */
    private record Automatic(String columns, String label) {
    }

    private static final String QUALIFIED_NAME =
            "(?:(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+)\\.)?(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+)";

    /** CREATE [GLOBAL|LOCAL] [UNLOGGED|TEMP] TABLE [IF NOT EXISTS] [schema.]name ( : its definitions follow. */
    private static final Pattern CREATE_TABLE = Pattern.compile("create\\s+(?:(?:global|local)\\s+)?"
            + "(?:(?:unlogged|temporary|temp)\\s+)?table\\s+(?:if\\s+not\\s+exists\\s+)?(" + QUALIFIED_NAME
            + ")\\s*\\(", Pattern.CASE_INSENSITIVE);

    /** ALTER TABLE [IF EXISTS] [ONLY] [schema.]name, then its actions up to the semicolon. */
    private static final Pattern ALTER_TABLE = Pattern.compile("alter\\s+table\\s+(?:if\\s+exists\\s+)?"
            + "(?:only\\s+)?(" + QUALIFIED_NAME + ")\\s+([^;]*)", Pattern.CASE_INSENSITIVE);

    /** The actions of ALTER TABLE that make a definition: ADD, SET NOT NULL, RENAME CONSTRAINT. */
    private static final Pattern ADD = Pattern.compile("^add\\s+(?:column\\s+)?(?:if\\s+not\\s+exists\\s+)?(.+)$",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    private static final Pattern SET_NOT_NULL = Pattern.compile("^alter\\s+(?:column\\s+)?(" + QUALIFIED_NAME
            + ")\\s+set\\s+not\\s+null$", Pattern.CASE_INSENSITIVE);
    private static final Pattern RENAME_CONSTRAINT = Pattern.compile("^rename\\s+constraint\\s+" + QUALIFIED_NAME
            + "\\s+to\\s+(" + QUALIFIED_NAME + ")$", Pattern.CASE_INSENSITIVE);

    /** A token of a definition: a string literal, a quoted name, a parenthesis or a run of anything else. */
    private static final Pattern TOKEN = Pattern.compile("'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[()]|[^\\s()'\"]+");

    /** The words a table constraint starts with; any other definition is a column's (LIKE aside). */
    private static final Set<String> TABLE_CONSTRAINT = Set.of("constraint", "primary", "unique", "check", "foreign",
            "exclude", "like");

    /** What the migrations' TEXT makes (migrationText, the ledger's CREATE TABLE added). */
    static TableDefinitions of(String text) {
        List<Clause> clauses = clausesOf(text);
        Map<String, Set<String>> columns = new HashMap<>(); // a CHECK is named after one
        for (Clause clause : clauses) {
            if (clause.column() != null) {
                columns.computeIfAbsent(clause.table(), table -> new TreeSet<>()).add(clause.column());
            }
        }
        TableDefinitions made = new TableDefinitions(new TreeSet<>(), new TreeSet<>());
        for (Clause clause : clauses) {
            addDefinitions(clause, columns.getOrDefault(clause.table(), Set.of()), made);
        }
        return made;
    }

    /** The clauses of TEXT's CREATE TABLE definitions and ALTER TABLE actions, in order. */
    private static List<Clause> clausesOf(String text) {
        List<Clause> clauses = new ArrayList<>();
        for (Matcher create = CREATE_TABLE.matcher(text); create.find(); ) {
            String body = InPlace.argumentList(text, create.end());
            for (String definition : body == null ? List.<String>of() : InPlace.topLevelParts(body)) {
                clauses.add(clause(relationName(create.group(1)), definition));
            }
        }
        for (Matcher alter = ALTER_TABLE.matcher(text); alter.find(); ) {
            for (String action : InPlace.topLevelParts(alter.group(2))) {
                String definition = definitionIn(action);
                if (definition != null) {
                    clauses.add(clause(relationName(alter.group(1)), definition));
                }
            }
        }
        return clauses;
    }

    /** What ACTION of an ALTER TABLE defines, written as in a CREATE TABLE; null when nothing (DISABLE TRIGGER...). */
    private static String definitionIn(String action) {
        Matcher add = ADD.matcher(action);
        Matcher notNull = SET_NOT_NULL.matcher(action);
        Matcher renamed = RENAME_CONSTRAINT.matcher(action);
        if (add.matches()) {
            return add.group(1);
        }
        if (notNull.matches()) {
            return notNull.group(1) + " NOT NULL";
        }
        return renamed.matches() ? "CONSTRAINT " + renamed.group(1) : null;
    }

    /** DEFINITION of TABLE as a Clause: a table constraint's when it starts with one's word, else a column's. */
    private static Clause clause(String table, String definition) {
        List<String> tokens = tokensOf(definition);
        if (tokens.isEmpty() || TABLE_CONSTRAINT.contains(tokens.get(0).toLowerCase(Locale.ROOT))) {
            return new Clause(table, null, tokens);
        }
        return new Clause(table, InPlace.nameOf(tokens.get(0)), tokens.subList(1, tokens.size()));
    }

    /** QUALIFIED's last part: the table's name without its schema. */
    private static String relationName(String qualified) {
        String name = InPlace.nameOf(qualified);
        return name.substring(name.lastIndexOf('.') + 1);
    }

    /** DEFINITION's tokens, each parenthesised part one token, its parentheses kept: "(a, b)". */
    private static List<String> tokensOf(String definition) {
        List<String> tokens = new ArrayList<>();
        StringBuilder group = new StringBuilder();
        int depth = 0;
        for (Matcher token = TOKEN.matcher(definition); token.find(); ) {
            String text = token.group();
            depth += text.equals("(") ? 1 : 0;
            if (depth == 0) {
                tokens.add(text);
            } else {
                group.append(text).append(' ');
                if (text.equals(")") && --depth == 0) {
                    tokens.add(group.toString().strip());
                    group.setLength(0);
                }
            }
        }
        return tokens;
    }

    /**
     * Adds to MADE the constraints and NOT NULLs CLAUSE makes; COLUMNS are its table's. A constraint is
     * named by CONSTRAINT name before it, else as PostgreSQL names it: table_pkey, table_COLUMNS_key,
     * table_COLUMNS_fkey, table_COLUMNS_excl, table_COLUMN_check (the one column its expression reads;
     * table_check when it reads none or more).
     */
    private static void addDefinitions(Clause clause, Set<String> columns, TableDefinitions made) {
        List<String> tokens = clause.tokens();
        boolean named = false; // the constraint that comes next has the name just read
        for (int i = 0; i < tokens.size(); i++) {
            String word = tokens.get(i).toLowerCase(Locale.ROOT);
            String group = nextGroup(tokens, i);
            List<String> listed = clause.column() != null ? List.of(clause.column()) : namesIn(group);
            Automatic automatic = switch (word) {
                case "primary" -> new Automatic(null, "pkey");
                case "unique" -> new Automatic(String.join("_", listed), "key");
                case "references" -> clause.column() == null ? null : new Automatic(clause.column(), "fkey");
                case "foreign" -> new Automatic(String.join("_", listed), "fkey");
                case "exclude" -> new Automatic(String.join("_", namesIn(group)), "excl");
                case "check" -> new Automatic(onlyColumnIn(group, columns), "check");
                default -> null;
            };
            if (word.equals("primary") || (word.equals("not") && i + 1 < tokens.size()
                    && tokens.get(i + 1).equalsIgnoreCase("null"))) {
                listed.forEach(column -> made.notNull().add(clause.table() + "." + column));
            }
            if (word.equals("constraint") && i + 1 < tokens.size()) {
                made.constraints().add(clause.table() + "." + InPlace.nameOf(tokens.get(++i)));
                named = true;
            } else if (automatic != null) {
                if (!named) {
                    addNumbered(made.constraints(), clause.table(), automatic.columns(), automatic.label());
                }
                named = false;
            }
        }
    }

    /** The first parenthesised token after TOKENS' I-th, else "". */
    private static String nextGroup(List<String> tokens, int i) {
        for (int next = i + 1; next < tokens.size(); next++) {
            if (tokens.get(next).startsWith("(")) {
                return tokens.get(next);
            }
        }
        return "";
    }

    /** The names a parenthesised list GROUP starts its elements with: "(a, b WITH =)" is a and b; an expression's is expr. */
    private static List<String> namesIn(String group) {
        if (group.length() < 2) {
            return List.of();
        }
        return InPlace.topLevelParts(group.substring(1, group.length() - 1)).stream().map(element -> {
            String first = tokensOf(element).get(0);
            return first.startsWith("(") ? "expr" : InPlace.nameOf(first);
        }).toList();
    }

    /** The one of COLUMNS that CHECK's expression GROUP reads, else null (PostgreSQL's check names follow it). */
    private static String onlyColumnIn(String group, Set<String> columns) {
        Set<String> read = new TreeSet<>(InPlace.identifiersOf(group.replaceAll("'(?:[^']|'')*'", "''")));
        read.retainAll(columns);
        return read.size() == 1 ? read.iterator().next() : null;
    }

    /** TABLE.name into NAMES; PostgreSQL numbers the label of a name already taken: table_check1. */
    private static void addNumbered(Set<String> names, String table, String columns, String label) {
        for (int taken = 0; !names.add(table + "." + objectName(table, columns, taken == 0 ? label : label + taken)); ) {
            taken++;
        }
    }

    /**
     * PostgreSQL's makeObjectName: TABLE_COLUMNS_LABEL (COLUMNS may be null) within 63 bytes, the longer
     * of TABLE and COLUMNS shortened first, a character never cut.
     */
    static String objectName(String table, String columns, String label) {
        int room = 63 - label.length() - 1 - (columns == null ? 0 : 1);
        int first = table.getBytes(StandardCharsets.UTF_8).length;
        int second = columns == null ? 0 : columns.getBytes(StandardCharsets.UTF_8).length;
        while (first + second > room) {
            if (first > second) {
                first--;
            } else {
                second--;
            }
        }
        String name = clipped(table, first) + (columns == null ? "" : "_" + clipped(columns, second));
        return name + "_" + label;
    }

    /** TEXT's longest start of at most BYTES bytes in UTF-8. */
    private static String clipped(String text, int bytes) {
        int end = 0;
        int used = 0;
        while (end < text.length()) {
            int next = text.offsetByCodePoints(end, 1);
            used += text.substring(end, next).getBytes(StandardCharsets.UTF_8).length;
            if (used > bytes) {
                break;
            }
            end = next;
        }
        return text.substring(0, end);
    }
}
