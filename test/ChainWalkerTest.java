// The pure logic of client-side verification: the canonical payload against
// the SPEC test vectors, and the link walk against every kind of break,
// on chains built in memory.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
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
        assertEquals("0044-03-15T12:00:00.000000Z", AuditRow.utcMicrosFromIsoText("0044-03-15 12:00:00+00 BC"));
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

    static ChainWalker.Verdict walk(List<Row> rows, String sentinel, ChainWalker.Expectation expectation) {
        ChainWalker walker = new ChainWalker(rows.size());
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
        assertBreak(verdict, "modified", "r-007", 7);
        assertEquals(24, verdict.walked());
        assertTrue(verdict.sentinelMatches());
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
        assertBreak(verdict, "missing_predecessor", "r-011", 10);
        assertEquals(23, verdict.walked());
        assertTrue(verdict.sentinelMatches());
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
        assertBreak(verdict, "sentinel_mismatch", "r-020", 20);
        assertFalse(verdict.sentinelMatches());
        assertEquals(21, verdict.walked());
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
}
