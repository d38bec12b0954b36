// The usage help lives in one resource bundle, deploy/tool/usage.properties
// (BackupSmoke's @Command resourceBundle): every flag and every argument
// group finds its text there, no key is left that nothing reads, and no
// @Option keeps a text of its own beside it. Pure: no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ResourceBundle;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

class UsageHelpTest {
    static final CommandSpec SPEC = BackupSmoke.commandLine(Map.of()).getCommandSpec();
    static final ResourceBundle BUNDLE = SPEC.resourceBundle();

    /** The key picocli reads an option's text from: its descriptionKey, else its longest name without dashes. */
    static String keyOf(OptionSpec option) {
        return option.descriptionKey().isEmpty() ? option.longestName().replaceFirst("^-+", "") : option.descriptionKey();
    }

    /** The options whose text is ours: all but picocli's own --help and --version. */
    static Stream<OptionSpec> ourOptions() {
        return SPEC.options().stream().filter(option -> !option.usageHelp() && !option.versionHelp());
    }

    /** Every argument group, nested ones included. */
    static Stream<ArgGroupSpec> groups(List<ArgGroupSpec> groups) {
        return groups.stream().flatMap(group -> Stream.concat(Stream.of(group), groups(group.subgroups())));
    }

    @Test
    void theBundleIsUsageProperties() {
        assertEquals("usage", SPEC.resourceBundleBaseName());
    }

    @Test
    void everyFlagHasItsHelpInTheBundle() {
        List<String> missing = ourOptions().filter(option -> !BUNDLE.containsKey(keyOf(option)))
                .map(option -> option.longestName() + " (key " + keyOf(option) + ")").toList();
        assertEquals(List.of(), missing, "flags without their help in deploy/tool/usage.properties");
        assertTrue(ourOptions().allMatch(option -> option.description().length > 0));
    }

    @Test
    void everyArgumentGroupHasItsHeadingInTheBundle() {
        List<String> missing = groups(SPEC.argGroups())
                .filter(group -> group.headingKey() == null || !BUNDLE.containsKey(group.headingKey()))
                .map(group -> group.options().get(0).longestName() + "'s group (key " + group.headingKey() + ")")
                .toList();
        assertEquals(List.of(), missing, "argument groups without their heading in deploy/tool/usage.properties");
    }

    @Test
    void everyKeyOfTheBundleIsReadByAFlagOrAGroup() {
        List<String> read = Stream.concat(SPEC.options().stream().map(UsageHelpTest::keyOf),
                groups(SPEC.argGroups()).map(ArgGroupSpec::headingKey)).toList();
        // picocli reads a multi-line text from KEY.0, KEY.1, ... as well.
        List<String> unread = BUNDLE.keySet().stream().filter(key -> !read.contains(key.replaceFirst("\\.\\d+$", "")))
                .sorted().toList();
        assertEquals(List.of(), unread, "keys of deploy/tool/usage.properties that no flag or group reads");
    }

    @Test
    void noOptionKeepsAHelpTextOfItsOwn() {
        List<String> inline = ourOptions().filter(option -> option.userObject() instanceof Field field
                && field.getAnnotation(Option.class).description().length > 0).map(OptionSpec::longestName).toList();
        assertEquals(List.of(), inline, "@Option description: the help goes into deploy/tool/usage.properties");
    }

    @Test
    void theBatchSizeInBatchRowsHelpIsTheWorkloadsDefault() {
        String help = String.join(" ", SPEC.findOption("--batch-rows").description());
        assertTrue(help.contains(" " + Workload.DEFAULT_BATCH_ROWS + " with this project's trigger"), help);
    }

    @Test
    void theHelpExpandsDefaultValuesAndShowsTheGroupsHeadings() {
        // Compared without line breaks: the help wraps its lines to the terminal's width.
        String usage = BackupSmoke.commandLine(Map.of()).getUsageMessage().replaceAll("\\s+", " ");
        for (String expected : List.of("--rows=N number of audit rows to insert (workload; pitr-check: the rows of"
                + " --id-prefix the restore must hold; default: 24)",
                "--method=NAME drill-verify: the restore method, the metrics' method label (default: command)",
                " Anchoring (verify): values recorded outside the database --expect-head=HASH the chain head",
                " Checkpoint ledger (checkpoint, drill-verify) --ledger=FILE checkpoint, drill-verify:",
                " Restore drill (drill-verify): the restored backup --backup-start=TIMESTAMP drill-verify:")) {
            assertTrue(usage.contains(expected), expected + " in\n" + usage);
        }
    }

    @Test
    void theModesHelpNamesEveryMode() {
        String help = String.join(" ", SPEC.findOption("--mode").description());
        List<String> unnamed = new BackupSmoke(Map.of()).modes().stream().map(Mode::name)
                .filter(name -> !Pattern.compile("(?<![\\w-])" + Pattern.quote(name) + "(?![\\w-])").matcher(help).find())
                .toList();
        assertEquals(List.of(), unnamed, "modes the --mode help leaves out: " + help);
    }

    /** A key at the start of a line of usage.properties (the lines after it continue its text). */
    private static final Pattern KEY = Pattern.compile("^([a-z][a-z0-9.-]*) = ");

    @Test
    void theBundleHoldsTheFlagsInTheOrderTheHelpShowsThem() throws Exception {
        String usage = BackupSmoke.commandLine(Map.of()).getUsageMessage(CommandLine.Help.Ansi.OFF);
        List<String> inFile = Files.readAllLines(Path.of("deploy/tool/usage.properties")).stream().map(KEY::matcher)
                .filter(Matcher::find).map(key -> key.group(1)).filter(key -> !key.startsWith("group.")).toList();
        List<String> inHelp = ourOptions().sorted(Comparator.comparingInt(option -> placeInHelp(usage, option)))
                .map(UsageHelpTest::keyOf).toList();
        assertEquals(inHelp, inFile, "deploy/tool/usage.properties says it keeps the order --help shows");
    }

    /** Where OPTION's own line starts in USAGE: its name in the names' column (a text's lines are indented more). */
    private static int placeInHelp(String usage, OptionSpec option) {
        String name = Pattern.quote(option.longestName().replaceFirst("^--", ""));
        Matcher line = Pattern.compile("(?m)^  (?:-\\w, |    )--(?:\\[no-\\])?" + name + "(?=[=\\s\\[])").matcher(usage);
        assertTrue(line.find(), option.longestName() + " in\n" + usage);
        return line.start();
    }
}
