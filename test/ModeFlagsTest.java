// Which flags belong to which modes (FlagReaders.groups, FlagReaders.VERIFY),
// read from picocli's model of the command: every flag of a group is refused
// by a mode that does not read it, and every flag of the command either
// belongs to a group or is one all modes share; modes that share a class of
// options read only their own of them. Pure: no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

class ModeFlagsTest {
    static final CommandSpec SPEC = BackupSmoke.commandLine(Map.of()).getCommandSpec();

    /** The command's groups of flags, for its table of modes. */
    static final List<ModeFlags> GROUPS = FlagReaders.groups(new BackupSmoke(Map.of()).modes());

    /** Every group, the verify flags last, as BackupSmoke checks them. */
    static List<ModeFlags> groups() {
        return Stream.concat(GROUPS.stream(), Stream.of(FlagReaders.VERIFY)).toList();
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

    /** The refusal's two forms: its readers listed, or, past ModeFlags.READERS_LISTED of them, the mode given. */
    static String expectedRefusal(String flags, List<String> readers, String mode) {
        boolean one = !flags.contains(",");
        return readers.size() > ModeFlags.READERS_LISTED ? flags + (one ? " does" : " do") + " not apply to --mode=" + mode
                : flags + (one ? " applies" : " apply") + " to --mode=" + String.join(" and --mode=", readers) + " only";
    }

    @Test
    void everyFlagOfAGroupIsRefusedByAModeThatDoesNotReadIt() {
        int checked = 0;
        for (ModeFlags group : groups()) {
            // workload, or the first mode of the table that does not read the group
            String other = Stream.concat(Stream.of("workload"), ModeTableTest.NAMES.stream())
                    .filter(mode -> !group.modes().contains(mode)).findFirst().orElseThrow();
            for (OptionSpec option : group.options(SPEC)) {
                String name = option.negatable() ? "--[no-]" + option.longestName().substring(2) : option.longestName();
                // --expect-exact needs an expectation, which is a verify flag too.
                List<String> args = new ArrayList<>(List.of("--mode=" + other, given(option)));
                String flags = name;
                if (name.equals("--expect-exact")) {
                    args.add(1, "--expect-rows=1");
                    flags = "--expect-rows, --expect-exact";
                }
                assertEquals(expectedRefusal(flags, group.modes(), other), refusal(args.toArray(String[]::new)));
                checked++;
            }
        }
        assertEquals(89, checked); // 80 and the nine flags of the judge modes (JudgeModes.FLAGS)
    }

    /** The modes that connect to --db-url: all but those on files (ModeTableTest). */
    static final List<String> CONNECTING = List.of("workload", "verify", "selftest", "checkpoint", "drill-verify",
            "judge-restored", "oracle-capture", "pitr-check", "in-place-check", "in-place-wipe", "plan",
            "new-scratch-db", "drop-scratch-dbs", "pitr-target", "switch-wal", "archive-now");

    /** FLAG is read by MODES. */
    record Readers(String flag, List<String> modes) {
    }

    /** Which modes read each flag of the command itself (BackupSmoke's @Options), restated from their handlers. */
    static final List<Readers> READERS_OF_OWN_FLAGS = List.of(
            new Readers("--db-url", CONNECTING),
            // await-recovery connects to the restored server, report to --source-server
            new Readers("--connect-timeout", Stream.concat(CONNECTING.stream(), Stream.of("await-recovery", "report"))
                    .toList()),
            new Readers("--migrations-path", List.of("workload", "selftest", "in-place-check", "in-place-wipe")),
            new Readers("--rows", List.of("workload", "pitr-check")),
            new Readers("--id-prefix", List.of("workload", "pitr-check")),
            new Readers("--batch-rows", List.of("workload")),
            new Readers("--start-time", List.of("workload")),
            new Readers("--schema", List.of("workload", "verify", "checkpoint", "drill-verify")),
            new Readers("--fail-on-findings", List.of("selftest")),
            new Readers("--run-record", List.of("report", "backup-evidence", "judge-restored", "oracle-capture",
                    "knobs")),
            new Readers("--report-dir", List.of("report", "drill-verify")));

    @Test
    void theCommandsOwnFlagsAreRefusedByEveryModeThatDoesNotReadThem() {
        List<String> own = SPEC.options().stream().filter(option -> option.userObject()
                instanceof java.lang.reflect.Field field && field.getDeclaringClass() == BackupSmoke.class)
                .map(OptionSpec::longestName).filter(name -> !List.of("--mode", "--timeout", "--verbose").contains(name))
                .sorted().toList();
        assertEquals(own, READERS_OF_OWN_FLAGS.stream().map(Readers::flag).sorted().toList());
        int accepted = 0;
        int refused = 0;
        for (String mode : ModeTableTest.NAMES) {
            for (Readers readers : READERS_OF_OWN_FLAGS) {
                String arg = given(SPEC.findOption(readers.flag()));
                if (readers.modes().contains(mode)) {
                    assertNull(groupRefusal(mode, arg), mode + " " + arg);
                    accepted++;
                    continue;
                }
                assertEquals(expectedRefusal(readers.flag(), readers.modes(), mode), refusal("--mode=" + mode, arg), mode);
                refused++;
            }
        }
        // 26 modes; --db-url read by 16, --connect-timeout 18, --run-record 5, --migrations-path 4, --schema 4,
        // the rest 1 or 2
        assertEquals(56, accepted);
        assertEquals(26 * 11 - 56, refused);
    }

    @Test
    void aMisplacedFlagOfTheCommandNamesItsModes() {
        assertEquals("--rows applies to --mode=workload and --mode=pitr-check only", refusal("--mode=verify", "--rows=5"));
        assertEquals("--id-prefix applies to --mode=workload and --mode=pitr-check only",
                refusal("--mode=knobs", "--id-prefix=x"));
        assertEquals("--fail-on-findings applies to --mode=selftest only", refusal("--mode=switch-wal",
                "--fail-on-findings"));
        assertEquals("--schema applies to --mode=workload and --mode=verify and --mode=checkpoint and"
                + " --mode=drill-verify only", refusal("--mode=selftest", "--schema=public"));
        assertEquals("--batch-rows, --start-time apply to --mode=workload only",
                refusal("--mode=verify", "--batch-rows=5", "--start-time=2026-05-16T12:00:00Z"));
        // Read by every mode that connects: the refusal names the mode given, not the 16 readers.
        assertEquals("--db-url does not apply to --mode=judge",
                refusal("--mode=judge", "--db-url=postgres://nobody@localhost/none"));
        assertEquals("--connect-timeout does not apply to --mode=judge", refusal("--mode=judge", "--connect-timeout=3"));
    }

    /** What MODE reads of the options HOLDER declares, which other modes share. */
    record Reads(String mode, Class<?> holder, List<String> flags) {
    }

    /** Restated from each mode's code (PhysicalModes, PhysicalSetup, RestoredCluster), in the order of their lists. */
    static final List<Reads> SIBLINGS = List.of(
            new Reads("await-recovery", PhysicalModes.Options.class, List.of("--restored-url-file", "--cluster",
                    "--database", "--roles", "--need-superuser", "--need-writes", "--source-url", "--controldata",
                    "--recovery-timeout", "--step-failed", "--step-output")),
            new Reads("pitr-target", PhysicalModes.Options.class, List.of("--target-kind", "--target-file")),
            new Reads("switch-wal", PhysicalModes.Options.class, List.of()),
            new Reads("physical-setup", PhysicalModes.Options.class, List.of("--cluster", "--tools", "--bindir")),
            new Reads("restored-setup", RestoredCluster.Options.class, List.of("--restored-cluster", "--auth",
                    "--recovery-target", "--wal-archive")),
            new Reads("restore-command", RestoredCluster.Options.class, List.of("--recovery-target", "--tool",
                    "--pgdata", "--repository", "--backup-set", "--tool-config")));

    /** The first refusal of the groups (not the verify flags) for --mode=MODE ARG, as the command checks them; else null. */
    static String groupRefusal(String mode, String arg) {
        ParseResult parsed = BackupSmoke.commandLine(Map.of()).parseArgs("--mode=" + mode, arg);
        return GROUPS.stream().map(group -> group.refusal(mode, group.given(parsed)))
                .filter(Objects::nonNull).findFirst().orElse(null);
    }

    @Test
    void modesSharingOptionsRefuseTheFlagsOnlyASiblingReads() {
        assertEquals(Stream.concat(PhysicalModes.NAMES.stream(), RestoredCluster.MODES.stream()).toList(),
                SIBLINGS.stream().map(Reads::mode).toList());
        int accepted = 0;
        int refused = 0;
        for (Reads reads : SIBLINGS) {
            List<OptionSpec> shared = ModeFlags.declaredIn(List.of(), reads.holder()).options(SPEC);
            assertTrue(shared.stream().map(OptionSpec::longestName).toList().containsAll(reads.flags()), reads.mode());
            for (OptionSpec option : shared) {
                String flag = option.longestName();
                if (reads.flags().contains(flag)) {
                    assertNull(groupRefusal(reads.mode(), given(option)), reads.mode() + " " + flag);
                    accepted++;
                    continue;
                }
                String readers = SIBLINGS.stream().filter(other -> other.flags().contains(flag))
                        .map(other -> "--mode=" + other.mode()).collect(Collectors.joining(" and "));
                assertEquals(flag + " applies to " + readers + " only",
                        refusal("--mode=" + reads.mode(), given(option)), reads.mode());
                refused++;
            }
        }
        // 15 options shared by 4 modes, 9 by 2: each mode reads 11, 2, 0, 3 and 4, 6 of them.
        assertEquals(26, accepted);
        assertEquals(4 * 15 + 2 * 9 - 26, refused);
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
                .filter(name -> !grouped.contains(name)).toList();
        assertEquals(List.of("--mode", "--timeout", "--verbose", "--help", "--version"), shared);
    }

    @Test
    void aModeThatReadsTheFlagsOrNoModeRefusesNothing() {
        ModeFlags drill = ModeFlags.declaredIn(List.of("drill-verify"), DrillOptions.class);
        assertNull(drill.refusal("drill-verify", List.of("--backup-id")));
        assertNull(drill.refusal(null, List.of("--backup-id")));
        assertNull(drill.refusal("verify", List.of()));
        assertEquals("--backup-id applies to --mode=drill-verify only", drill.refusal("verify", List.of("--backup-id")));
        assertTrue(GROUPS.stream().allMatch(group -> !group.options(SPEC).isEmpty()));
    }
}
