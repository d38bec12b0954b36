// The backup_label file a physical backup leaves in its data directory
// (pg_basebackup, pgBackRest, Barman, WAL-G all restore it there, and the
// server renames it to backup_label.old once it starts): where and when the
// backup began. The restore drill (SPEC 9.10, --backup-label-file) reads it
// before the restored server starts, instead of asking each tool.
//
//   START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
//   CHECKPOINT LOCATION: 0/2000060
//   BACKUP METHOD: streamed
//   BACKUP FROM: primary
//   START TIME: 2026-12-05 16:30:00 UTC
//   LABEL: pgBackRest backup
//   START TIMELINE: 1

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * startLsn, label and timeline may be null (old servers write no timeline, and the label a command-url
 * restore writes for a managed snapshot may know only the time); startTime is null only beside a startLsn,
 * when its zone's abbreviation stands for several offsets (CST: China's, Cuba's, the US's).
 */
record BackupLabel(String startLsn, Instant startTime, String label, Long timeline) {

    private static final Pattern START_WAL = Pattern.compile("(?m)^START WAL LOCATION: ([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})\\b");
    private static final Pattern START_TIME = Pattern.compile("(?m)^START TIME: (\\S+ \\S+ \\S+)\\s*$");
    private static final Pattern LABEL = Pattern.compile("(?m)^LABEL: (.*?)\\s*$");
    private static final Pattern TIMELINE = Pattern.compile("(?m)^START TIMELINE: ([0-9]{1,10})\\s*$");
    /** The server writes the time with %Z of its log_timezone: an abbreviation (UTC, CET) or an offset (+01). */
    private static final Pattern OFFSET_TIME = Pattern.compile("(\\S+ \\S+) ([+-][0-9]{2})(?::?([0-9]{2}))?");
    private static final Pattern NAMED_TIME = Pattern.compile("(\\S+) (\\S+) ([A-Za-z]+)");
    private static final DateTimeFormatter ZONE_NAME = DateTimeFormatter.ofPattern("z", Locale.ROOT);

    static BackupLabel read(Path file) throws Failure {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Failure("cannot read the backup label " + file + ": " + Failure.reason(e));
        }
        return parse(text, file.toString());
    }

    static BackupLabel parse(String text, String name) throws Failure {
        Matcher lsn = START_WAL.matcher(text);
        Matcher time = START_TIME.matcher(text);
        if (!time.find()) {
            throw new Failure(name + " is not a backup label: it needs a START TIME line");
        }
        Matcher label = LABEL.matcher(text);
        Matcher timeline = TIMELINE.matcher(text);
        String startLsn = lsn.find() ? lsn.group(1).toUpperCase(Locale.ROOT) : null;
        return new BackupLabel(startLsn, instant(time.group(1), name, startLsn != null),
                label.find() ? label.group(1) : null, timeline.find() ? Long.parseLong(timeline.group(1)) : null);
    }

    /**
     * START TIME as an instant; null when its abbreviation stands for several
     * offsets and LSN_KNOWN (the LSN chooses the entry relied on), else such
     * a time is refused rather than guessed.
     */
    private static Instant instant(String value, String name, boolean lsnKnown) throws Failure {
        Matcher offset = OFFSET_TIME.matcher(value);
        Matcher named = NAMED_TIME.matcher(value);
        try {
            if (offset.matches()) {
                String minutes = offset.group(3) == null ? "00" : offset.group(3);
                return java.time.OffsetDateTime.parse(offset.group(1).replace(' ', 'T') + offset.group(2) + ":" + minutes)
                        .toInstant();
            }
            if (named.matches()) {
                LocalDateTime local = LocalDateTime.parse(named.group(1) + "T" + named.group(2));
                Set<ZoneOffset> offsets = offsetsNamed(named.group(3), local);
                if (offsets.size() == 1) {
                    return local.toInstant(offsets.iterator().next());
                }
                if (offsets.size() > 1) {
                    if (lsnKnown) {
                        return null;
                    }
                    throw new Failure(name + ": START TIME " + Failure.quoted(value) + " names its zone " + named.group(3)
                            + ", which stands for several offsets then (" + offsets.stream().map(ZoneOffset::getId)
                            .collect(Collectors.joining(", ")) + "): write it in UTC or with its offset");
                }
            }
        } catch (DateTimeParseException e) {
            // said below
        }
        throw new Failure(name + ": START TIME " + Failure.quoted(value) + " is not a time this tool can read");
    }

    /**
     * The offsets of the zones that call themselves ABBREVIATION at LOCAL: an
     * abbreviation stands for an offset, not for a region's rules, so it is
     * not parsed as one (java.time reads AEST in December as Sydney's +11,
     * which is AEDT then, and CST as Chicago's though China's servers write it).
     * Each offset LOCAL has there: the hour a zone's clocks go back comes
     * twice, and the abbreviation says which (02:30 NZDT, then 02:30 NZST).
     */
    static Set<ZoneOffset> offsetsNamed(String abbreviation, LocalDateTime local) {
        Set<ZoneOffset> offsets = new TreeSet<>();
        for (String id : ZoneId.getAvailableZoneIds()) {
            ZoneId zone = ZoneId.of(id);
            for (ZoneOffset offset : zone.getRules().getValidOffsets(local)) {
                if (ZONE_NAME.format(ZonedDateTime.ofLocal(local, zone, offset)).equals(abbreviation)) {
                    offsets.add(offset);
                }
            }
        }
        return offsets;
    }
}
