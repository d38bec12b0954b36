// A file backup's fingerprint for the report (SPEC 9.6): its size and
// SHA-256, read by the tool from WORK/backup.METHOD once the run is over,
// so that the harness only takes the backup. A folder's (the directory
// format's) hash is the SHA-256 of the list "HASH  ./PATH" of its files,
// one a line, sorted by path byte for byte; its size that of its files.

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** SHA256 in hex and BYTES of a backup file or folder. */
record BackupFingerprint(String sha256, long bytes) {

    /** The fingerprint of PATH, a file or a folder of files; null when there is none or it cannot be read. */
    static BackupFingerprint of(Path path) {
        try {
            if (Files.isRegularFile(path)) {
                return new BackupFingerprint(sha256(path), Files.size(path));
            }
            if (!Files.isDirectory(path)) {
                return null;
            }
            List<Path> files;
            try (Stream<Path> walk = Files.walk(path)) {
                files = walk.filter(Files::isRegularFile)
                        .sorted((a, b) -> compareBytes(relative(path, a), relative(path, b))).toList();
            }
            StringBuilder list = new StringBuilder();
            long bytes = 0;
            for (Path file : files) {
                list.append(sha256(file)).append("  ").append(relative(path, file)).append('\n');
                bytes += Files.size(file);
            }
            return new BackupFingerprint(hex(digest().digest(list.toString().getBytes(StandardCharsets.UTF_8))), bytes);
        } catch (IOException unreadable) {
            return null;
        }
    }

    private static String relative(Path folder, Path file) {
        return "./" + folder.relativize(file);
    }

    private static int compareBytes(String a, String b) {
        return java.util.Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest digest = digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
            }
        }
        return hex(digest.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
