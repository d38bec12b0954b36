// For a set of 32-byte hashes (the keys), the first row, in the order rows
// arrive, whose row_hash is each: what a HashMap from hash to row did for the
// walker, in 16 bytes of heap a key (and none while keys are added) instead of
// some 150. The keys themselves wait in a HashSpill (on disk past its first
// records).
//
// Once all keys are in, each is kept as a 31-bit fingerprint of its hash
// packed with its number in one long, and the longs are sorted (an array
// sized once, from a read of the spill). A row whose fingerprint matches a key's
// is compared with the full key from the spill, so hashes that share a
// fingerprint never count as one. The default fingerprint is keyed by a
// random seed: row_hash values written by hand cannot be chosen to share one,
// which would cost time (a comparison each), never a wrong answer.

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.BitSet;

final class FirstRowIndex implements AutoCloseable {

    /** A hash's fingerprint: any value from 0 to 2^31-1. */
    interface Fingerprint {
        int of(byte[] hash);
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** A fingerprint mixing all 32 bytes with a seed (SplitMix64's finalizer after each 8 bytes). */
    static Fingerprint seeded(long seed) {
        return hash -> {
            long mixed = seed;
            for (int at = 0; at < HashSpill.HASH_BYTES; at += 8) {
                mixed ^= (long) LONGS.get(hash, at);
                mixed = (mixed ^ (mixed >>> 30)) * 0xbf58476d1ce4e5b9L;
                mixed = (mixed ^ (mixed >>> 27)) * 0x94d049bb133111ebL;
                mixed ^= mixed >>> 31;
            }
            return (int) (mixed >>> 33);
        };
    }

    static Fingerprint randomlySeeded() {
        return seeded(new SecureRandom().nextLong());
    }

    private final Fingerprint fingerprint;
    private final HashSpill keys;
    private final BitSet noHash = new BitSet(); // keys no row has
    private int keyCount;
    private long[] entries;                     // fingerprint << 32 | key for each key with a hash, ascending
    private int entryCount;
    private int[] firstRow;                     // by key, -1 until a row has its hash
    private int[] nextOpen;                     // by entry: the next entry from it on whose key has no row yet

    /** pendingKeys: how many keys stay on the heap before the spill writes them to a file. */
    FirstRowIndex(Fingerprint fingerprint, int pendingKeys) {
        this.fingerprint = fingerprint;
        this.keys = new HashSpill(pendingKeys);
    }

    /** Adds a key and returns its number (0, 1, ...); null adds a key no row has. Before seal only. */
    int add(byte[] hash) {
        int key = keyCount++;
        keys.append(hash);
        if (hash == null) {
            noHash.set(key);
        }
        return key;
    }

    int keys() {
        return keyCount;
    }

    /** Ends the keys: from now on rows are offered. */
    void seal() {
        entries = new long[keyCount - noHash.cardinality()];
        keys.forEach((key, hash) -> {
            if (!noHash.get((int) key)) {
                entries[entryCount++] = (long) fingerprint.of(hash) << 32 | key;
            }
        });
        Arrays.sort(entries, 0, entryCount);
        firstRow = new int[keyCount];
        Arrays.fill(firstRow, -1);
        nextOpen = new int[entryCount + 1];
        for (int i = 0; i <= entryCount; i++) {
            nextOpen[i] = i;
        }
    }

    /** A row's hash, rows in arrival order: it becomes the first row of every key it equals that has none yet. */
    void offer(int row, byte[] rowHash) {
        long group = (long) fingerprint.of(rowHash) << 32;
        int found = Arrays.binarySearch(entries, 0, entryCount, group);
        int first = found >= 0 ? found : -found - 1;
        for (int i = open(first); i < entryCount && (entries[i] & 0xffffffff00000000L) == group; i = open(i + 1)) {
            int key = (int) entries[i];
            if (keys.holds(key, rowHash)) {
                firstRow[key] = row;
                nextOpen[i] = i + 1;
            }
        }
    }

    /** The first entry from i on whose key still has no row (i itself when it has none), shortening the way. */
    private int open(int i) {
        int open = i;
        while (nextOpen[open] != open) {
            open = nextOpen[open];
        }
        while (nextOpen[i] != open) {
            int next = nextOpen[i];
            nextOpen[i] = open;
            i = next;
        }
        return open;
    }

    /** After the rows: the first row with each key's hash, -1 when none; the index's own array. */
    int[] firstRows() {
        return firstRow;
    }

    /** The first error of the spill's file; the answers are unknown then. */
    java.io.IOException failure() {
        return keys.failure();
    }

    boolean usedFile() {
        return keys.usedFile();
    }

    @Override
    public void close() {
        keys.close();
        entries = null;
        nextOpen = null;
    }
}
