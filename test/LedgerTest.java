// The checkpoint ledger's pure parts (SPEC section 9.10): entry lines, the
// ledger's own hash chain, Ed25519 signing with keys openssl made, and
// openssl's verification of what the tool signed. No database.

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LedgerTest {
    @TempDir Path folder;

    static final String HEAD = "ab".repeat(32);

    /** A new key as deploy/docs/tool.md says to make one. */
    static Path newKey(Path folder) {
        Path key = folder.resolve("key-" + System.nanoTime() + ".pem");
        var made = Support.run(List.of("openssl", "genpkey", "-algorithm", "ed25519", "-out", key.toString()),
                Map.of(), folder, 30);
        assertEquals(0, made.exit(), made.describe());
        return key;
    }

    /** openssl pkeyutl -verify, with the public key openssl derives, on exactly these bytes. */
    static void assertOpensslVerifies(Path folder, Path key, byte[] data, byte[] signature) throws Exception {
        Path publicKey = folder.resolve("pub-" + System.nanoTime() + ".pem");
        var derived = Support.run(List.of("openssl", "pkey", "-in", key.toString(), "-pubout", "-out",
                publicKey.toString()), Map.of(), folder, 30);
        assertEquals(0, derived.exit(), derived.describe());
        Path dataFile = Files.write(folder.resolve("data-" + System.nanoTime()), data);
        Path signatureFile = Files.write(folder.resolve("sig-" + System.nanoTime()), signature);
        var verified = Support.run(List.of("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", publicKey.toString(),
                "-rawin", "-in", dataFile.toString(), "-sigfile", signatureFile.toString()), Map.of(), folder, 30);
        assertEquals(0, verified.exit(), verified.describe());
        assertEquals("Signature Verified Successfully\n", verified.out());
    }

    static LedgerEntry entry(long rows, String prevDigest) {
        Map<String, String> integrity = new LinkedHashMap<>();
        integrity.put("verifier \"public\".audit_events_verify_chain()", "sha256:" + "cd".repeat(32));
        return new LedgerEntry(Instant.parse("2026-12-05T13:00:00.123456Z"), "7412345678901234567", "app", "public",
                1, "0/3000148", rows, HEAD, rows - 1, prevDigest, integrity, null, null, null);
    }

    @Test
    void anEntryLineHasItsKeysInOrderAndParsesBack() {
        LedgerEntry entry = entry(24, null);
        assertEquals("{\"time\":\"2026-12-05T13:00:00.123456Z\",\"system_identifier\":\"7412345678901234567\","
                + "\"database\":\"app\",\"schema\":\"public\",\"timeline\":1,\"wal_lsn\":\"0/3000148\","
                + "\"row_count\":24,\"chain_head_hash\":\"" + HEAD + "\",\"head_position\":23,\"prev_digest\":null,"
                + "\"integrity\":{\"verifier \\\"public\\\".audit_events_verify_chain()\":\"sha256:" + "cd".repeat(32)
                + "\"}}", entry.line());
        assertEquals(entry, LedgerEntry.parse(entry.line()));
    }

    /**
     * The catalog's digest and (when it changed) the catalog follow
     * integrity; the digest must be the catalog's; a line may hold the
     * digest alone.
     */
    @Test
    void anEntryWithACatalogCarriesItsDigestAndParsesBack() throws Exception {
        LedgerEntry old = entry(24, null);
        var catalog = SemanticOracle.parse("{\"schemas\":[\"public\"],\"indexes\":{\"public.i\":\"on public.t using"
                + " btree (a)\"},\"tables\":{}}");
        LedgerEntry entry = new LedgerEntry(old.time(), old.systemIdentifier(), old.database(), old.schema(),
                old.timeline(), old.walLsn(), old.rowCount(), old.chainHeadHash(), old.headPosition(), null,
                old.integrity(), LedgerEntry.catalogDigest(catalog), catalog, null);
        String canonical = "{\"indexes\":{\"public.i\":\"on public.t using btree (a)\"},\"schemas\":[\"public\"],"
                + "\"tables\":{}}";
        assertEquals("sha256:" + AuditRow.sha256Hex(canonical), entry.catalogSha256());
        assertEquals(old.line().substring(0, old.line().length() - 1) + ",\"catalog_sha256\":\""
                + entry.catalogSha256() + "\",\"catalog\":" + canonical + "}", entry.line());
        assertEquals(entry, LedgerEntry.parse(entry.line()));
        IllegalArgumentException edited = assertThrows(IllegalArgumentException.class,
                () -> LedgerEntry.parse(entry.line().replace("btree (a)", "btree (b)")));
        assertEquals("catalog_sha256 is not the SHA-256 of catalog", edited.getMessage());
        IllegalArgumentException withoutDigest = assertThrows(IllegalArgumentException.class,
                () -> LedgerEntry.parse(entry.line().replaceFirst(",\"catalog_sha256\":\"sha256:[0-9a-f]{64}\"", "")));
        assertEquals("catalog_sha256 is missing or not a string", withoutDigest.getMessage());

        LedgerEntry unchanged = new LedgerEntry(old.time(), old.systemIdentifier(), old.database(), old.schema(),
                old.timeline(), old.walLsn(), old.rowCount(), old.chainHeadHash(), old.headPosition(), null,
                old.integrity(), entry.catalogSha256(), null, null);
        assertEquals(old.line().substring(0, old.line().length() - 1) + ",\"catalog_sha256\":\""
                + entry.catalogSha256() + "\"}", unchanged.line());
        assertEquals(unchanged, LedgerEntry.parse(unchanged.line()));
        assertEquals(catalog, LedgerCheck.inventoryOf(List.of(entry, unchanged), unchanged));
        assertNull(LedgerCheck.inventoryOf(List.of(old, unchanged), unchanged));
    }

    /** A line written before the catalog was recorded: the same bytes back, its signature still verifies. */
    @Test
    void aLineWithoutTheCatalogParsesAndVerifiesAsBefore() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        String line = entry(24, null).signedWith(keys).line();
        assertTrue(!line.contains("catalog"), line);
        LedgerEntry parsed = LedgerEntry.parse(line);
        assertNull(parsed.catalog());
        assertNull(parsed.catalogSha256());
        assertEquals(line, parsed.line());
        assertTrue(keys.verifies(LedgerEntry.signedBytes(line), LedgerEntry.signatureOf(line)));
    }

    @Test
    void aSignedLineEndsWithItsSignatureOverTheUnsignedLine() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        LedgerEntry signed = entry(24, null).signedWith(keys);
        String line = signed.line();
        assertTrue(line.startsWith(entry(24, null).unsignedLine().replaceFirst("}}$", "}")), line);
        assertTrue(line.matches(".*,\"signature\":\"[A-Za-z0-9+/]{86}==\"}"), line);
        assertArrayEquals(signed.unsignedLine().getBytes(StandardCharsets.UTF_8), LedgerEntry.signedBytes(line));
        assertTrue(keys.verifies(LedgerEntry.signedBytes(line), LedgerEntry.signatureOf(line)));
        assertFalse(keys.verifies(LedgerEntry.signedBytes(line.replace("\"row_count\":24", "\"row_count\":25")),
                LedgerEntry.signatureOf(line)));
        assertEquals(signed, LedgerEntry.parse(line));
        assertNull(LedgerEntry.signedBytes(entry(24, null).line()));
    }

    @Test
    void theDerivedPublicKeyIsOpensslsAndOpensslVerifiesTheSignature() throws Exception {
        Path key = newKey(folder);
        Ed25519Keys keys = Ed25519Keys.readPrivate(key);
        var pub = Support.run(List.of("openssl", "pkey", "-in", key.toString(), "-pubout"), Map.of(), folder, 30);
        assertEquals(pub.out(), keys.publicPem());
        Path publicFile = Files.writeString(folder.resolve("pub.pem"), pub.out());
        LedgerEntry signed = entry(24, null).signedWith(keys);
        assertTrue(Ed25519Keys.readPublic(publicFile).verifies(LedgerEntry.signedBytes(signed.line()),
                LedgerEntry.signatureOf(signed.line())));
        assertOpensslVerifies(folder, key, LedgerEntry.signedBytes(signed.line()),
                LedgerEntry.signatureOf(signed.line()));
    }

    @Test
    void theLedgerChainsEachLineToTheDigestOfTheOneBefore() throws Exception {
        Path file = folder.resolve("ledger.jsonl");
        try (Ledger ledger = Ledger.openForAppend(file)) {
            assertNull(ledger.nextPrevDigest());
            ledger.append(entry(24, null));
            String digest = ledger.nextPrevDigest();
            assertEquals("sha256:" + AuditRow.sha256Hex(entry(24, null).line()), digest);
            ledger.append(entry(30, digest));
        }
        try (Ledger reopened = Ledger.openForAppend(file)) {
            reopened.check(null);
            assertEquals(List.of(entry(24, null), entry(30, "sha256:" + AuditRow.sha256Hex(entry(24, null).line()))),
                    reopened.entries());
        }
        assertEquals(entry(24, null).line() + "\n" + entry(30, LedgerEntry.digestOf(entry(24, null).line())).line()
                + "\n", Files.readString(file));
    }

    @Test
    void aRemovedOrTornLineBreaksTheLedger() throws Exception {
        Path file = folder.resolve("ledger.jsonl");
        String first = entry(24, null).line();
        String second = entry(30, LedgerEntry.digestOf(first)).line();
        String third = entry(36, LedgerEntry.digestOf(second)).line();
        Files.writeString(file, first + "\n" + third + "\n");
        try (Ledger ledger = Ledger.openForAppend(file)) {
            Refusal removed = assertThrows(Refusal.class, () -> ledger.check(null));
            assertEquals("the ledger " + file + " is broken: line 2 has prev_digest " + LedgerEntry.digestOf(second)
                    + ", the SHA-256 of line 1 is " + LedgerEntry.digestOf(first)
                    + " (an entry was edited, removed or inserted)", removed.getMessage());
        }
        Files.writeString(file, first + "\n" + second.substring(0, 40));
        Refusal torn = assertThrows(Refusal.class, () -> Ledger.openForAppend(file));
        assertEquals("the ledger " + file + " is broken: its last line has no newline (an interrupted write or an edit)",
                torn.getMessage());
    }

    /**
     * Bytes that are not UTF-8 are refused by a checkpoint as by a drill:
     * the checkpoint decoded them leniently (as U+FFFD), so it appended a
     * prev_digest that is not the SHA-256 of the line's bytes, on a ledger
     * every drill then refused as unreadable.
     */
    @Test
    void aLedgerThatIsNotUtf8IsRefusedByACheckpointAsByADrill() throws Exception {
        Path file = folder.resolve("ledger.jsonl");
        byte[] line = entry(24, null).line().replace("\"app\"", "\"app\u0001\"").getBytes(StandardCharsets.UTF_8);
        line[new String(line, StandardCharsets.UTF_8).indexOf('\u0001')] = (byte) 0xff;
        Files.write(file, line);
        Files.write(file, new byte[] {'\n'}, java.nio.file.StandardOpenOption.APPEND);
        Failure read = assertThrows(Failure.class, () -> Ledger.read(file));
        assertEquals("cannot read the ledger " + file + ": not UTF-8 text", read.getMessage());
        Failure opened = assertThrows(Failure.class, () -> Ledger.openForAppend(file));
        assertEquals("cannot open the ledger " + file + ": not UTF-8 text", opened.getMessage());
    }

    /**
     * A ledger given as a pipe (--ledger=<(ssh host cat ledger.jsonl)) showed a size of 0: drill-verify
     * took it for a ledger with no entry and went on ("entries": 0). A ledger is read more than once and
     * appended to in place: anything but a regular file is refused first (a named FIFO without opening it,
     * which would wait for a writer); a device, which reads as empty as the pipe did, shows it here.
     */
    @Test
    void aLedgerThatIsNotARegularFileIsRefused() {
        Path device = Path.of("/dev/null");
        assertEquals("cannot read the ledger /dev/null: not a regular file (a pipe cannot be read twice); copy it"
                + " to a file", assertThrows(Failure.class, () -> Ledger.read(device)).getMessage());
        assertEquals("cannot open the ledger /dev/null: not a regular file (a pipe cannot be read twice); copy it"
                + " to a file", assertThrows(Failure.class, () -> Ledger.openForAppend(device)).getMessage());
        // A folder is named as one, not as a pipe to copy.
        assertEquals("cannot read the ledger " + folder + ": Is a directory",
                assertThrows(Failure.class, () -> Ledger.read(folder)).getMessage());
        assertEquals("cannot open the ledger " + folder + ": Is a directory",
                assertThrows(Failure.class, () -> Ledger.openForAppend(folder)).getMessage());
    }

    @Test
    @org.junit.jupiter.api.Tag("e2e")
    void aLedgerGivenThroughProcessSubstitutionIsRefusedByTheDrill() throws Exception {
        Path file = folder.resolve("ledger.jsonl");
        Files.writeString(file, entry(24, null).line() + "\n");
        var result = Support.run(List.of("bash", "-c", "\"$1\" --mode=drill-verify --db-url=postgres://x@127.0.0.1:1/db"
                + " --ledger=<(cat \"$2\") --backup-start=2026-12-07T00:00:00Z 2>&1 >/dev/null", "-",
                Support.LAUNCHER.toString(), file.toString()), Map.of(), folder, 300);
        assertEquals(1, result.exit(), result.describe());
        assertTrue(result.out().matches("(?s).*backupsmoke: cannot read the ledger /dev/fd/[0-9]+: not a regular file"
                + " \\(a pipe cannot be read twice\\); copy it to a file\n"), result.out());
    }

    /**
     * A signature member that is not 64 bytes in base64 (which did not
     * decode: an unexpected error, exit 1, and no report written over the
     * last run's passing one) or not the line's last member makes the line
     * unparsable: the ledger is broken.
     */
    @Test
    void aSignatureThatIsNotOneBreaksTheLedger() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        String line = entry(24, null).signedWith(keys).line();
        String signature = line.substring(line.lastIndexOf(",\"signature\":"), line.length() - 1);
        for (String edited : List.of(line.replaceFirst("\"signature\":\"[^\"]*\"", "\"signature\":\"AAAAA\""),
                line.replaceFirst("\"signature\":\"[^\"]*\"", "\"signature\":\"" + "A".repeat(84) + "=\""),
                "{" + signature.substring(1) + "," + line.substring(1, line.length() - signature.length() - 1) + "}")) {
            Files.writeString(ledgerFile(), edited + "\n");
            Refusal broken = assertThrows(Refusal.class, () -> Ledger.read(ledgerFile()).checkVouchedFor(keys), edited);
            assertEquals("the ledger " + ledgerFile() + " is broken: line 1: signature is not the line's last member,"
                    + " 64 bytes in base64", broken.getMessage());
        }
    }

    /**
     * A line holding a line separator the JSON writer leaves unescaped
     * (U+2028, U+0085 NEL: in a database name or the catalog's text) is
     * still signed: its signature was not found, so an honest signed ledger
     * was unsigned to every later check, and refused.
     */
    @Test
    void aLineHoldingALineSeparatorIsStillSigned() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        for (String database : List.of("ops\u2028log", "ops\u0085log", "ops\u2029log")) {
            LedgerEntry old = entry(24, null);
            LedgerEntry signed = new LedgerEntry(old.time(), old.systemIdentifier(), database, old.schema(),
                    old.timeline(), old.walLsn(), old.rowCount(), old.chainHeadHash(), old.headPosition(), null,
                    old.integrity(), null, null, null).signedWith(keys);
            assertTrue(signed.line().contains(database), signed.line());
            assertArrayEquals(signed.unsignedLine().getBytes(StandardCharsets.UTF_8),
                    LedgerEntry.signedBytes(signed.line()));
            Files.writeString(ledgerFile(), signed.line() + "\n");
            Ledger.read(ledgerFile()).checkVouchedFor(keys);
            try (Ledger ledger = Ledger.openForAppend(ledgerFile())) {
                ledger.requireSignedThroughout();
            }
        }
    }

    /**
     * A wal_lsn that is no LSN, or a number past a long, makes the line
     * unparsable: the drill's comparisons failed on it with an unexpected
     * error (exit 1, no report), or read 2^64 + 1 rows as 1.
     */
    @Test
    void aLineWithAFieldOutOfItsRangeIsUnparsable() {
        String line = entry(24, null).line();
        for (String lsn : List.of("zz", "1/", "/1", "0/123456789", "-1/0")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> LedgerEntry.parse(line.replace("\"0/3000148\"", "\"" + lsn + "\"")));
            assertEquals("wal_lsn is not an LSN (X/Y in hex)", refused.getMessage());
        }
        IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
                () -> LedgerEntry.parse(line.replace("\"row_count\":24", "\"row_count\":18446744073709551617")));
        assertEquals("row_count is missing or not an integer", huge.getMessage());
    }

    /**
     * Another process (a JVM: a checkpoint's fcntl lock) holding LEDGER's
     * exclusive lock with half of LINE (and its newline) written; it writes
     * the rest 1.5 s later and releases the lock. Wait for it to end.
     */
    static Process appendingUnderLock(Path folder, Path ledger, String line) throws Exception {
        Path lineFile = Files.writeString(folder.resolve("line-" + System.nanoTime()), line + "\n");
        Path appender = Files.writeString(folder.resolve("AppendUnderLock.java"), """
                import java.nio.ByteBuffer;
                import java.nio.channels.FileChannel;
                import java.nio.file.Files;
                import java.nio.file.Path;
                import java.nio.file.StandardOpenOption;

                public class AppendUnderLock {
                    public static void main(String[] args) throws Exception {
                        byte[] line = Files.readAllBytes(Path.of(args[1]));
                        try (FileChannel ledger = FileChannel.open(Path.of(args[0]), StandardOpenOption.READ,
                                StandardOpenOption.WRITE); var lock = ledger.lock()) {
                            ledger.write(ByteBuffer.wrap(line, 0, line.length / 2), ledger.size());
                            System.out.println("half written");
                            Thread.sleep(1500);
                            ledger.write(ByteBuffer.wrap(line, line.length / 2, line.length - line.length / 2),
                                    ledger.size());
                        }
                    }
                }
                """);
        Process appending = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
                appender.toString(), ledger.toString(), lineFile.toString()).redirectErrorStream(true).start();
        var output = new java.io.BufferedReader(new java.io.InputStreamReader(appending.getInputStream()));
        assertEquals("half written", output.readLine());
        return appending;
    }

    /**
     * A drill reads the ledger while a checkpoint may be appending to it:
     * another process holding the checkpoint's lock has written half of a
     * line. The drill's read waits for the lock and sees the whole line; it
     * read the half line and failed an honest drill with "its last line
     * has no newline" (exit 3).
     */
    @Test
    void aDrillsReadWaitsForTheCheckpointAppendingALine() throws Exception {
        String first = entry(24, null).line();
        String second = entry(30, LedgerEntry.digestOf(first)).line();
        Files.writeString(ledgerFile(), first + "\n");
        Process appending = appendingUnderLock(folder, ledgerFile(), second);
        try {
            assertEquals(List.of(entry(24, null), entry(30, LedgerEntry.digestOf(first))),
                    Ledger.read(ledgerFile()).entries());
        } finally {
            assertEquals(0, appending.waitFor());
        }
    }

    /**
     * A ledger renamed over (a sync job's mv, a restore of the file) while a checkpoint waits for its
     * lock: the checkpoint locked the file it had opened, now unlinked, and appended its line there; the
     * ledger at the path never got it, and the run said the entry was recorded. It locks the file the
     * path names now and appends there.
     */
    @Test
    void aLedgerRenamedOverWhileACheckpointWaitsGetsTheLine() throws Exception {
        String first = entry(24, null).line();
        String second = entry(30, LedgerEntry.digestOf(first)).line();
        LedgerEntry third = entry(36, LedgerEntry.digestOf(second));
        Files.writeString(ledgerFile(), first + "\n");
        Process appending = appendingUnderLock(folder, ledgerFile(), second);
        // A thread of its own: the lock must be waited for within the other process's 1.5 s, and a pool's
        // threads may be busy (the full suite builds the tool for the e2e tests meanwhile).
        var waiting = new java.util.concurrent.FutureTask<Void>(() -> {
            try (Ledger ledger = Ledger.openForAppend(ledgerFile())) {
                ledger.append(third);
            }
            return null;
        });
        new Thread(waiting, "checkpoint waiting for the ledger's lock").start();
        try {
            awaitOpenedHere(ledgerFile().toRealPath());
            assertTrue(appending.isAlive(), "the other process still holds the lock when the ledger is renamed over");
            Path renamed = Files.writeString(folder.resolve("ledger.synced"), first + "\n" + second + "\n");
            Files.move(renamed, ledgerFile(), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            assertEquals(0, appending.waitFor());
        }
        waiting.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(first + "\n" + second + "\n" + third.line() + "\n", Files.readString(ledgerFile()));
    }

    /** Until this process holds FILE open (the checkpoint's thread, waiting for the lock): 10 s at most. */
    private static void awaitOpenedHere(Path file) throws Exception {
        for (int tries = 0; tries < 1000; tries++) {
            try (var descriptors = Files.list(Path.of("/proc/self/fd"))) {
                if (descriptors.anyMatch(fd -> {
                    try {
                        return Files.readSymbolicLink(fd).equals(file);
                    } catch (java.io.IOException gone) {
                        return false;
                    }
                })) {
                    return;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError(file + " was never opened");
    }

    /**
     * drill-verify reads the ledger again after its lock is released (the signatures, the line relied on):
     * a ledger rewritten meanwhile is named, the line whose bytes changed or which is gone. Cut back to its
     * first line, the second line's bad signature went unchecked and the ledger passed.
     */
    @Test
    void aLedgerRewrittenWhileItIsReadIsNamed() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        Ed25519Keys other = Ed25519Keys.readPrivate(newKey(folder));
        LedgerEntry first = entry(24, null).signedWith(keys);
        LedgerEntry second = entry(30, LedgerEntry.digestOf(first.line())).signedWith(other);
        Files.writeString(ledgerFile(), first.line() + "\n" + second.line() + "\n");
        String changed = "the ledger " + ledgerFile() + " changed while it was read: line ";

        Ledger cut = Ledger.read(ledgerFile());
        Files.writeString(ledgerFile(), first.line() + "\n");
        assertEquals(changed + "2 is no longer the line read",
                assertThrows(Failure.class, () -> cut.checkVouchedFor(keys)).getMessage());

        Files.writeString(ledgerFile(), first.line() + "\n" + second.line() + "\n");
        Ledger edited = Ledger.read(ledgerFile());
        Files.writeString(ledgerFile(), first.line().replace("\"app\"", "\"ap_\"") + "\n" + second.line() + "\n");
        assertEquals(changed + "1 is no longer the line read",
                assertThrows(Failure.class, () -> edited.checkVouchedFor(keys)).getMessage());
        assertEquals(changed + "1 is no longer the line read",
                assertThrows(Failure.class, () -> edited.line(0)).getMessage());
        assertEquals(second.line(), edited.line(1));
    }

    /** A ledger of two entries, the second chained to the first; each signed with KEYS when asked. */
    private Path twoEntries(Ed25519Keys keys, boolean firstSigned, boolean secondSigned) throws Exception {
        LedgerEntry first = firstSigned ? entry(24, null).signedWith(keys) : entry(24, null);
        LedgerEntry second = entry(30, LedgerEntry.digestOf(first.line()));
        return Files.writeString(ledgerFile(),
                first.line() + "\n" + (secondSigned ? second.signedWith(keys) : second).line() + "\n");
    }

    private Path ledgerFile() {
        return folder.resolve("ledger.jsonl");
    }

    @Test
    void aStrippedSignatureAfterSignedLinesBreaksTheLedger() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        try (Ledger ledger = Ledger.openForAppend(twoEntries(keys, true, false))) {
            ledger.check(null);
            Refusal stripped = assertThrows(Refusal.class, () -> ledger.check(keys));
            assertEquals("the ledger " + ledgerFile() + " is broken: line 2 is not signed, though earlier lines are",
                    stripped.getMessage());
        }
    }

    /** What a drill relies on with a key: every line signed; without a key, the chain alone. */
    @Test
    void aDrillWithAKeyReliesOnNoUnsignedLineBeforeSignedOnes() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        Ledger signedOn = Ledger.read(twoEntries(keys, false, true));
        signedOn.checkVouchedFor(null);
        assertEquals("the ledger " + ledgerFile() + " is broken: its first 1 of 2 lines are not signed, though a key to"
                + " check their signatures was given, and the signed lines after them would vouch for them; start a"
                + " new ledger for signed checkpoints",
                assertThrows(Refusal.class, () -> signedOn.checkVouchedFor(keys)).getMessage());
        Ledger.read(twoEntries(keys, true, true)).checkVouchedFor(keys);
    }

    /**
     * To sign, every line must be signed already: a signature appended after unsigned lines would vouch,
     * through the prev_digest chain, for lines anyone who could write the file may have forged.
     */
    @Test
    void signingOnRequiresEveryLineSigned() throws Exception {
        Ed25519Keys keys = Ed25519Keys.readPrivate(newKey(folder));
        try (Ledger ledger = Ledger.openForAppend(twoEntries(keys, false, true))) {
            ledger.check(keys);
            Failure refused = assertThrows(Failure.class, ledger::requireSignedThroughout);
            assertTrue(!(refused instanceof Refusal), "exit 1, not a verdict");
            assertEquals("cannot sign on the ledger " + ledgerFile() + ": 1 of its 2 lines are not signed, and a signature"
                    + " appended would vouch for them; start a new ledger for signed checkpoints", refused.getMessage());
        }
        Path signed = Files.writeString(ledgerFile(), entry(24, null).signedWith(keys).line() + "\n");
        try (Ledger ledger = Ledger.openForAppend(signed)) {
            ledger.requireSignedThroughout();
        }
        Files.delete(signed);
        try (Ledger empty = Ledger.openForAppend(signed)) {
            empty.requireSignedThroughout();
        }
    }

    @Test
    void lsnsCompareAsNumbers() {
        assertEquals(0x3000148L, LedgerEntry.lsnValue("0/3000148"));
        assertEquals((0x1AL << 32) | 0x10L, LedgerEntry.lsnValue("1A/10"));
        assertTrue(LedgerEntry.compareLsn("1/0", "0/FFFFFFFF") > 0);
        assertEquals(0, LedgerEntry.compareLsn("1A/10", "1a/10"));
    }

    /** From 80000000/0 on, an LSN's 64 bits are a negative long: the server compares them unsigned, so do we. */
    @Test
    void lsnsPastHalfTheRangeStillCompareAsTheServerDoes() {
        assertTrue(LedgerEntry.compareLsn("80000000/0", "7FFFFFFF/FFFFFFFF") > 0);
        assertTrue(LedgerEntry.compareLsn("0/3000148", "FFFFFFFF/FFFFFFFF") < 0);
    }
}
