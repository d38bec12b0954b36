// One line of the checkpoint ledger (SPEC section 9.10): what the live audit
// log was at a moment, written by --mode=checkpoint and relied on by
// --mode=drill-verify.

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The entry's fields in the order the line holds them. time is the server's
 * clock when the entry was recorded, after the chain was read; walLsn the
 * WAL position then (the rows the entry counts were committed before both).
 * prevDigest is "sha256:" + the hex SHA-256 of the previous line's bytes
 * (without its newline), null on the first line. catalogSha256 is the
 * digest (catalogDigest) of the semantic oracle's catalog inventory of the
 * audit schema (SemanticOracle.inventory); catalog is that inventory,
 * written only when the previous line does not record the same digest (so
 * a ledger holds each inventory once per change; LedgerCheck.inventoryOf
 * finds a line's). Both null in lines written before they were recorded,
 * which then hold neither member, so their bytes (and so their digests and
 * signatures) are as they were. signature (base64) is over the bytes of the
 * line without it (unsignedLine()).
 */
record LedgerEntry(Instant time, String systemIdentifier, String database, String schema, long timeline,
                   String walLsn, long rowCount, String chainHeadHash, long headPosition, String prevDigest,
                   Map<String, String> integrity, String catalogSha256, JsonNode catalog, String signature) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A signed line ends with this member, the only place it may be: an
     * Ed25519 signature is 64 bytes, 86 base64 characters and "==". Any
     * other value is refused when the line is parsed: it would not decode.
     * DOTALL: the JSON writer leaves U+0085, U+2028 and U+2029 unescaped (a
     * database name, the catalog's text), and "." stops at them otherwise.
     */
    private static final Pattern SIGNED = Pattern.compile("^(.*),\"signature\":\"([A-Za-z0-9+/]{86}==)\"}$",
            Pattern.DOTALL);

    /** An LSN as pg_lsn prints it: X/Y, each half 1 to 8 hex digits. */
    static final Pattern LSN = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");

    /** The line without the signature: the bytes that are signed, and the whole line of an unsigned entry. */
    String unsignedLine() {
        ObjectNode line = JSON.createObjectNode();
        line.put("time", time.toString());
        line.put("system_identifier", systemIdentifier);
        line.put("database", database);
        line.put("schema", schema);
        line.put("timeline", timeline);
        line.put("wal_lsn", walLsn);
        line.put("row_count", rowCount);
        line.put("chain_head_hash", chainHeadHash);
        line.put("head_position", headPosition);
        line.put("prev_digest", prevDigest);
        ObjectNode fingerprint = line.putObject("integrity");
        integrity.forEach(fingerprint::put);
        if (catalogSha256 != null) {
            line.put("catalog_sha256", catalogSha256);
        }
        if (catalog != null) {
            line.set("catalog", SemanticOracle.sorted(catalog));
        }
        try {
            return JSON.writeValueAsString(line);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode a ledger entry", e);
        }
    }

    /** The line as the ledger holds it (without the newline). */
    String line() {
        String unsigned = unsignedLine();
        return signature == null ? unsigned
                : unsigned.substring(0, unsigned.length() - 1) + ",\"signature\":\"" + signature + "\"}";
    }

    LedgerEntry signedWith(Ed25519Keys keys) {
        byte[] signed = keys.sign((unsignedLine()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return new LedgerEntry(time, systemIdentifier, database, schema, timeline, walLsn, rowCount, chainHeadHash,
                headPosition, prevDigest, integrity, catalogSha256, catalog,
                java.util.Base64.getEncoder().encodeToString(signed));
    }

    /**
     * The bytes a line's signature covers: the line with its final
     * ,"signature":"…" member cut out; null when the line is not signed.
     */
    static byte[] signedBytes(String line) {
        Matcher signed = SIGNED.matcher(line);
        return signed.matches() ? (signed.group(1) + "}").getBytes(java.nio.charset.StandardCharsets.UTF_8) : null;
    }

    static byte[] signatureOf(String line) {
        Matcher signed = SIGNED.matcher(line);
        return signed.matches() ? java.util.Base64.getDecoder().decode(signed.group(2)) : null;
    }

    /**
     * "sha256:" + the hex SHA-256 of an inventory's canonical JSON: compact,
     * keys sorted at every level, arrays in their order.
     */
    static String catalogDigest(JsonNode inventory) {
        return "sha256:" + AuditRow.sha256Hex(canonical(inventory));
    }

    static String canonical(JsonNode node) {
        try {
            return JSON.writeValueAsString(SemanticOracle.sorted(node));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode a catalog inventory", e);
        }
    }

    /** The digest the next line's prev_digest must hold. */
    static String digestOf(String line) {
        return "sha256:" + AuditRow.sha256Hex(line);
    }

    /** Parses one ledger line; a missing or mistyped field is an IllegalArgumentException naming it. */
    static LedgerEntry parse(String line) {
        JsonNode entry;
        try {
            entry = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a JSON object");
        }
        if (entry == null || !entry.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        if (entry.has("signature") && signedBytes(line) == null) {
            throw new IllegalArgumentException("signature is not the line's last member, 64 bytes in base64");
        }
        Map<String, String> integrity = new LinkedHashMap<>();
        entry.path("integrity").properties().forEach(field -> integrity.put(field.getKey(), field.getValue().asText()));
        String catalogSha256 = entry.has("catalog_sha256") ? text(entry, "catalog_sha256") : null;
        JsonNode catalog = null;
        if (entry.has("catalog")) {
            if (!entry.get("catalog").isObject()) {
                throw new IllegalArgumentException("catalog is not an object");
            }
            catalog = entry.get("catalog");
            if (!catalogDigest(catalog).equals(text(entry, "catalog_sha256"))) {
                throw new IllegalArgumentException("catalog_sha256 is not the SHA-256 of catalog");
            }
        }
        try {
            return new LedgerEntry(Instant.parse(text(entry, "time")), text(entry, "system_identifier"),
                    text(entry, "database"), text(entry, "schema"), number(entry, "timeline"), lsn(entry, "wal_lsn"),
                    number(entry, "row_count"), text(entry, "chain_head_hash"), number(entry, "head_position"),
                    entry.path("prev_digest").isNull() ? null : text(entry, "prev_digest"), integrity,
                    catalogSha256, catalog,
                    entry.has("signature") ? text(entry, "signature") : null);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("time is not an ISO-8601 instant");
        }
    }

    private static String text(JsonNode entry, String key) {
        if (!entry.path(key).isTextual()) {
            throw new IllegalArgumentException(key + " is missing or not a string");
        }
        return entry.get(key).asText();
    }

    /** Checked here, so the drill's comparisons (lsnValue) never meet a value that is not one. */
    private static String lsn(JsonNode entry, String key) {
        String value = text(entry, key);
        if (!LSN.matcher(value).matches()) {
            throw new IllegalArgumentException(key + " is not an LSN (X/Y in hex)");
        }
        return value;
    }

    /** An integer a long holds: asLong() would wrap a bigger one (2^64 + 1 rows read as 1). */
    private static long number(JsonNode entry, String key) {
        if (!entry.path(key).isIntegralNumber() || !entry.get(key).canConvertToLong()) {
            throw new IllegalArgumentException(key + " is missing or not an integer");
        }
        return entry.get(key).asLong();
    }

    /**
     * Two LSNs as pg_lsn prints them, compared as the server does: unsigned
     * (from 80000000/0 on, the value is a negative long).
     */
    static int compareLsn(String lsn, String other) {
        return Long.compareUnsigned(lsnValue(lsn), lsnValue(other));
    }

    /** An LSN as pg_lsn prints it (X/Y in hex) as one 64-bit number; compare with compareLsn. */
    static long lsnValue(String lsn) {
        int slash = lsn.indexOf('/');
        if (slash < 1) {
            throw new IllegalArgumentException("not an LSN (X/Y in hex): " + lsn);
        }
        return (Long.parseLong(lsn.substring(0, slash), 16) << 32) | Long.parseLong(lsn.substring(slash + 1), 16);
    }
}
