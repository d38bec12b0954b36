// The rows of audit_events for the client walk, streamed at COPY speed:
// `COPY (SELECT the contract's columns) TO STDOUT` in text format through
// the driver's COPY support, instead of a result set a row at a time. The
// calling thread receives each row and parses it, hashing the payload
// straight from the received bytes, before it receives the next: a second
// thread to receive overlapped the two but cost 0.3 CPU-s more at 2,000,000
// rows in hand-offs, and a full verify keeps both cores busy without it
// (deploy/bench/RESULTS.md, 2026-12-07).

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.function.Function;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * Streams the eleven contract columns of every row, in the table's physical
 * order (the same order on every read inside one transaction), as rows for
 * ChainWalker. Run inside the verify transaction: every read sees the
 * snapshot of that transaction.
 */
final class CopyRows implements ChainWalker.RowSource {

    /**
     * The columns in the order parsed below. details goes out as COPY prints
     * jsonb, through the type's own output function: the text the trigger
     * hashes (details::text) unless a superuser has added a cast from jsonb
     * to text, which would make ::text print whatever it likes; COPY uses no
     * cast.
     */
    static final String COLUMNS = "id, actor, actor_type, action, resource_type, resource_id, details,"
            + " \"timestamp\", event_category, prev_hash, row_hash";

    private static final int ID = 0;
    private static final int DETAILS = 6;
    private static final int TIMESTAMP = 7;
    private static final int CATEGORY = 8;
    private static final int PREV_HASH = 9;
    private static final int ROW_HASH = 10;
    private static final int FIELDS = 11;
    /** id to details: the fields the payload holds one after another, as bits by index. */
    private static final int TEXT_FIELDS = (1 << (DETAILS + 1)) - 1;
    /** The fields whose text the payload holds as it is (all but the timestamp), as bits by index. */
    private static final int PAYLOAD_TEXT_FIELDS = ((1 << (CATEGORY + 1)) - 1) & ~(1 << TIMESTAMP);

    /** Fields longer than this (as COPY sends them) are hashed in pieces of this size, never copied whole. */
    static final int LARGE_FIELD = 1 << 16;
    /** Ids and hashes longer than this are cut when read as text (see RowParser.text). */
    static final int MAX_TEXT = 4096;
    /** The length of a hash's text: 64 hex digits. */
    private static final int HASH_TEXT = 64;

    private final Connection connection;
    private final String rowsClause;
    private final Function<SQLException, Failure> onError;
    /** The rows the last read received, those dropped unparsed included. */
    private long rowsReceived = -1;

    /**
     * Pins what the rows' text and order depend on for this transaction:
     * timestamps in UTC with ISO dates (the payload's form is then a few byte
     * moves), one plain sequential scan from the first block (no scan joining
     * another one half-way, no parallel workers), so every read returns the
     * rows in the same order.
     */
    /** rowsClause follows SELECT columns: "FROM audit_events" and whatever WHERE and ORDER BY it needs. */
    CopyRows(Connection connection, String rowsClause, Function<SQLException, Failure> onError) throws Failure {
        this.connection = connection;
        this.rowsClause = rowsClause;
        this.onError = onError;
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET LOCAL TimeZone = 'UTC'");
            statement.execute("SET LOCAL DateStyle = 'ISO, YMD'");
            statement.execute("SET LOCAL synchronize_seqscans = off");
            statement.execute("SET LOCAL max_parallel_workers_per_gather = 0");
            // A policy that would hide rows makes the read fail instead (SchemaCheck.requireEveryRowVisible).
            statement.execute("SET LOCAL row_security = off");
        } catch (SQLException e) {
            throw onError.apply(e);
        }
    }

    /** Whether the table has the chain position column our trigger fills (migration 000005). */
    static boolean hasChainPosition(Connection connection, String table, Deadline deadline, String doing)
            throws Failure {
        String found = Sql.queryOne(connection, "SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = ?::regclass"
                + " AND attname = 'chain_seq' AND NOT attisdropped", deadline, doing, table);
        return !"0".equals(found);
    }

    /**
     * Whether the planner's statistics say the heap holds the rows in
     * chain_seq order (a log appended by one writer at a time): then the
     * client first walks them in heap order (Verification.ClientVerifier),
     * which a row out of place only makes stop early. Without statistics,
     * or with rows reshuffled (CLUSTER, rows filling freed space), no.
     */
    static boolean heapLooksInChainOrder(Connection connection, String schema, Deadline deadline, String doing)
            throws Failure {
        return "t".equals(Sql.queryOne(connection, "SELECT coalesce(max(correlation), 0) > " + HEAP_ORDER_CORRELATION
                + " FROM pg_catalog.pg_stats WHERE schemaname = ? AND tablename = 'audit_events'"
                + " AND attname = 'chain_seq' AND NOT inherited", deadline, doing, schema));
    }

    /** pg_stats.correlation of chain_seq above which the heap is read first: 1 is the heap in chain_seq order. */
    static final double HEAP_ORDER_CORRELATION = 0.99;

    /**
     * The rows in chain position order, rows without one last. Every read in
     * the transaction must give the same order, ties included: the planner
     * is steered to the chain_seq index, whose scan orders equal keys by
     * their place in the heap, and an ordered plan cannot change between
     * reads when the statistics do. (A ctid tie-breaker would cost a sort,
     * about a quarter of the COPY's time.) Without an index it sorts one
     * sequential scan, which is as repeatable. From a position (--since):
     * the rows at or after it through the index's range, then the rows
     * without a position; an OR of the two would read the whole index.
     */
    static CopyRows inChainOrder(Connection connection, String table, Long fromPosition,
                                 Function<SQLException, Failure> onError) throws Failure {
        String rowsClause = fromPosition == null
                ? "FROM " + table + " ORDER BY chain_seq"
                : "FROM ((SELECT * FROM " + table + " WHERE chain_seq >= " + fromPosition + " ORDER BY chain_seq)"
                        + " UNION ALL (SELECT * FROM " + table + " WHERE chain_seq IS NULL)) AS from_checkpoint";
        CopyRows rows = new CopyRows(connection, rowsClause, onError);
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET LOCAL enable_seqscan = off");
            statement.execute("SET LOCAL enable_bitmapscan = off");
            statement.execute("SET LOCAL enable_indexonlyscan = off");
        } catch (SQLException e) {
            throw onError.apply(e);
        }
        return rows;
    }

    @Override
    public void stream(boolean rehash, ChainWalker.RowSink sink) throws Failure {
        streamUntilStopped(rehash, sink);
    }

    /**
     * How many rows the last read received, whether parsed or dropped after
     * the sink stopped it: with rowsClause over the whole table, its count
     * in the transaction's snapshot. -1 before the first read.
     */
    long rowsInLastRead() {
        return rowsReceived;
    }

    /**
     * Thrown by a sink to end a read early (streamUntilStopped): it carries
     * no stack trace, as it is an answer, not a failure.
     */
    static final class StopReading extends RuntimeException {
        StopReading() {
            super("the rows need not be read further", null, false, false);
        }
    }

    /**
     * Like stream, but the sink may end the read by throwing StopReading:
     * false then. The rows still coming are received and dropped unparsed,
     * so the connection is ready for the next statement of the transaction.
     */
    boolean streamUntilStopped(boolean rehash, ChainWalker.RowSink sink) throws Failure {
        RowParser parser = new RowParser(rehash);
        rowsReceived = -1;
        CopyOut copy = startCopy();
        long received = 0;
        boolean stopped = false;
        for (byte[] line = nextRow(copy); line != null; line = nextRow(copy)) {
            received++;
            if (!stopped) {
                stopped = !parse(parser, line, sink);
            }
        }
        rowsReceived = received;
        return !stopped;
    }

    /** Hands one row to the sink; false when the sink wants no more rows. */
    private static boolean parse(RowParser parser, byte[] line, ChainWalker.RowSink sink) {
        try {
            parser.parse(line, sink);
            return true;
        } catch (StopReading stop) {
            return false;
        }
    }

    private CopyOut startCopy() throws Failure {
        try {
            return connection.unwrap(PGConnection.class).getCopyAPI()
                    .copyOut("COPY (SELECT " + COLUMNS + " " + rowsClause + ") TO STDOUT");
        } catch (SQLException e) {
            throw onError.apply(e);
        } catch (RuntimeException | Error e) {
            throw readFailure(e);
        }
    }

    /**
     * The next row as the driver hands it over (one array, the COPY data
     * message), null after the last. Only one row is held at a time: the
     * next is received once this one is parsed, so a few huge rows never
     * sit in memory together.
     */
    private byte[] nextRow(CopyOut copy) throws Failure {
        try {
            return copy.readFromCopy();
        } catch (SQLException e) {
            throw onError.apply(e);
        } catch (RuntimeException | Error e) {
            throw readFailure(e);
        }
    }

    /** Anything else the driver met (the heap running out, a driver bug) ends the run in one line. */
    private static Failure readFailure(Throwable failure) {
        if (failure instanceof OutOfMemoryError) {
            return new Failure(Progress.outOfMemory());
        }
        return new Failure("reading audit_events failed: " + failure.toString().replaceAll("\\s*\\R\\s*", " "));
    }

    /**
     * One line of COPY's text format: fields separated by tabs, \N for NULL,
     * backslash escapes for backslash, tab, newline and a few more. The
     * payload is built from the unescaped bytes, which are the fields' UTF-8
     * text, exactly what the trigger hashes.
     */
    static final class RowParser {
        private static final byte PLAIN = 0;
        private static final byte TAB = 1;
        private static final byte BACKSLASH = 2;
        private static final byte PIPE = 3;
        private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
        private static final long LOW_SEVEN_BITS = 0x7f7f7f7f7f7f7f7fL;
        private static final long TABS = 0x0909090909090909L;
        private static final long BACKSLASHES = 0x5c5c5c5c5c5c5c5cL;
        private static final long PIPES = 0x7c7c7c7c7c7c7c7cL;
        /** What split() must notice about each byte value: almost all are PLAIN. */
        private static final byte[] BYTE_KINDS = new byte[256];

        static {
            BYTE_KINDS['\t'] = TAB;
            BYTE_KINDS['\\'] = BACKSLASH;
            BYTE_KINDS['|'] = PIPE;
        }

        private final boolean rehash;
        private final MessageDigest sha256 = AuditRow.newSha256();
        private final int[] starts = new int[FIELDS];
        private final int[] ends = new int[FIELDS];
        /** The field split() is in. */
        private int splitField;
        /** Bit f set: field f holds a backslash (an escape, or \\N), so its bytes are not its text. */
        private int escapedFields;
        /** Bit f set: field f holds a '|', the payload's separator. */
        private int pipedFields;
        private byte[] field = new byte[256];
        private int pieceLength;
        private byte[] payload = new byte[1024];
        private int payloadLength;
        /** The last row's row_hash as sent (when plain text of at most HASH_TEXT bytes) and as the String handed on. */
        private final byte[] lastRowHashBytes = new byte[HASH_TEXT];
        private int lastRowHashLength = -1;
        private String lastRowHash;

        RowParser(boolean rehash) {
            this.rehash = rehash;
        }

        void parse(byte[] line, ChainWalker.RowSink sink) {
            split(line);
            String id = text(line, ID);
            String prevHash = linksToTheLastRow(line) ? lastRowHash : text(line, PREV_HASH);
            String rowHash = text(line, ROW_HASH);
            keepRowHash(line, rowHash);
            boolean ambiguous = timestampOutsideThePayload(line) || (pipedFields & PAYLOAD_TEXT_FIELDS) != 0;
            byte[] recomputed = rehash ? hashOrNull(line) : null;
            sink.row(id == null ? "" : id, prevHash, rowHash, recomputed, ambiguous);
        }

        /**
         * Whether prev_hash holds the bytes of the last row's row_hash, as it
         * does in a chain read in order: its String is then that row's, made
         * once for both (and ChainWalker, seeing the same String, need not
         * parse it again).
         */
        private boolean linksToTheLastRow(byte[] line) {
            int start = starts[PREV_HASH];
            int length = ends[PREV_HASH] - start;
            return length == lastRowHashLength && !isEscaped(PREV_HASH)
                    && Arrays.equals(line, start, start + length, lastRowHashBytes, 0, length);
        }

        /** Keeps this row's row_hash for the next row's linksToTheLastRow: only plain text that fits. */
        private void keepRowHash(byte[] line, String rowHash) {
            int start = starts[ROW_HASH];
            int length = ends[ROW_HASH] - start;
            if (rowHash == null || isEscaped(ROW_HASH) || length > HASH_TEXT) {
                lastRowHashLength = -1;
                lastRowHash = null;
                return;
            }
            System.arraycopy(line, start, lastRowHashBytes, 0, length);
            lastRowHashLength = length;
            lastRowHash = rowHash;
        }

        /**
         * 'infinity', '-infinity' and BC dates ("0044-03-15 10:00:00+00 BC"):
         * the payload has no text for the first two and omits the era of
         * the last, so such a row is ambiguous (issue 18 item 6).
         */
        private boolean timestampOutsideThePayload(byte[] line) {
            int end = ends[TIMESTAMP];
            return end - starts[TIMESTAMP] >= 3 && (line[end - 1] == 'y' || (line[end - 1] == 'C' && line[end - 2] == 'B'));
        }

        /**
         * Finds the fields, and in the same pass which of them hold a
         * backslash or a '|': most fields hold neither, and are then copied
         * or read as they are, without a second look at their bytes. The
         * line is read eight bytes at a time: a word without a tab, a
         * backslash or a '|' (most of them) costs a few arithmetic steps
         * instead of eight loads and tests, a third of the parsing
         * time when read a byte at a time.
         */
        private void split(byte[] line) {
            int length = line.length > 0 && line[line.length - 1] == '\n' ? line.length - 1 : line.length;
            splitField = 0;
            starts[0] = 0;
            escapedFields = 0;
            pipedFields = 0;
            int i = 0;
            for (; i + Long.BYTES <= length && splitField < FIELDS; i += Long.BYTES) {
                long word = (long) LONGS.get(line, i);
                long special = equalBytes(word, TABS) | equalBytes(word, BACKSLASHES) | equalBytes(word, PIPES);
                for (; special != 0 && splitField < FIELDS; special &= special - 1) {
                    note(line, i + (Long.numberOfTrailingZeros(special) >>> 3));
                }
            }
            for (; i < length && splitField < FIELDS; i++) {
                if (BYTE_KINDS[line[i] & 0xff] != PLAIN) {
                    note(line, i);
                }
            }
            if (splitField != FIELDS - 1) {
                throw new IllegalStateException("COPY gave a row of " + (splitField + 1) + " fields, not " + FIELDS);
            }
            ends[splitField] = length;
        }

        /** A tab ends the field being split; a backslash or a '|' marks it. */
        private void note(byte[] line, int at) {
            byte kind = BYTE_KINDS[line[at] & 0xff];
            if (kind == TAB) {
                ends[splitField] = at;
                if (++splitField < FIELDS) {
                    starts[splitField] = at + 1;
                }
            } else if (kind == BACKSLASH) {
                escapedFields |= 1 << splitField;
            } else {
                pipedFields |= 1 << splitField;
            }
        }

        /**
         * 0x80 in each byte of the word that equals the byte the pattern
         * repeats, 0 in every other: exact, as no step carries from one byte
         * into the next (the low seven bits of a byte plus 0x7f stay within it).
         */
        static long equalBytes(long word, long pattern) {
            long differs = word ^ pattern;
            return ~(((differs & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | differs | LOW_SEVEN_BITS);
        }

        private boolean isEscaped(int f) {
            return (escapedFields & 1 << f) != 0;
        }

        private boolean isNull(byte[] line, int f) {
            return isEscaped(f) && ends[f] - starts[f] == 2 && line[starts[f]] == '\\' && line[starts[f] + 1] == 'N';
        }

        /**
         * The field's text, or null for NULL. Only ids and hashes are read as
         * text, to be reported or compared: past MAX_TEXT bytes a value is
         * cut and marked with "…", so a huge one costs no more memory
         * (a hash that long is no hash anyway).
         */
        private String text(byte[] line, int f) {
            if (isNull(line, f)) {
                return null;
            }
            if (ends[f] - starts[f] <= MAX_TEXT && !isEscaped(f)) {
                return new String(line, starts[f], ends[f] - starts[f], StandardCharsets.UTF_8);
            }
            if (ends[f] - starts[f] <= MAX_TEXT) {
                int length = unescape(line, f);
                return new String(field, 0, length, StandardCharsets.UTF_8);
            }
            if (field.length < MAX_TEXT) {
                field = new byte[MAX_TEXT];
            }
            unescapePiece(line, starts[f], ends[f], MAX_TEXT);
            return new String(field, 0, pieceLength, StandardCharsets.UTF_8) + "…";
        }

        /** The payload of SPEC section 6 from the row's fields, hashed; null when no trigger could hash it. */
        private byte[] hashOrNull(byte[] line) {
            for (int f = ID; f < DETAILS; f++) {
                if (isNull(line, f)) {
                    return null;
                }
            }
            if (isNull(line, TIMESTAMP)) {
                return null;
            }
            payloadLength = 0;
            appendField(line, PREV_HASH);
            if (!appendPlainTextFields(line)) {
                for (int f = ID; f <= DETAILS; f++) {
                    appendByte((byte) '|');
                    appendField(line, f);
                }
            }
            appendByte((byte) '|');
            if (!appendUtcTimestamp(line)) {
                return null;
            }
            appendByte((byte) '|');
            appendField(line, CATEGORY);
            sha256.update(payload, 0, payloadLength);
            return sha256.digest();
        }

        /**
         * "|id|actor|…|details" when none of these fields holds an escape
         * (or is NULL): their bytes in the line, tabs and all, in one copy,
         * each tab then made a '|'. False, and nothing appended, otherwise.
         */
        private boolean appendPlainTextFields(byte[] line) {
            int start = starts[ID];
            int length = ends[DETAILS] - start;
            if ((escapedFields & TEXT_FIELDS) != 0 || length > LARGE_FIELD) {
                return false;
            }
            ensurePayload(length + 1);
            payload[payloadLength] = '|';
            System.arraycopy(line, start, payload, payloadLength + 1, length);
            int shift = payloadLength + 1 - start;
            for (int f = ID; f < DETAILS; f++) {
                payload[ends[f] + shift] = '|';
            }
            payloadLength += length + 1;
            return true;
        }

        /** A NULL field adds nothing (the payload's coalesce(..., '')). */
        private void appendField(byte[] line, int f) {
            if (isNull(line, f)) {
                return;
            }
            if (ends[f] - starts[f] > LARGE_FIELD) {
                digestLargeField(line, f);
                return;
            }
            if (!isEscaped(f)) {
                appendBytes(line, starts[f], ends[f] - starts[f]);
                return;
            }
            int length = unescape(line, f);
            ensurePayload(length);
            System.arraycopy(field, 0, payload, payloadLength, length);
            payloadLength += length;
        }

        /**
         * "2026-05-16 12:00:00.5+00" becomes "2026-05-16T12:00:00.500000Z";
         * anything else (BC years, infinity, long years) takes the general
         * conversion. False when the timestamp has no UTC text of its own (infinity, BC).
         */
        private boolean appendUtcTimestamp(byte[] line) {
            int start = starts[TIMESTAMP];
            int end = ends[TIMESTAMP];
            int length = end - start;
            boolean common = length >= 22 && length <= 29 && line[start + 10] == ' ' && line[start + 4] == '-'
                    && line[end - 3] == '+' && line[end - 2] == '0' && line[end - 1] == '0'
                    && (length == 22 || line[start + 19] == '.');
            if (!common) {
                String utc = AuditRow.utcMicrosFromIsoText(text(line, TIMESTAMP));
                if (utc == null) {
                    return false;
                }
                byte[] bytes = utc.getBytes(StandardCharsets.UTF_8);
                ensurePayload(bytes.length);
                System.arraycopy(bytes, 0, payload, payloadLength, bytes.length);
                payloadLength += bytes.length;
                return true;
            }
            ensurePayload(27);
            System.arraycopy(line, start, payload, payloadLength, 19);
            payload[payloadLength + 10] = 'T';
            payload[payloadLength + 19] = '.';
            int digits = length == 22 ? 0 : length - 23;
            System.arraycopy(line, start + 20, payload, payloadLength + 20, digits);
            for (int i = digits; i < 6; i++) {
                payload[payloadLength + 20 + i] = '0';
            }
            payload[payloadLength + 26] = 'Z';
            payloadLength += 27;
            return true;
        }

        private void appendBytes(byte[] from, int start, int length) {
            ensurePayload(length);
            System.arraycopy(from, start, payload, payloadLength, length);
            payloadLength += length;
        }

        private void appendByte(byte value) {
            ensurePayload(1);
            payload[payloadLength++] = value;
        }

        private void ensurePayload(int more) {
            if (payloadLength + more > payload.length) {
                payload = java.util.Arrays.copyOf(payload, Math.max(payload.length * 2, payloadLength + more));
            }
        }

        /**
         * A large field goes into the digest a piece at a time, straight
         * from the line: the payload so far first, then the field's
         * unescaped bytes. The digest sees the same bytes in the same order,
         * so the hash is the same, and no copy of the field is made.
         */
        private void digestLargeField(byte[] line, int f) {
            sha256.update(payload, 0, payloadLength);
            payloadLength = 0;
            if (field.length < LARGE_FIELD) {
                field = new byte[LARGE_FIELD];
            }
            for (int at = starts[f]; at < ends[f]; ) {
                at = unescapePiece(line, at, ends[f], LARGE_FIELD);
                sha256.update(field, 0, pieceLength);
            }
        }

        /** Unescapes field f into `field`; returns its length. */
        private int unescape(byte[] line, int f) {
            int start = starts[f];
            int end = ends[f];
            if (field.length < end - start) {
                field = new byte[Math.max(field.length * 2, end - start)];
            }
            unescapePiece(line, start, end, end - start);
            return pieceLength;
        }

        /**
         * Unescapes line[start, end) into `field` until it holds most bytes
         * (each escape gives one byte, so a piece never splits one); sets
         * pieceLength and returns where the next piece starts.
         */
        private int unescapePiece(byte[] line, int start, int end, int most) {
            int length = 0;
            int i = start;
            for (; i < end && length < most; i++) {
                byte b = line[i];
                if (b != '\\' || i + 1 == end) {
                    field[length++] = b;
                    continue;
                }
                byte escaped = line[++i];
                switch (escaped) {
                    case 'b' -> field[length++] = '\b';
                    case 'f' -> field[length++] = '\f';
                    case 'n' -> field[length++] = '\n';
                    case 'r' -> field[length++] = '\r';
                    case 't' -> field[length++] = '\t';
                    case 'v' -> field[length++] = 0x0b;
                    default -> {
                        if (escaped >= '0' && escaped <= '7') {
                            int value = escaped - '0';
                            for (int digits = 1; digits < 3 && i + 1 < end && line[i + 1] >= '0' && line[i + 1] <= '7'; digits++) {
                                value = value * 8 + line[++i] - '0';
                            }
                            field[length++] = (byte) value;
                        } else {
                            field[length++] = escaped; // \\ and any other escaped character stand for themselves
                        }
                    }
                }
            }
            pieceLength = length;
            return i;
        }
    }
}
