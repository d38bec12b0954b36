// The pure logic of client-side verification: the canonical payload against
// the SPEC test vectors, and the link walk against every kind of break,
// on chains built in memory.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ChainWalkerTest {

    // ------------------------------------------------------------ payload

    /** The payload of a row whose timestamp is given as a value. */
    static AuditRow row(String prev, String id, String actor, String actorType, String action, String resourceType,
                        String resourceId, String details, OffsetDateTime time, String category) {
        return new AuditRow(prev, id, actor, actorType, action, resourceType, resourceId, details,
                AuditRow.utcMicros(time), category);
    }

    @Test
    void parseHashTakesExactlySixtyFourLowercaseHexDigits() {
        String digits = "0123456789abcdef";
        byte[] parsed = new byte[32];
        for (int high = 0; high < 300; high++) {
            for (int low = 0; low < 300; low++) {
                String pair = "" + (char) high + (char) low;
                boolean hex = digits.indexOf(high) >= 0 && digits.indexOf(low) >= 0;
                String text = "00".repeat(17) + pair + "ff".repeat(14);
                assertEquals(hex, ChainWalker.parseHash(text, parsed), "pair " + high + "," + low);
                if (hex) {
                    assertEquals((byte) Integer.parseInt(pair, 16), parsed[17]);
                    assertEquals((byte) 0xff, parsed[31]);
                }
            }
        }
        assertFalse(ChainWalker.parseHash("ab".repeat(31), parsed));
        assertFalse(ChainWalker.parseHash("ab".repeat(33), parsed));
        assertFalse(ChainWalker.parseHash(null, parsed));
    }

    @Test
    void testVectorsHashAsTheSpecSays() {
        String tv1 = AuditRow.sha256Hex(row(null, "tv-0001", "alice", "User",
                "certificate.issue", "certificate", "mc-1", "{}",
                OffsetDateTime.parse("2026-05-16T12:00:00.000001Z"), "cert_lifecycle").canonicalPayload());
        assertEquals(SchemaTest.TV1, tv1);
        String tv2Payload = row(tv1, "tv-0002", "bob", "APIKey", "auth.login", "session",
                "sess-9", "{\"a\": [true, null, \"é\"], \"m\": {\"b\": \"x|y\", \"y\": 2.50}, \"z\": 1}",
                OffsetDateTime.parse("2026-05-16T12:00:00.5+02:00"), "auth").canonicalPayload();
        assertTrue(tv2Payload.endsWith("|2026-05-16T10:00:00.500000Z|auth"), tv2Payload);
        String tv2 = AuditRow.sha256Hex(tv2Payload);
        assertEquals(SchemaTest.TV2, tv2);
        assertEquals(SchemaTest.TV3, AuditRow.sha256Hex(row(tv2, "tv-0003", "carol",
                "System", "certificate.revoke", "certificate", "mc-1", null,
                OffsetDateTime.parse("2026-05-16T12:00:01Z"), "cert_lifecycle").canonicalPayload()));
    }

    @Test
    void timestampsAreRenderedInUtcWithSixFractionDigits() {
        assertEquals("2026-05-16T17:00:00.000000Z", AuditRow.utcMicros(OffsetDateTime.parse("2026-05-16T12:00-05:00")));
        assertEquals("1999-12-31T23:59:59.123456Z", AuditRow.utcMicros(OffsetDateTime.parse("2000-01-01T00:59:59.123456+01:00")));
    }

    @Test
    void aRowThatCannotBeHashedHasNoHash() {
        var sha256 = AuditRow.newSha256();
        // 'infinity' has no UTC text: the payload's timestamp is null.
        assertEquals(null, new AuditRow(null, "id", "a", "User", "x", "r", "i", "{}",
                AuditRow.utcMicrosFromIsoText("infinity"), null).hashOrNull(sha256));
        assertEquals(null, row(null, "id", null, "User", "x", "r", "i", "{}",
                OffsetDateTime.parse("2026-05-16T12:00:00Z"), null).hashOrNull(sha256));
        assertEquals(SchemaTest.TV1, java.util.HexFormat.of().formatHex(row(null, "tv-0001", "alice",
                "User", "certificate.issue", "certificate", "mc-1", "{}", OffsetDateTime.parse("2026-05-16T12:00:00.000001Z"),
                "cert_lifecycle").hashOrNull(sha256)));
    }

    @Test
    void isoTextInUtcBecomesThePayloadsTimestamp() {
        assertEquals("2026-05-16T12:00:00.000001Z", AuditRow.utcMicrosFromIsoText("2026-05-16 12:00:00.000001+00"));
        assertEquals("2026-05-16T10:00:00.500000Z", AuditRow.utcMicrosFromIsoText("2026-05-16 10:00:00.5+00"));
        assertEquals("2026-05-16T12:00:01.000000Z", AuditRow.utcMicrosFromIsoText("2026-05-16 12:00:01+00"));
        // A BC date's payload would be that of the same date AD: no text of its own.
        assertEquals(null, AuditRow.utcMicrosFromIsoText("0044-03-15 12:00:00+00 BC"));
        assertEquals(null, AuditRow.utcMicrosFromIsoText("infinity"));
        assertEquals(null, AuditRow.utcMicrosFromIsoText("-infinity"));
    }

    @Test
    void aPipeInAnyFieldMakesARowAmbiguous() {
        assertTrue(new AuditRow(null, "id", "ac|tor", "User", "x", "r", "i", "{}", "t", null).isAmbiguous());
        assertTrue(new AuditRow(null, "id", null, "User", "x", "r", "i", "{\"k\": \"a|b\"}", "t", null).isAmbiguous());
        assertFalse(new AuditRow(null, "id", null, "User", "x", "r", "i", "{}", "t", null).isAmbiguous());
    }

    // ------------------------------------------------------------ walking

    /** A row as the database holds it; prev and hash may be tampered with. */
    record Row(String id, String actor, OffsetDateTime time, String prev, String hash) {
        String payload() {
            return row(prev, id, actor, "User", "act", "rt", "ri", "{}", time, "cert_lifecycle").canonicalPayload();
        }

        Row withActor(String newActor) {
            return new Row(id, newActor, time, prev, hash);
        }

        /** The same fields, re-linked and re-hashed consistently, as a forger with the formula would. */
        Row relinked(String newPrev) {
            Row row = new Row(id, actor, time, newPrev, null);
            return new Row(id, actor, time, newPrev, AuditRow.sha256Hex(row.payload()));
        }
    }

    /** A clean chain of n rows, as the trigger would write it. */
    static List<Row> chain(int n) {
        List<Row> rows = new ArrayList<>();
        String prev = null;
        OffsetDateTime base = OffsetDateTime.parse("2026-05-16T12:00:00Z");
        for (int i = 0; i < n; i++) {
            Row row = new Row("r-%03d".formatted(i), "actor", base.plusNanos(i * 1000L), prev, null).relinked(prev);
            rows.add(row);
            prev = row.hash();
        }
        return rows;
    }

    /** The rows as the database would stream them, as often as the walk asks; counts the reads. */
    static final class ListSource implements ChainWalker.RowSource {
        final List<Row> rows;
        int reads;

        ListSource(List<Row> rows) {
            this.rows = rows;
        }

        @Override
        public void stream(boolean rehash, ChainWalker.RowSink sink) {
            reads++;
            for (Row row : rows) {
                sink.row(row.id(), row.prev(), row.hash(), rehash ? AuditRow.sha256(row.payload()) : null,
                        row.id().contains("|") || row.actor().contains("|"));
            }
        }
    }

    static ChainWalker.Verdict walk(List<Row> rows, String sentinel, ChainWalker.Expectation expectation) {
        return walk(new ListSource(rows), sentinel, expectation);
    }

    static ChainWalker.Verdict walk(ListSource source, String sentinel, ChainWalker.Expectation expectation) {
        return walk(source, new ChainWalker(sentinel, expectation));
    }

    static ChainWalker.Verdict walk(ListSource source, ChainWalker walker) {
        source.stream(true, walker::add);
        try {
            return walker.verdict(source);
        } catch (Failure e) {
            throw new AssertionError(e);
        }
    }

    static ChainWalker.Verdict reference(List<Row> rows, String sentinel, ChainWalker.Expectation expectation) {
        Reference walker = new Reference(rows.size());
        for (Row row : rows) {
            walker.add(row.id(), row.prev(), row.hash(), AuditRow.sha256(row.payload()),
                    row.id().contains("|") || row.actor().contains("|"));
        }
        return walker.verdict(sentinel, expectation);
    }

    static ChainWalker.Verdict walk(List<Row> rows, String sentinel) {
        return walk(rows, sentinel, ChainWalker.Expectation.NONE);
    }

    static String head(List<Row> rows) {
        return rows.get(rows.size() - 1).hash();
    }

    static void assertBreak(ChainWalker.Verdict verdict, String kind, String id, Integer position) {
        assertEquals("broken", verdict.verdict(), verdict.toString());
        assertEquals(kind, verdict.breakKind(), verdict.toString());
        assertEquals(id, verdict.firstBreakId(), verdict.toString());
        assertEquals(position, verdict.firstBreakPos(), verdict.toString());
    }

    /** assertBreak, and the walk went over WALKED rows and did (or did not) reach the sentinel. */
    static void assertBreak(ChainWalker.Verdict verdict, String kind, String id, Integer position, int walked,
                            boolean sentinelMatches) {
        assertBreak(verdict, kind, id, position);
        assertEquals(walked, verdict.walked(), verdict.toString());
        assertEquals(sentinelMatches, verdict.sentinelMatches(), verdict.toString());
    }

    @Test
    void aCleanChainIsCleanInWhateverOrderTheRowsArrive() {
        List<Row> rows = chain(50);
        String head = head(rows);
        Collections.shuffle(rows, new Random(7));
        ChainWalker.Verdict verdict = walk(rows, head);
        assertEquals(new ChainWalker.Verdict(50, "clean", null, null, null, true, 0, null), verdict);
    }

    @Test
    void anEmptyChainIsCleanWithAnEmptySentinel() {
        assertEquals(new ChainWalker.Verdict(0, "clean", null, null, null, true, 0, null), walk(List.of(), ""));
        ChainWalker.Verdict claimed = walk(List.of(), SchemaTest.TV1);
        assertBreak(claimed, "sentinel_mismatch", null, null);
        assertFalse(claimed.sentinelMatches());
    }

    @Test
    void aChangedFieldIsModifiedAtItsPosition() {
        List<Row> rows = chain(24);
        rows.set(7, rows.get(7).withActor("mallory"));
        ChainWalker.Verdict verdict = walk(rows, head(rows));
        assertBreak(verdict, "modified", "r-007", 7, 24, true);
    }

    @Test
    void aRowHashThatIsNotHexIsModified() {
        List<Row> rows = chain(5);
        Row second = rows.get(1);
        rows.set(1, new Row(second.id(), second.actor(), second.time(), second.prev(), second.hash().toUpperCase()));
        assertBreak(walk(rows, head(rows)), "modified", "r-001", 1);
    }

    @Test
    void aDeletedMiddleRowLeavesAMissingPredecessor() {
        List<Row> rows = chain(24);
        rows.remove(10);
        ChainWalker.Verdict verdict = walk(rows, head(rows));
        assertBreak(verdict, "missing_predecessor", "r-011", 10, 23, true);
    }

    @Test
    void aDeletedGenesisRowLeavesNoGenesis() {
        List<Row> rows = chain(24);
        rows.remove(0);
        ChainWalker.Verdict verdict = walk(rows, head(rows));
        assertBreak(verdict, "no_genesis", "r-001", 0);
        assertEquals(23, verdict.walked());
    }

    @Test
    void deletedNewestRowsAreASentinelMismatch() {
        List<Row> rows = chain(24);
        String sentinel = head(rows);
        rows.subList(21, 24).clear();
        ChainWalker.Verdict verdict = walk(rows, sentinel);
        assertBreak(verdict, "sentinel_mismatch", "r-020", 20, 21, false);
    }

    @Test
    void aRewrittenSentinelIsASentinelMismatch() {
        List<Row> rows = chain(6);
        assertBreak(walk(rows, rows.get(3).hash()), "sentinel_mismatch", "r-005", 5);
    }

    @Test
    void aForgedRowClaimingAnExistingPredecessorIsAFork() {
        List<Row> rows = chain(24);
        Row forged = new Row("forged", "mallory", rows.get(10).time().plusSeconds(1), null, null)
                .relinked(rows.get(10).hash());
        rows.add(forged);
        ChainWalker.Verdict verdict = walk(rows, head(rows.subList(0, 24)));
        assertBreak(verdict, "fork", "forged", 11);
        assertEquals(24, verdict.walked());
    }

    @Test
    void aSecondGenesisRowIsMultipleGenesis() {
        List<Row> rows = chain(5);
        rows.add(0, new Row("second-genesis", "mallory", rows.get(0).time(), null, null).relinked(null));
        assertBreak(walk(rows, head(rows.subList(1, 6))), "multiple_genesis", "second-genesis", 0);
    }

    @Test
    void rowsOnlyLinkedToEachOtherAreOrphans() {
        List<Row> rows = chain(5);
        // Two rows that name each other as predecessor: reachable from nowhere.
        Row a = new Row("loop-a", "x", rows.get(0).time(), null, "a".repeat(64));
        Row b = new Row("loop-b", "x", rows.get(0).time(), "a".repeat(64), "b".repeat(64));
        rows.add(new Row(a.id(), a.actor(), a.time(), "b".repeat(64), a.hash()));
        rows.add(b);
        ChainWalker.Verdict verdict = walk(rows, head(rows.subList(0, 5)));
        assertBreak(verdict, "orphan", "loop-a", null);
        assertEquals(5, verdict.walked());
    }

    @Test
    void aConsistentlyRewrittenTailPassesWithoutAnAnchorAndFailsWithOne() {
        List<Row> original = chain(24);
        List<Row> rewritten = new ArrayList<>(original.subList(0, 20));
        String prev = rewritten.get(19).hash();
        for (Row row : original.subList(20, 24)) {
            Row forged = row.withActor("mallory").relinked(prev);
            rewritten.add(forged);
            prev = forged.hash();
        }
        assertEquals("clean", walk(rewritten, head(rewritten)).verdict());

        var anchor = new ChainWalker.Expectation(head(original), 24L);
        ChainWalker.Verdict verdict = walk(rewritten, head(rewritten), anchor);
        assertBreak(verdict, "expectation_mismatch", "r-023", 23);
        assertEquals(Boolean.FALSE, verdict.expectationsMet());
        assertBreak(walk(rewritten, head(rewritten), new ChainWalker.Expectation(head(original), null)),
                "expectation_mismatch", "r-023", 23);
    }

    @Test
    void anAnchorStillHoldsWhenTheChainHasGrownSince() {
        List<Row> rows = chain(30);
        var anchor = new ChainWalker.Expectation(rows.get(23).hash(), 24L);
        ChainWalker.Verdict verdict = walk(rows, head(rows), anchor);
        assertEquals("clean", verdict.verdict(), verdict.toString());
        assertEquals(Boolean.TRUE, verdict.expectationsMet());
    }

    @Test
    void fewerRowsThanExpectedIsAnExpectationMismatch() {
        List<Row> rows = chain(10);
        ChainWalker.Verdict verdict = walk(rows, head(rows), new ChainWalker.Expectation(null, 12L));
        assertBreak(verdict, "expectation_mismatch", "r-009", 9);
    }

    @Test
    void theEarliestBreakWinsAndLaterOnesDoNotHideIt() {
        List<Row> rows = chain(24);
        String sentinel = head(rows);
        rows.set(3, rows.get(3).withActor("mallory"));
        rows.remove(15);
        rows.remove(rows.size() - 1);
        assertBreak(walk(rows, sentinel), "modified", "r-003", 3);
    }

    @Test
    void ambiguousRowsAreCountedButStayClean() {
        List<Row> rows = new ArrayList<>();
        Row first = new Row("p-0", "alice|bob", OffsetDateTime.parse("2026-05-16T12:00:00Z"), null, null).relinked(null);
        rows.add(first);
        rows.add(new Row("p-1", "carol", first.time(), null, null).relinked(first.hash()));
        ChainWalker.Verdict verdict = walk(rows, head(rows));
        assertEquals("clean", verdict.verdict());
        assertEquals(1, verdict.ambiguousRows());
        assertNull(verdict.breakKind());
    }

    // ------------------------------------------------------------ rows out of link order

    @Test
    void rowsInLinkOrderAreWalkedInOneRead() {
        List<Row> rows = chain(1000);
        ListSource source = new ListSource(rows);
        assertEquals(new ChainWalker.Verdict(1000, "clean", null, null, null, true, 0, null),
                walk(source, head(rows), ChainWalker.Expectation.NONE));
        assertEquals(1, source.reads, "a chain arriving in link order is not read again");
    }

    /** The chain's rows from..to (exclusive) for each pair of bounds, in the order given. */
    private static List<Row> runs(List<Row> chain, int... bounds) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < bounds.length; i += 2) {
            rows.addAll(chain.subList(bounds[i], bounds[i + 1]));
        }
        return rows;
    }

    /** A walker that has been given the rows, not yet judged. */
    private static ChainWalker fed(List<Row> rows, String sentinel) {
        ChainWalker walker = new ChainWalker(sentinel, ChainWalker.Expectation.NONE);
        new ListSource(rows).stream(true, walker::add);
        return walker;
    }

    /** A clean chain's rows stored as runs: they stitch, and the walk judges them clean in one read. */
    private static ChainWalker assertStitchedInOneRead(List<Row> chain, List<Row> rows) {
        ChainWalker walker = fed(rows, head(chain));
        assertTrue(walker.isOneChainInRuns());
        ListSource source = new ListSource(rows);
        assertEquals(new ChainWalker.Verdict(chain.size(), "clean", null, null, null, true, 0, null),
                walk(source, head(chain), ChainWalker.Expectation.NONE));
        assertEquals(1, source.reads, "runs that stitch into one chain are not read again");
        return walker;
    }

    @Test
    void cleanRunsStoredOutOfOrderAreStitchedWithoutASecondRead() {
        // A heap filled in three runs out of chain order (a spare page filled late): the runs' ends join them.
        List<Row> chain = chain(1000);
        List<Row> rows = runs(chain, 0, 400, 700, 1000, 400, 700);
        assertTrue(assertStitchedInOneRead(chain, rows).mayBeOneChainInRuns());
        // The anchor's head at position 549 (in the last run read) and a wrong sentinel: still one read.
        ListSource again = new ListSource(rows);
        assertBreak(walk(again, chain.get(10).hash(), new ChainWalker.Expectation(chain.get(549).hash(), 550L)),
                "sentinel_mismatch", "r-999", 999);
        assertEquals(1, again.reads);
    }

    @Test
    void runsThatDoNotJoinIntoOneChainAreResolvedByReadingAgain() {
        // A gap (row 500 deleted) and a fork (a copy of row 300 linking to 299's hash) stop the stitching.
        List<Row> chain = chain(1000);
        List<Row> gap = runs(chain, 0, 400, 700, 1000, 400, 500, 501, 700);
        ChainWalker walker = fed(gap, head(chain));
        assertTrue(walker.mayBeOneChainInRuns());
        assertFalse(walker.isOneChainInRuns());
        ListSource source = new ListSource(gap);
        assertBreak(walk(source, head(chain), ChainWalker.Expectation.NONE), "missing_predecessor", "r-501", 500);
        assertTrue(source.reads > 1);
        List<Row> fork = new ArrayList<>(chain);
        fork.add(new Row("forged", "mallory", chain.get(300).time(), null, null).relinked(chain.get(299).hash()));
        assertBreak(walk(fork, head(chain)), "fork", "forged", 300);
    }

    /** The chain cut into runs of runLength rows, the runs in reverse order: one segment a run. */
    private static List<Row> runsReversed(List<Row> chain, int runLength) {
        List<Row> rows = new ArrayList<>();
        for (int start = chain.size() - runLength; start >= 0; start -= runLength) {
            rows.addAll(chain.subList(start, start + runLength));
        }
        return rows;
    }

    @Test
    void runsThatStitchKeepTheirHeadsOnTheHeapPastThePendingHashes() {
        // 2,000 runs: more heads than PENDING_HASHES, fewer than STITCHED_RUNS. The
        // runs' ends join them, so no head goes to a temporary file (review of
        // issue 20: they were written there and never read).
        List<Row> chain = chain(4000);
        assertFalse(assertStitchedInOneRead(chain, runsReversed(chain, 2)).keptHeadsInAFile());
    }

    @Test
    void runsBeyondTheStitchedOnesMoveTheirHeadsToTheIndexAndAgreeWithTheInMemoryWalk() {
        // 6,000 runs (past STITCHED_RUNS): the kept heads join the index, and a break after
        // the 5,000th head is found where a walk over every row in memory finds it.
        int runs = ChainWalker.STITCHED_RUNS + 1000;
        List<Row> chain = chain(2 * runs);
        String head = head(chain);
        List<Row> clean = runsReversed(chain, 2);
        ChainWalker walker = fed(clean, head);
        assertFalse(walker.mayBeOneChainInRuns());
        assertTrue(walker.keptHeadsInAFile(), "past STITCHED_RUNS the heads are the index's, spilled as before");
        walker.discard();
        assertEquals(new ChainWalker.Verdict(2 * runs, "clean", null, null, null, true, 0, null), walk(clean, head));
        List<Row> gap = new ArrayList<>(clean);
        gap.remove(2 * (runs - 1) - 1);     // the second row of the run holding positions 2 and 3
        assertEquals(reference(gap, head, ChainWalker.Expectation.NONE), walk(gap, head));
        assertBreak(walk(gap, head), "missing_predecessor", "r-004", 3);
        List<Row> forked = new ArrayList<>(clean);
        forked.add(new Row("forged", "mallory", chain.get(10).time(), null, null).relinked(chain.get(10).hash()));
        assertEquals(reference(forked, head, ChainWalker.Expectation.NONE), walk(forked, head));
        assertBreak(walk(forked, head), "fork", "forged", 11);
    }

    /** The rows with each prev_hash a String of its own, as a source that does not share the last row_hash's gives them. */
    private static List<Row> withOwnPrevStrings(List<Row> rows) {
        return rows.stream().map(row -> new Row(row.id(), row.actor(), row.time(),
                row.prev() == null ? null : new String(row.prev().toCharArray()), row.hash())).toList();
    }

    @Test
    void aPrevHashSharingTheLastRowHashsStringIsJudgedAsAnEqualOne() {
        // CopyRows hands on one String for a row_hash and the next row's equal prev_hash, and the
        // walker then takes the hash it parsed already: the verdicts are those of Strings of their own.
        List<Row> chain = chain(50);
        String head = head(chain);
        List<Row> modified = new ArrayList<>(chain);
        modified.set(20, chain.get(20).withActor("mallory"));
        List<Row> gap = new ArrayList<>(chain);
        gap.remove(30);
        List<Row> forked = new ArrayList<>(chain);
        forked.add(26, new Row("forged", "mallory", chain.get(25).time(), null, null).relinked(chain.get(25).hash()));
        List<Row> unlinkable = new ArrayList<>(chain);
        unlinkable.set(10, new Row("r-010", "actor", chain.get(10).time(), chain.get(10).prev(), "zz".repeat(32)));
        unlinkable.set(11, new Row("r-011", "actor", chain.get(11).time(), "zz".repeat(32), chain.get(11).hash()));
        for (List<Row> rows : List.of(chain, modified, gap, forked, unlinkable)) {
            assertEquals(walk(withOwnPrevStrings(rows), head), walk(rows, head));
            assertEquals(reference(rows, head, ChainWalker.Expectation.NONE), walk(rows, head));
        }
        assertBreak(walk(modified, head), "modified", "r-020", 20);
        assertBreak(walk(gap, head), "missing_predecessor", "r-031", 30);
        assertBreak(walk(forked, head), "fork", "forged", 26);
        assertBreak(walk(unlinkable, head), "modified", "r-010", 10);
    }

    @Test
    void anUpdatedRowThatMovedToTheEndIsStillModifiedAtItsChainPosition() {
        // An UPDATE writes a new row version at the end of the table, so a
        // sequential scan returns the tampered row last.
        List<Row> rows = chain(30);
        Row tampered = rows.remove(12).withActor("mallory");
        rows.add(tampered);
        ListSource source = new ListSource(rows);
        assertBreak(walk(source, head(chain(30)), ChainWalker.Expectation.NONE), "modified", "r-012", 12);
        assertTrue(source.reads > 1, "out-of-order rows are resolved by reading again");
    }

    @Test
    void aChainStoredInReverseIsCleanAndAForkInItIsFound() {
        List<Row> rows = chain(40);
        String head = head(rows);
        Row forged = new Row("forged", "mallory", rows.get(20).time(), null, null).relinked(rows.get(20).hash());
        Collections.reverse(rows);
        assertEquals("clean", walk(rows, head).verdict());
        rows.add(7, forged);
        assertBreak(walk(rows, head), "fork", "forged", 21);
    }

    @Test
    void aRowRepeatingAnEarlierRowsHashSplitsTheChainAsAnIndexWould() {
        // Rows 0-9, then an exact copy of rows 3-5 (same hashes): row 4's copy
        // links to the first row with its predecessor's hash, as the index did.
        List<Row> rows = chain(10);
        rows.addAll(List.copyOf(rows.subList(3, 6)));
        ChainWalker.Verdict verdict = walk(rows, head(rows.subList(0, 10)));
        assertEquals(reference(rows, head(rows.subList(0, 10)), ChainWalker.Expectation.NONE), verdict);
        assertBreak(verdict, "fork", "r-003", 3);
    }

    /**
     * The streaming walk against the walk that kept every row in memory, on
     * thousands of small chains tampered at random and stored in a shuffled,
     * reversed or partly reordered order: every field of every verdict agrees.
     */
    @Test
    void theStreamingWalkAgreesWithTheInMemoryWalkOnRandomTampering() {
        Random random = new Random(20261130);
        for (int trial = 0; trial < 10000; trial++) {
            Trial drawn = Trial.draw(random);
            List<Row> rows = drawn.rows();
            String sentinel = drawn.sentinel();
            ChainWalker.Expectation expectation = drawn.expectation();
            ChainWalker.Verdict expected = reference(rows, sentinel, expectation);
            ChainWalker.Verdict actual = walk(rows, sentinel, expectation);
            assertEquals(expected, actual, "trial " + trial + ": " + rows.stream().map(row -> row.id() + "/"
                    + (row.prev() == null ? "-" : row.prev().substring(0, 2)) + ">" + row.hash().substring(0, 2)
                    + (row.hash().equals(AuditRow.sha256Hex(row.payload())) ? "" : "*")).toList()
                    + " sentinel " + sentinel.substring(0, Math.min(2, sentinel.length())) + " " + expectation);
        }
    }

    /**
     * The same trials with a fingerprint every hash shares and two hashes
     * on the heap: every head is told apart from the others by its full
     * hash, read back from the temporary file, and nothing else changes.
     */
    @Test
    void theWalkAgreesWithTheInMemoryWalkWhenEveryFingerprintCollides() {
        Random random = new Random(20261205);
        for (int trial = 0; trial < 2500; trial++) {
            Trial drawn = Trial.draw(random);
            assertEquals(reference(drawn.rows(), drawn.sentinel(), drawn.expectation()),
                    walk(new ListSource(drawn.rows()),
                            new ChainWalker(drawn.sentinel(), drawn.expectation(), hash -> 7, 2)),
                    "trial " + trial);
        }
    }

    /** One random trial: a small chain tampered up to three times, reordered, with a sentinel and an expectation. */
    private record Trial(List<Row> rows, String sentinel, ChainWalker.Expectation expectation) {
        static Trial draw(Random random) {
            List<Row> original = chain(random.nextInt(25));
            List<Row> rows = new ArrayList<>(original);
            int tamperings = random.nextInt(4);
            for (int t = 0; t < tamperings && !rows.isEmpty(); t++) {
                tamperAtRandom(rows, random);
            }
            reorderAtRandom(rows, random);
            return new Trial(rows, randomSentinel(original, rows, random), randomExpectation(original, random));
        }
    }

    /**
     * Long chains whose rows arrive wholly against their links (reversed, a
     * random permutation, every other row first), with forks, gaps, changed
     * rows and repeated hashes inside: more segment heads than the walk keeps
     * on the heap, so their hashes go through the temporary file.
     */
    @Test
    void longChainsInAdversarialOrdersAgreeWithTheInMemoryWalk() {
        int n = 3 * ChainWalker.PENDING_HASHES;
        List<Row> original = chain(n);
        String head = head(original);
        Random random = new Random(5);
        for (int order = 0; order < 3; order++) {
            for (int tampering = 0; tampering < 5; tampering++) {
                List<Row> rows = new ArrayList<>(original);
                switch (tampering) {
                    case 1 -> rows.add(new Row("forged", "mallory", rows.get(2000).time(), null, null)
                            .relinked(rows.get(2000).hash()));
                    case 2 -> rows.remove(1234);
                    case 3 -> rows.set(2500, rows.get(2500).withActor("mallory"));
                    case 4 -> rows.addAll(List.copyOf(rows.subList(100, 110)));
                    default -> { } // clean
                }
                switch (order) {
                    case 0 -> Collections.reverse(rows);
                    case 1 -> Collections.shuffle(rows, random);
                    default -> {
                        List<Row> odd = new ArrayList<>();
                        List<Row> even = new ArrayList<>();
                        for (int i = 0; i < rows.size(); i++) {
                            (i % 2 == 0 ? even : odd).add(rows.get(i));
                        }
                        rows = odd;
                        rows.addAll(even);
                    }
                }
                ChainWalker.Verdict verdict = walk(rows, head);
                assertEquals(reference(rows, head, ChainWalker.Expectation.NONE), verdict,
                        "order " + order + ", tampering " + tampering);
                switch (tampering) {
                    case 0 -> assertEquals(new ChainWalker.Verdict(n, "clean", null, null, null, true, 0, null), verdict);
                    case 1 -> assertBreak(verdict, "fork", "forged", 2001);
                    case 2 -> assertBreak(verdict, "missing_predecessor", "r-1235", 1234);
                    case 3 -> assertBreak(verdict, "modified", "r-2500", 2500);
                    default -> assertEquals("broken", verdict.verdict());
                }
            }
        }
    }

    private static void tamperAtRandom(List<Row> rows, Random random) {
        int at = random.nextInt(rows.size());
        Row row = rows.get(at);
        switch (random.nextInt(9)) {
            case 0 -> rows.set(at, row.withActor("mallory"));
            case 1 -> rows.remove(at);
            case 2 -> rows.add(random.nextInt(rows.size() + 1),
                    new Row("forged-" + at, "mallory", row.time(), null, null).relinked(row.hash()));
            case 3 -> rows.add(random.nextInt(rows.size() + 1), row);
            case 4 -> rows.set(at, new Row(row.id(), row.actor(), row.time(), row.prev(),
                    rows.get(random.nextInt(rows.size())).hash()));
            case 5 -> rows.set(at, new Row(row.id(), row.actor(), row.time(), row.prev(), row.hash().toUpperCase()));
            case 6 -> rows.set(at, new Row(row.id(), row.actor(), row.time(), "zz", row.hash()));
            case 7 -> rows.add(random.nextInt(rows.size() + 1),
                    new Row("genesis-" + at, "mallory", row.time(), null, null).relinked(null));
            default -> rows.set(at, row.relinked(rows.get(random.nextInt(rows.size())).hash()));
        }
    }

    private static void reorderAtRandom(List<Row> rows, Random random) {
        switch (random.nextInt(5)) {
            case 0 -> Collections.shuffle(rows, random);
            case 1 -> Collections.reverse(rows);
            case 2 -> {
                if (!rows.isEmpty()) {
                    rows.add(rows.remove(random.nextInt(rows.size())));
                }
            }
            case 3 -> Collections.rotate(rows, rows.isEmpty() ? 0 : random.nextInt(rows.size()));
            default -> { } // link order
        }
    }

    private static String randomSentinel(List<Row> original, List<Row> rows, Random random) {
        return switch (random.nextInt(4)) {
            case 0 -> rows.isEmpty() ? "" : rows.get(random.nextInt(rows.size())).hash();
            case 1 -> "";
            case 2 -> "f".repeat(64);
            default -> original.isEmpty() ? "" : head(original);
        };
    }

    private static ChainWalker.Expectation randomExpectation(List<Row> original, Random random) {
        if (original.isEmpty() || random.nextInt(3) == 0) {
            return ChainWalker.Expectation.NONE;
        }
        int at = random.nextInt(original.size());
        return switch (random.nextInt(3)) {
            case 0 -> new ChainWalker.Expectation(original.get(at).hash(), (long) at + 1);
            case 1 -> new ChainWalker.Expectation(original.get(at).hash(), null);
            default -> new ChainWalker.Expectation(null, (long) at + random.nextInt(3));
        };
    }

    /**
     * The walk as it was before it streamed (every row in memory, an index over
     * all hashes): the oracle the streaming walk must agree with exactly.
     */
    static final class Reference {
        private static final java.util.HexFormat HEX = java.util.HexFormat.of();

        private static final int HASH_BYTES = 32;
        private static final byte GENESIS = 1;          // prev_hash is NULL
        private static final byte UNLINKABLE_PREV = 2;  // prev_hash is not a hash any row could have
        private static final byte MODIFIED_ROW = 4;     // recomputed hash differs from row_hash
        private static final byte UNLINKABLE_ROW = 8;   // row_hash is not 64 lowercase hex digits

        private int rows;
        private byte[] rowHashes;
        private byte[] prevHashes;
        private byte[] flags;
        private byte[] idBytes;
        private int[] idEnds;
        private int idLength;
        private int ambiguousRows;

        /** expectedRows sizes the arrays up front; more rows still fit. */
        Reference(int expectedRows) {
            int capacity = Math.max(16, expectedRows);
            rowHashes = new byte[capacity * HASH_BYTES];
            prevHashes = new byte[capacity * HASH_BYTES];
            flags = new byte[capacity];
            idEnds = new int[capacity];
            idBytes = new byte[capacity * 20];
        }

        /**
         * One row as stored, with the hash recomputed from its fields (null when
         * it cannot be: the row counts as modified). Rows may come in any order:
         * the walk orders them by their links.
         */
        void add(String id, String prevHash, String rowHash, byte[] recomputedHash, boolean ambiguous) {
            ensureCapacity(rows + 1);
            byte flag = 0;
            if (prevHash == null) {
                flag |= GENESIS;
            } else if (!parseHash(prevHash, prevHashes, rows)) {
                flag |= UNLINKABLE_PREV;
            }
            if (!parseHash(rowHash, rowHashes, rows)) {
                flag |= UNLINKABLE_ROW | MODIFIED_ROW;
            } else if (recomputedHash == null
                    || !Arrays.equals(rowHashes, rows * HASH_BYTES, (rows + 1) * HASH_BYTES, recomputedHash, 0, HASH_BYTES)) {
                flag |= MODIFIED_ROW;
            }
            flags[rows] = flag;
            appendId(id);
            if (ambiguous) {
                ambiguousRows++;
            }
            rows++;
        }

        /** Parses 64 lowercase hex digits into the slot; anything else is not a hash the trigger writes. */
        private static boolean parseHash(String text, byte[] into, int slot) {
            if (text == null || text.length() != HASH_BYTES * 2) {
                return false;
            }
            for (int i = 0; i < HASH_BYTES; i++) {
                int high = lowerHexDigit(text.charAt(2 * i));
                int low = lowerHexDigit(text.charAt(2 * i + 1));
                if (high < 0 || low < 0) {
                    return false;
                }
                into[slot * HASH_BYTES + i] = (byte) (high << 4 | low);
            }
            return true;
        }

        private static int lowerHexDigit(char c) {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        }

        private void appendId(String id) {
            byte[] bytes = id.getBytes(StandardCharsets.UTF_8);
            if (idLength + bytes.length > idBytes.length) {
                idBytes = Arrays.copyOf(idBytes, Math.max(idBytes.length * 2, idLength + bytes.length));
            }
            System.arraycopy(bytes, 0, idBytes, idLength, bytes.length);
            idLength += bytes.length;
            idEnds[rows] = idLength;
        }

        private String id(int row) {
            int start = row == 0 ? 0 : idEnds[row - 1];
            return new String(idBytes, start, idEnds[row] - start, StandardCharsets.UTF_8);
        }

        private void ensureCapacity(int needed) {
            if (needed <= flags.length) {
                return;
            }
            int capacity = Math.max(needed, flags.length * 2);
            rowHashes = Arrays.copyOf(rowHashes, capacity * HASH_BYTES);
            prevHashes = Arrays.copyOf(prevHashes, capacity * HASH_BYTES);
            flags = Arrays.copyOf(flags, capacity);
            idEnds = Arrays.copyOf(idEnds, capacity);
        }

        private boolean has(int row, byte flag) {
            return (flags[row] & flag) != 0;
        }

        // ------------------------------------------------------------ the walk

        /** The walk's state: links resolved once, then followed from the genesis row. */
        private final class Walk {
            final int[] predecessor = new int[rows];   // row index, or -1 (genesis or names no row)
            final int[] firstChild = new int[rows];
            final int[] nextSibling = new int[rows];
            final BitSet leadsToSentinel = new BitSet(rows);
            final BitSet visited = new BitSet(rows);
            final int[] order = new int[rows];          // order[position] = row
            int walked;
            int last = -1;
            String kind;
            int breakRow = -1;
            Integer breakPosition;

            Walk(HashIndex index, int sentinelRow) {
                Arrays.fill(firstChild, -1);
                Arrays.fill(nextSibling, -1);
                // Children are linked in reverse so each list ends up in table order.
                for (int row = rows - 1; row >= 0; row--) {
                    predecessor[row] = has(row, GENESIS) || has(row, UNLINKABLE_PREV) ? -1 : index.find(prevHashes, row);
                    if (predecessor[row] >= 0) {
                        nextSibling[row] = firstChild[predecessor[row]];
                        firstChild[predecessor[row]] = row;
                    }
                }
                for (int row = sentinelRow, steps = 0; row >= 0 && steps < rows; row = predecessor[row], steps++) {
                    leadsToSentinel.set(row);
                }
            }

            void breakAt(String breakKind, int row, Integer position) {
                if (kind == null) {
                    kind = breakKind;
                    breakRow = row;
                    breakPosition = position;
                }
            }

            /** The first row: a genesis row (a second one is a break), else a row whose prev_hash names no row. */
            int start() {
                int[] genesisRows = unvisitedSentinelSideFirst(row -> has(row, GENESIS));
                if (genesisRows.length > 1) {
                    breakAt(ChainWalker.MULTIPLE_GENESIS, genesisRows[1], 0);
                }
                if (genesisRows.length > 0) {
                    return genesisRows[0];
                }
                int[] heads = unvisitedSentinelSideFirst(row -> predecessor[row] < 0); // none in a cycle
                if (rows > 0) {
                    breakAt(ChainWalker.NO_GENESIS, heads.length > 0 ? heads[0] : 0, 0);
                }
                return heads.length > 0 ? heads[0] : -1;
            }

            /**
             * Follows the links from the start. Across a gap (a row whose prev_hash
             * names no row) it carries on from the row after the gap, the one on
             * the way to the sentinel first, so positions stay those of the chain.
             */
            void run() {
                followLinks(start());
                for (int row : gapHeadsSentinelSideFirst()) {
                    if (!visited.get(row)) {
                        breakAt(ChainWalker.MISSING_PREDECESSOR, row, walked);
                        followLinks(row);
                    }
                }
                if (visited.cardinality() < rows) {
                    breakAt(ChainWalker.ORPHAN, visited.nextClearBit(0), null);
                }
            }

            private int[] gapHeadsSentinelSideFirst() {
                return unvisitedSentinelSideFirst(row -> predecessor[row] < 0 && !has(row, GENESIS));
            }

            /** The rows not walked yet that pass TEST: those on the way to the sentinel first, each part in table order. */
            private int[] unvisitedSentinelSideFirst(IntPredicate test) {
                return IntStream.range(0, rows)
                        .filter(row -> !visited.get(row) && test.test(row))
                        .boxed()
                        .sorted(Comparator.comparing(row -> !leadsToSentinel.get(row)))
                        .mapToInt(Integer::intValue)
                        .toArray();
            }

            private void followLinks(int row) {
                while (row >= 0 && !visited.get(row)) {
                    visited.set(row);
                    order[walked] = row;
                    if (has(row, MODIFIED_ROW)) {
                        breakAt(ChainWalker.MODIFIED, row, walked);
                    }
                    int next = -1;
                    for (int child = firstChild[row]; child >= 0; child = nextSibling[child]) {
                        if (next < 0 || (leadsToSentinel.get(child) && !leadsToSentinel.get(next))) {
                            next = child;
                        }
                    }
                    for (int child = firstChild[row]; child >= 0; child = nextSibling[child]) {
                        if (child != next) {
                            breakAt(ChainWalker.FORK, child, walked + 1);
                            break;
                        }
                    }
                    last = row;
                    walked++;
                    row = next;
                }
            }

            boolean hashEquals(int row, String hex) {
                return !has(row, UNLINKABLE_ROW) && HEX.formatHex(rowHashes, row * HASH_BYTES, (row + 1) * HASH_BYTES).equals(hex);
            }
        }

        /**
         * Walks the chain and judges it against the sentinel (the head the
         * database claims) and, when given, values recorded outside the database.
         */
        ChainWalker.Verdict verdict(String sentinel, ChainWalker.Expectation expectation) {
            HashIndex index = new HashIndex(rowHashes, rows, row -> !has(row, UNLINKABLE_ROW));
            byte[] sentinelBytes = new byte[HASH_BYTES];
            int sentinelRow = parseHash(sentinel, sentinelBytes, 0) ? index.find(sentinelBytes, 0) : -1;
            Walk walk = new Walk(index, sentinelRow);
            walk.run();
            boolean sentinelMatches = walk.last < 0 ? "".equals(sentinel) : walk.hashEquals(walk.last, sentinel);
            if (!sentinelMatches) {
                walk.breakAt(ChainWalker.SENTINEL_MISMATCH, walk.last, walk.last < 0 ? null : walk.walked - 1);
            }
            Boolean expectationsMet = null;
            if (expectation.isGiven()) {
                int anchorPosition = anchorPosition(walk, expectation);
                expectationsMet = anchorPosition < 0;
                if (anchorPosition >= 0) {
                    int row = anchorPosition < walk.walked ? walk.order[anchorPosition] : walk.last;
                    walk.breakAt(ChainWalker.EXPECTATION_MISMATCH, row, row < 0 ? null : Math.min(anchorPosition, walk.walked - 1));
                }
            }
            boolean broken = walk.kind != null;
            return new ChainWalker.Verdict(walk.walked, broken ? ChainWalker.BROKEN : ChainWalker.CLEAN,
                    broken && walk.breakRow >= 0 ? id(walk.breakRow) : null,
                    broken ? walk.breakPosition : null,
                    walk.kind, sentinelMatches, ambiguousRows, expectationsMet);
        }

        /**
         * The anchor is the chain as it was recorded: its head hash at position
         * rows-1. A chain that has grown since still holds it there; a chain whose
         * tail was rewritten (even consistently, sentinel included) does not.
         * Returns the position where the expectation fails, or -1 when it holds.
         */
        private static int anchorPosition(Walk walk, ChainWalker.Expectation expectation) {
            if (expectation.rows() != null) {
                long expectedRows = expectation.rows();
                if (expectedRows > walk.walked) {
                    return walk.walked;
                }
                if (expectedRows == 0) {
                    return expectation.head() == null || expectation.head().isEmpty() ? -1 : 0;
                }
                int position = (int) expectedRows - 1;
                boolean holds = expectation.head() == null || walk.hashEquals(walk.order[position], expectation.head());
                return holds ? -1 : position;
            }
            if (expectation.head().isEmpty()) {
                return -1;
            }
            for (int position = 0; position < walk.walked; position++) {
                if (walk.hashEquals(walk.order[position], expectation.head())) {
                    return -1;
                }
            }
            return Math.max(0, walk.walked - 1);
        }

        /** Open addressing from a row's 32-byte hash to its index; the first of equal hashes wins. */
        private static final class HashIndex {
            private final byte[] hashes;
            private final int[] slots;
            private final int mask;

            HashIndex(byte[] hashes, int rows, IntPredicate include) {
                this.hashes = hashes;
                int size = Integer.highestOneBit(Math.max(4, rows * 2 - 1)) << 1;
                this.slots = new int[size];
                this.mask = size - 1;
                for (int row = 0; row < rows; row++) {
                    if (include.test(row) && find(hashes, row) < 0) {
                        slots[freeSlot(hashes, row)] = row + 1;
                    }
                }
            }

            /** The row whose hash equals the hash at slot `at` of `source`, or -1. */
            int find(byte[] source, int at) {
                for (int slot = start(source, at); slots[slot] != 0; slot = (slot + 1) & mask) {
                    int row = slots[slot] - 1;
                    if (Arrays.equals(hashes, row * HASH_BYTES, (row + 1) * HASH_BYTES,
                            source, at * HASH_BYTES, (at + 1) * HASH_BYTES)) {
                        return row;
                    }
                }
                return -1;
            }

            private int freeSlot(byte[] source, int at) {
                int slot = start(source, at);
                while (slots[slot] != 0) {
                    slot = (slot + 1) & mask;
                }
                return slot;
            }

            /** SHA-256 output is already uniform: its first four bytes make a good slot. */
            private int start(byte[] source, int at) {
                int offset = at * HASH_BYTES;
                int bits = (source[offset] & 0xff) << 24 | (source[offset + 1] & 0xff) << 16
                        | (source[offset + 2] & 0xff) << 8 | (source[offset + 3] & 0xff);
                return bits & mask;
            }
        }
    }
}
