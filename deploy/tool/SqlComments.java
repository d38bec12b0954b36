// The comments of a migration script, found by a small lexer of PostgreSQL's
// SQL, so that characters a database's encoding cannot hold can be replaced
// there and nowhere else (MigrationRunner, SPEC section 5).

import java.nio.charset.Charset;
import java.nio.charset.CharsetEncoder;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * Replaces, in the -- and nested block comments of a script, the characters
 * a server encoding cannot hold. String literals ('...', E'...'), quoted
 * identifiers ("...") and dollar-quoted bodies ($tag$...$tag$) are copied as
 * they are: their text is the user's data or a function's source, and a
 * character there the database cannot hold still fails with the server's own
 * error.
 */
final class SqlComments {
    static final char REPLACEMENT = '?';

    /**
     * The server encodings whose PostgreSQL name the JDK knows by no alias,
     * with the JDK's name; for the others, javaName's rules. (LATIN6 and
     * LATIN8, ISO-8859-10 and -14, have no charset in the JDK.)
     */
    private static final Map<String, String> UNLIKE_JAVA = Map.of("LATIN7", "ISO-8859-13", "WIN866", "IBM866",
            "KOI8R", "KOI8-R", "KOI8U", "KOI8-U");

    /**
     * The JDK's name for a PostgreSQL server encoding: WIN1250..WIN1258 and
     * WIN874 are windows-NNN; the rest (LATIN1..5, 9 and 10, ISO_8859_5..8,
     * EUC_JP, EUC_KR, EUC_CN, EUC_TW, JOHAB) are aliases the JDK's charsets
     * answer to, some with '-' for '_'.
     */
    static String javaName(String serverEncoding) {
        String exception = UNLIKE_JAVA.get(serverEncoding);
        if (exception != null) {
            return exception;
        }
        if (serverEncoding.startsWith("WIN")) {
            return "windows-" + serverEncoding.substring("WIN".length());
        }
        return Charset.isSupported(serverEncoding) ? serverEncoding : serverEncoding.replace('_', '-');
    }

    private SqlComments() {
    }

    /** UTF8 holds every character, and SQL_ASCII stores any byte: a script goes to them as it is. */
    static boolean holdsEverything(String serverEncoding) {
        String name = serverEncoding.toUpperCase(Locale.ROOT);
        return name.equals("UTF8") || name.equals("SQL_ASCII");
    }

    /**
     * Which characters a database of SERVER_ENCODING holds: all for UTF8 and
     * SQL_ASCII (which stores any byte), the JDK charset's for the encodings
     * above, ASCII only for one Java does not know (LATIN6, MULE_INTERNAL,
     * EUC_JIS_2004, ...), since every server encoding holds ASCII.
     */
    static IntPredicate holdable(String serverEncoding) {
        String name = serverEncoding.toUpperCase(Locale.ROOT);
        if (holdsEverything(serverEncoding)) {
            return codePoint -> true;
        }
        String javaName = javaName(name);
        if (!Charset.isSupported(javaName)) {
            return codePoint -> codePoint < 0x80;
        }
        CharsetEncoder encoder = Charset.forName(javaName).newEncoder();
        return codePoint -> codePoint < 0x80 || encoder.canEncode(new String(Character.toChars(codePoint)));
    }

    /**
     * SCRIPT with every character of its comments that HOLDABLE refuses
     * replaced by '?', one for each (a character outside the BMP too).
     * BACKSLASH_ESCAPES is standard_conforming_strings off: a backslash then
     * escapes a quote in '...' as it always does in E'...'.
     */
    static String replaceUnholdable(String script, IntPredicate holdable, boolean backslashEscapes) {
        StringBuilder out = new StringBuilder(script.length());
        int i = 0;
        int n = script.length();
        while (i < n) {
            char c = script.charAt(i);
            int end;
            if (c == '-' && startsWith(script, i, "--")) {
                end = lineCommentEnd(script, i);
                appendComment(out, script, i, end, holdable);
            } else if (c == '/' && startsWith(script, i, "/*")) {
                end = blockCommentEnd(script, i);
                appendComment(out, script, i, end, holdable);
            } else if (c == '\'') {
                end = stringEnd(script, i, backslashEscapes || escapeStringPrefix(script, i));
                out.append(script, i, end);
            } else if (c == '"') {
                end = quotedIdentifierEnd(script, i);
                out.append(script, i, end);
            } else if (c == '$' && !followsIdentifierPart(script, i) && dollarTagEnd(script, i) > 0) {
                end = dollarQuoteEnd(script, i, script.substring(i, dollarTagEnd(script, i)));
                out.append(script, i, end);
            } else {
                end = i + 1;
                out.append(c);
            }
            i = end;
        }
        return out.toString();
    }

    private static boolean startsWith(String script, int at, String prefix) {
        return script.startsWith(prefix, at);
    }

    /** A -- comment runs to the end of its line (the newline is not part of it). */
    private static int lineCommentEnd(String script, int start) {
        int i = start + 2;
        while (i < script.length() && script.charAt(i) != '\n' && script.charAt(i) != '\r') {
            i++;
        }
        return i;
    }

    /** Block comments nest in PostgreSQL; an unclosed one runs to the end (the server then reports it). */
    private static int blockCommentEnd(String script, int start) {
        int depth = 0;
        int i = start;
        while (i < script.length()) {
            if (startsWith(script, i, "/*")) {
                depth++;
                i += 2;
            } else if (startsWith(script, i, "*/")) {
                depth--;
                i += 2;
                if (depth == 0) {
                    return i;
                }
            } else {
                i++;
            }
        }
        return i;
    }

    /** '...' with '' for a quote, and with BACKSLASH_ESCAPES a backslash escaping the next character. */
    private static int stringEnd(String script, int start, boolean backslashEscapes) {
        int i = start + 1;
        while (i < script.length()) {
            char c = script.charAt(i);
            if (backslashEscapes && c == '\\') {
                i += 2;
            } else if (c == '\'' && startsWith(script, i, "''")) {
                i += 2;
            } else if (c == '\'') {
                return i + 1;
            } else {
                i++;
            }
        }
        return script.length();
    }

    /** The quote at QUOTE opens an E'...' string: an E or e right before it, itself not the end of a word. */
    private static boolean escapeStringPrefix(String script, int quote) {
        return quote > 0 && (script.charAt(quote - 1) == 'E' || script.charAt(quote - 1) == 'e')
                && !followsIdentifierPart(script, quote - 1);
    }

    /** "..." with "" for a quote (U&"..." alike). */
    private static int quotedIdentifierEnd(String script, int start) {
        int i = start + 1;
        while (i < script.length()) {
            if (startsWith(script, i, "\"\"")) {
                i += 2;
            } else if (script.charAt(i) == '"') {
                return i + 1;
            } else {
                i++;
            }
        }
        return script.length();
    }

    /**
     * The end of the opening $tag$ at START (0 when there is none): a tag is
     * empty or an identifier without a dollar, so $1 is a parameter.
     */
    private static int dollarTagEnd(String script, int start) {
        int i = start + 1;
        if (i < script.length() && isIdentifierStart(script.charAt(i))) {
            i++;
            while (i < script.length() && isIdentifierPart(script.charAt(i)) && script.charAt(i) != '$') {
                i++;
            }
        }
        return i < script.length() && script.charAt(i) == '$' ? i + 1 : 0;
    }

    /** A dollar-quoted body runs to the same tag again; unclosed, to the end. */
    private static int dollarQuoteEnd(String script, int start, String tag) {
        int close = script.indexOf(tag, start + tag.length());
        return close < 0 ? script.length() : close + tag.length();
    }

    /** A $ or an E right after a letter, digit, _ or $ is part of that word (foo$bar, name'...'), not a token. */
    private static boolean followsIdentifierPart(String script, int at) {
        return at > 0 && isIdentifierPart(script.charAt(at - 1));
    }

    private static boolean isIdentifierStart(char c) {
        return Character.isLetter(c) || c == '_' || c >= 0x80;
    }

    private static boolean isIdentifierPart(char c) {
        return isIdentifierStart(c) || Character.isDigit(c) || c == '$';
    }

    /** Copies the comment SCRIPT[START, END), each code point HOLDABLE refuses as one '?'. */
    private static void appendComment(StringBuilder out, String script, int start, int end, IntPredicate holdable) {
        script.substring(start, end).codePoints().forEach(codePoint ->
                out.appendCodePoint(holdable.test(codePoint) ? codePoint : REPLACEMENT));
    }
}
