// The harness's in-place mode (SMOKE_IN_PLACE=1, SPEC 7) wipes the database
// it is given, so it first makes sure that database holds nothing but what
// the migrations create: --mode=in-place-check refuses, changing nothing, a
// database holding any other object (foreign tables hold data the wipe must
// not take; any other object would survive the wipe and make pg_restore
// fail on "already exists"), anything added to or changed on the
// migrations' own objects (the wipe and the workload would undo it: what
// the migrations make is built and compared by MigrationsReference), or
// audit rows the smoke test did not write;
// --mode=in-place-wipe checks the same, then drops exactly the objects the
// migrations declare, in one transaction that locks their tables first, and
// confirms no table is left.
// Extensions stay: the dump re-creates them with IF NOT EXISTS.

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class InPlace {
    static final String CHECK = "in-place-check";
    static final String WIPE = "in-place-wipe";

    /**
     * CREATE [OR REPLACE] [UNLOGGED|TEMP|MATERIALIZED|UNIQUE|CONSTRAINT] KIND
     * [CONCURRENTLY] [IF NOT EXISTS] [schema.]name
     */
    private static final Pattern CREATE = Pattern.compile("create\\s+(?:or\\s+replace\\s+)?"
            + "(?:(?:unlogged|temporary|temp|materialized|unique|constraint)\\s+)?"
            + "(table|view|sequence|function|procedure|type|domain|index|trigger|policy|rule|statistics)\\s+"
            + "(?:concurrently\\s+)?(?:if\\s+not\\s+exists\\s+)?((?:(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+)\\.)?(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+))",
            Pattern.CASE_INSENSITIVE);

    /**
     * The rows of an earlier smoke run, which a reset may take: the workload's
     * (audit-smoke-NNNN) and the continuity check's (audit-smoke-continuity-NNNN),
     * under SMOKE_SINCE with the run's tag, all by the workload's actor.
     */
    static final String SMOKE_ROW_ID = "^audit-smoke-(r[0-9]{8}t[0-9]{6}z-)?(continuity-)?[0-9]{4,}$";

    private InPlace() {
    }

    /**
     * --mode=in-place-check: 0 when DATABASE may be wiped in place, a Refusal
     * (one line, exit 3) when it may not. What passed is said on OUT as a
     * NUL-separated say= entry.
     */
    static int check(Connector connector, Path migrations, PrintStream out) throws Failure {
        String database = connector.target().database();
        try (Connection connection = connector.open()) {
            String text = migrationText(migrations);
            refuseForeign(connection, connector.deadline(), database, migrations, text,
                    withSignatures(connection, text), auditSchema(connection, connector.deadline()));
        } catch (SQLException e) {
            throw connector.deadline().failure("inspecting database " + database, e);
        }
        out.print("say=in place: database " + database + " holds only what the migrations create\0");
        out.flush();
        return 0;
    }

    /**
     * --mode=in-place-wipe: the same check, then 0 once wiped and no table is
     * left (a no-op wipe must not fake a pass), said on OUT. The check's pass
     * goes unsaid: the harness says the wipe's outcome, once per run.
     */
    static int wipe(Connector connector, Path migrations, PrintStream out) throws Failure {
        String database = connector.target().database();
        try (Connection connection = connector.open()) {
            connection.setAutoCommit(false);
            try {
                checkAndDrop(connection, connector.deadline(), database, migrations);
                connection.commit();
            } catch (Failure | SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw connector.deadline().failure("wiping database " + database + " in place", e);
        }
        SourceServer.confirmNoTables(connector, database, out);
        return 0;
    }

    /**
     * The check, then the drops, in CONNECTION's one transaction and under
     * ACCESS EXCLUSIVE locks on the migrations' tables taken first: a row or
     * an object another session adds to them meanwhile is either committed
     * before the check, which sees it, or waits until the tables are gone.
     */
    private static void checkAndDrop(Connection connection, Deadline deadline, String database, Path migrations)
            throws Failure, SQLException {
        AuditSchema auditSchema = auditSchema(connection, deadline);
        String text = migrationText(migrations);
        Set<Declared> declared = withSignatures(connection, text);
        try (Statement statement = connection.createStatement()) {
            for (DatabaseObject object : objects(connection)) {
                if (object.kind().equals("table") && object.isDeclaredIn(declared, auditSchema.name())) {
                    statement.execute("LOCK TABLE " + object.label() + " IN ACCESS EXCLUSIVE MODE");
                }
            }
        }
        refuseForeign(connection, deadline, database, migrations, text, declared, auditSchema);
        dropDeclared(connection, declared, auditSchema.name());
    }

    /**
     * A Refusal naming the foreign objects, else what was added to or changed on the migrations' objects,
     * else those the restore would not give back as they are, else the foreign audit rows, that DATABASE
     * holds, or that their objects could not be compared with what the migrations make; TEXT is
     * migrationText(MIGRATIONS), DECLARED withSignatures' answer for it. The objects are read once (in the
     * wipe, under the locks checkAndDrop took).
     */
    private static void refuseForeign(Connection connection, Deadline deadline, String database, Path migrations,
            String text, Set<Declared> declared, AuditSchema auditSchema) throws Failure, SQLException {
        List<DatabaseObject> objects = objects(connection);
        String refusal = foreignObjects(connection, objects, database, migrations, declared, auditSchema.name());
        if (refusal == null) {
            refusal = addedToDeclared(connection, database, text + " " + MigrationRunner.LEDGER_TABLE,
                    declared, auditSchema.name());
        }
        if (refusal == null) {
            MigrationsReference.Comparison compared = MigrationsReference.compare(connection, deadline, migrations,
                    auditSchema);
            if (compared.uncompared() != null) {
                refusal = uncomparable(database, compared.uncompared());
            } else {
                refusal = notLeftByMigrations(objects, database, migrations, declared, auditSchema.name(),
                        compared.made());
            }
            if (refusal == null) {
                refusal = changedFromMigrations(database, compared.changed());
            }
        }
        if (refusal == null) {
            refusal = unrestorable(connection, database, declared, auditSchema.name());
        }
        if (refusal == null) {
            refusal = foreignAuditRows(connection, deadline, database, auditSchema);
        }
        if (refusal != null) {
            throw new Refusal(refusal);
        }
    }

    /**
     * The refusal when the migrations could not be run again to compare their objects with (REASON): the
     * wipe would undo what the check did not see, so the gate stays shut, as it does on what it cannot read.
     */
    static String uncomparable(String database, String reason) {
        return "SMOKE_IN_PLACE=1 refused: database " + database + " cannot be checked for changes to the"
                + " migrations' own objects, which the wipe would undo: running the migrations again in a schema"
                + " of their own, to compare with, failed (" + reason + "); the role needs CREATE on the database"
                + " and the migrations must run inside a transaction";
    }

    /**
     * Null unless DATABASE holds (OBJECTS), in AUDIT_SCHEMA, a table or routine the migrations' text creates that the
     * migrations its schema_migrations records do not leave (MADE, MigrationsReference's; null: not known):
     * a later one drops it again, or one not run yet makes it. Somebody's own, under a name the migrations
     * use, which the wipe would drop with theirs.
     */
    static String notLeftByMigrations(List<DatabaseObject> objects, String database, Path migrations,
            Set<Declared> declared, String auditSchema, Set<String> made) {
        if (made == null) {
            return null;
        }
        List<String> notLeft = objects.stream()
                .filter(object -> object.schema().equals(auditSchema) && Set.of("table", "routine").contains(object.kind()))
                .filter(object -> object.isDeclaredIn(declared, auditSchema) && !made.contains(object.label()))
                .map(DatabaseObject::described).toList();
        if (notLeft.isEmpty()) {
            return null;
        }
        return "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in " + migrations
                + " name but the ones it records do not leave (a later one drops them, or one not run yet makes"
                + " them): " + String.join(", ", notLeft);
    }

    /** Null when nothing of the migrations' objects was CHANGED (MigrationsReference); else the one-line refusal. */
    static String changedFromMigrations(String database, List<String> changed) {
        if (changed.isEmpty()) {
            return null;
        }
        return "SMOKE_IN_PLACE=1 refused: database " + database + " holds the migrations' own objects changed from"
                + " what the migrations make, which the wipe and the workload would undo: " + String.join(", ", changed);
    }

    /** A schema object the migrations may create: KIND is table, relation, routine or type. */
    record Declared(String kind, String name) implements Comparable<Declared> {
        @Override
        public int compareTo(Declared other) {
            return (kind + " " + name).compareTo(other.kind + " " + other.name);
        }
    }

    /**
     * An object of the database: ORD orders the drops (tables first), LABEL
     * names it; a routine's ARGUMENTS are its input types as
     * oidvectortypes() writes them (null for any other kind).
     */
    record DatabaseObject(int ord, String kind, String schema, String name, String label, String dropCommand,
                          String arguments) {
        /**
         * Declared with its schema, or unqualified and in AUDIT_SCHEMA, where
         * the migrations create what they leave unqualified: a namesake in
         * another schema is somebody else's. A routine whose signature the
         * migrations give (withSignatures) must have it: an overload is too.
         */
        boolean isDeclaredIn(Set<Declared> declared, String auditSchema) {
            String signed = arguments == null ? name : name + "(" + arguments + ")";
            return declared.contains(new Declared(kind, schema + "." + name))
                    || declared.contains(new Declared(kind, schema + "." + signed))
                    || (schema.equals(auditSchema) && (declared.contains(new Declared(kind, name))
                            || declared.contains(new Declared(kind, signed))));
        }

        String described() {
            return kind + " " + label;
        }
    }

    /**
     * What the up-migrations in FOLDER create, plus the tool's own ledger
     * (schema_migrations, SPEC 5). Line comments go and lines are joined
     * first, so that a name on the line after CREATE TABLE is still found;
     * a name is lower-cased unless quoted, its schema kept when given.
     */
    static Set<Declared> declared(Path folder) throws Failure {
        return declaredIn(migrationText(folder));
    }

    /** declared() of the migrations' TEXT (migrationText). */
    private static Set<Declared> declaredIn(String text) {
        Set<Declared> declared = new TreeSet<>();
        declared.add(new Declared("table", "schema_migrations"));
        Matcher create = CREATE.matcher(text);
        while (create.find()) {
            declared.add(new Declared(kindOf(create.group(1).toLowerCase(Locale.ROOT)), nameOf(create.group(2))));
        }
        return declared;
    }

    /** The up-migrations of FOLDER in order, line comments gone, lines (and tabs, CRs) joined by spaces. */
    private static String migrationText(Path folder) throws Failure {
        StringBuilder text = new StringBuilder();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "*.up.sql")) {
            List<Path> sorted = new ArrayList<>();
            files.forEach(sorted::add);
            sorted.sort(null);
            for (Path file : sorted) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    int comment = line.indexOf("--");
                    text.append(comment < 0 ? line : line.substring(0, comment)).append(' ');
                }
            }
        } catch (IOException e) {
            throw new Failure("cannot read the migrations in " + folder + ": " + Failure.reason(e));
        }
        return text.toString().replace('\t', ' ').replace('\r', ' ');
    }

    /** CREATE [OR REPLACE] FUNCTION|PROCEDURE [schema.]name( : its argument list follows. */
    private static final Pattern ROUTINE = Pattern.compile("create\\s+(?:or\\s+replace\\s+)?(?:function|procedure)\\s+"
            + "((?:(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+)\\.)?(?:\"[^\" ]+\"|[\\p{L}\\p{N}_$]+))\\s*\\(",
            Pattern.CASE_INSENSITIVE);

    /**
     * declaredIn(TEXT, the migrations' text) with each routine as name(input types), the types as
     * CONNECTION's server spells them, when every CREATE of that name has an
     * argument list the server reads; else by its name alone, as before.
     */
    private static Set<Declared> withSignatures(Connection connection, String text) throws SQLException {
        Set<Declared> declared = declaredIn(text);
        java.util.Map<String, Set<String>> signatures = new java.util.TreeMap<>();
        Set<String> unread = new TreeSet<>();
        java.util.Map<String, java.util.Optional<String>> typeNames = new java.util.HashMap<>(); // one query a spelling
        Matcher routine = ROUTINE.matcher(text);
        while (routine.find()) {
            String name = nameOf(routine.group(1));
            String types = inputTypes(connection, argumentList(text, routine.end()), typeNames);
            if (types == null) {
                unread.add(name);
            } else {
                signatures.computeIfAbsent(name, key -> new TreeSet<>()).add(types);
            }
        }
        signatures.forEach((name, typeLists) -> {
            if (!unread.contains(name)) {
                declared.remove(new Declared("routine", name));
                typeLists.forEach(types -> declared.add(new Declared("routine", name + "(" + types + ")")));
            }
        });
        return declared;
    }

    /** TEXT from START to the parenthesis that closes the one before START (quotes skipped), or null. */
    static String argumentList(String text, int start) {
        int depth = 1;
        boolean quoted = false;
        for (int i = start; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\'') {
                quoted = !quoted;
            } else if (!quoted && c == '(') {
                depth++;
            } else if (!quoted && c == ')' && --depth == 0) {
                return text.substring(start, i);
            }
        }
        return null;
    }

    /**
     * ARGUMENTS' input types (OUT ones left out) as oidvectortypes() writes
     * them; null when one is unreadable. TYPE_NAMES keeps the server's answers.
     */
    static String inputTypes(Connection connection, String arguments,
            java.util.Map<String, java.util.Optional<String>> typeNames) throws SQLException {
        if (arguments == null) {
            return null;
        }
        List<String> types = new ArrayList<>();
        for (String argument : topLevelParts(arguments)) {
            String plain = argument.replaceFirst("(?is)\\s*(?:\\bdefault\\b|=).*$", "").strip();
            String[] mode = plain.split("\\s+", 2);
            String modeWord = mode[0].toLowerCase(Locale.ROOT);
            if (modeWord.equals("out")) {
                continue;
            }
            if (mode.length == 2 && List.of("in", "inout", "variadic").contains(modeWord)) {
                plain = mode[1];
            }
            if (plain.isEmpty()) {
                continue;
            }
            String[] named = plain.split("\\s+", 2); // a parameter's name and its type, else a bare type
            String type = named.length == 2 ? typeName(connection, named[1], typeNames) : null;
            if (type == null) {
                type = typeName(connection, plain, typeNames);
            }
            if (type == null) {
                return null;
            }
            types.add(type);
        }
        return String.join(", ", types);
    }

    /** ARGUMENTS split at the commas outside parentheses and quotes. */
    static List<String> topLevelParts(String arguments) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int from = 0;
        boolean quoted = false;
        for (int i = 0; i < arguments.length(); i++) {
            char c = arguments.charAt(i);
            if (c == '\'') {
                quoted = !quoted;
            } else if (!quoted && c == '(') {
                depth++;
            } else if (!quoted && c == ')') {
                depth--;
            } else if (!quoted && depth == 0 && c == ',') {
                parts.add(arguments.substring(from, i).strip());
                from = i + 1;
            }
        }
        parts.add(arguments.substring(from).strip());
        return parts.stream().filter(part -> !part.isEmpty()).toList();
    }

    /**
     * TEXT as the server names that type, or null: not a type name. Inside a
     * transaction (the wipe's) a savepoint undoes the error a malformed name
     * raises, so that the transaction goes on.
     */
    private static String typeName(Connection connection, String text,
            java.util.Map<String, java.util.Optional<String>> typeNames) throws SQLException {
        java.util.Optional<String> known = typeNames.get(text);
        if (known == null) {
            known = java.util.Optional.ofNullable(askTypeName(connection, text));
            typeNames.put(text, known);
        }
        return known.orElse(null);
    }

    private static String askTypeName(Connection connection, String text) throws SQLException {
        java.sql.Savepoint before = connection.getAutoCommit() ? null : connection.setSavepoint();
        try (java.sql.PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_catalog.format_type(pg_catalog.to_regtype(?), NULL)")) {
            statement.setString(1, text);
            try (ResultSet row = statement.executeQuery()) {
                row.next();
                return row.getString(1);
            }
        } catch (SQLException e) {
            if (before != null) {
                connection.rollback(before);
            }
            return null;
        } finally {
            if (before != null) {
                try {
                    connection.releaseSavepoint(before);
                } catch (SQLException released) { // gone with the rollback to it
                }
            }
        }
    }

    private static String kindOf(String keyword) {
        return switch (keyword) {
            case "table" -> "table";
            case "view", "sequence" -> "relation";
            case "function", "procedure" -> "routine";
            case "type", "domain" -> "type";
            default -> keyword; // index, trigger, policy, rule, statistics: what hangs on a table
        };
    }

    static String nameOf(String qualified) {
        List<String> parts = new ArrayList<>();
        for (String part : qualified.split("\\.")) {
            parts.add(part.startsWith("\"") ? part.substring(1, part.length() - 1) : part.toLowerCase(Locale.ROOT));
        }
        return String.join(".", parts);
    }

    /**
     * The database's own objects outside the system schemas and extensions
     * (tables, views, sequences not owned by a column, routines, types), in
     * the order they are dropped, each with its DROP statement.
     */
    static final String OBJECTS = """
            WITH objects(ord, kind, sch, name, label, drop_cmd, args) AS (
              SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 1 ELSE 2 END,
                     CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' ELSE 'relation' END,
                     n.nspname::text, c.relname::text,
                     format('%I.%I', n.nspname, c.relname),
                     format('DROP %s IF EXISTS %I.%I CASCADE',
                            CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                           WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                           ELSE 'TABLE' END,
                            n.nspname, c.relname),
                     NULL
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                    AND (d.deptype = 'e'
                                         OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
              UNION ALL
              SELECT 3, 'routine', n.nspname::text, p.proname::text,
                     format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                     format('DROP %s IF EXISTS %I.%I(%s) CASCADE',
                            CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                           ELSE 'FUNCTION' END,
                            n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                     oidvectortypes(p.proargtypes)
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                    AND d.deptype = 'e')
              UNION ALL
              SELECT 4, 'type', n.nspname::text, t.typname::text,
                     format('%I.%I', n.nspname, t.typname),
                     format('DROP %s IF EXISTS %I.%I CASCADE',
                            CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                            n.nspname, t.typname),
                     NULL
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
                 AND t.typcategory <> 'A'
                 AND (t.typrelid = 0
                      OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                    AND d.deptype = 'e')
            )
            SELECT ord, kind, sch, name, label, drop_cmd, args FROM objects
             WHERE sch NOT IN ('pg_catalog', 'information_schema') AND sch NOT LIKE 'pg\\_%'
             ORDER BY ord, label COLLATE "C"
            """;

    /**
     * What hangs on the database's own tables (outside the system schemas
     * and extensions) and goes with them when they are dropped: indexes not
     * behind a constraint, triggers, policies, rules, extended statistics
     * (each under its table's or its own schema) and publications' hold on
     * them. The check names them; the wipe's CASCADE takes the declared ones.
     */
    static final String DEPENDENTS = """
            WITH dependents(kind, sch, name, label, relid) AS (
              SELECT 'index', n.nspname::text, i.relname::text, format('%I.%I', n.nspname, i.relname), x.indrelid
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_namespace n ON n.oid = i.relnamespace
               WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                    AND d.objid = i.oid AND d.refclassid = 'pg_constraint'::regclass)
              UNION ALL
              SELECT 'trigger', n.nspname::text, t.tgname::text, format('%I on %I.%I', t.tgname, n.nspname, c.relname),
                     t.tgrelid
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT t.tgisinternal
              UNION ALL
              SELECT 'policy', n.nspname::text, p.polname::text, format('%I on %I.%I', p.polname, n.nspname, c.relname),
                     p.polrelid
                FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              UNION ALL
              SELECT 'rule', n.nspname::text, r.rulename::text, format('%I on %I.%I', r.rulename, n.nspname, c.relname),
                     r.ev_class
                FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE r.rulename <> '_RETURN'
              UNION ALL
              SELECT 'statistics', n.nspname::text, s.stxname::text, format('%I.%I', n.nspname, s.stxname), s.stxrelid
                FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
              UNION ALL
              SELECT 'publication', n.nspname::text, p.pubname::text,
                     format('%I (table %I.%I)', p.pubname, n.nspname, c.relname), r.prrelid
                FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            )
            SELECT kind, sch, name, label FROM dependents x
              JOIN pg_class c ON c.oid = x.relid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                  AND d.objid = c.oid AND d.deptype = 'e')
             ORDER BY array_position(ARRAY['index', 'trigger', 'policy', 'rule', 'statistics', 'publication'], kind),
                      label COLLATE "C"
            """;

    /**
     * The objects of other kinds (casts, operators, operator classes, event
     * triggers, ...) that depend on a relation, routine or type outside the
     * system schemas and extensions, themselves no extension's: the
     * migrations make none, and the wipe's CASCADE would drop them with what
     * they hang on, which the workload then makes anew without them.
     */
    static final String HANGING_ON = """
            SELECT DISTINCT o.type, coalesce(o.schema, ''), o.identity
              FROM pg_catalog.pg_depend d
              CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o
              CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0) r
             WHERE d.deptype IN ('n', 'a')
               AND d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass,
                                    'pg_catalog.pg_proc'::pg_catalog.regclass,
                                    'pg_catalog.pg_type'::pg_catalog.regclass)
               AND d.classid NOT IN ('pg_catalog.pg_class'::pg_catalog.regclass,
                                     'pg_catalog.pg_proc'::pg_catalog.regclass,
                                     'pg_catalog.pg_type'::pg_catalog.regclass,
                                     'pg_catalog.pg_constraint'::pg_catalog.regclass,
                                     'pg_catalog.pg_attrdef'::pg_catalog.regclass,
                                     'pg_catalog.pg_trigger'::pg_catalog.regclass,
                                     'pg_catalog.pg_policy'::pg_catalog.regclass,
                                     'pg_catalog.pg_rewrite'::pg_catalog.regclass,
                                     'pg_catalog.pg_statistic_ext'::pg_catalog.regclass,
                                     'pg_catalog.pg_publication_rel'::pg_catalog.regclass)
               AND r.schema NOT IN ('pg_catalog', 'information_schema') AND r.schema NOT LIKE 'pg\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.deptype = 'e'
                                  AND ((e.classid = d.classid AND e.objid = d.objid)
                                       OR (e.classid = d.refclassid AND e.objid = d.refobjid)))
             ORDER BY 1, 3
            """;

    /** HANGING_ON, as objects of kinds the migrations never declare. */
    static List<DatabaseObject> hangingOn(Connection connection) throws SQLException {
        return query(connection, HANGING_ON, row -> new DatabaseObject(6, row.getString(1), row.getString(2),
                row.getString(3), row.getString(3), null, null));
    }

    /** DEPENDENTS, as objects the wipe never drops by name (its tables' CASCADE does). */
    static List<DatabaseObject> dependents(Connection connection) throws SQLException {
        return query(connection, DEPENDENTS, row -> new DatabaseObject(5, row.getString(1), row.getString(2),
                row.getString(3), row.getString(4), null, null));
    }

    static List<DatabaseObject> objects(Connection connection) throws SQLException {
        return query(connection, OBJECTS, row -> new DatabaseObject(row.getInt(1), row.getString(2), row.getString(3),
                row.getString(4), row.getString(5), row.getString(6), row.getString(7)));
    }

    /** What a row of one of the queries here stands for. */
    private interface RowMapper<T> {
        T of(ResultSet row) throws SQLException;
    }

    private static <T> List<T> query(Connection connection, String sql, RowMapper<T> mapper) throws SQLException {
        List<T> mapped = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
            while (rows.next()) {
                mapped.add(mapper.of(rows));
            }
        }
        return mapped;
    }

    /** The schema the migrations' unqualified names are in (AuditSchema.resolve: public when none holds them). */
    static AuditSchema auditSchema(Connection connection, Deadline deadline) throws Failure {
        return AuditSchema.resolve(connection, null, deadline);
    }

    /**
     * Null when DATABASE holds only what the migrations create (unqualified: in AUDIT_SCHEMA): its OBJECTS,
     * and what depends on or hangs on them; else the refusal.
     */
    static String foreignObjects(Connection connection, List<DatabaseObject> objects, String database, Path migrations,
            Set<Declared> declared, String auditSchema) throws SQLException {
        List<DatabaseObject> held = new ArrayList<>(objects);
        held.addAll(dependents(connection));
        held.addAll(hangingOn(connection));
        List<String> foreign = held.stream().filter(object -> !object.isDeclaredIn(declared, auditSchema))
                .map(DatabaseObject::described).toList();
        if (foreign.isEmpty()) {
            return null;
        }
        return "SMOKE_IN_PLACE=1 refused: database " + database + " holds objects the migrations in " + migrations
                + " do not create: " + String.join(", ", foreign);
    }

    /**
     * What a user may add to the migrations' own tables and routines without making an object of its own:
     * a column (the wipe drops the table, the workload makes it again without it: its data lost), a
     * constraint or a NOT NULL (made again without them), and a comment (the migrations make none). Each
     * row: the kind of the table or routine it is on, its schema, name, label and input types (routines),
     * and what was added; a column, a constraint and a NOT NULL by their name (ATTNAME, CONNAME).
     * NOT NULL is read from the column on every version: only PostgreSQL 18 adds a constraint row for it.
     */
    static final String ADDED = """
            SELECT 'table', n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), NULL,
                   'column', a.attname::text
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'table', n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), NULL,
                   'not null', a.attname::text
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
            UNION ALL
            SELECT 'table', n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), NULL,
                   'constraint', k.conname::text
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND k.contype <> 'n'
            UNION ALL
            SELECT 'table', n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), NULL,
                   'comment', CASE WHEN d.objsubid = 0 THEN 'on table ' || format('%I.%I', n.nspname, c.relname)
                                   ELSE 'on column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname) END
              FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
             WHERE c.relkind IN ('r', 'p')
            UNION ALL
            SELECT 'table', n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname), NULL,
                   'comment', format('on constraint %I on %I.%I', k.conname, n.nspname, c.relname)
              FROM pg_description d JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND k.oid = d.objoid
              JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            UNION ALL
            SELECT 'routine', n.nspname::text, p.proname::text,
                   format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   oidvectortypes(p.proargtypes), 'comment',
                   format('on routine %I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
              FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
              JOIN pg_namespace n ON n.oid = p.pronamespace
            """;

    /**
     * Null when the migrations' tables hold only columns, constraints and NOT NULLs the migrations' TEXT
     * makes and nothing of theirs has a comment; else the one-line refusal. A column is the migrations'
     * when its name is a word of their SQL (an unquoted one folded to lower case): a column of another
     * name is the user's. A constraint or a NOT NULL is theirs when TableDefinitions finds it in TEXT.
     */
    static String addedToDeclared(Connection connection, String database, String text, Set<Declared> declared,
            String auditSchema) throws SQLException {
        Set<String> words = identifiersOf(text);
        TableDefinitions made = TableDefinitions.of(text);
        List<String> added = new ArrayList<>();
        for (Added row : query(connection, ADDED, row -> new Added(new DatabaseObject(0, row.getString(1),
                row.getString(2), row.getString(3), row.getString(4), null, row.getString(5)), row.getString(6),
                row.getString(7)))) {
            if (row.on().isDeclaredIn(declared, auditSchema)
                    && !made.has(row.what(), row.on().name(), row.name(), words)) {
                added.add(row.described());
            }
        }
        if (added.isEmpty()) {
            return null;
        }
        added.sort(null);
        return "SMOKE_IN_PLACE=1 refused: database " + database + " holds what the migrations do not make on their own"
                + " objects, which the wipe would take with them: " + String.join(", ", added);
    }

    /** A row of ADDED: what (WHAT, named NAME) was added on the table or routine ON. */
    private record Added(DatabaseObject on, String what, String name) {
        String described() {
            return switch (what) {
                case "comment" -> "comment " + name;
                case "not null" -> "not null on column " + on.label() + "." + name;
                default -> what + " " + on.label() + "." + name;
            };
        }
    }

    /**
     * The identifiers of SQL TEXT: every word lower-cased, and what stands in double quotes as written. Two
     * scans, so that a double quote inside a string literal hides no word.
     */
    static Set<String> identifiersOf(String text) {
        Set<String> words = new TreeSet<>();
        for (Matcher word = WORD.matcher(text); word.find(); ) {
            words.add(word.group().toLowerCase(Locale.ROOT));
        }
        for (Matcher quoted = QUOTED.matcher(text); quoted.find(); ) {
            words.add(quoted.group(1).replace("\"\"", "\""));
        }
        return words;
    }

    private static final Pattern WORD = Pattern.compile("[\\p{L}_][\\p{L}\\p{N}_$]*");
    private static final Pattern QUOTED = Pattern.compile("\"((?:[^\"]|\"\")+)\"");

    /**
     * Relations and routines not owned by the role the harness works as, and
     * relations with privileges granted (on the table or on a column) and
     * routines with EXECUTE granted to a role but their owner: their owner
     * and grants are the user's, and pg_restore --no-owner --no-acl would
     * not give them back. A routine's PUBLIC entry is not a grant: without
     * an ACL PUBLIC has it, and the migrations revoke it themselves.
     */
    static final String NOT_RESTORED = """
            WITH me AS (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER),
            kept(kind, sch, name, args, label, owner, granted) AS (
            SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' ELSE 'relation' END, n.nspname::text,
                   c.relname::text, NULL, format('%I.%I', n.nspname, c.relname),
                   CASE WHEN c.relowner <> (SELECT oid FROM me) THEN pg_get_userbyid(c.relowner) END,
                   c.relacl IS NOT NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                                    WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
            UNION ALL
            SELECT 'routine', n.nspname::text, p.proname::text, oidvectortypes(p.proargtypes),
                   format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   CASE WHEN p.proowner <> (SELECT oid FROM me) THEN pg_get_userbyid(p.proowner) END,
                   EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) x WHERE x.grantee NOT IN (0, p.proowner))
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            )
            SELECT kind, sch, name, args, label, owner, granted FROM kept
             WHERE owner IS NOT NULL OR granted ORDER BY kind, label COLLATE "C"
            """;

    /** "owner OWNER" (unless null), "privileges granted" (when GRANTED), joined by a comma. */
    private static String keptSettings(String owner, boolean granted) {
        List<String> settings = new ArrayList<>();
        if (owner != null) {
            settings.add("owner " + owner);
        }
        if (granted) {
            settings.add("privileges granted");
        }
        return String.join(", ", settings);
    }

    /** Null when the restore gives the migrations' objects back as they are; else the one-line refusal. */
    static String unrestorable(Connection connection, String database, Set<Declared> declared, String auditSchema)
            throws SQLException {
        List<String> kept = new ArrayList<>();
        try (Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(NOT_RESTORED)) {
            while (rows.next()) {
                DatabaseObject object = new DatabaseObject(0, rows.getString(1), rows.getString(2), rows.getString(3),
                        rows.getString(5), null, rows.getString(4));
                if (object.isDeclaredIn(declared, auditSchema)) {
                    kept.add(object.described() + " (" + keptSettings(rows.getString(6), rows.getBoolean(7)) + ")");
                }
            }
        }
        if (kept.isEmpty()) {
            return null;
        }
        return "SMOKE_IN_PLACE=1 refused: in database " + database + " the restore (pg_restore --no-owner --no-acl)"
                + " would not give back the owner or the privileges of " + String.join(", ", kept);
    }

    /**
     * Null when every audit row is the smoke test's (or there is no log);
     * else the one-line refusal. A row is somebody's data without the smoke
     * test's id and actor (smoke-actor), even with a look-alike id.
     */
    static String foreignAuditRows(Connection connection, Deadline deadline, String database, AuditSchema auditSchema)
            throws Failure {
        // On CONNECTION itself (the wipe's locks are its transaction's): every name qualified, pg_catalog's operators.
        String table = auditSchema.qualified("audit_events");
        try (Statement statement = connection.createStatement()) {
            try (ResultSet present = statement.executeQuery("SELECT pg_catalog.to_regclass('"
                    + table.replace("'", "''") + "') IS NOT NULL")) {
                present.next();
                if (!present.getBoolean(1)) {
                    return null;
                }
            }
            try (ResultSet count = statement.executeQuery("SELECT pg_catalog.count(*) FROM " + table
                    + " WHERE NOT (id OPERATOR(pg_catalog.~) '" + SMOKE_ROW_ID
                    + "' AND actor OPERATOR(pg_catalog.=) 'smoke-actor')")) {
                count.next();
                long rows = count.getLong(1);
                return rows == 0 ? null : "SMOKE_IN_PLACE=1 refused: audit_events in " + database + " holds "
                        + rows + " row(s) not written by this smoke test";
            }
        } catch (SQLException e) {
            throw deadline.failure("reading audit_events in " + database, e);
        }
    }

    /**
     * Drops, in CONNECTION's transaction (checkAndDrop's, after the check),
     * exactly the objects the migrations declare (tables first; CASCADE
     * takes what they own: indexes, triggers, constraints, owned sequences),
     * plus their functions and types, which pg_restore would otherwise trip
     * over. Returns how many it dropped.
     */
    static int dropDeclared(Connection connection, Set<Declared> declared, String auditSchema) throws SQLException {
        List<DatabaseObject> dropped = objects(connection).stream()
                .filter(object -> object.isDeclaredIn(declared, auditSchema)).toList();
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET LOCAL client_min_messages = warning");
            for (DatabaseObject object : dropped) {
                statement.execute(object.dropCommand());
            }
        }
        return dropped.size();
    }
}
