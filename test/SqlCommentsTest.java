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

    /** The server encodings the JDK has a charset for, each with the charset's own name. */
    @Test
    void everyServerEncodingFindsTheJdksCharset() {
        String expected = "LATIN1=ISO-8859-1 LATIN2=ISO-8859-2 LATIN3=ISO-8859-3 LATIN4=ISO-8859-4 LATIN5=ISO-8859-9"
                + " LATIN7=ISO-8859-13 LATIN9=ISO-8859-15 LATIN10=ISO-8859-16"
                + " ISO_8859_5=ISO-8859-5 ISO_8859_6=ISO-8859-6 ISO_8859_7=ISO-8859-7 ISO_8859_8=ISO-8859-8"
                + " WIN866=IBM866 WIN874=x-windows-874 WIN1250=windows-1250 WIN1251=windows-1251"
                + " WIN1252=windows-1252 WIN1253=windows-1253 WIN1254=windows-1254 WIN1255=windows-1255"
                + " WIN1256=windows-1256 WIN1257=windows-1257 WIN1258=windows-1258 KOI8R=KOI8-R KOI8U=KOI8-U"
                + " EUC_JP=EUC-JP EUC_KR=EUC-KR EUC_CN=GB2312 EUC_TW=x-EUC-TW JOHAB=x-Johab";
        for (String pair : expected.split(" ")) {
            String[] names = pair.split("=");
            assertEquals(names[1], java.nio.charset.Charset.forName(SqlComments.javaName(names[0])).name(), names[0]);
        }
        // Without a charset (LATIN6 is ISO-8859-10, which the JDK lacks) only ASCII is taken as held.
        assertEquals("-- ? e", SqlComments.replaceUnholdable("-- é e", SqlComments.holdable("LATIN6"), false));
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
