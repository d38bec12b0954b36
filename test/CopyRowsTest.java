// The client walk reads rows through COPY's text format: every escape, NULL
// and timestamp form the server prints must give back the exact bytes the
// trigger hashed, and rows the table stores out of link order must still be
// walked in link order.

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class CopyRowsTest {

    // BC timestamps are refused by the trigger since 000011: VerdictsTest covers rows written before it.
    @Test
    void escapesNullsJsonAndUnusualTimestampsHashAsTheTriggerDid() throws Exception {
        String database = Support.migratedWithWorkload(2);
        Support.execute(database, """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                          "timestamp", event_category)
                VALUES ('tab' || E'\\t' || 'id', E'back\\\\slash', E'new\\nline', E'cr\\rret', E'bell\\x07',
                        E'ff\\fvt\\x0b', '{"k": "tab\\tquote\\" é 💡", "n": 1.50, "a": [null, true]}',
                        '2026-05-16 12:00:00.5+02', DEFAULT),
                       ('no-details', 'a|b', 'User', 'x', 'y', 'z', NULL, '0044-03-15 12:00:00+00', 'auth'),
                       ('far-future', 'a', 'User', 'x', 'y', 'z', '{}', '12345-01-01 00:00:00.000001+00', 'config'),
                       ('whole-second', 'a', 'User', 'x', 'y', 'z', '"just a string"', '2026-05-16 12:00:00+00', 'auth')
                """);
        var result = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        // 'a|b' is the one ambiguous row.
        assertEquals(Support.clientJson(6, null, null, null, true, 1, true).replace("\"ambiguous_rows\": 1,",
                        "\"ambiguous_rows\": 1,\n    \"first_ambiguous_id\": \"no-details\","),
                clientOf(result));
    }

    @Test
    void aSinkCanStopTheReadAndTheConnectionServesTheNextStatement() throws Exception {
        String database = Support.migratedWithWorkload(3000);
        try (java.sql.Connection connection = Support.connect(database)) {
            connection.setAutoCommit(false);
            CopyRows rows = CopyRows.inChainOrder(connection, "audit_events", null, e -> new Failure(e.getMessage()));
            List<String> seen = new ArrayList<>();
            boolean readAll = rows.streamUntilStopped(false, (id, prevHash, rowHash, hash, ambiguous) -> {
                if (seen.size() == 3) {
                    throw new CopyRows.StopReading();
                }
                seen.add(id);
            });
            assertEquals(false, readAll);
            assertEquals(List.of("audit-smoke-0000", "audit-smoke-0001", "audit-smoke-0002"), seen);
            assertEquals(3000, rows.rowsInLastRead(), "the rows dropped unparsed count too: verify's row_count");
            int[] count = {0};
            assertEquals(true, rows.streamUntilStopped(false, (id, prevHash, rowHash, hash, ambiguous) -> count[0]++));
            assertEquals(3000, count[0]);
            assertEquals(3000, rows.rowsInLastRead());
            try (var statement = connection.createStatement();
                 var result = statement.executeQuery("SELECT count(*) FROM audit_events")) {
                result.next();
                assertEquals(3000, result.getInt(1));
            }
            connection.rollback();
        }
    }

    @Test
    void rowsStoredOutOfLinkOrderAreWalkedInLinkOrder() throws Exception {
        // A rewrite of the table (here: every row deleted and inserted again
        // in reverse order) stores the rows in another physical order than
        // the links; the walk reads them by chain position.
        String database = Support.migratedWithWorkload(40);
        Support.execute(database, "ALTER TABLE audit_events DISABLE TRIGGER USER",
                "CREATE TEMP TABLE copy AS SELECT * FROM audit_events",
                "DELETE FROM audit_events",
                "INSERT INTO audit_events SELECT * FROM copy ORDER BY id DESC",
                "ALTER TABLE audit_events ENABLE TRIGGER USER");
        assertEquals(Support.cleanClientJson(40), clientOf(Support.toolOk("--mode=verify",
                "--db-url=" + Support.url(database))));
        Support.tamper(database, "UPDATE audit_events SET action = 'auth.logout' WHERE id = 'audit-smoke-0031'");
        assertEquals(Support.clientJson(40, "audit-smoke-0031", 31, "modified", true, 0, true),
                clientOf(Support.toolOk("--mode=verify", "--db-url=" + Support.url(database))));
    }

    @Test
    void rowsWhoseChainPositionsDisagreeWithTheirLinksAreStillWalkedInLinkOrder() throws Exception {
        // The client streams in chain position order (chain_seq), so a heap
        // rewrite like the one above is walked in one read. Positions that
        // were rewritten themselves (here: reversed) make the rows arrive
        // against their links; the walk still follows the links, through the
        // walker's extra reads. The server's verifier walks the positions,
        // so it sees a break at position 0 and the two disagree.
        String database = Support.migratedWithWorkload(40);
        Support.tamper(database, "UPDATE audit_events SET chain_seq = 1000 - chain_seq");
        var reversed = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.clientJson(40, null, null, null, true, 0, false), clientOf(reversed));
        assertTrue(reversed.out().contains("\"first_break_pos\": 0,"), reversed.out());
        Support.tamper(database, "UPDATE audit_events SET action = 'auth.logout' WHERE id = 'audit-smoke-0031'");
        // Both verdicts are broken now, which is all agrees_with_server compares.
        assertEquals(Support.clientJson(40, "audit-smoke-0031", 31, "modified", true, 0, true),
                clientOf(Support.toolOk("--mode=verify", "--db-url=" + Support.url(database))));
    }

    @Test
    void fieldsWithAndWithoutEscapesHashAndReadAsTheirText() {
        // Fields without a backslash are copied as they arrive; the others are
        // unescaped. One parser reads the rows in turn, so nothing one row
        // found (an escape, a '|', a NULL) may leak into the next.
        String prev = "ab".repeat(32);
        String escapedLine = String.join("\t", "id\\t1", "a|b", "User", "auth.login", "session", "s-1",
                "{\"k\": \"back\\\\\\\\slash\"}", "2026-05-16 12:00:00.5+00", "auth", prev, "cd".repeat(32)) + "\n";
        String plainLine = String.join("\t", "id-2", "actor é", "User", "auth.login", "session", "s-2",
                "\\N", "2026-05-16 12:00:00.123456+00", "auth", "\\N", "ef".repeat(32)) + "\n";
        List<Object[]> seen = new ArrayList<>();
        CopyRows.RowParser parser = new CopyRows.RowParser(true);
        for (String line : List.of(escapedLine, plainLine, escapedLine)) {
            parser.parse(line.getBytes(StandardCharsets.UTF_8), (id, prevHash, rowHash, hash, ambiguous) ->
                    seen.add(new Object[] {id, prevHash, rowHash, hash, ambiguous}));
        }
        byte[] escapedHash = AuditRow.sha256(String.join("|", prev, "id\t1", "a|b", "User", "auth.login", "session",
                "s-1", "{\"k\": \"back\\\\slash\"}", "2026-05-16T12:00:00.500000Z", "auth"));
        byte[] plainHash = AuditRow.sha256(String.join("|", "", "id-2", "actor é", "User", "auth.login", "session",
                "s-2", "", "2026-05-16T12:00:00.123456Z", "auth"));
        assertEquals("id\t1", seen.get(0)[0]);
        assertEquals(prev, seen.get(0)[1]);
        assertArrayEquals(escapedHash, (byte[]) seen.get(0)[3]);
        assertEquals(true, seen.get(0)[4]);
        assertEquals("id-2", seen.get(1)[0]);
        assertEquals(null, seen.get(1)[1]);
        assertEquals("ef".repeat(32), seen.get(1)[2]);
        assertArrayEquals(plainHash, (byte[]) seen.get(1)[3]);
        assertEquals(false, seen.get(1)[4]);
        assertArrayEquals(escapedHash, (byte[]) seen.get(2)[3]);
        assertEquals(true, seen.get(2)[4]);
    }

    @Test
    void fieldsWithoutEscapesGoIntoThePayloadInOneCopyAndHashAsTheirText() {
        // id to details without a backslash are copied into the payload as one span, each tab then a '|':
        // a '|' or a multibyte character inside, an escaped prev_hash or category, or fields past 64 KiB
        // together (hashed field by field, in pieces) give the trigger's hash; an escaped row in between
        // leaves nothing behind for the next. Below, each row's fields as COPY sends them (\\ a backslash).
        String prev = "ab".repeat(32);
        String bigDetails = "{\"k\": \"" + "x".repeat(CopyRows.LARGE_FIELD) + "\"}";
        List<String[]> rows = List.of(
                new String[] {"id-1", "a|b", "User", "auth.login", "session", "s-1", "{\"n\": 1.50}", prev, "auth"},
                new String[] {"id-2", "actor é 💡", "User", "x", "y", "z", "{}", "", "cert\\\\lifecycle"},
                new String[] {"id\\\\3", "a", "User", "x", "y", "z", "{}", prev, "auth"},
                new String[] {"id-4", "a", "User", "x", "y", "z", bigDetails, prev, "auth"},
                new String[] {"id-5", "a", "User", "x", "y", "z", "{}", prev, ""});
        List<byte[]> hashes = new ArrayList<>();
        CopyRows.RowParser parser = new CopyRows.RowParser(true);
        for (String[] row : rows) {
            String prevHash = row[7].isEmpty() ? "\\N" : row[7];
            String category = row[8].isEmpty() ? "\\N" : row[8];
            String line = String.join("\t", row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                    "2026-05-16 12:00:00.5+00", category, prevHash, "cd".repeat(32)) + "\n";
            parser.parse(line.getBytes(StandardCharsets.UTF_8), (id, prevHashText, rowHash, hash, ambiguous) ->
                    hashes.add(hash));
        }
        for (int i = 0; i < rows.size(); i++) {
            String[] row = rows.get(i);
            String payload = String.join("|", row[7], row[0].replace("\\\\", "\\"), row[1], row[2], row[3], row[4],
                    row[5], row[6], "2026-05-16T12:00:00.500000Z", row[8].replace("\\\\", "\\"));
            assertArrayEquals(AuditRow.sha256(payload), hashes.get(i), "row " + (i + 1));
        }
    }

    @Test
    void aPrevHashEqualToTheLastRowHashIsHandedOnAsTheSameString() {
        // In a chain read in order each prev_hash repeats the row_hash before it: one String serves both,
        // and ChainWalker need not parse it twice. A prev_hash one byte off, or after a NULL row_hash, is its own.
        String first = "ab".repeat(32);
        String second = "cd".repeat(32);
        List<String> lines = List.of(
                rowLine("id-1", "\\N", first), rowLine("id-2", first, second),
                rowLine("id-3", "cd".repeat(31) + "ce", "ef".repeat(32)), rowLine("id-4", "\\N", "\\N"),
                rowLine("id-5", "\\N", second));
        List<String[]> seen = new ArrayList<>();
        CopyRows.RowParser parser = new CopyRows.RowParser(true);
        for (String line : lines) {
            parser.parse(line.getBytes(StandardCharsets.UTF_8), (id, prevHash, rowHash, hash, ambiguous) ->
                    seen.add(new String[] {prevHash, rowHash}));
        }
        assertSame(seen.get(0)[1], seen.get(1)[0]);
        assertEquals(first, seen.get(1)[0]);
        assertEquals("cd".repeat(31) + "ce", seen.get(2)[0]);
        assertNotSame(seen.get(1)[1], seen.get(2)[0]);
        assertEquals(null, seen.get(3)[1]);
        assertEquals(null, seen.get(4)[0]);
        assertEquals(second, seen.get(4)[1]);
    }

    /** A COPY line with this id, prev_hash and row_hash, as COPY sends them (\N for NULL). */
    private static String rowLine(String id, String prevHash, String rowHash) {
        return String.join("\t", id, "actor", "User", "auth.login", "session", "s-1", "{}",
                "2026-05-16 12:00:00.5+00", "auth", prevHash, rowHash) + "\n";
    }

    @Test
    void aChainWhosePositionsAreAllRewrittenIsWalkedByItsLinks() throws Exception {
        // Issue 18 item 7: positions permuted so that no row arrives after its
        // predecessor (each is a segment of its own, more than the walker keeps
        // on the heap: the heads' hashes go through its temporary file).
        String database = Support.migratedWithWorkload(2000);
        Support.tamper(database, "UPDATE audit_events SET chain_seq = chain_seq * 1009 % 2003");
        assertEquals("0", Support.one(database, """
                SELECT count(*) FROM (SELECT prev_hash, lag(row_hash) OVER (ORDER BY chain_seq) AS before
                                      FROM audit_events) AS arrival
                WHERE prev_hash = before"""), "no row arrives right after its predecessor");
        var permuted = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.clientJson(2000, null, null, null, true, 0, false), clientOf(permuted));
        // row_count is the rows the walk read (no count(*) of its own), through all its reads.
        assertTrue(permuted.out().contains("\n  \"row_count\": 2000,\n"), permuted.out());
        Support.tamper(database, "UPDATE audit_events SET action = 'auth.logout' WHERE id = 'audit-smoke-1500'");
        Support.execute(database, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain", """
                INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details,
                                          "timestamp", prev_hash, row_hash, chain_seq)
                SELECT 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}', e."timestamp", e.row_hash,
                       audit_events_row_hash(e.row_hash, 'forged', 'mallory', 'User', 'x', 'y', 'z', '{}',
                                             e."timestamp", 'cert_lifecycle'), 0
                FROM audit_events e WHERE e.id = 'audit-smoke-0700'""",
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain");
        var forked = Support.toolOk("--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(Support.clientJson(2000, "forged", 701, "fork", true, 0, true), clientOf(forked));
        assertTrue(forked.out().contains("\n  \"row_count\": 2001,\n"), forked.out());
    }

    @Test
    @Tag("e2e")
    void aTemporaryFolderThatCannotBeWrittenEndsAnOutOfOrderWalkInOneLine() throws Exception {
        String database = Support.migratedWithWorkload(1200);
        // Every row a run of its own, and one of them modified: runs that cannot be stitched, so the walker
        // reads again to resolve them, keeping the heads' links in a temporary file.
        Support.tamper(database, "UPDATE audit_events SET chain_seq = 10000 - chain_seq,"
                + " actor = CASE WHEN id = 'audit-smoke-0600' THEN 'mallory' ELSE actor END");
        var result = Support.launched(Support.env("BACKUPSMOKE_JAVA_OPTS",
                "-XX:+UseSerialGC -Xmx160m -Djava.io.tmpdir=/nonexistent/backupsmoke"),
                "--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.err().matches("backupsmoke: could not keep the chain's links in a temporary file in"
                + " /nonexistent/backupsmoke \\(set another with -Djava.io.tmpdir in BACKUPSMOKE_JAVA_OPTS\\):"
                + " no such folder: /nonexistent/backupsmoke/backupsmoke-chain-\\d+\\.hashes\n"), result.describe());
    }

    @Test
    void equalBytesMarksExactlyTheBytesEqualToThePattern() {
        // Every byte value at every place in a word, among neighbours one above and one below the
        // pattern's byte (where a borrow or a carry between bytes would show).
        for (int pattern : new int[] {'\t', '\\', '|'}) {
            long repeated = 0x0101010101010101L * pattern;
            for (int place = 0; place < Long.BYTES; place++) {
                for (int value = 0; value < 256; value++) {
                    long word = 0;
                    for (int b = 0; b < Long.BYTES; b++) {
                        long byteValue = b == place ? value : b % 2 == 0 ? pattern + 1 : pattern - 1;
                        word |= byteValue << (8 * b);
                    }
                    long expected = value == pattern ? 0x80L << (8 * place) : 0;
                    assertEquals(expected, CopyRows.RowParser.equalBytes(word, repeated),
                            "value " + value + " at byte " + place + " against " + pattern);
                }
            }
        }
    }

    @Test
    void tabsEscapesAndPipesAreFoundWhereverTheyFallInAWord() {
        // The line is read eight bytes at a time: a longer id moves every separator, escape and '|'
        // through each place in a word and across the words' ends, and into the bytes after the last word.
        String prev = "ab".repeat(32);
        for (int shift = 0; shift < 2 * Long.BYTES; shift++) {
            String id = "i".repeat(shift + 1);
            String line = String.join("\t", id, "a|b", "User", "auth\\tlogin", "session", "s-1", "{}",
                    "2026-05-16 12:00:00.5+00", "auth", prev, "cd".repeat(32)) + "\n";
            Object[] seen = new Object[3];
            new CopyRows.RowParser(true).parse(line.getBytes(StandardCharsets.UTF_8),
                    (readId, prevHash, rowHash, hash, ambiguous) -> {
                        seen[0] = readId;
                        seen[1] = hash;
                        seen[2] = ambiguous;
                    });
            byte[] expected = AuditRow.sha256(String.join("|", prev, id, "a|b", "User", "auth\tlogin", "session",
                    "s-1", "{}", "2026-05-16T12:00:00.500000Z", "auth"));
            assertEquals(id, seen[0], "shift " + shift);
            assertArrayEquals(expected, (byte[]) seen[1], "shift " + shift);
            assertEquals(true, seen[2], "shift " + shift);
            String shortLine = line.substring(0, line.lastIndexOf('\t')) + "\n";
            IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> new CopyRows.RowParser(true).parse(shortLine.getBytes(StandardCharsets.UTF_8),
                            (readId, prevHash, rowHash, hash, ambiguous) -> {}));
            assertEquals("COPY gave a row of 10 fields, not 11", refused.getMessage());
        }
    }

    @Test
    void aFieldLargerThanAPieceHashesAsTheWholePayloadWould() {
        // Fields longer than CopyRows.LARGE_FIELD go through the digest in pieces; escapes and multi-byte
        // characters fall on every side of the pieces' ends, and the hash is still the payload's.
        StringBuilder details = new StringBuilder();
        for (int i = 0; details.length() < 3 * CopyRows.LARGE_FIELD; i++) {
            details.append(i % 7 == 0 ? "\t" : i % 5 == 0 ? "\\" : i % 3 == 0 ? "\n" : i % 2 == 0 ? "é" : "x");
        }
        String prev = "ab".repeat(32);
        String longId = "i".repeat(CopyRows.MAX_TEXT + 10);
        String payload = String.join("|", prev, longId, "actor", "User", "auth.login", "session", "s-1", details,
                "2026-05-16T12:00:00.500000Z", "auth");
        String line = String.join("\t", longId, "actor", "User", "auth.login", "session", "s-1",
                details.toString().replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n"),
                "2026-05-16 12:00:00.5+00", "auth", prev, "cd".repeat(32)) + "\n";
        Object[] seen = new Object[2];
        new CopyRows.RowParser(true).parse(line.getBytes(StandardCharsets.UTF_8), (id, prevHash, rowHash, hash, ambiguous) -> {
            seen[0] = id;
            seen[1] = hash;
        });
        assertArrayEquals(AuditRow.sha256(payload), (byte[]) seen[1]);
        // An id is only reported: past MAX_TEXT bytes it is cut and marked.
        assertEquals("i".repeat(CopyRows.MAX_TEXT) + "…", seen[0]);
    }

    @Test
    @Tag("e2e")
    void aRowOf64MegabytesVerifiesWithTheLaunchersHeapAndItsChangeIsCaught() throws Exception {
        // Issue 18 item 7: 32 MB of details ran the launcher's 160 MiB heap out; a field is now hashed in
        // pieces from the received row, and at most one huge row is held at a time.
        String database = Support.migratedWithWorkload(2);
        Support.execute(database, "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id,"
                + " details, \"timestamp\") VALUES ('huge', 'a', 'User', 'x', 'y', 'z',"
                + " jsonb_build_object('blob', repeat('x', 64 * 1024 * 1024)), '2026-05-16 13:00:00+00')");
        // Run as users run it: the launcher's own heap, not the test JVM's.
        var verified = Support.launched(Map.of(), "--mode=verify", "--db-url=" + Support.url(database), "--fail-on-break");
        assertEquals(0, verified.exit(), verified.describe());
        assertEquals(Support.cleanClientJson(3), clientOf(verified));

        // A heap too small for the row: the walk's OutOfMemoryError while it receives the row is one line and exit 1.
        var starved = Support.launched(Support.env("BACKUPSMOKE_JAVA_OPTS", "-XX:+UseSerialGC -Xmx40m"),
                "--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(1, starved.exit(), starved.describe());
        assertTrue(starved.err().matches("backupsmoke: ran out of memory while verifying the chain \\(the JVM's heap is "
                + "\\d+ MiB: raise it with BACKUPSMOKE_JAVA_OPTS, see deploy/docs/tool.md \"Memory\"\\)\n"),
                starved.err());

        Support.tamper(database, "UPDATE audit_events SET details = jsonb_build_object('blob',"
                + " repeat('x', 64 * 1024 * 1024 - 1) || 'y') WHERE id = 'huge'");
        var tampered = Support.launched(Map.of(), "--mode=verify", "--db-url=" + Support.url(database));
        assertEquals(0, tampered.exit(), tampered.describe());
        assertEquals(Support.clientJson(3, "huge", 2, "modified", true, 0, true), clientOf(tampered));
    }

    private static String clientOf(Support.Result result) {
        String out = Support.withoutIntegrity(result.out());
        int start = out.indexOf("\"client\": {");
        return start < 0 ? "" : out.substring(start, out.indexOf('}', start) + 1);
    }
}
