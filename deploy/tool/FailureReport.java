// How the command line reports a failure (SPEC section 2): an expected one
// (Failure) in one line, exit 1 (a Refusal its own code); an unexpected one
// in one line too, its stack trace only with --verbose. BackupSmoke installs
// it as picocli's execution exception handler.

import java.io.PrintWriter;
import java.util.regex.Pattern;
import picocli.CommandLine;

final class FailureReport {
    /** A control character: a line break in it would start a line of its own (oneLine). */
    static final Pattern CONTROL = Pattern.compile("\\p{Cntrl}");

    private FailureReport() {
    }

    /** What each of the tool's own lines on stderr starts with. */
    static final String PREFIX = "backupsmoke: ";

    /** picocli's IExecutionExceptionHandler: the line on the command's stderr, and the exit code. */
    static int report(Exception failure, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        if (Progress.interrupted) {
            return 1; // the failure is the interruption, which the shutdown hook reports
        }
        if (failure instanceof Failure) {
            err.println(PREFIX + oneLine(failure.getMessage()));
            err.flush();
            return failure instanceof Refusal ? Refusal.EXIT : 1;
        } else if (Progress.causedByMemory(failure)) {
            err.println(PREFIX + Progress.outOfMemory());
        } else {
            boolean verbose = parsed.hasMatchedOption("--verbose");
            err.println(PREFIX + "unexpected error: " + failure.toString().replaceAll("\\s*\\R\\s*", " ")
                    + (verbose ? "" : " (run with --verbose for the stack trace)"));
            if (verbose) {
                failure.printStackTrace(err);
            }
        }
        err.flush();
        return 1;
    }

    /**
     * PICOCLI's handler of usage errors (exit 2, the line then the help), the line made one: picocli quotes a
     * value back as given, and a value may hold a line break. Any other error goes to it unchanged, keeping its
     * suggestions ("Did you mean").
     */
    static CommandLine.IParameterExceptionHandler oneLineUsageErrors(CommandLine.IParameterExceptionHandler picocli) {
        return (failure, args) -> {
            String line = oneLine(failure.getMessage());
            return picocli.handleParseException(line.equals(failure.getMessage()) ? failure
                    : new CommandLine.ParameterException(failure.getCommandLine(), line, failure), args);
        };
    }

    /**
     * MESSAGE, for a line on stderr, with '?' for each control character of a name it quotes (a database
     * "led\n::set-output...", a column, a row's id): a line break would print a second line, which GitHub
     * Actions reads as a workflow command.
     */
    static String oneLine(String message) {
        return CONTROL.matcher(message).replaceAll("?");
    }
}
