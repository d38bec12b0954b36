// The canonical payload of SPEC section 6: the fields of one audit row as the
// trigger hashes them, and the few conversions needed to get them from the
// database's text into the payload's form.

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * The hashed fields of one audit row. detailsText must be the server's own
 * jsonb output (key order and number spelling are the server's);
 * utcTimestamp is the payload's form of the timestamp (see utcMicros), null
 * for a timestamp that has none.
 */
record AuditRow(String prevHash, String id, String actor, String actorType, String action, String resourceType,
                String resourceId, String detailsText, String utcTimestamp, String eventCategory) {

    private static final DateTimeFormatter UTC_MICROS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");
    private static final HexFormat HEX = HexFormat.of();

    /** The ten fields joined by '|'; a missing prev_hash, details or category is the empty string. */
    String canonicalPayload() {
        return String.join("|", orEmpty(prevHash), id, actor, actorType, action, resourceType, resourceId,
                orEmpty(detailsText), utcTimestamp, orEmpty(eventCategory));
    }

    /**
     * The payload's hash, or null for a row whose hash cannot vouch for it
     * (it counts as modified): a missing field, a timestamp such as
     * 'infinity' that has no UTC text (the server's to_char gives NULL there,
     * and NULL cannot be a row_hash), or a BC timestamp (see
     * utcMicrosFromIsoText).
     */
    byte[] hashOrNull(MessageDigest sha256) {
        if (id == null || actor == null || actorType == null || action == null || resourceType == null
                || resourceId == null || utcTimestamp == null) {
            return null;
        }
        return sha256.digest(canonicalPayload().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * A '|' inside a field lets two different rows share one payload (the
     * separator is not escaped), so such rows are counted, not trusted less.
     */
    boolean isAmbiguous() {
        return Stream.of(id, actor, actorType, action, resourceType, resourceId, detailsText, eventCategory)
                .anyMatch(field -> field != null && field.indexOf('|') >= 0);
    }

    private static String orEmpty(String text) {
        return text == null ? "" : text;
    }

    // ------------------------------------------------------------ timestamps

    /** The payload's form of a timestamp: UTC, six fraction digits, a T and a Z. */
    static String utcMicros(OffsetDateTime timestamp) {
        return timestamp.withOffsetSameInstant(ZoneOffset.UTC).format(UTC_MICROS);
    }

    /**
     * The payload's form of a timestamptz that the server printed with
     * TimeZone UTC and DateStyle ISO ("2026-05-16 12:00:00.5+00"): six
     * fraction digits, a T and a Z, as to_char(... AT TIME ZONE 'UTC',
     * 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') prints it. Null for 'infinity' and
     * '-infinity', which have no such text (to_char gives NULL), and for BC
     * dates: to_char's YYYY prints the year without its era, so the payload
     * of 0044 BC is that of 0044 AD, and moving any row's timestamp by whole
     * eras would keep its hash. No trigger of ours writes one (000011).
     */
    static String utcMicrosFromIsoText(String text) {
        if (text == null || text.endsWith("infinity") || text.endsWith(" BC")) {
            return null;
        }
        int space = text.indexOf(' ');
        int zone = text.lastIndexOf('+');
        if (space < 0 || zone < space || !text.startsWith("00", zone + 1) || zone + 3 != text.length()) {
            throw new IllegalStateException("unexpected timestamp text with TimeZone UTC: " + text);
        }
        String time = text.substring(space + 1, zone);
        int dot = time.indexOf('.');
        String fraction = dot < 0 ? "" : time.substring(dot + 1);
        return text.substring(0, space) + "T" + (dot < 0 ? time : time.substring(0, dot)) + "."
                + fraction + "000000".substring(fraction.length()) + "Z";
    }

    // ------------------------------------------------------------ hashing

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    static byte[] sha256(String text) {
        return newSha256().digest(text.getBytes(StandardCharsets.UTF_8));
    }

    static String sha256Hex(String text) {
        return HEX.formatHex(sha256(text));
    }
}
