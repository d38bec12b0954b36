// The values of the flags that take a moment in time (--start-time,
// --backup-start, --recovery-target-time), for picocli: its own conversion
// reports a malformed one with Java's exception text.

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import picocli.CommandLine;

/** Accepts ISO-8601 with an offset: 2026-01-01T00:00:00Z, 2026-01-01T01:00:00+01:00. */
final class TimestampConverter implements CommandLine.ITypeConverter<OffsetDateTime> {
    @Override
    public OffsetDateTime convert(String value) {
        try {
            return OffsetDateTime.parse(value.trim());
        } catch (DateTimeParseException malformed) {
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a timestamp with an offset such as 2026-01-01T00:00:00Z");
        }
    }
}
