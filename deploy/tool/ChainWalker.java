// Client-side verification of the hash chain (SPEC section 9.2), as pure
// logic: a walk that follows the chain by its links (genesis row first, then
// the row whose prev_hash is the current row_hash) instead of trusting
// timestamps, ids or the server's verifier. The canonical payload each row's
// hash is recomputed from is AuditRow.java.
//
// Memory stays flat whatever the row count: rows arrive as a stream (usually
// already in link order) and are checked against the row before them; only
// runs of rows that do not follow each other ("segments") are remembered, in
// parallel arrays of a few ints each, and finding what a segment's head links
// to reads the rows again (FirstRowIndex, whose hashes wait in a temporary
// file: HashSpill).

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

final class ChainWalker {

    // ------------------------------------------------------------ verdict

    static final String CLEAN = "clean";
    static final String BROKEN = "broken";

    /** The break kinds of SPEC section 9.2. */
    static final String MODIFIED = "modified";
    static final String MISSING_PREDECESSOR = "missing_predecessor";
    static final String FORK = "fork";
    static final String ORPHAN = "orphan";
    static final String MULTIPLE_GENESIS = "multiple_genesis";
    static final String NO_GENESIS = "no_genesis";
    static final String SENTINEL_MISMATCH = "sentinel_mismatch";
    static final String EXPECTATION_MISMATCH = "expectation_mismatch";

    /**
     * Values recorded outside the database (SPEC section 9.3); null means not
     * given. exact (--expect-exact): the chain holds exactly these rows, the
     * expected head its last, not a chain that grew since.
     */
    record Expectation(String head, Long rows, boolean exact) {
        static final Expectation NONE = new Expectation(null, null);

        Expectation(String head, Long rows) {
            this(head, rows, false);
        }

        boolean isGiven() {
            return head != null || rows != null;
        }
    }

    /** What the walk found; firstBreak* and breakKind are null when clean. */
    record Verdict(int walked, String verdict, String firstBreakId, Integer firstBreakPos, String breakKind,
                   boolean sentinelMatches, int ambiguousRows, Boolean expectationsMet) {
        boolean isBroken() {
            return BROKEN.equals(verdict);
        }
    }

    // ------------------------------------------------------------ rows

    /**
     * The same rows again, in the same order, for the extra passes a walk
     * needs when rows arrive out of link order (see verdict). A source reads
     * them from the same database snapshot, so they are the same rows.
     */
    interface RowSource {
        /** Calls the sink once per row, in order; recomputedHash is null unless rehash is true. */
        void stream(boolean rehash, RowSink sink) throws Failure;
    }

    /** One row as stored, with the hash recomputed from its fields (null when it cannot be). */
    interface RowSink {
        void row(String id, String prevHash, String rowHash, byte[] recomputedHash, boolean ambiguous);
    }

    private static final int HASH_BYTES = 32;
    private static final byte GENESIS = 1;          // prev_hash is NULL
    private static final byte UNLINKABLE_PREV = 2;  // prev_hash is not a hash any row could have
    private static final byte MODIFIED_ROW = 4;     // recomputed hash differs from row_hash
    private static final byte UNLINKABLE_ROW = 8;   // row_hash is not 64 lowercase hex digits
    private static final byte HEAD_FLAGS = GENESIS | UNLINKABLE_PREV;

    /** Hashes of segment heads kept on the heap before they go to a temporary file (32 KiB). */
    static final int PENDING_HASHES = 1024;
    /** Ids of segment ends and first modified rows kept for the report, so a break there needs no extra read. */
    private static final int KNOWN_IDS = 256;
    /**
     * Segments whose ends (head's prev_hash, tail's row_hash) are kept so
     * that clean runs can be stitched into one chain without a second read:
     * 10,000 end rows, the bound migration 000014 gives the server's verifier.
     */
    static final int STITCHED_RUNS = 5000;
    private static final int RUN_END_BYTES = 2 * HASH_BYTES;

    private final String sentinel;
    private final Expectation expectation;
    private final FirstRowIndex.Fingerprint fingerprint;   // null: a randomly seeded one, made when first needed
    private final int pendingHashes;
    /**
     * Runs of consecutive rows in which each row links to the one before it
     * ("segments"), in arrival order; together they hold every row. By
     * segment: its first row and its head's flags; for the few segments
     * holding a modified row, the offset of the first.
     */
    private final IntList segmentStarts = new IntList();
    private final IntList headFlags = new IntList();
    private final IntList modifiedSegments = new IntList();
    private final IntList modifiedOffsets = new IntList();
    /**
     * Each segment's head's prev_hash (null when it names no row), numbered
     * by segment; null while runEnds still holds them (a walk whose runs
     * stitch never needs it, and with more than PENDING_HASHES heads it
     * would write them to a temporary file).
     */
    private FirstRowIndex headLinks;
    /** Rows (arrival order) whose row_hash is the sentinel, and the expected head: almost always one or none. */
    private final IntList sentinelRows = new IntList();
    private final IntList expectedHeadRows = new IntList();
    /** By segment while there are at most STITCHED_RUNS: its head's prev_hash, then its tail's row_hash (the last one's is lastHash). */
    private byte[] runEnds = new byte[4 * RUN_END_BYTES];
    private boolean runEndsDropped;
    /** Heads that are genesis rows, and heads whose prev_hash names no row: a stitched chain has one and none. */
    private int genesisHeads;
    private int unlinkableHeads;
    /** The row each segment's head links to when the runs stitch into one chain (see stitched); null when not (yet) known. */
    private int[] stitched;
    private boolean stitchTried;
    /** Ids of the first segments' heads, tails and first modified rows, ascending by row; the last row's id. */
    private final IntList knownIdRows = new IntList();
    private final String[] knownIds = new String[KNOWN_IDS];
    private String lastId;
    private int rows;
    private int ambiguousRows;
    private byte[] lastHash = new byte[HASH_BYTES];
    private byte[] hash = new byte[HASH_BYTES];
    private final byte[] prev = new byte[HASH_BYTES];
    private boolean lastLinkable;
    /** The last row's row_hash as given: a prev_hash that is the same String needs no parsing (see add). */
    private String lastRowHash;

    /**
     * A walk judged against the sentinel (the head the database claims) and,
     * when given, values recorded outside the database. Both are known before
     * the rows arrive, so the rows themselves need not be kept.
     */
    ChainWalker(String sentinel, Expectation expectation) {
        this(sentinel, expectation, null, PENDING_HASHES);
    }

    /** For tests: a chosen fingerprint (one that collides, say) and how many hashes stay on the heap. */
    ChainWalker(String sentinel, Expectation expectation, FirstRowIndex.Fingerprint fingerprint, int pendingHashes) {
        this.sentinel = sentinel;
        this.expectation = expectation;
        this.fingerprint = fingerprint;
        this.pendingHashes = pendingHashes;
    }

    /**
     * One row as stored, in the order the rows arrive, with the hash
     * recomputed from its fields (null when it cannot be: the row counts as
     * modified). A row that links to the row before it extends that row's
     * segment, which costs nothing; any other row starts a segment.
     */
    void add(String id, String prevHash, String rowHash, byte[] recomputedHash, boolean ambiguous) {
        byte flags = prevHash != null && prevHash == lastRowHash && lastLinkable
                ? followerFlags(rowHash, recomputedHash)
                : flagsOf(prevHash, rowHash, recomputedHash, prev, hash);
        boolean continues = rows > 0 && lastLinkable && (flags & HEAD_FLAGS) == 0 && Arrays.equals(prev, lastHash);
        if (!continues) {
            startSegment(id, (byte) (flags & HEAD_FLAGS));
        }
        int segment = segmentStarts.size() - 1;
        int modified = modifiedSegments.size();
        if ((flags & MODIFIED_ROW) != 0 && (modified == 0 || modifiedSegments.get(modified - 1) != segment)) {
            modifiedSegments.add(segment);
            modifiedOffsets.add(rows - segmentStarts.get(segment));
            knowId(rows, id);
        }
        if ((flags & UNLINKABLE_ROW) == 0) {
            if (rowHash.equals(sentinel)) {
                sentinelRows.add(rows);
            }
            if (rowHash.equals(expectation.head())) {
                expectedHeadRows.add(rows);
            }
        }
        if (ambiguous) {
            ambiguousRows++;
        }
        lastLinkable = (flags & UNLINKABLE_ROW) == 0;
        lastRowHash = rowHash;
        byte[] swap = lastHash;
        lastHash = hash;
        hash = swap;
        lastId = id;
        rows++;
    }

    /**
     * Whether the rows so far are one segment from a genesis row with no
     * modified and no ambiguous row (none at all counts too). Such rows are a
     * chain whatever order they were stored in, and its verdict does not
     * depend on the order they were read in (see judge).
     */
    boolean isOneCleanRun() {
        return rows == 0 || (segmentStarts.size() == 1 && (headFlags.values[0] & GENESIS) != 0
                && modifiedSegments.size() == 0 && ambiguousRows == 0);
    }

    /**
     * Whether the rows so far may still be runs of one clean chain that
     * stitched ends to heads (see isOneChainInRuns): no modified or
     * ambiguous row, at most one genesis head, every other head naming a
     * hash, and at most STITCHED_RUNS runs. Cheap enough for every row.
     */
    boolean mayBeOneChainInRuns() {
        return rows == 0 || (!runEndsDropped && modifiedSegments.size() == 0 && ambiguousRows == 0
                && genesisHeads <= 1 && unlinkableHeads == 0);
    }

    /**
     * Whether all the rows are one clean chain: one clean run from the
     * genesis row, or clean runs (at most STITCHED_RUNS) whose heads each
     * link to another run's last row so that they join into one line from
     * the genesis run. Such rows are a chain whatever order they were
     * stored in, and judging them needs no second read (see stitched).
     */
    boolean isOneChainInRuns() {
        return isOneCleanRun() || stitched() != null;
    }

    /** A segment from this row on; its head's prev_hash (in prev) is kept in runEnds, or in headLinks past them. */
    private void startSegment(String id, byte flags) {
        if (rows > 0) {
            knowId(rows - 1, lastId);
        }
        knowId(rows, id);
        int segment = segmentStarts.size();
        keepRunEnds(segment, flags);
        stitchTried = false;    // a new segment: whether the runs stitch is to be seen again
        segmentStarts.add(rows);
        headFlags.add(flags);
        if ((flags & GENESIS) != 0) {
            genesisHeads++;
        }
        if ((flags & UNLINKABLE_PREV) != 0) {
            unlinkableHeads++;
        }
        if (headLinks != null) {
            headLinks.add(flags == 0 ? prev : null);
        }
    }

    /** Keeps the previous segment's tail hash and this head's prev_hash, while there are few segments. */
    private void keepRunEnds(int segment, byte flags) {
        if (runEndsDropped) {
            return;
        }
        if (segment >= STITCHED_RUNS) {
            headLinks = headLinksFromRunEnds(segment);
            runEndsDropped = true;
            runEnds = null;
            return;
        }
        if (runEnds.length < (segment + 1) * RUN_END_BYTES) {
            runEnds = Arrays.copyOf(runEnds, Math.min(STITCHED_RUNS, 2 * (segment + 1)) * RUN_END_BYTES);
        }
        if (segment > 0) {
            System.arraycopy(lastHash, 0, runEnds, (segment - 1) * RUN_END_BYTES + HASH_BYTES, HASH_BYTES);
        }
        if (flags == 0) {
            System.arraycopy(prev, 0, runEnds, segment * RUN_END_BYTES, HASH_BYTES);
        }
    }

    /**
     * The row each segment's head links to, when the segments are clean runs
     * that join into one chain: exactly one genesis head, every other head's
     * prev_hash the row_hash of exactly one run's last row, and following
     * those links from the genesis run reaches every run once. Every hash was
     * recomputed, so the rows are then one chain and its hashes are all
     * distinct (equal hashes would need equal payloads, hence equal
     * predecessors down to the genesis row, and no row is ambiguous): no
     * inner row shares a tail's hash, and the walk over these links is the
     * walk an index would give. Null otherwise (and the Resolver reads again).
     */
    private int[] stitched() {
        if (!stitchTried) {
            stitchTried = true;
            stitched = stitch();
        }
        return stitched;
    }

    private int[] stitch() {
        int count = segmentStarts.size();
        if (count < 2 || !mayBeOneChainInRuns() || genesisHeads != 1 || !lastLinkable) {
            return null;
        }
        Map<ByteBuffer, Integer> runByTail = new HashMap<>(2 * count);
        int genesis = -1;
        for (int s = 0; s < count; s++) {
            if ((headFlags.get(s) & GENESIS) != 0) {
                genesis = s;
            }
            ByteBuffer tail = s + 1 < count
                    ? ByteBuffer.wrap(runEnds, s * RUN_END_BYTES + HASH_BYTES, HASH_BYTES).slice()
                    : ByteBuffer.wrap(lastHash.clone());
            if (runByTail.put(tail, s) != null) {
                return null;   // two runs end on one hash: not one chain
            }
        }
        int[] predecessor = new int[count];
        int[] successor = new int[count];
        Arrays.fill(predecessor, -1);
        Arrays.fill(successor, -1);
        for (int s = 0; s < count; s++) {
            if (s == genesis) {
                continue;
            }
            Integer before = runByTail.get(ByteBuffer.wrap(runEnds, s * RUN_END_BYTES, HASH_BYTES).slice());
            if (before == null || successor[before] >= 0) {
                return null;   // a head linking to no run's end, or a second head on one end
            }
            successor[before] = s;
            predecessor[s] = (before + 1 < count ? segmentStarts.get(before + 1) : rows) - 1;
        }
        int reached = 0;
        for (int s = genesis; s >= 0 && reached <= count; s = successor[s]) {
            reached++;
        }
        return reached == count ? predecessor : null;
    }

    /** The first segments' heads' prev_hash, as runEnds holds them, as the keys of a new headLinks. */
    private FirstRowIndex headLinksFromRunEnds(int segments) {
        FirstRowIndex heads = newIndex();
        byte[] linksTo = new byte[HASH_BYTES];
        for (int s = 0; s < segments; s++) {
            if (headFlags.get(s) == 0) {
                System.arraycopy(runEnds, s * RUN_END_BYTES, linksTo, 0, HASH_BYTES);
                heads.add(linksTo);
            } else {
                heads.add(null);
            }
        }
        return heads;
    }

    /** For tests: whether the heads' links went to a temporary file. */
    boolean keptHeadsInAFile() {
        return headLinks != null && headLinks.usedFile();
    }

    private FirstRowIndex newIndex() {
        return new FirstRowIndex(fingerprint != null ? fingerprint : FirstRowIndex.randomlySeeded(), pendingHashes);
    }

    /** Keeps a row's id for the report while there is room; rows come in ascending order. */
    private void knowId(int row, String id) {
        int known = knownIdRows.size();
        if (known < KNOWN_IDS && (known == 0 || knownIdRows.get(known - 1) < row)) {
            knownIdRows.add(row);
            knownIds[known] = id;
        }
    }

    /**
     * The flags of a row whose prev_hash is the very String of the last
     * row's row_hash, which parsed as a hash (CopyRows hands on one String
     * for both): its prev_hash is lastHash, as flagsOf would parse it.
     */
    private byte followerFlags(String rowHash, byte[] recomputedHash) {
        System.arraycopy(lastHash, 0, prev, 0, HASH_BYTES);
        return rowFlags(rowHash, recomputedHash, hash);
    }

    /** The row's flags; its parsed prev_hash and row_hash land in the two buffers. */
    private static byte flagsOf(String prevHash, String rowHash, byte[] recomputedHash, byte[] prevInto, byte[] hashInto) {
        byte flags = rowFlags(rowHash, recomputedHash, hashInto);
        if (prevHash == null) {
            flags |= GENESIS;
        } else if (!parseHash(prevHash, prevInto)) {
            flags |= UNLINKABLE_PREV;
        }
        return flags;
    }

    /** The flags the row's own hash gives it; the parsed row_hash lands in the buffer. */
    private static byte rowFlags(String rowHash, byte[] recomputedHash, byte[] hashInto) {
        if (!parseHash(rowHash, hashInto)) {
            return UNLINKABLE_ROW | MODIFIED_ROW;
        }
        return recomputedHash == null || !Arrays.equals(hashInto, recomputedHash) ? MODIFIED_ROW : 0;
    }

    /**
     * The byte each pair of lowercase hex digits stands for, by the two
     * character codes below 128 (first << 7 | second); -1 for any other pair.
     */
    private static final short[] LOWER_HEX_PAIRS = new short[1 << 14];

    static {
        Arrays.fill(LOWER_HEX_PAIRS, (short) -1);
        String digits = "0123456789abcdef";
        for (int high = 0; high < 16; high++) {
            for (int low = 0; low < 16; low++) {
                LOWER_HEX_PAIRS[digits.charAt(high) << 7 | digits.charAt(low)] = (short) (high << 4 | low);
            }
        }
    }

    /**
     * Parses 64 lowercase hex digits; anything else is not a hash the
     * trigger writes. Runs twice per row, so by table, one look-up per byte:
     * half the time of one per digit (31 against 63 ns a hash), which was
     * a quarter less than comparisons per character.
     */
    static boolean parseHash(String text, byte[] into) {
        if (text == null || text.length() != HASH_BYTES * 2) {
            return false;
        }
        int invalid = 0;
        for (int i = 0; i < HASH_BYTES; i++) {
            int high = text.charAt(2 * i);
            int low = text.charAt(2 * i + 1);
            int value = (high | low) < 128 ? LOWER_HEX_PAIRS[high << 7 | low] : -1;
            invalid |= value;
            into[i] = (byte) value;
        }
        return invalid >= 0;
    }

    /**
     * The segments once resolved: consecutive rows (in arrival order) where
     * each row's prev_hash is the row_hash of the row before it, and the row
     * each head links to. Inside a segment the links need no memory; only its
     * start, its head's flags, its head's predecessor and, for the few that
     * have one, its first modified row are kept. The arrays may be longer
     * than count (they are the lists' own).
     */
    private static final class Segments {
        final int count;
        final int[] start;
        final int[] flags;
        final IntList modifiedSegments;     // segments holding a modified row, ascending, ...
        final IntList modifiedOffsets;      // ... and the offset of the first one in each
        final int[] predecessor;            // the row the head links to, -1 when none
        private final int rows;

        Segments(int count, int[] start, int[] flags, IntList modifiedSegments, IntList modifiedOffsets,
                 int[] predecessor, int rows) {
            this.count = count;
            this.start = start;
            this.flags = flags;
            this.modifiedSegments = modifiedSegments;
            this.modifiedOffsets = modifiedOffsets;
            this.predecessor = predecessor;
            this.rows = rows;
        }

        int end(int segment) {
            return segment + 1 < count ? start[segment + 1] : rows;
        }

        int length(int segment) {
            return end(segment) - start[segment];
        }

        boolean isGenesis(int segment) {
            return (flags[segment] & GENESIS) != 0;
        }

        /** The offset of the segment's first modified row, -1 when none. */
        int firstModified(int segment) {
            int at = modifiedSegments.indexOfSorted(segment);
            return at < 0 ? -1 : modifiedOffsets.get(at);
        }

        /** The segment holding a row. */
        int of(int row) {
            int found = Arrays.binarySearch(start, 0, count, row);
            return found >= 0 ? found : -found - 2;
        }
    }

    /** A growable list of ints, ascending where the callers add them in order. */
    private static final class IntList {
        private int[] values = new int[4];
        private int size;

        void add(int value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size + (size >> 1));
            }
            values[size++] = value;
        }

        int size() {
            return size;
        }

        int get(int i) {
            return values[i];
        }

        void clear() {
            size = 0;
        }

        /** For lists filled in ascending order. */
        boolean containsSorted(int value) {
            return Arrays.binarySearch(values, 0, size, value) >= 0;
        }

        /** For lists filled in ascending order: where the value is, or -1. */
        int indexOfSorted(int value) {
            int found = Arrays.binarySearch(values, 0, size, value);
            return found >= 0 ? found : -1;
        }
    }

    // ------------------------------------------------------------ the verdict

    /**
     * Walks the chain and judges it. Rows that arrived as one segment from a
     * genesis row with no modified row are a chain already: its hashes are
     * all distinct (equal hashes would need equal payloads, hence equal
     * predecessors, down to the genesis row), so it is walked without
     * reading anything again. Otherwise the rows are read again from
     * `again` (see Resolver) to find what each segment's head links to.
     */
    Verdict verdict(RowSource again) throws Failure {
        try {
            return judge(again);
        } finally {
            if (headLinks != null) {
                headLinks.close();
            }
        }
    }

    /** Ends a walk that will not be judged: frees what it kept (its temporary file). */
    void discard() {
        if (headLinks != null) {
            headLinks.close();
        }
    }

    private Verdict judge(RowSource again) throws Failure {
        int count = segmentStarts.size();
        boolean oneCleanSegment = count == 1 && (headFlags.values[0] & GENESIS) != 0 && modifiedSegments.size() == 0;
        Segments resolved = count == 0 || oneCleanSegment ? unresolved()
                : stitched() != null ? new Segments(count, segmentStarts.values, headFlags.values, modifiedSegments,
                        modifiedOffsets, stitched(), rows)
                : new Resolver(again).resolve();
        Walk walk = new Walk(resolved, watchedPositions());
        walk.run();
        boolean sentinelMatches = walk.last < 0 ? "".equals(sentinel) : sentinelRows.containsSorted(walk.last);
        if (!sentinelMatches) {
            walk.breakAt(SENTINEL_MISMATCH, walk.last, walk.last < 0 ? null : walk.walked - 1);
        }
        Boolean expectationsMet = null;
        if (expectation.isGiven()) {
            int anchorPosition = anchorPosition(walk);
            expectationsMet = anchorPosition < 0;
            if (anchorPosition >= 0) {
                int row = anchorPosition < walk.walked ? walk.rowAt(anchorPosition) : walk.last;
                walk.breakAt(EXPECTATION_MISMATCH, row, row < 0 ? null : Math.min(anchorPosition, walk.walked - 1));
            }
        }
        boolean broken = walk.kind != null;
        return new Verdict(walk.walked, broken ? BROKEN : CLEAN,
                broken && walk.breakRow >= 0 ? idOf(walk.breakRow, again) : null,
                broken ? walk.breakPosition : null,
                walk.kind, sentinelMatches, ambiguousRows, expectationsMet);
    }

    /** The positions anchorPosition may ask the walk for, besides the last: 0 and either side of the anchor. */
    private int[] watchedPositions() {
        Long expectedRows = expectation.rows();
        if (expectedRows == null || expectedRows < 1 || expectedRows > Integer.MAX_VALUE - 1) {
            return new int[] {0};
        }
        return new int[] {0, (int) (expectedRows - 1), (int) (long) expectedRows};
    }

    /**
     * The anchor is the chain as it was recorded: its head hash at position
     * rows-1. A chain that has grown since still holds it there; a chain whose
     * tail was rewritten (even consistently, sentinel included) does not.
     * Returns the position where the expectation fails, or -1 when it holds.
     */
    private int anchorPosition(Walk walk) {
        if (expectation.rows() != null) {
            long expectedRows = expectation.rows();
            if (expectedRows > walk.walked) {
                return walk.walked;
            }
            if (expectedRows == 0) {
                boolean holds = expectation.head() == null || expectation.head().isEmpty();
                return holds && !(expectation.exact() && walk.walked > 0) ? -1 : 0;
            }
            int position = (int) expectedRows - 1;
            boolean holds = expectation.head() == null || expectedHeadRows.containsSorted(walk.rowAt(position));
            if (holds && expectation.exact() && walk.walked > expectedRows) {
                return (int) expectedRows;  // the first row the anchor does not know
            }
            return holds ? -1 : position;
        }
        if (expectation.exact()) {
            boolean headIsLast = expectation.head().isEmpty()
                    ? walk.walked == 0 : walk.last >= 0 && expectedHeadRows.containsSorted(walk.last);
            return headIsLast ? -1 : Math.max(0, walk.walked - 1);
        }
        if (expectation.head().isEmpty()) {
            return -1;
        }
        for (int i = 0; i < expectedHeadRows.size(); i++) {
            if (walk.isVisited(expectedHeadRows.get(i))) {
                return -1;
            }
        }
        return Math.max(0, walk.walked - 1);
    }

    /** The segments as they arrived, none linking anywhere: all a walk needs when there is at most one, clean. */
    private Segments unresolved() {
        int[] noPredecessors = new int[segmentStarts.size()];
        Arrays.fill(noPredecessors, -1);
        return new Segments(noPredecessors.length, segmentStarts.values, headFlags.values, modifiedSegments,
                modifiedOffsets, noPredecessors, rows);
    }

    /** A row's id: the last row's and a few segment ends' and modified rows' are known; any other costs a read. */
    private String idOf(int row, RowSource again) throws Failure {
        if (row == rows - 1) {
            return lastId;
        }
        int known = knownIdRows.indexOfSorted(row);
        if (known >= 0) {
            return knownIds[known];
        }
        String[] found = new String[1];
        int[] index = {0};
        again.stream(false, (id, prevHash, rowHash, recomputed, ambiguous) -> {
            if (index[0]++ == row) {
                found[0] = id;
            }
        });
        requireSameRows(index[0]);
        return found[0];
    }

    private void requireSameRows(int streamed) {
        if (streamed != rows) {
            throw new IllegalStateException("a second read of one snapshot gave " + streamed + " rows, not " + rows);
        }
    }

    // ------------------------------------------------------------ rows out of order

    /**
     * Finds, for every segment's head, the row it links to: the first row (in
     * arrival order) whose row_hash is its prev_hash, as an index over all
     * rows would. A second read offers every row to the heads' index, and a
     * bounded Bloom filter over every row_hash spots rows whose hash may have
     * appeared earlier; a third read settles those candidates, and a segment
     * whose inner row repeats an earlier hash is split there (the next row
     * links to the earlier row, as with an index). Memory: the filter (at
     * most 32 MiB) and some 16 bytes of index per segment and candidate
     * (FirstRowIndex), their hashes in a temporary file.
     */
    private final class Resolver {
        private final RowSource again;

        Resolver(RowSource again) {
            this.again = again;
        }

        Segments resolve() throws Failure {
            int count = segmentStarts.size();
            Segments arrived = new Segments(count, segmentStarts.values, headFlags.values, modifiedSegments,
                    modifiedOffsets, null, rows);
            FirstRowIndex links = headLinks != null ? headLinks : headLinksFromRunEnds(count);
            try (FirstRowIndex repeats = newIndex()) {
                requireIntact(links);
                links.seal();
                Bloom seen = new Bloom(rows);
                IntList candidates = new IntList();
                byte[] parsed = new byte[HASH_BYTES];
                int[] index = {0};
                int[] segment = {0};
                again.stream(false, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                    int row = index[0]++;
                    if (row >= rows || !parseHash(rowHash, parsed)) {
                        return;
                    }
                    while (arrived.end(segment[0]) <= row) {
                        segment[0]++;
                    }
                    links.offer(row, parsed);
                    if (seen.addAndWasPresent(parsed) && row != arrived.end(segment[0]) - 1) {
                        candidates.add(row);
                        repeats.add(parsed);
                    }
                });
                requireSameRows(index[0]);
                requireIntact(links);
                requireIntact(repeats);
                Segments resolved = new Segments(count, segmentStarts.values, headFlags.values, modifiedSegments,
                        modifiedOffsets, links.firstRows(), rows);
                links.close();
                return candidates.size() == 0 ? resolved : splitAtRepeatedHashes(resolved, candidates, repeats);
            } finally {
                links.close();
            }
        }

        /** A temporary file that could not be written or read ends the walk in one line. */
        private void requireIntact(FirstRowIndex index) throws Failure {
            if (index != null && index.failure() != null) {
                throw new Failure("could not keep the chain's links in a temporary file in "
                        + System.getProperty("java.io.tmpdir") + " (set another with -Djava.io.tmpdir in"
                        + " BACKUPSMOKE_JAVA_OPTS): " + HashSpill.describe(index.failure()));
            }
        }

        /**
         * Reads the rows once more (with their hashes recomputed) to learn
         * which candidates repeat an earlier row's hash, and splits their
         * segments after them; the new heads' first modified rows come from
         * the same read.
         */
        private Segments splitAtRepeatedHashes(Segments segments, IntList candidates, FirstRowIndex repeats)
                throws Failure {
            int count = candidates.size();
            repeats.seal();
            int[] nextModified = new int[count];
            Arrays.fill(nextModified, -1);
            IntList open = new IntList();      // candidates of the current segment still looking for a modified row
            int[] state = {0, 0, 0};           // row, segment, next candidate
            byte[] parsedPrev = new byte[HASH_BYTES];
            byte[] parsed = new byte[HASH_BYTES];
            again.stream(true, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                int row = state[0]++;
                if (row >= rows) {
                    return;
                }
                if (segments.end(state[1]) <= row) {
                    open.clear();
                    while (segments.end(state[1]) <= row) {
                        state[1]++;
                    }
                }
                byte flags = flagsOf(prevHash, rowHash, recomputed, parsedPrev, parsed);
                if ((flags & MODIFIED_ROW) != 0) {
                    for (int i = 0; i < open.size(); i++) {
                        nextModified[open.get(i)] = row;
                    }
                    open.clear();
                }
                if ((flags & UNLINKABLE_ROW) == 0) {
                    repeats.offer(row, parsed);
                }
                if (state[2] < count && candidates.get(state[2]) == row) {
                    open.add(state[2]);
                    state[2]++;
                }
            });
            requireSameRows(state[0]);
            requireIntact(repeats);
            return split(segments, candidates, repeats.firstRows(), nextModified);
        }

        /**
         * The segments cut after each candidate that repeats an earlier row's
         * hash: the part after it is a segment whose head links to that
         * earlier row, and keeps the first modified row after the cut.
         */
        private Segments split(Segments segments, IntList candidates, int[] firstWithHash, int[] nextModified) {
            IntList starts = new IntList();
            IntList flags = new IntList();
            IntList modifiedSegments = new IntList();
            IntList modifiedOffsets = new IntList();
            IntList predecessors = new IntList();
            int next = 0;
            for (int s = 0; s < segments.count; s++) {
                int start = segments.start[s];
                int headFlags = segments.flags[s];
                int firstModified = segments.firstModified(s);
                int predecessor = segments.predecessor[s];
                int end = segments.end(s);
                for (; next < candidates.size() && candidates.get(next) < end; next++) {
                    int row = candidates.get(next);
                    if (firstWithHash[next] < row) {
                        if (firstModified >= 0 && firstModified < row + 1 - start) {
                            modifiedSegments.add(starts.size());
                            modifiedOffsets.add(firstModified);
                        }
                        starts.add(start);
                        flags.add(headFlags);
                        predecessors.add(predecessor);
                        start = row + 1;
                        headFlags = 0;
                        firstModified = nextModified[next] >= 0 ? nextModified[next] - start : -1;
                        predecessor = firstWithHash[next];
                    }
                }
                if (firstModified >= 0) {
                    modifiedSegments.add(starts.size());
                    modifiedOffsets.add(firstModified);
                }
                starts.add(start);
                flags.add(headFlags);
                predecessors.add(predecessor);
            }
            return new Segments(starts.size(), starts.values, flags.values, modifiedSegments, modifiedOffsets,
                    predecessors.values, rows);
        }
    }

    /**
     * A Bloom filter over row hashes, one 512-bit block per hash (one cache
     * line), sized to the rows but never above 32 MiB. SHA-256 output is
     * already uniform, so its own bytes choose the bits; a row_hash someone
     * chose only makes a false "maybe" likelier, never a missed one.
     */
    private static final class Bloom {
        private final long[] words;
        private final int blockMask;

        Bloom(int rows) {
            long bits = Math.min(1L << 28, Long.highestOneBit(Math.max(4096L, (long) rows * 16 - 1)) << 1);
            words = new long[(int) (bits / 64)];
            blockMask = words.length / 8 - 1;
        }

        boolean addAndWasPresent(byte[] hash) {
            int block = ((hash[0] & 0xff) << 24 | (hash[1] & 0xff) << 16 | (hash[2] & 0xff) << 8 | (hash[3] & 0xff))
                    & blockMask;
            boolean present = true;
            for (int k = 0; k < 4; k++) {
                int bit = ((hash[4 + 2 * k] & 0xff) << 8 | (hash[5 + 2 * k] & 0xff)) & 511;
                int word = block * 8 + (bit >>> 6);
                long mask = 1L << (bit & 63);
                if ((words[word] & mask) == 0) {
                    present = false;
                    words[word] |= mask;
                }
            }
            return present;
        }
    }

    // ------------------------------------------------------------ the walk

    /**
     * The walk over segments. It makes the same choices a walk over single
     * rows would: start at the genesis row (the one on the way to the
     * sentinel first), follow each row's children (rows linking to it) in
     * arrival order, preferring the one on the way to the sentinel, carry
     * on after gaps, and report the first break met. A segment is always
     * entered at its head, so what was walked of it is a prefix, and rows
     * between its branch points (rows other heads link to) are stepped over
     * in one go.
     */
    private final class Walk {
        final Segments segments;
        final int[] starts;
        /** predecessor << 32 | segment for every head that links to a row, ascending: who links to a row. */
        final long[] links;
        final int[] leadsToSentinel;    // by segment: rows at offsets 0..this lie on the way to the sentinel
        final int[] visited;            // by segment: rows at offsets 0..visited-1 were walked
        /** Positions whose row the verdict may ask for (rowAt), and the rows walked there (-1 until then). */
        final int[] watched;
        final int[] watchedRows;
        int walked;
        int last = -1;
        String kind;
        int breakRow = -1;
        Integer breakPosition;

        Walk(Segments segments, int[] watched) {
            this.segments = segments;
            this.watched = watched;
            watchedRows = new int[watched.length];
            Arrays.fill(watchedRows, -1);
            starts = segments.start;
            int linked = 0;
            for (int s = 0; s < segments.count; s++) {
                if (segments.predecessor[s] >= 0) {
                    linked++;
                }
            }
            links = new long[linked];
            linked = 0;
            for (int s = 0; s < segments.count; s++) {
                if (segments.predecessor[s] >= 0) {
                    links[linked++] = (long) segments.predecessor[s] << 32 | s;
                }
            }
            Arrays.sort(links);
            leadsToSentinel = new int[segments.count];
            Arrays.fill(leadsToSentinel, -1);
            visited = new int[segments.count];
            markTheWayToTheSentinel();
        }

        private void markTheWayToTheSentinel() {
            int row = sentinelRows.size() == 0 ? -1 : sentinelRows.get(0);
            while (row >= 0) {
                int segment = segments.of(row);
                int offset = row - starts[segment];
                if (leadsToSentinel[segment] >= offset) {
                    return; // a loop: the rest is marked already
                }
                leadsToSentinel[segment] = offset;
                row = segments.predecessor[segment];
            }
        }

        /** The first entry of links for heads linking to this row or a later one. */
        private int firstLinkFrom(int row) {
            int found = Arrays.binarySearch(links, (long) row << 32);
            return found >= 0 ? found : -found - 1;
        }

        private int linkedRow(int link) {
            return (int) (links[link] >>> 32);
        }

        boolean leadsToSentinel(int row) {
            int segment = segments.of(row);
            return row - starts[segment] <= leadsToSentinel[segment];
        }

        boolean isVisited(int row) {
            int segment = segments.of(row);
            return row - starts[segment] < visited[segment];
        }

        /** The row walked at a position: the last one or a watched one. */
        int rowAt(int position) {
            if (position == walked - 1) {
                return last;
            }
            for (int i = 0; i < watched.length; i++) {
                if (watched[i] == position && watchedRows[i] >= 0) {
                    return watchedRows[i];
                }
            }
            throw new IllegalStateException("no row was kept for position " + position);
        }

        /** Rows first..first+count-1 are walked at positions walked..: keeps those at watched positions. */
        private void watch(int first, int count) {
            for (int i = 0; i < watched.length; i++) {
                if (watched[i] >= walked && watched[i] < walked + count) {
                    watchedRows[i] = first + watched[i] - walked;
                }
            }
        }

        void breakAt(String breakKind, int row, Integer position) {
            if (kind == null) {
                kind = breakKind;
                breakRow = row;
                breakPosition = position;
            }
        }

        /** Unwalked heads passing a test, the one on the way to the sentinel first; -1 when none. */
        int preferred(java.util.function.IntPredicate test, int besides) {
            int fallback = -1;
            for (int s = 0; s < segments.count; s++) {
                if (s == besides || visited[s] > 0 || !test.test(s)) {
                    continue;
                }
                if (leadsToSentinel[s] >= 0) {
                    return s;
                }
                if (fallback < 0) {
                    fallback = s;
                }
            }
            return fallback;
        }

        int start() {
            if (rows == 0) {
                return -1;
            }
            int genesis = preferred(segments::isGenesis, -1);
            if (genesis >= 0) {
                int second = preferred(segments::isGenesis, genesis);
                if (second >= 0) {
                    breakAt(MULTIPLE_GENESIS, starts[second], 0);
                }
                return genesis;
            }
            int head = preferred(s -> segments.predecessor[s] < 0, -1);
            breakAt(NO_GENESIS, head >= 0 ? starts[head] : 0, 0);
            return head;
        }

        /**
         * Follows the links from the start. Across a gap (a row whose prev_hash
         * names no row) it carries on from the row after the gap, the one on
         * the way to the sentinel first, so positions stay those of the chain.
         */
        void run() {
            followLinks(start());
            for (boolean towardsSentinel : new boolean[] {true, false}) {
                for (int s = 0; s < segments.count; s++) {
                    boolean gapHead = segments.predecessor[s] < 0 && !segments.isGenesis(s);
                    if (gapHead && (leadsToSentinel[s] >= 0) == towardsSentinel && visited[s] == 0) {
                        breakAt(MISSING_PREDECESSOR, starts[s], walked);
                        followLinks(s);
                    }
                }
            }
            for (int s = 0; s < segments.count; s++) {
                if (visited[s] < segments.length(s)) {
                    breakAt(ORPHAN, starts[s] + visited[s], null);
                    break;
                }
            }
        }

        /** Walks from a segment's head along the links until no unwalked row follows. */
        private void followLinks(int s) {
            while (s >= 0 && visited[s] == 0) {
                int length = segments.length(s);
                int firstModified = segments.firstModified(s);
                int offset = 0;
                int nextSegment = -1;
                while (nextSegment < 0) {
                    int stop = Math.min(nextBranch(s, offset), length - 1);
                    if (firstModified >= offset && firstModified <= stop) {
                        breakAt(MODIFIED, starts[s] + firstModified, walked + firstModified - offset);
                    }
                    watch(starts[s] + offset, stop - offset + 1);
                    walked += stop - offset;
                    visited[s] = stop + 1;
                    int row = starts[s] + stop;
                    int next = chooseChild(row, stop + 1 < length);
                    last = row;
                    walked++;
                    if (next < 0) {
                        return;
                    }
                    if (next == row + 1) {
                        offset = stop + 1;
                    } else {
                        nextSegment = segments.of(next);
                    }
                }
                s = nextSegment;
            }
        }

        /** The offset of the segment's first row, from offset on, that another head links to; MAX_VALUE when none. */
        private int nextBranch(int s, int offset) {
            int link = firstLinkFrom(starts[s] + offset);
            if (link < links.length && linkedRow(link) < segments.end(s)) {
                return linkedRow(link) - starts[s];
            }
            return Integer.MAX_VALUE;
        }

        /**
         * The child to follow from a row: the first in arrival order, unless
         * another one leads to the sentinel; any other child is a fork.
         */
        private int chooseChild(int row, boolean hasInnerChild) {
            int first = firstLinkFrom(row);
            int headCount = 0;
            while (first + headCount < links.length && linkedRow(first + headCount) == row) {
                headCount++;
            }
            int[] children = new int[headCount + (hasInnerChild ? 1 : 0)];
            for (int i = 0; i < headCount; i++) {
                children[i] = starts[(int) links[first + i]];
            }
            if (hasInnerChild) {
                children[headCount] = row + 1;
            }
            Arrays.sort(children);
            int next = -1;
            for (int child : children) {
                if (next < 0 || (leadsToSentinel(child) && !leadsToSentinel(next))) {
                    next = child;
                }
            }
            for (int child : children) {
                if (child != next) {
                    breakAt(FORK, child, walked + 1);
                    break;
                }
            }
            return next;
        }
    }
}
