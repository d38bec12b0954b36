// An append-only list of 32-byte hashes that keeps only its newest records on
// the heap: the others go to a temporary file in java.io.tmpdir. The walker's
// bookkeeping for rows out of link order (FirstRowIndex) keeps a small
// fingerprint of each hash in memory and compares with the full hash here.
//
// The file is opened with DELETE_ON_CLOSE, which on Linux removes its name
// the moment it is opened: it never outlives the process, whatever ends it,
// and its space is freed when the list is closed.

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

final class HashSpill implements AutoCloseable {
    static final int HASH_BYTES = 32;

    /** Records read from the file at a time: one page, so confirming keys in order costs one read a page. */
    private static final int READ_BLOCK_RECORDS = 128;

    private final byte[] pending;            // records [onDisk, count), not written yet
    private long count;
    private long onDisk;
    private FileChannel file;                // null until the pending records first overflow
    private final ByteBuffer block = ByteBuffer.allocate(READ_BLOCK_RECORDS * HASH_BYTES);
    private long blockStart = -1;            // the first record in block, -1 when block holds none
    private int blockRecords;
    private IOException failure;

    /** Keeps up to pendingRecords records on the heap before it writes them to the file. */
    HashSpill(int pendingRecords) {
        pending = new byte[Math.max(1, pendingRecords) * HASH_BYTES];
    }

    /** Appends a hash; null appends a record that stands for no hash (it is never compared). */
    void append(byte[] hash) {
        if (failure != null) {
            count++;
            return;
        }
        int at = (int) (count - onDisk) * HASH_BYTES;
        if (at == pending.length) {
            writePending();
            at = 0;
        }
        if (hash == null) {
            Arrays.fill(pending, at, at + HASH_BYTES, (byte) 0);
        } else {
            System.arraycopy(hash, 0, pending, at, HASH_BYTES);
        }
        count++;
    }

    /** Whether the record holds exactly this hash; false once the spill has failed (see failure). */
    boolean holds(long record, byte[] hash) {
        if (failure != null) {
            return false;
        }
        if (record >= onDisk) {
            int at = (int) (record - onDisk) * HASH_BYTES;
            return Arrays.equals(pending, at, at + HASH_BYTES, hash, 0, HASH_BYTES);
        }
        if (record < blockStart || record >= blockStart + blockRecords) {
            readBlock(record);
            if (failure != null) {
                return false;
            }
        }
        int at = (int) (record - blockStart) * HASH_BYTES;
        return Arrays.equals(block.array(), at, at + HASH_BYTES, hash, 0, HASH_BYTES);
    }

    /** What each record holds, in order. */
    interface RecordVisitor {
        /** hash is a buffer the next record overwrites. */
        void record(long record, byte[] hash);
    }

    /**
     * Reads every record back in order: the file's in large pieces, then
     * those still pending. None once the spill has failed (records after the
     * failure were counted, not kept).
     */
    void forEach(RecordVisitor visitor) {
        if (failure != null) {
            return;
        }
        byte[] hash = new byte[HASH_BYTES];
        ByteBuffer piece = ByteBuffer.allocate(64 * READ_BLOCK_RECORDS * HASH_BYTES);
        try {
            for (long first = 0; first < onDisk && failure == null; first += piece.capacity() / HASH_BYTES) {
                int records = (int) Math.min(piece.capacity() / HASH_BYTES, onDisk - first);
                piece.clear().limit(records * HASH_BYTES);
                while (piece.hasRemaining()) {
                    if (file.read(piece, first * HASH_BYTES + piece.position()) < 0) {
                        throw new IOException("the temporary file ended before record " + (first + records));
                    }
                }
                for (int i = 0; i < records; i++) {
                    System.arraycopy(piece.array(), i * HASH_BYTES, hash, 0, HASH_BYTES);
                    visitor.record(first + i, hash);
                }
            }
        } catch (IOException e) {
            failure = e;
            return;
        }
        for (long record = onDisk; record < count; record++) {
            System.arraycopy(pending, (int) (record - onDisk) * HASH_BYTES, hash, 0, HASH_BYTES);
            visitor.record(record, hash);
        }
    }

    /** The first error writing or reading the file, if any; what it held is then unknown. */
    IOException failure() {
        return failure;
    }

    /** An error of the file in words: Java names a missing or forbidden path only by the path. */
    static String describe(IOException failure) {
        if (failure instanceof NoSuchFileException) {
            return "no such folder: " + failure.getMessage();
        }
        if (failure instanceof AccessDeniedException) {
            return "permission denied: " + failure.getMessage();
        }
        return String.valueOf(failure.getMessage()).replaceAll("\\s*\\R\\s*", " ");
    }

    /** Whether any record went to the file (for tests). */
    boolean usedFile() {
        return file != null;
    }

    private void writePending() {
        try {
            if (file == null) {
                Path path = Files.createTempFile("backupsmoke-chain-", ".hashes");
                file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                        StandardOpenOption.DELETE_ON_CLOSE);
            }
            ByteBuffer records = ByteBuffer.wrap(pending);
            long position = onDisk * HASH_BYTES;
            while (records.hasRemaining()) {
                position += file.write(records, position);
            }
            onDisk = count;
        } catch (IOException e) {
            failure = e;
        }
    }

    /** Reads the page of records that holds this one. */
    private void readBlock(long record) {
        long first = record - record % READ_BLOCK_RECORDS;
        int wanted = (int) Math.min(READ_BLOCK_RECORDS, onDisk - first);
        block.clear().limit(wanted * HASH_BYTES);
        try {
            long position = first * HASH_BYTES;
            while (block.hasRemaining()) {
                int read = file.read(block, position + block.position());
                if (read < 0) {
                    throw new IOException("the temporary file ended before record " + (first + wanted));
                }
            }
            blockStart = first;
            blockRecords = wanted;
        } catch (IOException e) {
            failure = e;
            blockStart = -1;
        }
    }

    @Override
    public void close() {
        if (file != null) {
            try {
                file.close();
            } catch (IOException e) {
                // The file is already unlinked; closing only frees its space.
            }
            file = null;
        }
    }
}
