// The semantic oracle's comparison (OracleComparison) on JSON fixtures, in
// process: one test per kind of difference, each asserting the exact line,
// and the verdict the harness acts on (notes said, differences joined).

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

class OracleComparisonTest {
    static final String DIGEST_A = "a".repeat(64);
    static final String DIGEST_B = "b".repeat(64);

    /** A source document as SemanticOracle.capture writes it. */
    static final String SOURCE = """
            {"oracle": "semantic", "server_version": "15.8 (Debian 15.8-1)", "schemas": ["billing", "public"],
             "tables": {
               "billing.accounts": {"kind": "table", "columns": ["id integer not null default", "name text not null"],
                                    "rows": 5, "digest": "%1$s"},
               "public.scratch": {"kind": "table", "unlogged": true, "columns": ["n integer"], "rows": 3,
                                  "digest": "%2$s"}},
             "constraints": {"billing.accounts.accounts_pkey": "primary key (id)"},
             "indexes": {"billing.accounts_pkey": "on billing.accounts using btree unique (id)"},
             "triggers": {"billing.accounts.touch": "enabled before insert for each row execute billing.touch()"},
             "functions": {"billing.touch()": "function language plpgsql definition sha256 %1$s"},
             "types": {"billing.mood": "enum ('calm', 'busy')"},
             "sequences": {"billing.accounts_id_seq": {"definition": "integer start 1 increment 1 min 1 max 2147483647 cache 1",
                                                        "increment": 1, "value": 5}},
             "extensions": {"plpgsql": "1.0"},
             "large_objects": 0}
            """.formatted(DIGEST_A, DIGEST_B);

    static ObjectNode source() throws Exception {
        return SemanticOracle.parse(SOURCE);
    }

    static List<String> differences(ObjectNode restored) throws Exception {
        return OracleComparison.differences(source(), restored);
    }

    static ObjectNode at(ObjectNode document, String... path) {
        ObjectNode node = document;
        for (String key : path) {
            node = (ObjectNode) node.get(key);
        }
        return node;
    }

    @Test
    void theSameDocumentComparesClean() throws Exception {
        assertEquals(List.of(), differences(source()));
        Judgement verdict = OracleComparison.judge(source(), source());
        assertNull(verdict.reason());
        assertEquals(List.of(), verdict.say());
    }

    /** The database's own settings differ: a note, the verdict a pass; a document without them lists none. */
    @Test
    void lostDatabaseSettingsAreANote() throws Exception {
        ObjectNode configured = source();
        configured.putArray("database_settings").add("search_path=billing, public");
        String note = "note: database settings: source [\"search_path=billing, public\"], restored []"
                + " (ALTER DATABASE ... SET: pg_restore restores them only with --create)";
        assertEquals(List.of(note), OracleComparison.differences(configured, source()));
        Judgement verdict = OracleComparison.judge(configured, source());
        assertNull(verdict.reason());
        assertEquals(List.of("second oracle: " + note), verdict.say());
        ObjectNode none = source();
        none.putArray("database_settings");
        assertEquals(List.of(), OracleComparison.differences(none, source()));
    }

    @Test
    void aLostRowNamesItsTable() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").put("rows", 4);
        assertEquals(List.of("table billing.accounts: 5 rows in the source, 4 restored"), differences(restored));
    }

    @Test
    void aChangedValueIsADigestDifferenceWithShortenedDigests() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").put("digest", DIGEST_B);
        assertEquals(List.of("table billing.accounts: content differs with the same 5 rows (digest aaaaaaaaaaaaaaaa…"
                + " in the source, bbbbbbbbbbbbbbbb… restored)"), differences(restored));
    }

    @Test
    void anUnloggedTableRestoredEmptyIsANote() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "public.scratch").put("rows", 0);
        assertEquals(List.of("note: table public.scratch: unlogged, 3 rows in the source, empty after the restore"
                + " (a physical backup does not carry unlogged tables)"), differences(restored));
        assertNull(OracleComparison.judge(source(), restored).reason());
    }

    @Test
    void aMissingOrExtraTableIsNamedWithItsKindAndRows() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables").remove("public.scratch");
        at(restored, "tables").putObject("public.extra").put("kind", "view").putArray("columns");
        assertEquals(List.of("table public.extra: not in the source (restored: view, 0 rows)",
                "table public.scratch: missing after the restore (table, 3 rows)"), differences(restored));
    }

    @Test
    void anotherKindOrOtherPropertiesAreNamed() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").put("kind", "partitioned table");
        at(restored, "tables", "public.scratch").remove("unlogged");
        at(restored, "tables", "public.scratch").put("row_security", true);
        assertEquals(List.of("table billing.accounts: source table, restored partitioned table",
                "table public.scratch: properties differ: source {\"unlogged\":true}, restored {\"row_security\":true}"),
                differences(restored));
    }

    @Test
    void aChangedMissingOrExtraColumnIsNamed() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").putArray("columns").add("id integer not null default")
                .add("name text").add("note text");
        assertEquals(List.of("table billing.accounts: column name: source \"name text not null\", restored \"name text\"",
                "table billing.accounts: column note: not in the source (restored: \"note text\")"), differences(restored));
        at(restored, "tables", "billing.accounts").putArray("columns").add("id integer not null default");
        assertEquals(List.of("table billing.accounts: column name: missing after the restore (source: \"name text not null\")"),
                differences(restored));
    }

    @Test
    void aQuotedColumnNameWithSpacesIsOneName() throws Exception {
        ObjectNode source = source();
        at(source, "tables", "billing.accounts").putArray("columns").add("\"due date\" date").add("\"due \"\"soon\"\"\" boolean");
        ObjectNode restored = source.deepCopy();
        at(restored, "tables", "billing.accounts").putArray("columns").add("\"due date\" timestamp without time zone")
                .add("\"due \"\"soon\"\"\" boolean");
        assertEquals(List.of("table billing.accounts: column \"due date\": source \"\\\"due date\\\" date\", restored"
                + " \"\\\"due date\\\" timestamp without time zone\""), OracleComparison.differences(source, restored));
    }

    @Test
    void columnsInAnotherOrderAreOneLine() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").putArray("columns").add("name text not null")
                .add("id integer not null default");
        assertEquals(List.of("table billing.accounts: columns in another order: source id, name, restored name, id"),
                differences(restored));
    }

    @Test
    void aSequenceAheadPassesAndOneBehindOrUnusedFails() throws Exception {
        ObjectNode restored = source();
        at(restored, "sequences", "billing.accounts_id_seq").put("value", 37);
        assertEquals(List.of(), differences(restored));
        at(restored, "sequences", "billing.accounts_id_seq").put("value", 4);
        assertEquals(List.of("sequence billing.accounts_id_seq: at 4 after the restore, behind the source's 5"),
                differences(restored));
        at(restored, "sequences", "billing.accounts_id_seq").putNull("value");
        assertEquals(List.of("sequence billing.accounts_id_seq: at 5 in the source, never used after the restore"),
                differences(restored));
    }

    @Test
    void anUnloggedSequenceBackAtItsStartIsANote() throws Exception {
        ObjectNode source = source();
        at(source, "sequences", "billing.accounts_id_seq").put("unlogged", true);
        ObjectNode restored = source.deepCopy();
        at(restored, "sequences", "billing.accounts_id_seq").putNull("value");
        assertEquals(List.of("note: sequence billing.accounts_id_seq: unlogged, at 5 in the source, back at its start"
                + " after the restore (a physical backup does not carry unlogged sequences)"),
                OracleComparison.differences(source, restored));
        assertNull(OracleComparison.judge(source, restored).reason());
    }

    @Test
    void aDescendingSequenceMayOnlyGoDown() throws Exception {
        ObjectNode source = source();
        at(source, "sequences", "billing.accounts_id_seq").put("increment", -1);
        ObjectNode restored = source.deepCopy();
        at(restored, "sequences", "billing.accounts_id_seq").put("value", 3);
        assertEquals(List.of(), OracleComparison.differences(source, restored));
        at(restored, "sequences", "billing.accounts_id_seq").put("value", 6);
        assertEquals(List.of("sequence billing.accounts_id_seq: at 6 after the restore, behind the source's 5"),
                OracleComparison.differences(source, restored));
    }

    @Test
    void aSequenceRedefinedMissingOrExtraIsNamed() throws Exception {
        ObjectNode restored = source();
        at(restored, "sequences", "billing.accounts_id_seq").put("definition", "bigint start 1");
        at(restored, "sequences").putObject("public.new_seq").put("definition", "bigint");
        assertEquals(List.of("sequence billing.accounts_id_seq: source integer start 1 increment 1 min 1 max 2147483647"
                + " cache 1, restored bigint start 1", "sequence public.new_seq: not in the source"), differences(restored));
        at(restored, "sequences").removeAll();
        assertEquals(List.of("sequence billing.accounts_id_seq: missing after the restore"), differences(restored));
    }

    @Test
    void eachInventoryKindNamesAMissingExtraOrChangedObject() throws Exception {
        ObjectNode restored = source();
        restored.putArray("schemas").add("public");
        at(restored, "constraints").remove("billing.accounts.accounts_pkey");
        at(restored, "indexes").put("billing.extra_idx", "on billing.accounts using btree (name)");
        at(restored, "triggers").put("billing.accounts.touch", "disabled before insert for each row execute billing.touch()");
        at(restored, "functions").put("billing.touch()", "function language plpgsql definition sha256 " + DIGEST_B);
        at(restored, "types").put("billing.mood", "enum ('calm')");
        restored.putObject("event_triggers").put("audit_ddl", "enabled on ddl_command_end execute billing.log_ddl()");
        restored.putObject("publications").put("feed", "all tables publish insert");
        restored.put("large_objects", 2);
        assertEquals(List.of(
                "schema billing: missing after the restore (source: \"schema\")",
                "constraint billing.accounts.accounts_pkey: missing after the restore (source: \"primary key (id)\")",
                "index billing.extra_idx: not in the source (restored: \"on billing.accounts using btree (name)\")",
                "trigger billing.accounts.touch: source \"enabled before insert for each row execute billing.touch()\","
                        + " restored \"disabled before insert for each row execute billing.touch()\"",
                "function billing.touch(): source \"function language plpgsql definition sha256 aaaaaaaaaaaaaaaa…\","
                        + " restored \"function language plpgsql definition sha256 bbbbbbbbbbbbbbbb…\"",
                "type billing.mood: source \"enum ('calm', 'busy')\", restored \"enum ('calm')\"",
                "event trigger audit_ddl: not in the source (restored: \"enabled on ddl_command_end execute"
                        + " billing.log_ddl()\")",
                "publication feed: not in the source (restored: \"all tables publish insert\")",
                "large objects: 0 in the source, 2 restored"), differences(restored));
    }

    @Test
    void largeObjectsOfTheSameNumberWithOtherContentAreOneLine() throws Exception {
        ObjectNode source = source();
        source.put("large_objects", 3).put("large_object_digest", DIGEST_A);
        ObjectNode restored = source.deepCopy().put("large_object_digest", DIGEST_B);
        assertEquals(List.of("large objects: content differs with the same 3 large objects (digest aaaaaaaaaaaaaaaa…"
                + " in the source, bbbbbbbbbbbbbbbb… restored)"), OracleComparison.differences(source, restored));
        restored.put("large_objects", 2);
        assertEquals(List.of("large objects: 3 in the source, 2 restored"), OracleComparison.differences(source, restored));
    }

    @Test
    void anExtensionsVersionIsANoteOnAnotherMajorAndADifferenceOnTheSame() throws Exception {
        ObjectNode sameMajor = source();
        at(sameMajor, "extensions").put("plpgsql", "9.9");
        assertEquals(List.of("extension plpgsql: source \"1.0\", restored \"9.9\""), differences(sameMajor));
        ObjectNode newer = sameMajor.deepCopy();
        newer.put("server_version", "17.2");
        assertEquals(List.of("note: extension plpgsql: source \"1.0\", restored \"9.9\" (PostgreSQL 15 to 17)"),
                differences(newer));
        at(newer, "extensions").remove("plpgsql");
        assertEquals(List.of("extension plpgsql: missing after the restore (source: \"1.0\")"), differences(newer));
    }

    @Test
    void anExtensionBackAtTheServersDefaultVersionIsANoteOnTheSameMajor() throws Exception {
        ObjectNode restored = source();
        at(restored, "extensions").put("plpgsql", "1.1");
        restored.putObject("extension_default_versions").put("plpgsql", "1.1");
        assertEquals(List.of("note: extension plpgsql: source \"1.0\", restored \"1.1\" (the restored server's default"
                + " version: pg_dump does not record versions)"), differences(restored));
        restored.putObject("extension_default_versions").put("plpgsql", "1.2");
        assertEquals(List.of("extension plpgsql: source \"1.0\", restored \"1.1\""), differences(restored));
    }

    @Test
    void theVerdictSaysEveryLineAndJoinsTheDifferences() throws Exception {
        ObjectNode restored = source();
        at(restored, "tables", "billing.accounts").put("rows", 4);
        Judgement one = OracleComparison.judge(source(), restored);
        assertEquals("the second oracle found a difference: table billing.accounts: 5 rows in the source, 4 restored",
                one.reason());
        at(restored, "tables", "public.scratch").put("rows", 0);
        at(restored, "types").removeAll();
        Judgement two = OracleComparison.judge(source(), restored);
        assertEquals("the second oracle found 2 differences: table billing.accounts: 5 rows in the source, 4 restored;"
                + " type billing.mood: missing after the restore (source: \"enum ('calm', 'busy')\")", two.reason());
        assertEquals(List.of("second oracle: table billing.accounts: 5 rows in the source, 4 restored",
                "second oracle: note: table public.scratch: unlogged, 3 rows in the source, empty after the restore"
                        + " (a physical backup does not carry unlogged tables)",
                "second oracle: type billing.mood: missing after the restore (source: \"enum ('calm', 'busy')\")"),
                two.say());
        assertEquals(3, two.exitCode());
    }
}
