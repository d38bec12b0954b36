// The checkpoint ledger file (SPEC section 9.10): one JSON line per
// checkpoint, each naming the SHA-256 of the line before it, so the ledger is
// itself a hash chain; optionally each line is signed (Ed25519).

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A ledger opened for appending: the file is locked exclusively (so two
 * cron runs cannot interleave: the second waits and then sees the first's
 * entry), read, and checked; append() writes one line with one write and
 * fsyncs it. The lines are kept as read, so digests are of the exact bytes.
 */
final class Ledger implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final List<String> lines;
    private final List<LedgerEntry> entries;

    private Ledger(Path file, FileChannel channel, FileLock lock, List<String> lines, List<LedgerEntry> entries) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.lines = lines;
        this.entries = entries;
    }

    /** Opens (creating an empty ledger when missing) and locks the file; parses its lines. */
    static Ledger openForAppend(Path file) throws Failure {
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock = channel.lock();
            String text = new String(contentOf(channel), StandardCharsets.UTF_8);
            List<String> lines = splitLines(file, text);
            return new Ledger(file, channel, lock, lines, parse(file, lines));
        } catch (IOException e) {
            closeQuietly(channel);
            throw new Failure("cannot open the ledger " + file + ": " + Failure.reason(e));
        } catch (Failure e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /**
     * Reads a ledger without creating it (drill-verify only reads), under a
     * shared lock: a checkpoint appending holds the exclusive one, and a
     * read during its write could see half of the new line (a torn line, a
     * broken ledger to an honest drill). The lock is released once read.
     */
    static Ledger read(Path file) throws Failure {
        String text;
        try {
            text = textOf(file);
        } catch (IOException e) {
            throw new Failure("cannot read the ledger " + file + ": " + Failure.reason(e));
        }
        List<String> lines = splitLines(file, text);
        return new Ledger(file, null, null, lines, parse(file, lines));
    }

    /** The ledger's text (UTF-8, strictly) read under a shared lock, for readers that do not append. */
    static String textOf(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             FileLock shared = sharedLockOrNone(channel)) {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(contentOf(channel))).toString();
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

    /** The whole file, read through the channel that holds its lock. */
    private static byte[] contentOf(FileChannel channel) throws IOException {
        ByteBuffer content = ByteBuffer.allocate(Math.toIntExact(channel.size()));
        while (content.hasRemaining() && channel.read(content, content.position()) > 0) {
            // read until full
        }
        return content.array();
    }

    /** Every line ends with a newline; a last line without one is a torn write. */
    private static List<String> splitLines(Path file, String text) throws Failure {
        if (!text.isEmpty() && !text.endsWith("\n")) {
            throw new Refusal("the ledger " + file + " is broken: its last line has no newline"
                    + " (an interrupted write or an edit)");
        }
        return text.isEmpty() ? new ArrayList<>() : new ArrayList<>(List.of(text.split("\n", -1)))
                .subList(0, (int) text.chars().filter(c -> c == '\n').count());
    }

    private static List<LedgerEntry> parse(Path file, List<String> lines) throws Failure {
        List<LedgerEntry> entries = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            try {
                entries.add(LedgerEntry.parse(lines.get(i)));
            } catch (IllegalArgumentException e) {
                throw new Refusal("the ledger " + file + " is broken: line " + (i + 1) + ": " + e.getMessage());
            }
        }
        return entries;
    }

    List<LedgerEntry> entries() {
        return entries;
    }

    List<String> lines() {
        return lines;
    }

    LedgerEntry last() {
        return entries.isEmpty() ? null : entries.get(entries.size() - 1);
    }

    /** The prev_digest the next entry must carry: null for the first entry. */
    String nextPrevDigest() {
        return lines.isEmpty() ? null : LedgerEntry.digestOf(lines.get(lines.size() - 1));
    }

    /**
     * The ledger's own chain: each line's prev_digest is the digest of the
     * line before (the first has none). With a key, every signed line must
     * verify, and once a line is signed every later one must be: a line
     * whose signature was stripped or forged is refused.
     */
    void check(Ed25519Keys keys) throws Refusal {
        for (int i = 0; i < entries.size(); i++) {
            String expected = i == 0 ? null : LedgerEntry.digestOf(lines.get(i - 1));
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
    void checkVouchedFor(Ed25519Keys keys) throws Refusal {
        check(keys);
        long unsigned = unsignedLines();
        if (keys == null || unsigned == 0) {
            return;
        }
        if (unsigned == lines.size()) {
            throw new Refusal("the ledger " + file + " is broken: none of its " + lines.size() + " lines is signed,"
                    + " though a key to check their signatures was given");
        }
        // check(keys) refused an unsigned line after a signed one: the unsigned lines come first.
        throw new Refusal("the ledger " + file + " is broken: its first " + unsigned + " of " + lines.size()
                + " lines are not signed, though a key to check their signatures was given, and the signed lines"
                + " after them would vouch for them; start a new ledger for signed checkpoints");
    }

    private long unsignedLines() {
        return lines.stream().filter(line -> LedgerEntry.signedBytes(line) == null).count();
    }

    /**
     * Before a signed line is appended: every line is signed already. The
     * new signature would vouch, through the prev_digest chain, for unsigned
     * lines before it, which anyone who could write the file may have forged.
     */
    void requireSignedThroughout() throws Failure {
        long unsigned = unsignedLines();
        if (unsigned > 0) {
            throw new Failure("cannot sign on the ledger " + file + ": " + unsigned + " of its " + lines.size()
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
        long signed = lines.size() - unsignedLines();
        if (signed > 0) {
            throw new Failure("cannot append an unsigned line to the ledger " + file + ": " + signed + " of its "
                    + lines.size() + " lines are signed, and an unsigned line after them breaks it for every check"
                    + " with the key; give --signing-key");
        }
    }

    private void checkSignatures(Ed25519Keys keys) throws Refusal {
        boolean signedBefore = false;
        for (int i = 0; i < lines.size(); i++) {
            byte[] signedBytes = LedgerEntry.signedBytes(lines.get(i));
            if (signedBytes == null) {
                if (signedBefore) {
                    throw new Refusal("the ledger " + file + " is broken: line " + (i + 1)
                            + " is not signed, though earlier lines are");
                }
                continue;
            }
            signedBefore = true;
            if (!keys.verifies(signedBytes, LedgerEntry.signatureOf(lines.get(i)))) {
                throw new Refusal("the ledger " + file + " is broken: the signature of line " + (i + 1)
                        + " does not verify with the given key");
            }
        }
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
        try {
            before = channel.size();
            long at = before;
            while (bytes.hasRemaining()) {
                at += channel.write(bytes, at);
            }
            channel.force(true);
        } catch (IOException e) {
            throw new Failure("cannot append to the ledger " + file + ": " + Failure.reason(e) + undone(before));
        }
        lines.add(line);
        entries.add(entry);
    }

    /** After a failed append: the file cut back to BEFORE bytes; "" when it is, else what is left. */
    private String undone(long before) {
        if (before < 0) {
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
