// The index the walker finds segment heads' predecessors with: for each key
// hash, the first row (in arrival order) with that hash, told apart by the
// full hash when fingerprints collide; and the temporary file that holds the
// hashes, which leaves nothing behind.

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class FirstRowIndexTest {

    private static byte[] hash(int fill) {
        byte[] hash = new byte[32];
        Arrays.fill(hash, (byte) fill);
        return hash;
    }

    @Test
    void keysSharingAFingerprintAreToldApartByTheirFullHash() {
        // Every hash has the fingerprint 0: only the full hashes differ.
        try (FirstRowIndex index = new FirstRowIndex(hash -> 0, 1)) {
            index.add(hash(1));
            index.add(hash(2));
            index.add(hash(1));      // a second key with the same hash (a fork)
            index.add(null);         // a key no row has
            index.add(hash(3));      // no row has it either
            index.seal();
            index.offer(0, hash(2));
            index.offer(1, hash(9));
            index.offer(2, hash(1));
            index.offer(3, hash(2)); // not the first row with it
            index.offer(4, hash(1));
            assertArrayEquals(new int[] {2, 0, 2, -1, -1}, index.firstRows());
            assertTrue(index.usedFile(), "one key on the heap: the others went to the file");
            assertEquals(null, index.failure());
        }
    }

    /**
     * Thousands of keys and rows, some hashes repeated, against a HashMap:
     * with the seeded fingerprint, one that puts every hash in one of two
     * groups, and keys on the heap or in the file (block edges included).
     */
    @Test
    void firstRowsAgreeWithAMapWhateverTheFingerprint() {
        Random random = new Random(11);
        List<FirstRowIndex.Fingerprint> fingerprints = List.of(FirstRowIndex.randomlySeeded(),
                FirstRowIndex.seeded(42), hash -> hash[5] & 1);
        for (FirstRowIndex.Fingerprint fingerprint : fingerprints) {
            for (int pending : new int[] {7, 128, 100_000}) {
                List<byte[]> distinct = new ArrayList<>();
                for (int i = 0; i < 600; i++) {
                    byte[] hash = new byte[32];
                    random.nextBytes(hash);
                    distinct.add(hash);
                }
                try (FirstRowIndex index = new FirstRowIndex(fingerprint, pending)) {
                    List<byte[]> keys = new ArrayList<>();
                    for (int k = 0; k < 2000; k++) {
                        byte[] key = random.nextInt(20) == 0 ? null : distinct.get(random.nextInt(distinct.size()));
                        keys.add(key);
                        assertEquals(k, index.add(key));
                    }
                    index.seal();
                    Map<String, Integer> firstRowOf = new HashMap<>();
                    for (int row = 0; row < 3000; row++) {
                        byte[] rowHash = distinct.get(random.nextInt(distinct.size()));
                        firstRowOf.putIfAbsent(Arrays.toString(rowHash), row);
                        index.offer(row, rowHash.clone());
                    }
                    int[] expected = keys.stream().mapToInt(key -> key == null ? -1
                            : firstRowOf.getOrDefault(Arrays.toString(key), -1)).toArray();
                    assertArrayEquals(expected, index.firstRows(), "pending " + pending);
                    assertEquals(pending < 2000, index.usedFile());
                }
            }
        }
    }

    @Test
    void theSpillReadsBackWhatItWroteAndLeavesNoFile() throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (HashSpill spill = new HashSpill(3)) {
            for (int i = 0; i < 1000; i++) {
                spill.append(i % 10 == 0 ? null : hash(i));
            }
            assertTrue(spill.usedFile());
            assertEquals(List.of(), spillFiles(tmp), "the file has no name while it is open");
            for (int i = 999; i >= 0; i -= 7) {
                assertEquals(i % 10 != 0, spill.holds(i, hash(i)), "record " + i);
                assertFalse(spill.holds(i, hash(i + 1)), "record " + i);
            }
            assertTrue(spill.holds(990, hash(0)), "a record standing for no hash holds zeros");
        }
        assertEquals(List.of(), spillFiles(tmp));
    }

    private static List<Path> spillFiles(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(file -> file.getFileName().toString().startsWith("backupsmoke-chain-")).toList();
        }
    }
}
