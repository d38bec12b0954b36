// Which flags belong to which modes (BackupSmoke.FLAG_GROUPS, VERIFY_FLAGS),
// read from picocli's model of the command: every flag of a group is refused
// by a mode that does not read it, and every flag of the command either
// belongs to a group or is one all modes share. Pure: no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

class ModeFlagsTest {
    static final CommandSpec SPEC = BackupSmoke.commandLine(Map.of()).getCommandSpec();

    /** Every group, the verify flags last, as BackupSmoke checks them. */
    static List<ModeFlags> groups() {
        return Stream.concat(BackupSmoke.FLAG_GROUPS.stream(), Stream.of(BackupSmoke.VERIFY_FLAGS)).toList();
    }

    /** The flag as given on a command line: a switch alone, anything else with a value of its type. */
    static String given(OptionSpec option) {
        if (option.arity().max == 0) {
            return option.longestName();
        }
        Class<?> type = option.type();
        String value = type == OffsetDateTime.class ? "2026-05-16T12:00:00Z" : type == Duration.class ? "1h"
                : Number.class.isAssignableFrom(type) || type.isPrimitive() ? "1" : "x";
        return option.longestName() + "=" + value;
    }

    static String refusal(String... args) {
        var result = Support.tool(args);
        assertEquals(2, result.exit(), result.describe());
        return result.err().lines().findFirst().orElse("");
    }

    @Test
    void everyFlagOfAGroupIsRefusedByAModeThatDoesNotReadIt() {
        int checked = 0;
        for (ModeFlags group : groups()) {
            String modes = "--mode=" + String.join(" and --mode=", group.modes());
            for (OptionSpec option : group.options(SPEC)) {
                String name = option.negatable() ? "--[no-]" + option.longestName().substring(2) : option.longestName();
                // --expect-exact needs an expectation, which is a verify flag too.
                List<String> args = new ArrayList<>(List.of("--mode=workload", given(option)));
                String flags = name;
                if (name.equals("--expect-exact")) {
                    args.add(1, "--expect-rows=1");
                    flags = "--expect-rows, --expect-exact";
                }
                assertEquals(flags + (flags.contains(",") ? " apply" : " applies") + " to " + modes + " only",
                        refusal(args.toArray(String[]::new)));
                checked++;
            }
        }
        assertEquals(68, checked);
    }

    @Test
    void theRefusalNamesTheGivenFlagsInTheOrderGiven() {
        assertEquals("--backup-id, --backup-start apply to --mode=drill-verify only",
                refusal("--mode=verify", "--backup-id=b", "--backup-start=2026-05-16T12:00:00Z"));
        assertEquals("--[no-]client-verify, --fail-on-break apply to --mode=verify only",
                refusal("--mode=workload", "--no-client-verify", "--fail-on-break"));
    }

    @Test
    void everyFlagBelongsToOneGroupOrToEveryMode() {
        List<String> grouped = groups().stream().flatMap(group -> group.options(SPEC).stream())
                .map(OptionSpec::longestName).toList();
        assertEquals(grouped.stream().distinct().toList(), grouped, "a flag in two groups");
        List<String> shared = SPEC.options().stream().map(OptionSpec::longestName)
                .filter(name -> !grouped.contains(name) && !JudgeModes.MODE_OF_FLAG.containsKey(name)).toList();
        assertEquals(List.of("--mode", "--db-url", "--migrations-path", "--rows", "--batch-rows", "--id-prefix",
                "--start-time", "--schema", "--fail-on-findings", "--timeout", "--connect-timeout", "--verbose",
                "--help", "--version"), shared);
    }

    @Test
    void aModeThatReadsTheFlagsOrNoModeRefusesNothing() {
        ModeFlags drill = ModeFlags.declaredIn(List.of("drill-verify"), DrillOptions.class);
        assertNull(drill.refusal("drill-verify", List.of("--backup-id")));
        assertNull(drill.refusal(null, List.of("--backup-id")));
        assertNull(drill.refusal("verify", List.of()));
        assertEquals("--backup-id applies to --mode=drill-verify only", drill.refusal("verify", List.of("--backup-id")));
        assertTrue(BackupSmoke.FLAG_GROUPS.stream().allMatch(group -> !group.options(SPEC).isEmpty()));
    }
}
