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
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * startTime is always there; startLsn, label and timeline may be null (old servers write no timeline, and
 * the label a command-url restore writes for a managed snapshot may know only the time).
 */
record BackupLabel(String startLsn, Instant startTime, String label, Long timeline) {

    private static final Pattern START_WAL = Pattern.compile("(?m)^START WAL LOCATION: ([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})\\b");
    private static final Pattern START_TIME = Pattern.compile("(?m)^START TIME: (\\S+ \\S+ \\S+)\\s*$");
    private static final Pattern LABEL = Pattern.compile("(?m)^LABEL: (.*?)\\s*$");
    private static final Pattern TIMELINE = Pattern.compile("(?m)^START TIMELINE: ([0-9]{1,10})\\s*$");
    /** The server writes the time with %Z of its log_timezone: an abbreviation (UTC, CET) or an offset (+01). */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z");
    private static final Pattern OFFSET_TIME = Pattern.compile("(\\S+ \\S+) ([+-][0-9]{2})(?::?([0-9]{2}))?");

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
        return new BackupLabel(lsn.find() ? lsn.group(1).toUpperCase(java.util.Locale.ROOT) : null,
                instant(time.group(1), name),
                label.find() ? label.group(1) : null, timeline.find() ? Long.parseLong(timeline.group(1)) : null);
    }

    private static Instant instant(String value, String name) throws Failure {
        Matcher offset = OFFSET_TIME.matcher(value);
        try {
            if (offset.matches()) {
                String minutes = offset.group(3) == null ? "00" : offset.group(3);
                return java.time.OffsetDateTime.parse(offset.group(1).replace(' ', 'T') + offset.group(2) + ":" + minutes)
                        .toInstant();
            }
            return ZonedDateTime.parse(value, TIME).toInstant();
        } catch (DateTimeParseException e) {
            throw new Failure(name + ": START TIME " + Failure.quoted(value) + " is not a time this tool can read");
        }
    }
}
