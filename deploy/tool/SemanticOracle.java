// The semantic second oracle's capture (SPEC section 9.7, SMOKE_ORACLE=semantic):
// one JSON document of a database, read in one REPEATABLE READ, read-only
// transaction (on the source inside the backup's exported snapshot): every
// user table's row count and content digest, and the inventory of its schema
// objects. OracleComparison compares two such documents.
//
// Why not compare pg_dump text: the server's deparse of some expressions is
// not stable across a dump and restore (a varchar column's CHECK (x IN
// (...)) comes back spelled differently), and pg_dump reads sequences
// outside its snapshot. So objects are recorded by what they are (name,
// kind, the columns they cover, enabled state, a hash of a function's source
// text) and never by their deparsed text; contents by digests the server
// computes; sequences by the last value handed out.

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.TreeMap;

final class SemanticOracle {
    private SemanticOracle() {}

    /**
     * Session settings pin every output format a row's text depends on, so
     * both sides spell a value the same; pg_catalog alone on the search_path
     * makes regclass and regprocedure names schema-qualified; standard
     * conforming strings read the statement's literals ('\000') as written,
     * whatever the database's default. Row security off: a table whose
     * policies would filter the capturing role fails the capture instead of
     * being read in part on both sides.
     */
    static final List<String> SESSION = List.of(
            "SET row_security = off", "SET standard_conforming_strings = on", "SET search_path = pg_catalog",
            "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
            "SET extra_float_digits = 3", "SET bytea_output = 'hex'", "SET lc_monetary = 'C'");

    /** What pg_export_snapshot() returns, e.g. 00000003-0000001B-1. */
    static final String SNAPSHOT_ID = "[0-9A-F]+(-[0-9A-F]+)+";

    /**
     * SNAPSHOT (--snapshot-id) refused, before anything connects, unless it
     * is null or an exported snapshot's id: it is written into SET
     * TRANSACTION SNAPSHOT and pg_dump's command line.
     */
    static void requireSnapshotId(String snapshot) throws Failure {
        if (snapshot != null && !snapshot.matches(SNAPSHOT_ID)) {
            throw new Failure("--snapshot-id " + Failure.quoted(snapshot)
                    + " is not an exported snapshot's id (pg_export_snapshot(), e.g. 00000003-0000001B-1)");
        }
    }

    /** The document of the database CONNECTOR names; inside SNAPSHOT (an exported snapshot's id) when not null. */
    static ObjectNode capture(Connector connector, String snapshot) throws Failure {
        requireSnapshotId(snapshot);
        return document(connector, snapshot, CAPTURE,
                "capturing the semantic oracle's document of " + connector.target().describe());
    }

    /**
     * The catalog inventory of one schema (SPEC section 9.10, the checkpoint
     * ledger's "catalog"): the document capture() prints, read by the same
     * statement restricted to SCHEMA, without contents. The statement's
     * marked places change: only that schema; no table is read (no row
     * count, no digest: the audit log grows between checkpoints, and only
     * the catalog needs privileges); no sequence's value, no large object.
     * What is left is the schema's objects as the document spells them:
     * "schemas", "tables" (kind, properties, columns), "constraints",
     * "indexes", "triggers", "functions", "types", "sequences" (definition).
     * Nothing of the database beyond the schema (server version, extensions,
     * event triggers, publications, large objects and their digest, the
     * database's settings): the statement does not compute them.
     * OracleComparison compares two of them as it compares documents.
     */
    static ObjectNode inventory(Connector connector, String schema) throws Failure {
        ObjectNode document = document(connector, null, inventorySql(schema),
                "reading the catalog inventory of schema " + schema + " in " + connector.target().describe());
        document.path("tables").forEach(table -> ((ObjectNode) table).remove(List.of("rows", "digest")));
        document.path("sequences").forEach(sequence -> ((ObjectNode) sequence).retain("definition"));
        return document;
    }

    /** CAPTURE with its marked places changed for inventory(). */
    static String inventorySql(String schema) {
        for (String marker : List.of("/*schema*/", "/*contents*/", "/*values*/ true", "/*database*/ true")) {
            if (!CAPTURE.contains(marker)) {
                throw new IllegalStateException("the capture statement lost its marker " + marker);
            }
        }
        return CAPTURE
                .replace("/*schema*/", "AND n.nspname = '" + schema.replace("'", "''") + "'")
                .replace("/*contents*/", "AND false")
                .replace("/*values*/ true", "false")
                .replace("/*database*/ true", "false");
    }

    /** Runs SQL, a statement printing one JSON document, in one read-only REPEATABLE READ transaction. */
    private static ObjectNode document(Connector connector, String snapshot, String sql, String doing) throws Failure {
        Deadline deadline = connector.deadline();
        try (Connection connection = connector.open(); Statement statement = connection.createStatement()) {
            for (String setting : SESSION) {
                statement.execute(setting);
            }
            statement.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
            if (snapshot != null) {
                statement.execute("SET TRANSACTION SNAPSHOT '" + snapshot + "'");
            }
            String document = Sql.queryOne(connection, sql, deadline, doing);
            statement.execute("COMMIT");
            return parse(document);
        } catch (SQLException e) {
            throw deadline.failure(doing, e);
        }
    }

    /** A document as JSON, its keys sorted at every level (as jq -S printed it). */
    static ObjectNode parse(String json) throws Failure {
        try {
            JsonNode tree = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).readTree(json);
            if (tree == null || !tree.isObject()) {
                throw new Failure("a semantic oracle document must be one JSON object");
            }
            return (ObjectNode) sorted(tree);
        } catch (JsonProcessingException e) {
            throw new Failure("a semantic oracle document is " + Failure.reason(e));
        }
    }

    /** A copy of NODE with every object's keys sorted. */
    static JsonNode sorted(JsonNode node) {
        if (node.isObject()) {
            TreeMap<String, JsonNode> fields = new TreeMap<>();
            node.fields().forEachRemaining(field -> fields.put(field.getKey(), sorted(field.getValue())));
            ObjectNode copy = JsonNodeFactory.instance.objectNode();
            fields.forEach(copy::set);
            return copy;
        }
        if (node.isArray()) {
            ArrayNode copy = JsonNodeFactory.instance.arrayNode();
            node.forEach(element -> copy.add(sorted(element)));
            return copy;
        }
        return node;
    }

    /** Two-space indentation, "key": value, empty containers as {} and [] (jq's layout). */
    static String toJson(JsonNode document) {
        try {
            return new ObjectMapper().writer(new JqLayout()).writeValueAsString(document) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode the oracle's document", e);
        }
    }

    private static final class JqLayout extends DefaultPrettyPrinter {
        JqLayout() {
            super(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER));
            indentArraysWith(new DefaultIndenter("  ", "\n"));
            indentObjectsWith(new DefaultIndenter("  ", "\n"));
        }

        @Override
        public JqLayout createInstance() {
            return new JqLayout();
        }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            if (!closedEmpty(g, entries, '}')) {
                super.writeEndObject(g, entries);
            }
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            if (!closedEmpty(g, values, ']')) {
                super.writeEndArray(g, values);
            }
        }

        /** An empty container closes on its own line's bracket, {} or [], as jq writes it; false when not empty. */
        private boolean closedEmpty(JsonGenerator g, int members, char bracket) throws IOException {
            if (members > 0) {
                return false;
            }
            _nesting--;
            g.writeRaw(bracket);
            return true;
        }
    }

    /**
     * The one statement that prints the document (PostgreSQL 11 and later).
     * The comments schema, contents, values and database mark where inventory()
     * changes it (inventorySql): keep them.
     */
    static final String CAPTURE = """
            WITH
            -- Schemas other than the system's. An extension's own schema is not listed,
            -- but what the user made in it is compared (each object that an extension
            -- owns is left out on its own, below).
            nsp AS (
              SELECT n.oid, n.nspname,
                     EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
                       AS of_extension
                FROM pg_namespace n
               WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' /*schema*/
            ),
            -- Relations of those schemas that no extension owns (its members come
            -- back with the extension, whose version is compared instead).
            rel AS (
              SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.relispopulated,
                     c.relispartition, c.relreplident, c.reloptions,
                     n.nspname, format('%I.%I', n.nspname, c.relname) AS name
                FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ),
            -- A column as it is declared, without its default's deparsed text.
            col AS (
              SELECT a.attrelid, a.attnum,
                     concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                               CASE WHEN a.attcollation <> t.typcollation
                                    THEN (SELECT format('collate %I.%I', cn.nspname, co.collname)
                                            FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                           WHERE co.oid = a.attcollation) END,
                               CASE WHEN a.attnotnull THEN 'not null' END,
                               CASE WHEN a.atthasdef AND a.attgenerated = '' THEN 'default' END,
                               CASE a.attidentity WHEN 'a' THEN 'identity always' WHEN 'd' THEN 'identity by default' END,
                               CASE a.attgenerated WHEN 's' THEN 'generated stored' END) AS spelled
                FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind <> 'S'
            ),
            -- Row count and digest, computed by the server: SHA-256 over the SHA-256
            -- of every row's text, sorted (32 bytes per row in the aggregate). Sorted
            -- by those digests, not by the key: a key's order may be the database's
            -- collation's (a composite or range of text), which a restore may change.
            -- query_to_xml runs the per-table query inside this one read-only statement.
            content AS (
              SELECT r.oid,
                     query_to_xml(format(
                       'SELECT count(*) AS n, encode(sha256(coalesce(string_agg(__d.__h, %L::bytea ORDER BY __d.__h), %L::bytea)), %L)'
                       ' AS digest FROM (SELECT sha256(convert_to(ROW(__row.*)::text, %L)) AS __h FROM ONLY %I.%I AS __row) AS __d',
                       '', '', 'hex', 'UTF8', r.nspname, r.relname), false, true, '') AS x
                FROM rel r
               WHERE r.relkind = 'r' /*contents*/
            ),
            -- Row-level security policies of a table by name: permissive or restrictive,
            -- the command, the roles, and whether it has each expression (not its text).
            policies AS (
              SELECT pol.polrelid, jsonb_object_agg(pol.polname, concat_ws(' ',
                       CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                       'for', CASE pol.polcmd WHEN '*' THEN 'all' WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                                              WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' END,
                       'to', (SELECT string_agg(CASE WHEN role.oid = 0 THEN 'public' ELSE quote_ident(ro.rolname) END,
                                                ', ' ORDER BY role.oid <> 0, ro.rolname)
                                FROM unnest(pol.polroles) AS role(oid) LEFT JOIN pg_roles ro ON ro.oid = role.oid),
                       CASE WHEN pol.polqual IS NOT NULL THEN 'using (...)' END,
                       CASE WHEN pol.polwithcheck IS NOT NULL THEN 'with check (...)' END)) AS doc
                FROM pg_policy pol JOIN rel r ON r.oid = pol.polrelid
               GROUP BY pol.polrelid
            ),
            -- Rewrite rules of a table by name (not a view's own _RETURN): enabled state,
            -- event, instead or also, whether it has a condition (not its text, nor the actions').
            rules AS (
              SELECT rw.ev_class, jsonb_object_agg(rw.rulename, concat_ws(' ',
                       CASE rw.ev_enabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                                          WHEN 'R' THEN 'enabled replica' WHEN 'A' THEN 'enabled always' END,
                       'on', CASE rw.ev_type WHEN '1' THEN 'select' WHEN '2' THEN 'update' WHEN '3' THEN 'insert'
                                             WHEN '4' THEN 'delete' END,
                       CASE WHEN rw.is_instead THEN 'do instead' ELSE 'do also' END,
                       CASE WHEN rw.ev_qual <> '<>' THEN 'where (...)' END)) AS doc
                FROM pg_rewrite rw JOIN rel r ON r.oid = rw.ev_class
               WHERE rw.rulename <> '_RETURN'
               GROUP BY rw.ev_class
            ),
            tables AS (
              SELECT jsonb_object_agg(r.name, jsonb_strip_nulls(jsonb_build_object(
                       'kind', CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                                              WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                              WHEN 'f' THEN 'foreign table' END,
                       'unlogged', CASE WHEN r.relpersistence = 'u' THEN true END,
                       'row_security', CASE WHEN r.relrowsecurity THEN true END,
                       'force_row_security', CASE WHEN r.relforcerowsecurity THEN true END,
                       'policies', pol.doc,
                       -- Storage parameters, and a view's security_invoker, security_barrier
                       -- and check_option, which decide what it shows and lets through.
                       'options', (SELECT jsonb_agg(o ORDER BY o) FROM unnest(r.reloptions) AS o),
                       'rules', ru.doc,
                       -- What logical decoding sends of an old row, when not the key (d):
                       -- every column (f), nothing (n), an index's columns (i).
                       'replica_identity', CASE WHEN r.relkind IN ('r', 'p') THEN
                                             CASE r.relreplident WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing'
                                               WHEN 'i' THEN (SELECT 'index ' || i.indexrelid::regclass::text FROM pg_index i
                                                               WHERE i.indrelid = r.oid AND i.indisreplident) END END,
                       -- A partition's table, or the tables it inherits from (in their order):
                       -- a restore whose ATTACH PARTITION failed keeps the rows, not the link.
                       'partition_of', CASE WHEN r.relispartition
                                            THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i
                                                   WHERE i.inhrelid = r.oid) END,
                       'inherits', CASE WHEN NOT r.relispartition
                                        THEN (SELECT jsonb_agg(i.inhparent::regclass::text ORDER BY i.inhseqno)
                                                FROM pg_inherits i WHERE i.inhrelid = r.oid) END,
                       'populated', CASE WHEN r.relkind = 'm' THEN r.relispopulated END,
                       'columns', (SELECT coalesce(jsonb_agg(c.spelled ORDER BY c.attnum), '[]')
                                     FROM col c WHERE c.attrelid = r.oid),
                       'rows', (xpath('/row/n/text()', ct.x))[1]::text::bigint,
                       'digest', (xpath('/row/digest/text()', ct.x))[1]::text
                     ))) AS doc
                FROM rel r LEFT JOIN content ct ON ct.oid = r.oid LEFT JOIN policies pol ON pol.polrelid = r.oid
                LEFT JOIN rules ru ON ru.ev_class = r.oid
               WHERE r.relkind <> 'S'
            ),
            -- Column names of a relation by attribute number, for constraints and indexes.
            attname_of AS (
              SELECT a.attrelid, a.attnum, quote_ident(a.attname) AS name
                FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid
               WHERE a.attnum > 0
            ),
            constraints AS (
              SELECT jsonb_object_agg(k.name, k.spelled) AS doc FROM (
                SELECT format('%s.%I', coalesce(r.name, format('%I.%I', tn.nspname, t.typname)), con.conname) AS name,
                       concat_ws(' ',
                         CASE con.contype WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key' WHEN 'p' THEN 'primary key'
                                          WHEN 'u' THEN 'unique' WHEN 't' THEN 'trigger' WHEN 'x' THEN 'exclusion' END,
                         CASE WHEN t.oid IS NOT NULL THEN 'on domain' END,
                         '(' || (SELECT string_agg(coalesce(an.name, '?'), ', ' ORDER BY k.ord)
                                   FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                                   LEFT JOIN attname_of an ON an.attrelid = con.conrelid AND an.attnum = k.attnum) || ')',
                         CASE WHEN con.contype = 'f' THEN
                           format('references %s (%s) match %s on update %s on delete %s', con.confrelid::regclass,
                                  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
                                     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
                                  con.confmatchtype, con.confupdtype, con.confdeltype) END,
                         CASE WHEN con.condeferrable THEN 'deferrable' END,
                         CASE WHEN con.condeferred THEN 'initially deferred' END,
                         CASE WHEN NOT con.convalidated THEN 'not valid' END,
                         CASE WHEN con.connoinherit AND con.contype = 'c' THEN 'no inherit' END) AS spelled
                  FROM pg_constraint con
                  LEFT JOIN rel r ON r.oid = con.conrelid
                  LEFT JOIN pg_type t ON t.oid = con.contypid AND con.contypid <> 0
                  LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace
                 WHERE con.contype <> 'n' -- NOT NULL (PostgreSQL 18+) is a column's property above
                   -- A key referencing a partitioned table is also one row per referenced partition,
                   -- on the same table, named by the order the partitions came: the key says it all.
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint parent
                                    WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid)
                   AND (r.oid IS NOT NULL
                        OR (t.oid IS NOT NULL AND t.typnamespace IN (SELECT oid FROM nsp)
                            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                                               AND d.objid = t.oid AND d.deptype = 'e')))
              ) k
            ),
            -- An index's key column as declared: its collation when not the column's, its
            -- operator class when not the default, its order when not ASC NULLS LAST.
            index_key AS (
              SELECT i.indexrelid, k.ord,
                     concat_ws(' ', coalesce(an.name, '(expression)'),
                               CASE WHEN k.attnum <> 0 AND k.coll <> a.attcollation THEN
                                 (SELECT format('collate %I.%I', co.collnamespace::regnamespace, co.collname)
                                    FROM pg_collation co WHERE co.oid = k.coll) END,
                               CASE WHEN NOT opc.opcdefault THEN
                                 CASE WHEN opc.opcnamespace = 'pg_catalog'::regnamespace THEN quote_ident(opc.opcname)
                                      ELSE format('%I.%I', opc.opcnamespace::regnamespace, opc.opcname) END END,
                               CASE WHEN k.sort_option & 1 <> 0 THEN 'desc' END,
                               CASE WHEN k.sort_option & 3 = 2 THEN 'nulls first' WHEN k.sort_option & 3 = 1 THEN 'nulls last' END)
                       AS spelled
                FROM pg_index i
                JOIN rel r ON r.oid = i.indrelid
                CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[], i.indoption::int2[], i.indcollation::oid[])
                               WITH ORDINALITY AS k(attnum, opclass, sort_option, coll, ord)
                LEFT JOIN attname_of an ON an.attrelid = i.indrelid AND an.attnum = k.attnum
                LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                LEFT JOIN pg_opclass opc ON opc.oid = k.opclass
               WHERE k.ord <= i.indnkeyatts
            ),
            indexes AS (
              SELECT jsonb_object_agg(format('%I.%I', r.nspname, ic.relname), concat_ws(' ',
                       'on', r.name, 'using', am.amname,
                       CASE WHEN i.indisunique THEN 'unique' END,
                       '(' || (SELECT string_agg(ik.spelled, ', ' ORDER BY ik.ord)
                                 FROM index_key ik WHERE ik.indexrelid = i.indexrelid) || ')',
                       CASE WHEN i.indnatts > i.indnkeyatts THEN
                         'include (' || (SELECT string_agg(an.name, ', ' ORDER BY k.ord)
                                           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                           JOIN attname_of an ON an.attrelid = i.indrelid AND an.attnum = k.attnum
                                          WHERE k.ord > i.indnkeyatts) || ')' END,
                       -- (no column before PostgreSQL 15: read through to_jsonb)
                       CASE WHEN (to_jsonb(i) ->> 'indnullsnotdistinct')::boolean THEN 'nulls not distinct' END,
                       CASE WHEN i.indpred IS NOT NULL THEN 'partial' END)) AS doc
                FROM pg_index i
                JOIN rel r ON r.oid = i.indrelid
                JOIN pg_class ic ON ic.oid = i.indexrelid
                JOIN pg_am am ON am.oid = ic.relam
            ),
            -- Row-level triggers the user made (not the ones behind foreign keys),
            -- with their enabled state: O enabled, D disabled, R replica, A always.
            triggers AS (
              SELECT jsonb_object_agg(format('%s.%I', r.name, tg.tgname), concat_ws(' ',
                       CASE tg.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                                         WHEN 'R' THEN 'enabled replica' WHEN 'A' THEN 'enabled always' END,
                       CASE WHEN tg.tgtype & 2 <> 0 THEN 'before' WHEN tg.tgtype & 64 <> 0 THEN 'instead of' ELSE 'after' END,
                       concat_ws(' or ', CASE WHEN tg.tgtype & 4 <> 0 THEN 'insert' END,
                                         CASE WHEN tg.tgtype & 16 <> 0 THEN 'update' END,
                                         CASE WHEN tg.tgtype & 8 <> 0 THEN 'delete' END,
                                         CASE WHEN tg.tgtype & 32 <> 0 THEN 'truncate' END),
                       CASE WHEN tg.tgattr <> '' THEN
                         'of (' || (SELECT string_agg(an.name, ', ' ORDER BY k.ord)
                                      FROM unnest(tg.tgattr::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                      JOIN attname_of an ON an.attrelid = tg.tgrelid AND an.attnum = k.attnum) || ')' END,
                       CASE WHEN tg.tgtype & 1 <> 0 THEN 'for each row' ELSE 'for each statement' END,
                       CASE WHEN tg.tgoldtable IS NOT NULL THEN format('referencing old table as %I', tg.tgoldtable) END,
                       CASE WHEN tg.tgnewtable IS NOT NULL THEN format('referencing new table as %I', tg.tgnewtable) END,
                       CASE WHEN tg.tgqual IS NOT NULL THEN 'when (...)' END,
                       CASE WHEN tg.tgconstraint <> 0 THEN 'constraint trigger' END,
                       CASE WHEN tg.tgdeferrable THEN 'deferrable' END,
                       CASE WHEN tg.tginitdeferred THEN 'initially deferred' END,
                       'execute', tg.tgfoid::regprocedure::text,
                       -- The arguments, NUL-terminated strings in tgargs, as literals.
                       CASE WHEN tg.tgnargs > 0 THEN
                         'arguments (' || (SELECT string_agg(quote_literal(arg), ', ' ORDER BY n)
                                             FROM unnest((string_to_array(encode(tg.tgargs, 'escape'), '\\000'))[1:tg.tgnargs])
                                                  WITH ORDINALITY AS a(arg, n)) || ')' END)) AS doc
                FROM pg_trigger tg JOIN rel r ON r.oid = tg.tgrelid
               WHERE NOT tg.tgisinternal
            ),
            -- Functions and procedures by signature; a digest of what defines them:
            -- the source text as written (prosrc), never a deparse. A SQL-standard body
            -- (BEGIN ATOMIC or RETURN, an empty prosrc) exists only as a parse tree whose
            -- deparse a dump and restore changes (a varchar's IN (...) comes back with
            -- other casts): it is left out, its signature, result and settings are not.
            functions AS (
              SELECT jsonb_object_agg(p.oid::regprocedure::text, concat_ws(' ',
                       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                                      WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' END,
                       'language', l.lanname, 'definition sha256',
                       encode(sha256(convert_to(concat_ws(E'\\n',
                         CASE WHEN l.lanname = 'sql' AND p.prosrc = '' THEN NULL ELSE p.prosrc END,
                         p.probin, pg_get_function_result(p.oid), p.provolatile, p.proisstrict, p.prosecdef,
                         p.proleakproof, p.proparallel, p.proretset, p.pronargdefaults, array_to_string(p.proconfig, E'\\n'),
                         -- An aggregate's source is a placeholder: what it is is its functions and states.
                         (SELECT concat_ws(' ', a.aggkind, a.aggnumdirectargs, a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
                                           a.aggtranstype::regtype, a.agginitval, a.aggmtransfn, a.aggminvtransfn,
                                           a.aggmfinalfn, a.aggmtranstype::regtype, a.aggminitval, a.aggsortop::regoperator)
                            FROM pg_aggregate a WHERE a.aggfnoid = p.oid)),
                         'UTF8')), 'hex'))) AS doc
                FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
               WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
            ),
            -- Enums (labels in order), domains, composite and range types.
            types AS (
              SELECT jsonb_object_agg(format('%I.%I', n.nspname, t.typname), concat_ws(' ',
                       CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                                      WHEN 'r' THEN 'range' END,
                       CASE t.typtype
                         WHEN 'e' THEN (SELECT '(' || string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) || ')'
                                          FROM pg_enum e WHERE e.enumtypid = t.oid)
                         WHEN 'd' THEN concat_ws(' ', format_type(t.typbasetype, t.typtypmod),
                                                 CASE WHEN t.typnotnull THEN 'not null' END)
                         WHEN 'c' THEN (SELECT '(' || string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)),
                                                                 ', ' ORDER BY a.attnum) || ')'
                                          FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
                         WHEN 'r' THEN (SELECT format_type(rg.rngsubtype, NULL) FROM pg_range rg WHERE rg.rngtypid = t.oid)
                       END)) AS doc
                FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
               WHERE (t.typtype IN ('e', 'd', 'r')
                      OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
            ),
            -- Sequences: their definition, compared exactly, and the last value handed
            -- out, read from the sequence itself: for one set to hand out N next
            -- (setval(s, N, false)) the value before N; null when its start comes next.
            sequences AS (
              SELECT jsonb_object_agg(r.name, jsonb_build_object(
                       'definition', format('%s start %s increment %s min %s max %s cache %s%s%s',
                                            format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                            s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END,
                                            CASE WHEN r.relpersistence = 'u' THEN ' unlogged' ELSE '' END),
                       'increment', s.seqincrement,
                       'value', CASE WHEN v.is_called THEN v.last_value
                                     WHEN v.last_value <> s.seqstart THEN v.last_value - s.seqincrement END)
                       -- (PostgreSQL 15+) a physical backup brings it back at its start, as an
                       -- unlogged table empty: said so the comparison can tell.
                       || CASE WHEN r.relpersistence = 'u' THEN jsonb_build_object('unlogged', true) ELSE '{}' END) AS doc
                FROM rel r
                JOIN pg_sequence s ON s.seqrelid = r.oid
                CROSS JOIN LATERAL (SELECT (xpath('/row/last_value/text()', q.x))[1]::text::numeric AS last_value,
                                           (xpath('/row/is_called/text()', q.x))[1]::text = 'true' AS is_called
                                      FROM (SELECT CASE WHEN /*values*/ true
                                                   THEN query_to_xml(format('SELECT last_value, is_called FROM %I.%I',
                                                                            r.nspname, r.relname), false, true, '')
                                                   END AS x) q) v
               WHERE r.relkind = 'S'
            ),
            -- Event triggers (the database's, in no schema), not an extension's: enabled
            -- state, event, command tags, function.
            event_triggers AS (
              SELECT jsonb_object_agg(et.evtname, concat_ws(' ',
                       CASE et.evtenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                                          WHEN 'R' THEN 'enabled replica' WHEN 'A' THEN 'enabled always' END,
                       'on', et.evtevent,
                       CASE WHEN et.evttags IS NOT NULL THEN
                         'when tag in (' || (SELECT string_agg(quote_literal(tag), ', ' ORDER BY tag)
                                               FROM unnest(et.evttags) AS tag) || ')' END,
                       'execute', et.evtfoid::regprocedure::text)) AS doc
                FROM pg_event_trigger et
               WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = et.oid AND d.deptype = 'e')
            ),
            -- Publications (the database's): all tables, or the tables they publish (those
            -- of a schema they name too), and which changes; not row filters.
            publications AS (
              SELECT jsonb_object_agg(pub.pubname, concat_ws(' ',
                       CASE WHEN pub.puballtables THEN 'all tables'
                            ELSE 'tables (' || coalesce((SELECT string_agg(format('%I.%I', pt.schemaname, pt.tablename), ', '
                                                                    ORDER BY pt.schemaname, pt.tablename)
                                                    FROM pg_publication_tables pt WHERE pt.pubname = pub.pubname), '')
                                 || ')' END,
                       'publish', concat_ws(', ', CASE WHEN pub.pubinsert THEN 'insert' END,
                                                  CASE WHEN pub.pubupdate THEN 'update' END,
                                                  CASE WHEN pub.pubdelete THEN 'delete' END,
                                                  CASE WHEN pub.pubtruncate THEN 'truncate' END),
                       -- (no column before PostgreSQL 13: read through to_jsonb)
                       CASE WHEN (to_jsonb(pub) ->> 'pubviaroot')::boolean THEN 'via root' END)) AS doc
                FROM pg_publication pub
            ),
            -- Large objects' contents, read in 1 MiB pieces (one may hold up to 4 TB):
            -- SHA-256 over each one's OID and the SHA-256 of its pieces' SHA-256, by OID
            -- (a restore keeps the OIDs). Reading them needs what pg_dump needs.
            large_object_digest AS (
              SELECT encode(sha256(coalesce(string_agg(int8send(m.oid::bigint) || lo.digest, ''::bytea ORDER BY m.oid),
                                            ''::bytea)), 'hex') AS digest
                FROM pg_largeobject_metadata m
                CROSS JOIN LATERAL (
                  WITH RECURSIVE piece(n, data) AS (
                    SELECT 0::bigint, lo_get(m.oid, 0, 1048576)
                    UNION ALL
                    SELECT p.n + 1, lo_get(m.oid, (p.n + 1) * 1048576, 1048576) FROM piece p WHERE length(p.data) = 1048576)
                  SELECT sha256(string_agg(sha256(data), ''::bytea ORDER BY n)) AS digest FROM piece) lo
               WHERE /*values*/ true
            )
            SELECT (jsonb_build_object(
              'schemas', (SELECT coalesce(jsonb_agg(nspname ORDER BY nspname), '[]') FROM nsp WHERE NOT of_extension),
              'tables', coalesce((SELECT doc FROM tables), '{}'),
              'constraints', coalesce((SELECT doc FROM constraints), '{}'),
              'indexes', coalesce((SELECT doc FROM indexes), '{}'),
              'triggers', coalesce((SELECT doc FROM triggers), '{}'),
              'functions', coalesce((SELECT doc FROM functions), '{}'),
              'types', coalesce((SELECT doc FROM types), '{}'),
              'sequences', coalesce((SELECT doc FROM sequences), '{}'))
            -- The database's and the server's, beyond any schema: an inventory has none of them,
            -- and its constant false leaves them to the planner to drop, unread (pg_available_extensions
            -- reads every extension's control file).
            || CASE WHEN /*database*/ true THEN jsonb_build_object(
              'oracle', 'semantic',
              'server_version', current_setting('server_version'),
              'event_triggers', coalesce((SELECT doc FROM event_triggers), '{}'),
              'publications', coalesce((SELECT doc FROM publications), '{}'),
              'extensions', (SELECT coalesce(jsonb_object_agg(e.extname, e.extversion), '{}') FROM pg_extension e),
              -- The version CREATE EXTENSION installs here, which a pg_dump restore gets.
              'extension_default_versions', (SELECT coalesce(jsonb_object_agg(e.extname, av.default_version), '{}')
                                               FROM pg_extension e JOIN pg_available_extensions av ON av.name = e.extname),
              'large_objects', (SELECT count(*) FROM pg_largeobject_metadata),
              'large_object_digest', (SELECT digest FROM large_object_digest),
              -- The database's own settings (ALTER DATABASE ... SET; not a role's in it), sorted.
              'database_settings', (SELECT coalesce(jsonb_agg(setting ORDER BY setting), '[]')
                                      FROM pg_db_role_setting drs CROSS JOIN LATERAL unnest(drs.setconfig) AS setting
                                     WHERE drs.setrole = 0
                                       AND drs.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
            ) ELSE '{}' END)::text;
            """;
}
