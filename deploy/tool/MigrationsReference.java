// In-place mode's look at what the user changed on the migrations' own objects
// (InPlace): a column's type, default, collation, identity or generation
// expression, storage, statistics target or options (n_distinct), a NOT
// NULL dropped, a constraint, an index or a trigger redefined under its name
// (or dropped), a trigger disabled, a table clustered on an index, a table's
// row security, storage parameters (its TOAST table's too), persistence or
// replica identity, a routine replaced under its signature. The wipe and the
// workload would undo each of them.
//
// Why a reference and not the migrations' text: what the server makes of a
// definition (a type's spelling, a default's deparse, a constraint's
// expression) cannot be read off the SQL. So the migrations the database
// recorded in schema_migrations are run again in a schema of their own, in
// a transaction (or, inside the wipe's, a savepoint) that is always rolled
// back, and the catalog's renderings (format_type, pg_get_expr,
// pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef,
// pg_get_functiondef) of both schemas are compared, the reference's name
// spelled as the audit schema's. Each file runs through a DO block's EXECUTE,
// where a COMMIT of its own is an error instead of committing the reference.
// Only the recorded files run: a database an older release migrated is
// compared with what those files made, not with what newer ones would.
// Building needs the privilege to create a schema; without it (or with a
// file that cannot run so) the check goes on without the comparison and
// says so; an error that says nothing of the kind (a cancelled statement, a
// lost connection) fails the check instead.

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.postgresql.util.PSQLException;

final class MigrationsReference {
    private MigrationsReference() {
    }

    /**
     * One aspect (ASPECT: type, default, definition, state, ...) of an object of KIND (table, column,
     * constraint, index, trigger, routine) named LABEL, on the table or routine ON, as VALUE renders it;
     * SHOWN when VALUE is short enough to name in a refusal.
     */
    record Definition(String aspect, String kind, String label, String on, String value, boolean shown) {
        String key() {
            return aspect + " " + kind + " " + label;
        }

        /** A table or a routine: what the others are on. */
        boolean isOwner() {
            return on.equals(label);
        }

        /** This aspect, found as it is, where the migrations make it as MADE. */
        String changedFrom(Definition made) {
            String named = aspect + " of " + kind + " " + label;
            return shown ? named + " (" + value + "; the migrations make " + made.value() + ")" : named;
        }
    }

    /**
     * What compare() found: the changes, sorted, or (CHANGED empty) why nothing was compared, or neither;
     * MADE, the labels of the tables, sequences and routines the migrations leave (null when nothing was
     * compared).
     */
    record Comparison(List<String> changed, String uncompared, Set<String> made) {
    }

    /**
     * The definitions of the tables (and their columns, constraints, indexes, triggers), sequences and
     * routines of schema ? (the second parameter), every name of that schema in them spelled as schema ? (the first)
     * is: as an identifier (quote_ident), and as a literal (quote_literal) where pg_get_functiondef writes
     * a routine's SET search_path ('Tenant', not "Tenant"). Read with pg_catalog first on the path, so
     * that every other name is qualified. A table's storage parameters include its TOAST table's, as
     * ALTER TABLE SET (toast.x = ...) spells them.
     */
    static final String DEFINITIONS = """
            WITH target AS (
              SELECT n.oid, pg_catalog.quote_ident(n.nspname) AS spelled, pg_catalog.quote_ident(s.name) AS shown_as,
                     pg_catalog.quote_literal(n.nspname) AS literal, pg_catalog.quote_literal(s.name) AS literal_as
                FROM pg_catalog.pg_namespace n CROSS JOIN (SELECT ?::pg_catalog.text AS name) s WHERE n.nspname = ?
            ),
            rel AS (
              SELECT c.oid, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
                     (SELECT pg_catalog.format('%s.%I', t.spelled, i.relname)
                        FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
                       WHERE x.indrelid = c.oid AND x.indisreplident) AS replica_index,
                     pg_catalog.array_cat(c.reloptions, (SELECT pg_catalog.array_agg('toast.' || o)
                       FROM pg_catalog.pg_class tc, pg_catalog.unnest(tc.reloptions) o
                      WHERE tc.oid = c.reltoastrelid)) AS reloptions,
                     pg_catalog.format('%s.%I', t.spelled, c.relname) AS label
                FROM pg_catalog.pg_class c JOIN target t ON t.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p')
            ),
            col AS (
              SELECT a.attcollation, a.attnotnull, a.attidentity, a.attgenerated, ty.typcollation, r.label AS on_label,
                     a.attstorage, a.attstattarget, a.attoptions,
                     -- read as JSON: PostgreSQL 12 and 13 have no such column (NULL there, as the default)
                     pg_catalog.to_jsonb(a) ->> 'attcompression' AS compression,
                     r.label || pg_catalog.format('.%I', a.attname) AS label,
                     pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_name,
                     (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d
                       WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) AS expression,
                     (SELECT pg_catalog.format('%I.%I', cn.nspname, co.collname)
                        FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                       WHERE co.oid = a.attcollation) AS collation_name
                FROM pg_catalog.pg_attribute a JOIN rel r ON r.oid = a.attrelid
                JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
               WHERE a.attnum > 0 AND NOT a.attisdropped
            ),
            idx AS (
              SELECT x.indexrelid, x.indisclustered, r.label AS on_label,
                     pg_catalog.format('%s.%I', t.spelled, i.relname) AS label,
                     -- ALTER INDEX ... ALTER COLUMN N SET STATISTICS (an expression's column only)
                     (SELECT pg_catalog.string_agg(a.attnum || '=' || a.attstattarget, ' ' ORDER BY a.attnum)
                        FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = x.indexrelid AND coalesce(a.attstattarget, -1) >= 0) AS statistics
                FROM pg_catalog.pg_index x JOIN rel r ON r.oid = x.indrelid
                JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid CROSS JOIN target t
            ),
            seq AS (
              SELECT s.*, c.relpersistence, pg_catalog.format('%s.%I', t.spelled, c.relname) AS label
                FROM pg_catalog.pg_class c JOIN target t ON t.oid = c.relnamespace
                JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
            ),
            trig AS (
              SELECT g.oid, g.tgenabled, r.label AS on_label, pg_catalog.format('%I on %s', g.tgname, r.label) AS label
                FROM pg_catalog.pg_trigger g JOIN rel r ON r.oid = g.tgrelid
               WHERE NOT g.tgisinternal
            ),
            routine AS (
              SELECT p.oid, p.prokind,
                     pg_catalog.format('%s.%I(%s)', t.spelled, p.proname,
                                       pg_catalog.pg_get_function_identity_arguments(p.oid)) AS label
                FROM pg_catalog.pg_proc p JOIN target t ON t.oid = p.pronamespace
               WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                    AND d.objid = p.oid AND d.deptype = 'e')
            ),
            definitions(aspect, kind, label, on_label, value, shown) AS (
              SELECT aspect.name, 'table', label, label, aspect.value, true FROM rel CROSS JOIN LATERAL (VALUES
                ('persistence', CASE relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END),
                ('row level security', CASE WHEN relrowsecurity THEN 'enabled' ELSE 'disabled' END),
                ('forced row level security', CASE WHEN relforcerowsecurity THEN 'forced' ELSE 'not forced' END),
                ('storage parameters', coalesce(pg_catalog.array_to_string(reloptions, ' '), 'none')),
                ('replica identity', CASE relreplident WHEN 'd' THEN 'default' WHEN 'f' THEN 'full'
                                                       WHEN 'n' THEN 'nothing'
                                                       ELSE 'index ' || coalesce(replica_index, 'none') END)
              ) AS aspect(name, value)
              UNION ALL
              SELECT aspect.name, 'column', label, on_label, aspect.value, true FROM col CROSS JOIN LATERAL (VALUES
                ('type', type_name),
                ('collation', CASE WHEN attcollation = typcollation THEN 'default'
                                   ELSE coalesce(collation_name, 'none') END),
                ('default', CASE WHEN attgenerated = '' THEN coalesce(expression, 'none') ELSE 'none' END),
                ('generation expression', CASE WHEN attgenerated <> '' THEN expression ELSE 'none' END),
                ('identity', CASE attidentity WHEN 'a' THEN 'generated always' WHEN 'd' THEN 'generated by default'
                                              ELSE 'none' END),
                ('storage', CASE attstorage WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' WHEN 'm' THEN 'main'
                                            ELSE 'extended' END),
                ('statistics target', CASE WHEN coalesce(attstattarget, -1) < 0 THEN 'default'
                                           ELSE attstattarget::pg_catalog.text END),
                ('options', coalesce(pg_catalog.array_to_string(attoptions, ' '), 'none')),
                ('compression', CASE compression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' ELSE 'default' END),
                ('not null', CASE WHEN attnotnull THEN 'not null' ELSE 'null allowed' END)
              ) AS aspect(name, value)
              UNION ALL
              SELECT 'definition', 'constraint', r.label || pg_catalog.format('.%I', k.conname), r.label,
                     pg_catalog.pg_get_constraintdef(k.oid), true
                FROM pg_catalog.pg_constraint k JOIN rel r ON r.oid = k.conrelid
              UNION ALL
              SELECT aspect.name, 'index', label, on_label, aspect.value, aspect.shown FROM idx CROSS JOIN LATERAL (VALUES
                ('definition', pg_catalog.pg_get_indexdef(indexrelid), false),
                ('clustering', CASE WHEN indisclustered THEN 'clustered' ELSE 'not clustered' END, true),
                ('statistics targets', coalesce(statistics, 'default'), true)
              ) AS aspect(name, value, shown)
              UNION ALL
              SELECT aspect.name, 'sequence', label, label, aspect.value, true FROM seq CROSS JOIN LATERAL (VALUES
                ('settings', pg_catalog.format('as %s increment %s minvalue %s maxvalue %s start %s cache %s %s',
                   pg_catalog.format_type(seqtypid, NULL), seqincrement, seqmin, seqmax, seqstart, seqcache,
                   CASE WHEN seqcycle THEN 'cycle' ELSE 'no cycle' END)),
                ('persistence', CASE relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END)
              ) AS aspect(name, value)
              UNION ALL
              SELECT aspect.name, 'trigger', label, on_label, aspect.value, aspect.shown FROM trig CROSS JOIN LATERAL (VALUES
                ('definition', pg_catalog.pg_get_triggerdef(oid), false),
                ('state', CASE tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
                                         ELSE 'enabled always' END, true)
              ) AS aspect(name, value, shown)
              UNION ALL
              SELECT 'definition', 'routine', label, label,
                     CASE WHEN prokind <> 'a' THEN pg_catalog.pg_get_functiondef(oid) END, false FROM routine
            )
            SELECT aspect, kind, pg_catalog.replace(label, t.spelled, t.shown_as),
                   pg_catalog.replace(on_label, t.spelled, t.shown_as),
                   pg_catalog.replace(pg_catalog.replace(value, t.literal, t.literal_as), t.spelled, t.shown_as),
                   shown
              FROM definitions CROSS JOIN target t
            """;

    /**
     * The changes to the objects the migrations recorded in AUDIT's schema_migrations make, found on
     * CONNECTION (autocommit: the check's; or in a transaction: the wipe's, which stays as it was), by the
     * up-migrations of MIGRATIONS among them. Nothing to compare when there is no ledger.
     */
    static Comparison compare(Connection connection, Deadline deadline, Path migrations, AuditSchema audit)
            throws Failure, SQLException {
        Set<String> recorded = recordedVersions(connection, audit);
        if (recorded.isEmpty()) {
            return new Comparison(List.of(), null, null);
        }
        List<Path> files = new ArrayList<>();
        for (Path file : new MigrationRunner(migrations).upMigrations()) {
            if (recorded.contains(file.getFileName().toString())) {
                files.add(file);
            }
        }
        UnaryOperator<String> toSend = MigrationRunner.commentsTheDatabaseCanHold(connection, deadline);
        boolean autoCommit = connection.getAutoCommit();
        Savepoint before = autoCommit ? null : connection.setSavepoint();
        connection.setAutoCommit(false);
        try {
            // Read first: a migration may alter the audit schema's objects too (000008 pins every
            // chain's functions), which only the rollback undoes.
            Sql.setSearchPath(connection, Connector.CATALOG_ONLY, deadline);
            List<Definition> present = definitions(connection, audit.name(), audit.name());
            String reference = build(connection, deadline, files, audit.name(), toSend);
            Sql.setSearchPath(connection, Connector.CATALOG_ONLY, deadline);
            List<Definition> made = definitions(connection, reference, audit.name());
            return new Comparison(changes(present, made), null, owners(made));
        } catch (SQLException e) {
            if (deadline.hasExpired() || !saysTheReferenceCannotBeBuilt(e)) {
                throw deadline.failure("building the migrations' reference", e);
            }
            return new Comparison(List.of(), Sql.oneLine(e), null);
        } finally {
            if (before == null) {
                connection.rollback();
                connection.setAutoCommit(true);
            } else {
                connection.rollback(before);
                connection.releaseSavepoint(before);
            }
        }
    }

    /**
     * Whether E, raised while building the reference, is the server's answer to what the building asks
     * (no privilege to create the schema, a migration that cannot run so): then the check goes on without
     * the comparison. A cancelled statement (Ctrl-C of the tool, pg_cancel_backend), a lost or terminated
     * connection, a lock or a deadlock given up, a server out of resources say nothing of the kind: passing
     * on them would pass a check nobody let finish.
     */
    static boolean saysTheReferenceCannotBeBuilt(SQLException e) {
        String state = e.getSQLState();
        return e instanceof PSQLException psql && psql.getServerErrorMessage() != null
                && state != null && !"55P03".equals(state)
                && Stream.of("08", "40", "53", "57", "58").noneMatch(state::startsWith);
    }

    /** The versions AUDIT's schema_migrations records; none without one. */
    private static Set<String> recordedVersions(Connection connection, AuditSchema audit) throws SQLException {
        String ledger = audit.qualified("schema_migrations");
        try (PreparedStatement present = connection.prepareStatement("SELECT pg_catalog.to_regclass(?) IS NOT NULL")) {
            present.setString(1, ledger);
            try (ResultSet row = present.executeQuery()) {
                row.next();
                if (!row.getBoolean(1)) {
                    return Set.of();
                }
            }
        }
        return MigrationRunner.versionsIn(connection, ledger);
    }

    /**
     * The name of a new schema of CONNECTION's transaction holding what the ledger and FILES make, run as
     * the migration runner runs them in AUDIT_SCHEMA (its path first, pgcrypto's schema after, comments as
     * TO_SEND has them).
     */
    private static String build(Connection connection, Deadline deadline, List<Path> files, String auditSchema,
            UnaryOperator<String> toSend) throws Failure, SQLException {
        String reference;
        try (Statement statement = connection.createStatement();
             ResultSet pid = statement.executeQuery("SELECT pg_catalog.pg_backend_pid()")) {
            pid.next();
            reference = referenceName(auditSchema, pid.getInt(1));
        }
        try (Statement statement = connection.createStatement()) {
            statement.setEscapeProcessing(false);
            statement.execute("CREATE SCHEMA " + AuditSchema.quoted(reference));
            Sql.setSearchPath(connection, AuditSchema.quoted(reference), deadline);
            statement.execute(MigrationRunner.LEDGER_TABLE);
            MigrationRunner.putPgcryptoOnThePath(connection, deadline);
            for (Path file : files) {
                String script = toSend.apply(MigrationRunner.read(file));
                if (!script.isBlank()) {
                    statement.execute(inDoBlock(script));
                }
            }
        }
        return reference;
    }

    /**
     * AUDIT_SCHEMA's name (cut to fit 63 bytes) followed by _backupsmoke_reference_PID: one a session, so
     * concurrent checks make no namesakes (they still queue behind 000008's re-pinning of every chain's
     * functions, whose locks each holds until its rollback); and spelled as the audit schema is, so that a
     * migration reading its schema's name reads it alike (000016 before its edit looked "Tenant" up as SQL
     * reads a name, found none and pinned nothing there, nor in "Tenant_backupsmoke_reference_N").
     */
    static String referenceName(String auditSchema, int pid) {
        String suffix = "_backupsmoke_reference_" + pid;
        int room = 63 - suffix.length(); // NAMEDATALEN - 1
        StringBuilder kept = new StringBuilder();
        int bytes = 0; // the limit is in bytes of the server's encoding: 4 at most a character but ASCII's one
        for (int codePoint : auditSchema.codePoints().toArray()) {
            bytes += codePoint < 0x80 ? 1 : 4;
            if (bytes > room) {
                break;
            }
            kept.appendCodePoint(codePoint);
        }
        return kept + suffix;
    }

    /** DO $a$ BEGIN EXECUTE $b$SCRIPT$b$; END $a$, with dollar quotes SCRIPT does not hold. */
    static String inDoBlock(String script) {
        String outer = unusedTag(script, "backupsmoke_do");
        String inner = unusedTag(script + outer, "backupsmoke_script");
        return "DO " + outer + " BEGIN EXECUTE " + inner + script + inner + "; END " + outer;
    }

    private static String unusedTag(String text, String stem) {
        String tag = "$" + stem + "$";
        for (int n = 1; text.contains(tag); n++) {
            tag = "$" + stem + n + "$";
        }
        return tag;
    }

    /** DEFINITIONS of SCHEMA on CONNECTION, its own name spelled as SHOWN_AS. */
    static List<Definition> definitions(Connection connection, String schema, String shownAs) throws SQLException {
        List<Definition> definitions = new ArrayList<>();
        try (PreparedStatement statement = connection.prepareStatement(DEFINITIONS)) {
            statement.setString(1, shownAs);
            statement.setString(2, schema);
            try (ResultSet rows = statement.executeQuery()) {
                while (rows.next()) {
                    definitions.add(new Definition(rows.getString(1), rows.getString(2), rows.getString(3),
                            rows.getString(4), rows.getString(5), rows.getBoolean(6)));
                }
            }
        }
        return definitions;
    }

    /**
     * What PRESENT changed from MADE, sorted: an aspect with another value; an object MADE holds that
     * PRESENT lacks, named once ("... dropped"; not when the table or routine it is on is gone too); a
     * column, constraint, index or trigger PRESENT holds on one of MADE's tables that MADE lacks ("... added").
     */
    static List<String> changes(List<Definition> present, List<Definition> made) {
        Map<String, Definition> found = byKey(present);
        Set<String> presentOwners = owners(present);
        Set<String> madeOwners = owners(made);
        Set<String> madeObjects = new HashSet<>();
        made.forEach(definition -> madeObjects.add(definition.kind() + " " + definition.label()));
        Set<String> changed = new TreeSet<>();
        for (Definition definition : made) {
            Definition now = found.get(definition.key());
            if (now != null && !Objects.equals(now.value(), definition.value())) {
                changed.add(now.changedFrom(definition));
            } else if (now == null && (definition.isOwner() || presentOwners.contains(definition.on()))) {
                changed.add(definition.kind() + " " + definition.label() + " dropped");
            }
        }
        for (Definition definition : present) {
            if (!definition.isOwner() && madeOwners.contains(definition.on())
                    && !madeObjects.contains(definition.kind() + " " + definition.label())) {
                changed.add(definition.kind() + " " + definition.label() + " added");
            }
        }
        return List.copyOf(changed);
    }

    /** The tables and routines of DEFINITIONS, by label. */
    private static Set<String> owners(List<Definition> definitions) {
        Set<String> owners = new HashSet<>();
        definitions.stream().filter(Definition::isOwner).forEach(definition -> owners.add(definition.label()));
        return owners;
    }

    private static Map<String, Definition> byKey(List<Definition> definitions) {
        Map<String, Definition> keyed = new LinkedHashMap<>();
        definitions.forEach(definition -> keyed.put(definition.key(), definition));
        return keyed;
    }
}
