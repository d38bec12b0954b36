// Client-side verification of the hash chain (SPEC section 9.2), as pure
// logic: a walk that follows the chain by its links (genesis row first, then
// the row whose prev_hash is the current row_hash) instead of trusting
// timestamps, ids or the server's verifier. The canonical payload each row's
// hash is recomputed from is AuditRow.java.
//
// Memory stays small for millions of rows: per row it keeps the two hashes
// as 32 raw bytes each, a flag byte, the id's UTF-8 bytes and a few ints,
// never the row itself.

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;

final class ChainWalker {

    private static final HexFormat HEX = HexFormat.of();

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

    /** Values recorded outside the database (SPEC section 9.3); null means not given. */
    record Expectation(String head, Long rows) {
        static final Expectation NONE = new Expectation(null, null);

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
    ChainWalker(int expectedRows) {
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

        /** Rows matching a test, the one on the way to the sentinel first; -1 when none. */
        int preferred(IntPredicate test, int besides) {
            int fallback = -1;
            for (int row = 0; row < rows; row++) {
                if (row == besides || visited.get(row) || !test.test(row)) {
                    continue;
                }
                if (leadsToSentinel.get(row)) {
                    return row;
                }
                if (fallback < 0) {
                    fallback = row;
                }
            }
            return fallback;
        }

        int start() {
            if (rows == 0) {
                return -1;
            }
            int genesis = preferred(row -> has(row, GENESIS), -1);
            if (genesis >= 0) {
                int second = preferred(row -> has(row, GENESIS), genesis);
                if (second >= 0) {
                    breakAt(MULTIPLE_GENESIS, second, 0);
                }
                return genesis;
            }
            int head = preferred(row -> predecessor[row] < 0, -1);
            breakAt(NO_GENESIS, head >= 0 ? head : 0, 0);
            return head;
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
                    breakAt(MISSING_PREDECESSOR, row, walked);
                    followLinks(row);
                }
            }
            if (visited.cardinality() < rows) {
                breakAt(ORPHAN, visited.nextClearBit(0), null);
            }
        }

        private int[] gapHeadsSentinelSideFirst() {
            return IntStream.range(0, rows)
                    .filter(row -> predecessor[row] < 0 && !has(row, GENESIS))
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
                    breakAt(MODIFIED, row, walked);
                }
                int next = -1;
                for (int child = firstChild[row]; child >= 0; child = nextSibling[child]) {
                    if (next < 0 || (leadsToSentinel.get(child) && !leadsToSentinel.get(next))) {
                        next = child;
                    }
                }
                for (int child = firstChild[row]; child >= 0; child = nextSibling[child]) {
                    if (child != next) {
                        breakAt(FORK, child, walked + 1);
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
    Verdict verdict(String sentinel, Expectation expectation) {
        HashIndex index = new HashIndex(rowHashes, rows, row -> !has(row, UNLINKABLE_ROW));
        byte[] sentinelBytes = new byte[HASH_BYTES];
        int sentinelRow = parseHash(sentinel, sentinelBytes, 0) ? index.find(sentinelBytes, 0) : -1;
        Walk walk = new Walk(index, sentinelRow);
        walk.run();
        boolean sentinelMatches = walk.last < 0 ? "".equals(sentinel) : walk.hashEquals(walk.last, sentinel);
        if (!sentinelMatches) {
            walk.breakAt(SENTINEL_MISMATCH, walk.last, walk.last < 0 ? null : walk.walked - 1);
        }
        Boolean expectationsMet = null;
        if (expectation.isGiven()) {
            int anchorPosition = anchorPosition(walk, expectation);
            expectationsMet = anchorPosition < 0;
            if (anchorPosition >= 0) {
                int row = anchorPosition < walk.walked ? walk.order[anchorPosition] : walk.last;
                walk.breakAt(EXPECTATION_MISMATCH, row, row < 0 ? null : Math.min(anchorPosition, walk.walked - 1));
            }
        }
        boolean broken = walk.kind != null;
        return new Verdict(walk.walked, broken ? BROKEN : CLEAN,
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
    private static int anchorPosition(Walk walk, Expectation expectation) {
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
