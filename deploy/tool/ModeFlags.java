// Which flags belong to which modes, matched against picocli's model of the
// command: a group is the options one class declares (a mixin or an
// argument group of BackupSmoke), or flags named by their long names (one
// flag of the command itself; or those of a class whose modes each read
// only some of its options, which that class lists). Given to a mode that
// does not read them, a group's flags are a usage error (exit 2) rather
// than silently ignored.

import java.lang.reflect.Field;
import java.util.List;
import java.util.function.Predicate;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/** MODES read the options MEMBER accepts. */
record ModeFlags(List<String> modes, Predicate<OptionSpec> member) {

    /** The options declared by HOLDERS (the classes of a mixin or an argument group), read by MODES. */
    static ModeFlags declaredIn(List<String> modes, Class<?>... holders) {
        List<Class<?>> classes = List.of(holders);
        return new ModeFlags(modes, option -> option.userObject() instanceof Field field
                && classes.contains(field.getDeclaringClass()));
    }

    /** One option of the command, by its long name, read by MODES. */
    static ModeFlags named(String flag, String... modes) {
        return namedFor(List.of(modes), flag);
    }

    /**
     * Options of the command by their long names, read by MODES: for a class
     * whose options several modes share, each reading only some of them.
     */
    static ModeFlags namedFor(List<String> modes, String... flags) {
        List<String> names = List.of(flags);
        return new ModeFlags(modes, option -> names.contains(option.longestName()));
    }

    /** The group's options in the command's model, in the order it holds them. */
    List<OptionSpec> options(CommandSpec spec) {
        return spec.options().stream().filter(member).toList();
    }

    /** The group's flags on the command line, in the order given; a negatable one as --[no-]NAME. */
    List<String> given(ParseResult parsed) {
        return parsed.matchedOptions().stream().filter(member).distinct()
                .map(option -> option.negatable() ? "--[no-]" + option.longestName().substring(2)
                        : option.longestName())
                .toList();
    }

    /** Groups read by more modes than this are refused naming the mode given, not the list of readers. */
    static final int READERS_LISTED = 5;

    /**
     * "--a, --b apply to --mode=x and --mode=y only" when MODE is given and
     * reads none of GIVEN, or "--a does not apply to --mode=z" when the
     * group is read by most modes (--db-url: every mode that connects); else null.
     */
    String refusal(String mode, List<String> given) {
        if (mode == null || modes.contains(mode) || given.isEmpty()) {
            return null;
        }
        String flags = String.join(", ", given);
        if (modes.size() > READERS_LISTED) {
            return flags + (given.size() == 1 ? " does" : " do") + " not apply to --mode=" + mode;
        }
        return flags + (given.size() == 1 ? " applies" : " apply") + " to --mode="
                + String.join(" and --mode=", modes) + " only";
    }
}
