// The lexer that finds a migration's comments (SqlComments): only their
// characters a database's encoding cannot hold are replaced, never text in a
// string, a quoted identifier or a dollar-quoted body.

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

class SqlCommentsTest {
    private static final IntPredicate LATIN1 = SqlComments.holdable("LATIN1");

    private static String latin1(String script) {
        return SqlComments.replaceUnholdable(script, LATIN1, false);
    }

    @Test
    void lineCommentsLoseWhatLatin1CannotHoldAndKeepWhatItCan() {
        assertEquals("SELECT 1; -- a ? b é ü ?\nSELECT '…';", latin1("SELECT 1; -- a … b é ü €\nSELECT '…';"));
        assertEquals("-- ? at the end", latin1("-- € at the end"));
        assertEquals("--?\r\nSELECT '€'", latin1("--€\r\nSELECT '€'"));
    }

    @Test
    void blockCommentsNestAndEndAtTheirOwnClose() {
        assertEquals("/* ? /* ? */ still ? */ SELECT '€' /* ? */",
                latin1("/* € /* … */ still € */ SELECT '€' /* € */"));
        assertEquals("/* unclosed ? /* ? */", latin1("/* unclosed € /* € */"));
    }

    @Test
    void stringsKeepCommentMarkersAndEveryCharacter() {
        assertEquals("SELECT '-- € /* … */', 'it''s -- €' -- ?", latin1("SELECT '-- € /* … */', 'it''s -- €' -- €"));
        assertEquals("SELECT E'\\' -- €' -- ?", latin1("SELECT E'\\' -- €' -- €"));
        assertEquals("SELECT e'a\\\\' -- ?", latin1("SELECT e'a\\\\' -- €"));
        // A standard string does not escape with a backslash: the quote after it closes the string.
        assertEquals("SELECT '\\' -- ?'", latin1("SELECT '\\' -- €'"));
        // The E of a word (here "name") does not make an E-string.
        assertEquals("SELECT name'\\' -- ?'", latin1("SELECT name'\\' -- €'"));
    }

    @Test
    void withoutStandardConformingStringsABackslashEscapesInEveryString() {
        assertEquals("SELECT '\\' -- €' -- ?", SqlComments.replaceUnholdable("SELECT '\\' -- €' -- €", LATIN1, true));
    }

    @Test
    void quotedIdentifiersKeepTheirText() {
        assertEquals("CREATE TABLE \"a -- €\"\"/*\" (x int) -- ?", latin1("CREATE TABLE \"a -- €\"\"/*\" (x int) -- €"));
        assertEquals("SELECT 1 AS U&\"-- €\" /* ? */", latin1("SELECT 1 AS U&\"-- €\" /* € */"));
    }

    @Test
    void dollarQuotedBodiesAreCopiedAsTheyAre() {
        assertEquals("DO $$ BEGIN -- €\nEND $$; -- ?", latin1("DO $$ BEGIN -- €\nEND $$; -- €"));
        assertEquals("SELECT $f$ $$ -- € $$ $f$ -- ?", latin1("SELECT $f$ $$ -- € $$ $f$ -- €"));
        assertEquals("SELECT $_tag1$ /* € $_tag1$ /* ? */", latin1("SELECT $_tag1$ /* € $_tag1$ /* € */"));
        assertEquals("DO $$ -- € unclosed", latin1("DO $$ -- € unclosed"));
    }

    @Test
    void aDollarInsideAWordOrBeforeADigitOpensNoQuote() {
        assertEquals("SELECT $1, a$b$ -- ?", latin1("SELECT $1, a$b$ -- €"));
        assertEquals("PREPARE p AS SELECT $1 -- ? $1$", latin1("PREPARE p AS SELECT $1 -- € $1$"));
    }

    @Test
    void aCharacterOutsideTheBmpBecomesOneQuestionMark() {
        assertEquals("-- ? x", latin1("-- \uD83D\uDE00 x"));
    }

    @Test
    void theEncodingDecidesWhatAJavaCharsetCanHold() {
        assertEquals("-- € …", SqlComments.replaceUnholdable("-- € …", SqlComments.holdable("WIN1252"), false));
        assertEquals("-- € ?", SqlComments.replaceUnholdable("-- € ¤", SqlComments.holdable("LATIN9"), false));
        assertEquals("-- ? ¤", SqlComments.replaceUnholdable("-- € ¤", SqlComments.holdable("latin1"), false));
        assertEquals("-- ? ?", SqlComments.replaceUnholdable("-- € é", SqlComments.holdable("MULE_INTERNAL"), false));
        assertEquals("-- € é", SqlComments.replaceUnholdable("-- € é", SqlComments.holdable("UTF8"), false));
        assertEquals("-- € é", SqlComments.replaceUnholdable("-- € é", SqlComments.holdable("SQL_ASCII"), false));
    }

    /** Our four non-ASCII characters are "…" in top-level -- comments: on LATIN1 exactly those four change. */
    @Test
    void ourMigrationsChangeOnlyTheirFourEllipsesOnLatin1() throws Exception {
        List<String> changed = new ArrayList<>();
        for (Path file : Files.list(Support.MIGRATIONS).sorted().toList()) {
            String script = Files.readString(file, StandardCharsets.UTF_8);
            String sent = latin1(script);
            assertEquals(script.replace('…', '?'), sent, file.toString());
            if (!sent.equals(script)) {
                changed.add(file.getFileName() + ":" + (script.lines().takeWhile(l -> !l.contains("…")).count() + 1));
            }
        }
        assertEquals(List.of("000007_audit_chain_skipped_inserts.up.sql:4", "000008_audit_pin_search_path.up.sql:8",
                "000009_audit_verify_chain_parallel.up.sql:18", "000012_audit_verify_chain_cheaper_passes.up.sql:6"),
                changed);
    }
}
