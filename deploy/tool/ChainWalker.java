// Client-side verification of the hash chain (SPEC section 9.2), as pure
// logic: a walk that follows the chain by its links (genesis row first, then
// the row whose prev_hash is the current row_hash) instead of trusting
// timestamps, ids or the server's verifier. The canonical payload each row's
// hash is recomputed from is AuditRow.java.
//
// Memory stays flat whatever the row count: rows arrive as a stream (usually
// already in link order) and are checked against the row before them; only
// runs of rows that do not follow each other ("segments") are remembered,
// and finding what a segment's head links to reads the rows again.

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
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

    private final String sentinel;
    private final Expectation expectation;
    /** Runs of consecutive rows in which each row links to the one before it, in arrival order. */
    private final List<Segment> segments = new ArrayList<>();
    /** Rows (arrival order) whose row_hash is the sentinel, and the expected head: almost always one or none. */
    private final IntList sentinelRows = new IntList();
    private final IntList expectedHeadRows = new IntList();
    private int rows;
    private int ambiguousRows;
    private byte[] lastHash = new byte[HASH_BYTES];
    private byte[] hash = new byte[HASH_BYTES];
    private final byte[] prev = new byte[HASH_BYTES];
    private boolean lastLinkable;

    /**
     * A walk judged against the sentinel (the head the database claims) and,
     * when given, values recorded outside the database. Both are known before
     * the rows arrive, so the rows themselves need not be kept.
     */
    ChainWalker(String sentinel, Expectation expectation) {
        this.sentinel = sentinel;
        this.expectation = expectation;
    }

    /**
     * One row as stored, in the order the rows arrive, with the hash
     * recomputed from its fields (null when it cannot be: the row counts as
     * modified). A row that links to the row before it extends that row's
     * segment, which costs nothing; any other row starts a segment.
     */
    void add(String id, String prevHash, String rowHash, byte[] recomputedHash, boolean ambiguous) {
        byte flags = flagsOf(prevHash, rowHash, recomputedHash, prev, hash);
        boolean continues = rows > 0 && lastLinkable && (flags & HEAD_FLAGS) == 0 && Arrays.equals(prev, lastHash);
        Segment segment;
        if (continues) {
            segment = segments.get(segments.size() - 1);
        } else {
            segment = new Segment(rows, id, (byte) (flags & HEAD_FLAGS), (flags & HEAD_FLAGS) == 0 ? prev.clone() : null);
            segments.add(segment);
        }
        segment.length++;
        segment.tailId = id;
        if ((flags & MODIFIED_ROW) != 0 && segment.firstModified < 0) {
            segment.firstModified = rows - segment.start;
            segment.firstModifiedId = id;
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
        byte[] swap = lastHash;
        lastHash = hash;
        hash = swap;
        rows++;
    }

    /** The row's flags; its parsed prev_hash and row_hash land in the two buffers. */
    private static byte flagsOf(String prevHash, String rowHash, byte[] recomputedHash, byte[] prevInto, byte[] hashInto) {
        byte flags = 0;
        if (prevHash == null) {
            flags |= GENESIS;
        } else if (!parseHash(prevHash, prevInto)) {
            flags |= UNLINKABLE_PREV;
        }
        if (!parseHash(rowHash, hashInto)) {
            flags |= UNLINKABLE_ROW | MODIFIED_ROW;
        } else if (recomputedHash == null || !Arrays.equals(hashInto, recomputedHash)) {
            flags |= MODIFIED_ROW;
        }
        return flags;
    }

    /** The value of each lowercase hex digit by its character code below 128; -1 for any other. */
    private static final byte[] LOWER_HEX = new byte[128];

    static {
        Arrays.fill(LOWER_HEX, (byte) -1);
        for (int digit = 0; digit < 16; digit++) {
            LOWER_HEX["0123456789abcdef".charAt(digit)] = (byte) digit;
        }
    }

    /**
     * Parses 64 lowercase hex digits; anything else is not a hash the
     * trigger writes. Runs twice per row, so by table: a quarter of the
     * walk's time went here with comparisons per character.
     */
    static boolean parseHash(String text, byte[] into) {
        if (text == null || text.length() != HASH_BYTES * 2) {
            return false;
        }
        int invalid = 0;
        for (int i = 0; i < HASH_BYTES; i++) {
            int high = lowerHexDigit(text.charAt(2 * i));
            int low = lowerHexDigit(text.charAt(2 * i + 1));
            invalid |= high | low;
            into[i] = (byte) (high << 4 | low);
        }
        return invalid >= 0;
    }

    private static int lowerHexDigit(char c) {
        return c < 128 ? LOWER_HEX[c] : -1;
    }

    /**
     * Consecutive rows (in arrival order) where each row's prev_hash is the
     * row_hash of the row before it. Inside a segment the links need no
     * memory; only its ends, its first modified row and the rows other
     * segments link to are remembered.
     */
    private static final class Segment {
        final int start;
        final String headId;
        final byte headFlags;
        final byte[] headPrev;          // the head's prev_hash, when it can name a row
        int length;
        String tailId;
        int firstModified = -1;         // offset of the first modified row, -1 when none
        String firstModifiedId;
        int predecessor = -1;           // the row the head links to, -1 when none
        int[] branches = new int[0];    // offsets of rows that heads of other segments link to, ascending
        int leadsToSentinel = -1;       // rows at offsets 0..this lie on the way to the sentinel
        int visited;                    // rows at offsets 0..visited-1 were walked

        Segment(int start, String headId, byte headFlags, byte[] headPrev) {
            this.start = start;
            this.headId = headId;
            this.headFlags = headFlags;
            this.headPrev = headPrev;
        }

        int end() {
            return start + length;
        }

        boolean isGenesis() {
            return (headFlags & GENESIS) != 0;
        }
    }

    /** A growable list of ints, ascending where the callers add them in order. */
    private static final class IntList {
        private int[] values = new int[4];
        private int size;

        void add(int value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        int size() {
            return size;
        }

        int get(int i) {
            return values[i];
        }

        /** For lists filled in ascending order. */
        boolean containsSorted(int value) {
            return Arrays.binarySearch(values, 0, size, value) >= 0;
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
        boolean oneCleanSegment = segments.size() == 1 && segments.get(0).isGenesis() && segments.get(0).firstModified < 0;
        List<Segment> resolved = segments.isEmpty() || oneCleanSegment ? segments : new Resolver(again).resolve();
        Walk walk = new Walk(resolved);
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
                broken && walk.breakRow >= 0 ? idOf(walk.breakRow, resolved, again) : null,
                broken ? walk.breakPosition : null,
                walk.kind, sentinelMatches, ambiguousRows, expectationsMet);
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

    /** A row's id: the ends of segments and first modified rows are known; any other costs one more read. */
    private String idOf(int row, List<Segment> resolved, RowSource again) throws Failure {
        for (Segment segment : resolved) {
            if (row == segment.start) {
                return segment.headId;
            }
            if (row == segment.end() - 1) {
                return segment.tailId;
            }
            if (segment.firstModified >= 0 && row == segment.start + segment.firstModified) {
                return segment.firstModifiedId;
            }
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
     * rows would. A second read collects those rows for the heads' hashes,
     * and a bounded Bloom filter over every row_hash spots rows whose hash
     * may have appeared earlier; a third read settles those candidates, and
     * a segment whose inner row repeats an earlier hash is split there (the
     * next row links to the earlier row, as with an index). Memory: the
     * filter (at most 32 MiB) and a few words per segment and candidate.
     */
    private final class Resolver {
        private final RowSource again;

        Resolver(RowSource again) {
            this.again = again;
        }

        List<Segment> resolve() throws Failure {
            Map<ByteBuffer, int[]> firstRowWith = new HashMap<>();
            for (Segment segment : segments) {
                if (segment.headPrev != null) {
                    firstRowWith.putIfAbsent(ByteBuffer.wrap(segment.headPrev), new int[] {-1});
                }
            }
            Bloom seen = new Bloom(rows);
            IntList candidates = new IntList();
            List<byte[]> candidateHashes = new ArrayList<>();
            byte[] parsed = new byte[HASH_BYTES];
            int[] index = {0};
            int[] segment = {0};
            again.stream(false, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                int row = index[0]++;
                while (segments.get(segment[0]).end() <= row) {
                    segment[0]++;
                }
                if (!parseHash(rowHash, parsed)) {
                    return;
                }
                int[] first = firstRowWith.get(ByteBuffer.wrap(parsed));
                if (first != null && first[0] < 0) {
                    first[0] = row;
                }
                if (seen.addAndWasPresent(parsed) && row != segments.get(segment[0]).end() - 1) {
                    candidates.add(row);
                    candidateHashes.add(parsed.clone());
                }
            });
            requireSameRows(index[0]);
            for (Segment each : segments) {
                if (each.headPrev != null) {
                    each.predecessor = firstRowWith.get(ByteBuffer.wrap(each.headPrev))[0];
                }
            }
            return candidates.size() == 0 ? segments : splitAtRepeatedHashes(candidates, candidateHashes);
        }

        /**
         * Reads the rows once more (with their hashes recomputed) to learn
         * which candidates repeat an earlier row's hash, and splits their
         * segments after them; the new heads' ids and first modified rows
         * come from the same read.
         */
        private List<Segment> splitAtRepeatedHashes(IntList candidates, List<byte[]> candidateHashes) throws Failure {
            int count = candidates.size();
            Map<ByteBuffer, int[]> firstRowWith = new HashMap<>();
            for (byte[] candidateHash : candidateHashes) {
                firstRowWith.putIfAbsent(ByteBuffer.wrap(candidateHash), new int[] {-1});
            }
            String[] candidateIds = new String[count];
            String[] nextIds = new String[count];
            int[] nextModified = new int[count];
            String[] nextModifiedIds = new String[count];
            Arrays.fill(nextModified, -1);
            IntList open = new IntList();      // candidates of the current segment still looking for a modified row
            int[] state = {0, 0, 0};           // row, segment, next candidate
            byte[] parsedPrev = new byte[HASH_BYTES];
            byte[] parsed = new byte[HASH_BYTES];
            again.stream(true, (id, prevHash, rowHash, recomputed, ambiguous) -> {
                int row = state[0]++;
                if (segments.get(state[1]).end() <= row) {
                    open.size = 0;
                    while (segments.get(state[1]).end() <= row) {
                        state[1]++;
                    }
                }
                byte flags = flagsOf(prevHash, rowHash, recomputed, parsedPrev, parsed);
                if (state[2] > 0 && candidates.get(state[2] - 1) == row - 1) {
                    nextIds[state[2] - 1] = id;
                }
                if ((flags & MODIFIED_ROW) != 0) {
                    for (int i = 0; i < open.size(); i++) {
                        nextModified[open.get(i)] = row;
                        nextModifiedIds[open.get(i)] = id;
                    }
                    open.size = 0;
                }
                if ((flags & UNLINKABLE_ROW) == 0) {
                    int[] first = firstRowWith.get(ByteBuffer.wrap(parsed));
                    if (first != null && first[0] < 0) {
                        first[0] = row;
                    }
                }
                if (state[2] < count && candidates.get(state[2]) == row) {
                    candidateIds[state[2]] = id;
                    open.add(state[2]);
                    state[2]++;
                }
            });
            requireSameRows(state[0]);

            List<Segment> split = new ArrayList<>();
            int next = 0;
            for (Segment segment : segments) {
                Segment part = segment;
                int end = segment.end();
                while (next < count && candidates.get(next) < end) {
                    int row = candidates.get(next);
                    int firstWithHash = firstRowWith.get(ByteBuffer.wrap(candidateHashes.get(next)))[0];
                    if (firstWithHash < row) {
                        Segment rest = new Segment(row + 1, nextIds[next], (byte) 0, candidateHashes.get(next));
                        rest.predecessor = firstWithHash;
                        rest.length = end - (row + 1);
                        rest.tailId = part.tailId;
                        if (nextModified[next] >= 0) {
                            rest.firstModified = nextModified[next] - rest.start;
                            rest.firstModifiedId = nextModifiedIds[next];
                        }
                        part.length = row + 1 - part.start;
                        part.tailId = candidateIds[next];
                        if (part.firstModified >= part.length) {
                            part.firstModified = -1;
                            part.firstModifiedId = null;
                        }
                        split.add(part);
                        part = rest;
                    }
                    next++;
                }
                split.add(part);
            }
            return split;
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
     * between its branch points are stepped over in one go.
     */
    private final class Walk {
        final List<Segment> segments;
        final int[] starts;
        final Map<Integer, IntList> headsLinkingTo = new HashMap<>();   // row -> segments whose head links to it
        final IntList runSegments = new IntList();                     // walk order: segment entered ...
        final IntList runPositions = new IntList();                    // ... at this position
        int walked;
        int last = -1;
        String kind;
        int breakRow = -1;
        Integer breakPosition;

        Walk(List<Segment> segments) {
            this.segments = segments;
            starts = new int[segments.size()];
            for (int s = 0; s < segments.size(); s++) {
                starts[s] = segments.get(s).start;
            }
            Map<Integer, IntList> branches = new HashMap<>();
            for (int s = 0; s < segments.size(); s++) {
                int predecessor = segments.get(s).predecessor;
                if (predecessor >= 0) {
                    headsLinkingTo.computeIfAbsent(predecessor, row -> new IntList()).add(s);
                    int owner = segmentOf(predecessor);
                    branches.computeIfAbsent(owner, o -> new IntList()).add(predecessor - starts[owner]);
                }
            }
            branches.forEach((owner, offsets) -> segments.get(owner).branches =
                    Arrays.stream(offsets.values, 0, offsets.size()).sorted().distinct().toArray());
            markTheWayToTheSentinel();
        }

        private void markTheWayToTheSentinel() {
            int row = sentinelRows.size() == 0 ? -1 : sentinelRows.get(0);
            while (row >= 0) {
                Segment segment = segments.get(segmentOf(row));
                int offset = row - segment.start;
                if (segment.leadsToSentinel >= offset) {
                    return; // a loop: the rest is marked already
                }
                segment.leadsToSentinel = offset;
                row = segment.predecessor;
            }
        }

        int segmentOf(int row) {
            int found = Arrays.binarySearch(starts, row);
            return found >= 0 ? found : -found - 2;
        }

        boolean leadsToSentinel(int row) {
            Segment segment = segments.get(segmentOf(row));
            return row - segment.start <= segment.leadsToSentinel;
        }

        boolean isVisited(int row) {
            Segment segment = segments.get(segmentOf(row));
            return row - segment.start < segment.visited;
        }

        /** The row walked at a position. */
        int rowAt(int position) {
            int found = Arrays.binarySearch(runPositions.values, 0, runPositions.size(), position);
            int run = found >= 0 ? found : -found - 2;
            return starts[runSegments.get(run)] + position - runPositions.get(run);
        }

        void breakAt(String breakKind, int row, Integer position) {
            if (kind == null) {
                kind = breakKind;
                breakRow = row;
                breakPosition = position;
            }
        }

        /** Unwalked heads passing a test, the one on the way to the sentinel first; -1 when none. */
        int preferred(java.util.function.Predicate<Segment> test, int besides) {
            int fallback = -1;
            for (int s = 0; s < segments.size(); s++) {
                Segment segment = segments.get(s);
                if (s == besides || segment.visited > 0 || !test.test(segment)) {
                    continue;
                }
                if (segment.leadsToSentinel >= 0) {
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
            int genesis = preferred(Segment::isGenesis, -1);
            if (genesis >= 0) {
                int second = preferred(Segment::isGenesis, genesis);
                if (second >= 0) {
                    breakAt(MULTIPLE_GENESIS, starts[second], 0);
                }
                return genesis;
            }
            int head = preferred(segment -> segment.predecessor < 0, -1);
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
            List<Integer> gapHeads = new ArrayList<>();
            for (int s = 0; s < segments.size(); s++) {
                if (segments.get(s).predecessor < 0 && !segments.get(s).isGenesis()) {
                    gapHeads.add(s);
                }
            }
            gapHeads.sort(Comparator.comparing(s -> segments.get(s).leadsToSentinel < 0));
            for (int s : gapHeads) {
                if (segments.get(s).visited == 0) {
                    breakAt(MISSING_PREDECESSOR, starts[s], walked);
                    followLinks(s);
                }
            }
            for (Segment segment : segments) {
                if (segment.visited < segment.length) {
                    breakAt(ORPHAN, segment.start + segment.visited, null);
                    break;
                }
            }
        }

        /** Walks from a segment's head along the links until no unwalked row follows. */
        private void followLinks(int s) {
            while (s >= 0 && segments.get(s).visited == 0) {
                Segment segment = segments.get(s);
                runSegments.add(s);
                runPositions.add(walked);
                int offset = 0;
                int nextSegment = -1;
                while (nextSegment < 0) {
                    int branch = nextBranch(segment, offset);
                    int stop = Math.min(branch, segment.length - 1);
                    if (segment.firstModified >= offset && segment.firstModified <= stop) {
                        breakAt(MODIFIED, segment.start + segment.firstModified, walked + segment.firstModified - offset);
                    }
                    walked += stop - offset;
                    segment.visited = stop + 1;
                    int row = segment.start + stop;
                    int next = chooseChild(row, stop + 1 < segment.length);
                    last = row;
                    walked++;
                    if (next < 0) {
                        return;
                    }
                    if (next == row + 1) {
                        offset = stop + 1;
                    } else {
                        nextSegment = segmentOf(next);
                    }
                }
                s = nextSegment;
            }
        }

        private int nextBranch(Segment segment, int offset) {
            int found = Arrays.binarySearch(segment.branches, offset);
            int at = found >= 0 ? found : -found - 1;
            return at < segment.branches.length ? segment.branches[at] : Integer.MAX_VALUE;
        }

        /**
         * The child to follow from a row: the first in arrival order, unless
         * another one leads to the sentinel; any other child is a fork.
         */
        private int chooseChild(int row, boolean hasInnerChild) {
            IntList heads = headsLinkingTo.get(row);
            int headCount = heads == null ? 0 : heads.size();
            int[] children = new int[headCount + (hasInnerChild ? 1 : 0)];
            for (int i = 0; i < headCount; i++) {
                children[i] = starts[heads.get(i)];
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
