// The checkpoint ledger file (SPEC section 9.10): one JSON line per
// checkpoint, each naming the SHA-256 of the line before it, so the ledger is
// itself a hash chain; optionally each line is signed (Ed25519).

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;

/**
 * A ledger opened for appending: the file is locked exclusively (so two
 * cron runs cannot interleave: the second waits, within its --timeout, and
 * then sees the first's entry), read, and checked; append() writes one line with one write and
 * fsyncs it. The file is read line by line, and what is kept of a line is
 * its entry (sharing the fields equal to the previous entry's, as the
 * integrity fingerprint, over 1 KB, mostly is), the digest of its exact
 * bytes and where it starts: a year of 15-minute checkpoints (35,000 lines,
 * 60 MB) held as text, as the whole file's bytes, its text and its lines at
 * once, did not fit the launcher's heap. The signatures, over a line's
 * bytes, are checked by reading the lines again (check), and line(i) reads
 * one; both make sure the bytes are still those whose digest was taken.
 */
final class Ledger implements AutoCloseable {
    /** How often a checkpoint asks again for the lock another run holds. */
    private static final long LOCK_POLL_MILLIS = 50;
    /** How much of the file is read at once. */
    private static final int CHUNK = 1 << 16;

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final List<LedgerEntry> entries = new ArrayList<>();
    /** The digest of each line's bytes (LedgerEntry.digestOf). */
    private final List<String> digests = new ArrayList<>();
    /** Where each line starts in the file. */
    private final List<Long> starts = new ArrayList<>();
    /** Which lines are signed (LedgerEntry.signedBytes is not null). */
    private final BitSet signed = new BitSet();
    /** The length of the file read (and appended to). */
    private long end;

    private Ledger(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** Opens (creating an empty ledger when missing) and locks the file, waiting as long as it takes. */
    static Ledger openForAppend(Path file) throws Failure {
        return openForAppend(file, null);
    }

    /**
     * Opens (creating an empty ledger when missing) and locks the file;
     * parses its lines. The lock is waited for within DEADLINE (null: as
     * long as it takes): a run that holds it and does not end (stopped, or
     * hung on a file system) made every later cron run wait for ever, past
     * its --timeout, one more process each time.
     */
    static Ledger openForAppend(Path file, Deadline deadline) throws Failure {
        requireRegularFile(file, "cannot open the ledger ");
        while (true) {
            FileChannel channel = null;
            try {
                Object named = fileKey(file); // null: none yet, the open makes it
                channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
                Object opened = named != null ? named : fileKey(file);
                FileLock lock = deadline == null ? channel.lock() : lockWithin(file, channel, false, deadline);
                if (opened != null && !opened.equals(fileKey(file))) {
                    // Renamed over (a sync job's mv) while the lock was waited for: the line would go to a
                    // file FILE no longer names. The one it names now is opened and locked instead.
                    channel.close(); // and the lock with it
                    continue;
                }
                Ledger ledger = new Ledger(file, channel, lock);
                ledger.load(channel);
                return ledger;
            } catch (IOException e) {
                closeQuietly(channel);
                throw new Failure("cannot open the ledger " + file + ": " + Failure.reason(e));
            } catch (Failure e) {
                closeQuietly(channel);
                throw e;
            }
        }
    }

    /** FILE's identity (its device and inode); null when there is no such file or the file system gives none. */
    private static Object fileKey(Path file) {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
        } catch (IOException none) {
            return null;
        }
    }

    /**
     * A ledger is read more than once (its signatures, the line relied on) and appended to in place: a
     * pipe (--ledger=<(ssh host cat ledger)) showed a size of 0 and was taken for a ledger with no entry.
     * A missing file, and a folder, are left to the caller (which names them: no such file, is a directory).
     */
    private static void requireRegularFile(Path file, String cannot) throws Failure {
        if (Files.exists(file) && !Files.isRegularFile(file) && !Files.isDirectory(file)) {
            throw new Failure(cannot + file + ": not a regular file (a pipe cannot be read twice); copy it to a file");
        }
    }

    /** The lock (SHARED or exclusive), asked for again every LOCK_POLL_MILLIS until DEADLINE's time is up. */
    private static FileLock lockWithin(Path file, FileChannel channel, boolean shared, Deadline deadline)
            throws IOException, Failure {
        String doing = "waiting for the lock of the ledger " + file + " (another run holds it)";
        while (true) {
            FileLock lock = channel.tryLock(0, Long.MAX_VALUE, shared);
            if (lock != null) {
                return lock;
            }
            deadline.check(doing);
            try {
                Thread.sleep(Math.max(1, Math.min(LOCK_POLL_MILLIS, deadline.remainingMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure("interrupted while " + doing);
            }
        }
    }

    /**
     * Reads a ledger without creating it (drill-verify only reads), under a
     * shared lock: a checkpoint appending holds the exclusive one, and a
     * read during its write could see half of the new line (a torn line, a
     * broken ledger to an honest drill). The lock is released once read.
     * It is waited for as long as it takes.
     */
    static Ledger read(Path file) throws Failure {
        return read(file, null);
    }

    /**
     * The same, the lock waited for within DEADLINE (null: as long as it
     * takes): a checkpoint that holds it and does not end made the drill
     * wait for ever, past its --timeout.
     */
    static Ledger read(Path file, Deadline deadline) throws Failure {
        requireRegularFile(file, "cannot read the ledger ");
        Ledger ledger = new Ledger(file, null, null);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             FileLock shared = sharedLockOrNone(file, channel, deadline)) {
            ledger.load(channel);
        } catch (IOException e) {
            throw new Failure("cannot read the ledger " + file + ": " + Failure.reason(e));
        }
        return ledger;
    }

    /**
     * The ledger's last line that is not blank (null: none), its lines split
     * as String.lines() splits them, read under a shared lock, UTF-8 strictly
     * (else a CharacterCodingException), for readers that want only that
     * line: one line at a time is in memory, not the whole text (a year of
     * 15-minute checkpoints is 60 MB, which as text did not fit the
     * launcher's heap).
     */
    static String lastLineOf(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             FileLock shared = sharedLockOrNone(channel)) {
            // Not closed itself: closing it would close the channel before the lock is released.
            BufferedReader reader = new BufferedReader(Channels.newReader(channel,
                    StandardCharsets.UTF_8.newDecoder(), -1));
            String last = null;
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (!line.isBlank()) {
                    last = line;
                }
            }
            return last;
        }
    }

    /**
     * A shared lock, or null where the file system has none (a copy of the
     * ledger on a mount without locks, which no checkpoint appends to): it
     * is then read unlocked.
     */
    private static FileLock sharedLockOrNone(FileChannel channel) {
        try {
            return channel.lock(0, Long.MAX_VALUE, true);
        } catch (IOException noLocks) {
            return null;
        }
    }

    /** The same, waited for within DEADLINE (null: as long as it takes). */
    private static FileLock sharedLockOrNone(Path file, FileChannel channel, Deadline deadline) throws Failure {
        if (deadline == null) {
            return sharedLockOrNone(channel);
        }
        try {
            return lockWithin(file, channel, true, deadline);
        } catch (IOException noLocks) {
            return null;
        }
    }

    /** What is done with each line of the file: its text (strict UTF-8), its number from 0 and where it starts. */
    private interface LineVisitor {
        void line(String text, int index, long start) throws Failure;
    }

    /**
     * Every line of the file's first TO bytes, read through CHANNEL from its
     * start: each ends with a newline, and a last line without one is a torn
     * write (refused once the lines before were seen: VISIT may have found a
     * reason of its own, which comes second), and a file shorter than TO
     * one changed while it was read. Bytes that are not UTF-8 are an
     * IOException (CharacterCodingException), as lastLineOf's.
     */
    private void eachLine(FileChannel channel, long to, LineVisitor visit) throws IOException, Failure {
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(to, 1)));
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        long at = 0;
        long start = 0;
        int index = 0;
        while (at < to) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), to - at));
            int read = channel.read(chunk, at);
            if (read < 0) {
                // Cut short since its size was taken: the lines no longer there would go unchecked.
                throw changed(index);
            }
            byte[] bytes = chunk.array();
            int from = 0;
            for (int i = 0; i < read; i++) {
                if (bytes[i] == '\n') {
                    line.write(bytes, from, i - from);
                    visit.line(decoded(line.toByteArray()), index++, start);
                    line.reset();
                    from = i + 1;
                    start = at + i + 1;
                }
            }
            line.write(bytes, from, read - from);
            at += read;
        }
        if (line.size() > 0) {
            throw new Refusal("the ledger " + file + " is broken: its last line has no newline"
                    + " (an interrupted write or an edit)");
        }
    }

    private static String decoded(byte[] bytes) throws IOException {
        return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    }

    /**
     * Reads and parses every line. A line without a newline at the end, then
     * the first unparsable line, is the ledger broken; the lines after an
     * unparsable one are not parsed.
     */
    private void load(FileChannel channel) throws IOException, Failure {
        long size = channel.size();
        Refusal[] unparsable = {null};
        eachLine(channel, size, (text, index, start) -> {
            if (unparsable[0] != null) {
                return;
            }
            LedgerEntry entry;
            try {
                entry = LedgerEntry.parse(text);
            } catch (IllegalArgumentException e) {
                unparsable[0] = new Refusal("the ledger " + file + " is broken: line " + (index + 1) + ": "
                        + e.getMessage());
                return;
            }
            add(text, entry, start);
        });
        if (unparsable[0] != null) {
            throw unparsable[0];
        }
        end = size;
    }

    /** Keeps a line's entry, digest, start and whether it is signed. */
    private void add(String line, LedgerEntry entry, long start) {
        LedgerEntry previous = last();
        String previousDigest = nextPrevDigest();
        entries.add(previous == null ? entry : new LedgerEntry(entry.time(),
                same(entry.systemIdentifier(), previous.systemIdentifier()), same(entry.database(), previous.database()),
                same(entry.schema(), previous.schema()), entry.timeline(), entry.walLsn(), entry.rowCount(),
                same(entry.chainHeadHash(), previous.chainHeadHash()), entry.headPosition(),
                same(entry.prevDigest(), previousDigest), same(entry.integrity(), previous.integrity()),
                same(entry.catalogSha256(), previous.catalogSha256()), entry.catalog(), entry.signature()));
        signed.set(digests.size(), LedgerEntry.signedBytes(line) != null);
        digests.add(LedgerEntry.digestOf(line));
        starts.add(start);
    }

    /** EARLIER when it is equal: one copy of what most lines repeat. */
    private static <T> T same(T value, T earlier) {
        return Objects.equals(value, earlier) ? earlier : value;
    }

    List<LedgerEntry> entries() {
        return entries;
    }

    /**
     * The exact text of line INDEX (from 0), read again from the file; a
     * Failure when its bytes are no longer those read (the file was
     * rewritten meanwhile).
     */
    String line(int index) throws Failure {
        long from = starts.get(index);
        long to = index + 1 < starts.size() ? starts.get(index + 1) : end;
        return readAgain(reading -> {
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(to - from - 1));
            while (bytes.hasRemaining() && reading.read(bytes, from + bytes.position()) > 0) {
                // read until full
            }
            String line = decoded(bytes.array());
            requireUnchanged(line, index);
            return line;
        });
    }

    /** A reading of the file through CHANNEL. */
    private interface ChannelRead<T> {
        T from(FileChannel channel) throws IOException, Failure;
    }

    /** What READ gives, reading the file again: through the locked channel, else one opened for it. */
    private <T> T readAgain(ChannelRead<T> read) throws Failure {
        try (FileChannel reopened = channel == null ? FileChannel.open(file, StandardOpenOption.READ) : null) {
            return read.from(channel != null ? channel : reopened);
        } catch (IOException e) {
            throw new Failure("cannot read the ledger " + file + ": " + Failure.reason(e));
        }
    }

    private void requireUnchanged(String line, int index) throws Failure {
        if (!LedgerEntry.digestOf(line).equals(digests.get(index))) {
            throw changed(index);
        }
    }

    private Failure changed(int index) {
        return new Failure("the ledger " + file + " changed while it was read: line " + (index + 1)
                + " is no longer the line read");
    }

    LedgerEntry last() {
        return entries.isEmpty() ? null : entries.get(entries.size() - 1);
    }

    /** The prev_digest the next entry must carry: null for the first entry. */
    String nextPrevDigest() {
        return digests.isEmpty() ? null : digests.get(digests.size() - 1);
    }

    /**
     * The ledger's own chain: each line's prev_digest is the digest of the
     * line before (the first has none). With a key, every signed line must
     * verify, and once a line is signed every later one must be: a line
     * whose signature was stripped or forged is refused.
     */
    void check(Ed25519Keys keys) throws Failure {
        for (int i = 0; i < entries.size(); i++) {
            String expected = i == 0 ? null : digests.get(i - 1);
            String recorded = entries.get(i).prevDigest();
            if (expected == null ? recorded != null : !expected.equals(recorded)) {
                throw new Refusal("the ledger " + file + " is broken: line " + (i + 1) + " has prev_digest "
                        + recorded + ", the SHA-256 of line " + i + " is " + expected + " (an entry was edited,"
                        + " removed or inserted)");
            }
        }
        if (keys != null) {
            checkSignatures(keys);
        }
    }

    /**
     * What a drill may rely on: check(keys) and, with a key, every line
     * signed. A ledger of unsigned lines alone, which anyone who can write
     * the file can make, vouches for nothing the key's holder recorded; nor
     * do unsigned lines that signed ones follow (a ledger an earlier version
     * signed on from them, before requireSignedThroughout): the first signed
     * line's prev_digest would vouch for them however they were written.
     * Either is the ledger's failing verdict, as a broken chain is: its
     * bytes do not show whether the unsigned lines were forged.
     */
    void checkVouchedFor(Ed25519Keys keys) throws Failure {
        check(keys);
        long unsigned = unsignedLines();
        if (keys == null || unsigned == 0) {
            return;
        }
        if (unsigned == digests.size()) {
            throw new Refusal("the ledger " + file + " is broken: none of its " + digests.size() + " lines is signed,"
                    + " though a key to check their signatures was given");
        }
        // check(keys) refused an unsigned line after a signed one: the unsigned lines come first.
        throw new Refusal("the ledger " + file + " is broken: its first " + unsigned + " of " + digests.size()
                + " lines are not signed, though a key to check their signatures was given, and the signed lines"
                + " after them would vouch for them; start a new ledger for signed checkpoints");
    }

    private long unsignedLines() {
        return digests.size() - signed.cardinality();
    }

    /**
     * Before a signed line is appended: every line is signed already. The
     * new signature would vouch, through the prev_digest chain, for unsigned
     * lines before it, which anyone who could write the file may have forged.
     */
    void requireSignedThroughout() throws Failure {
        long unsigned = unsignedLines();
        if (unsigned > 0) {
            throw new Failure("cannot sign on the ledger " + file + ": " + unsigned + " of its " + digests.size()
                    + " lines are not signed, and a signature appended would vouch for them; start a new ledger"
                    + " for signed checkpoints");
        }
    }

    /**
     * Before an unsigned line is appended: no line is signed. An unsigned
     * line after signed ones breaks the ledger for every later check with
     * the key (checkSignatures), signed checkpoints and drills alike.
     */
    void requireUnsignedThroughout() throws Failure {
        long signedLines = digests.size() - unsignedLines();
        if (signedLines > 0) {
            throw new Failure("cannot append an unsigned line to the ledger " + file + ": " + signedLines + " of its "
                    + digests.size() + " lines are signed, and an unsigned line after them breaks it for every check"
                    + " with the key; give --signing-key");
        }
    }

    /** Reads the lines again (through the locked channel, else the file), each still the one read, and checks them. */
    private void checkSignatures(Ed25519Keys keys) throws Failure {
        boolean[] signedBefore = {false};
        LineVisitor verify = (line, i, start) -> {
            requireUnchanged(line, i);
            byte[] signedBytes = LedgerEntry.signedBytes(line);
            if (signedBytes == null) {
                if (signedBefore[0]) {
                    throw new Refusal("the ledger " + file + " is broken: line " + (i + 1)
                            + " is not signed, though earlier lines are");
                }
                return;
            }
            signedBefore[0] = true;
            if (!keys.verifies(signedBytes, LedgerEntry.signatureOf(line))) {
                throw new Refusal("the ledger " + file + " is broken: the signature of line " + (i + 1)
                        + " does not verify with the given key");
            }
        };
        readAgain(reading -> {
            eachLine(reading, end, verify);
            return null;
        });
    }

    /**
     * One write of the line and its newline at the end of the file, then
     * fsync. A write that fails part way (the disk full, a file size limit)
     * or an fsync that fails is undone: the file is cut back to its length
     * before, so the ledger is not left with a torn last line that every
     * later checkpoint and drill would refuse as broken.
     */
    void append(LedgerEntry entry) throws Failure {
        String line = entry.line();
        ByteBuffer bytes = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        long before = -1;
        long at = -1;
        try {
            before = channel.size();
            at = before;
            while (bytes.hasRemaining()) {
                at += channel.write(bytes, at);
            }
            channel.force(true);
        } catch (IOException e) {
            throw new Failure("cannot append to the ledger " + file + ": " + Failure.reason(e) + undone(before, at));
        }
        if (before == 0) {
            forceFolder();
        }
        add(line, entry, before);
        end = before + bytes.capacity();
    }

    /**
     * The ledger's folder flushed after its first line: the file's own flush does not make a new file's name
     * durable, so a crash could lose a ledger whose first checkpoint was reported recorded. Best effort, as
     * PostgreSQL does for its own folders: some file systems refuse to flush a folder.
     */
    private void forceFolder() {
        try (FileChannel folder = FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            folder.force(true);
        } catch (IOException e) {
            // The line itself is on disk; only its name's durability is left to the file system.
        }
    }

    /**
     * After a failed append that wrote the file up to AT: the file cut back
     * to BEFORE bytes; "" when it is (or nothing was written), else what is
     * left.
     */
    private String undone(long before, long at) {
        if (before < 0 || at <= before) {
            return "";
        }
        try {
            channel.truncate(before);
            channel.force(true);
            return "";
        } catch (IOException e) {
            return "; the part of the line written could not be removed (" + Failure.reason(e) + "): its last line is"
                    + " torn, remove the bytes after the last newline";
        }
    }

    @Override
    public void close() {
        try {
            if (lock != null) {
                lock.release();
            }
        } catch (IOException ignored) {
            // Closing the channel releases it too.
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // Nothing was written through it that is not already on disk.
        }
    }
}
