// --timeout's values, for picocli.

import java.time.Duration;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Accepts 90s, 2m, 1h, 500ms or a plain number of seconds. */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        var matcher = Pattern.compile("(\\d+)(ms|s|m|h)?").matcher(value.trim());
        if (!matcher.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a duration such as 90s or 2m");
        }
        String unit = matcher.group(2) == null ? "s" : matcher.group(2);
        try {
            long amount = Long.parseLong(matcher.group(1));
            Duration duration = switch (unit) {
                case "ms" -> Duration.ofMillis(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofSeconds(amount);
            };
            duration.toNanos();  // the deadline counts in nanoseconds: about 292 years at most
            return duration;
        } catch (ArithmeticException | NumberFormatException tooLong) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too long a duration");
        }
    }
}
