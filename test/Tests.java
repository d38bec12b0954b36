///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../BackupSmoke.java
//SOURCES Support.java
//SOURCES *Test.java
//DEPS org.junit.jupiter:junit-jupiter:5.14.1
//DEPS org.junit.platform:junit-platform-launcher:1.14.1

// The test suite: JUnit 5 run through the JUnit Platform launcher, so no build
// project is needed. It expects a PostgreSQL server described by
// SMOKE_TEST_PGHOST / SMOKE_TEST_PGPORT / SMOKE_TEST_PGUSER (test/run starts a
// throwaway one) and runs from the repository root. Arguments, if any, are
// test class names (or Class#method) to run instead of all of them; a first
// argument --fast leaves out the end-to-end classes (tagged "e2e").

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.launcher.TagFilter.excludeTags;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

public class Tests {
    public static void main(String[] args) throws Exception {
        // Every *Test class that //SOURCES brought in, found by scanning this
        // script's own jar, so a new test file is one new file and nothing else.
        // --fast: the in-process tiers only (pure logic, and the tool's classes against the suite's
        // cluster); the classes tagged "e2e" start the tool's JVM, JBang or the whole harness.
        boolean fast = args.length > 0 && args[0].equals("--fast");
        if (fast) {
            args = java.util.Arrays.copyOfRange(args, 1, args.length);
        }
        List<DiscoverySelector> selectors = new ArrayList<>();
        if (args.length == 0) {
            Path ownJar = Path.of(Tests.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            selectors.addAll(selectClasspathRoots(Set.of(ownJar)));
        } else {
            // A class name, or Class#method for one test.
            for (String name : args) {
                selectors.add(name.contains("#") ? selectMethod(name) : selectClass(Class.forName(name)));
            }
        }
        if (!fast) {
            Support.buildTool();
        }
        LauncherDiscoveryRequestBuilder discovery = LauncherDiscoveryRequestBuilder.request().selectors(selectors)
                .filters(includeClassNamePatterns(".*Test"));
        if (fast) {
            discovery.filters(excludeTags("e2e"));
        }
        LauncherDiscoveryRequest request = discovery.build();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request, summary, new ProgressListener());

        TestExecutionSummary result = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        if (!result.getFailures().isEmpty()) {
            out.println();
            out.println("Failures:");
            for (TestExecutionSummary.Failure failure : result.getFailures()) {
                out.println("  " + failure.getTestIdentifier().getDisplayName() + " ("
                        + failure.getTestIdentifier().getUniqueId() + ")");
                out.println("    " + failure.getException());
            }
        }
        long failed = result.getTestsFailedCount() + result.getContainersFailedCount();
        out.println();
        out.println(result.getTestsSucceededCount() + " passed, " + failed + " failed, "
                + (result.getTestsSkippedCount() + result.getTestsAbortedCount()) + " skipped");
        System.exit(failed == 0 && result.getTestsSucceededCount() > 0 ? 0 : 1);
    }

    /** One line per finished test, so a CI log shows where time goes and what broke. */
    static final class ProgressListener implements TestExecutionListener {
        private final java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void executionStarted(TestIdentifier test) {
            started.put(test.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionSkipped(TestIdentifier test, String reason) {
            System.out.println("SKIP  " + name(test) + ": " + reason);
        }

        @Override
        public void executionFinished(TestIdentifier test, TestExecutionResult result) {
            long millis = (System.nanoTime() - started.getOrDefault(test.getUniqueId(), System.nanoTime())) / 1_000_000;
            if (test.isTest() || result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                String status = switch (result.getStatus()) {
                    case SUCCESSFUL -> "ok  ";
                    case ABORTED -> "SKIP";
                    case FAILED -> "FAIL";
                };
                System.out.println(status + "  " + name(test) + "  (" + millis + " ms)");
                result.getThrowable().filter(t -> result.getStatus() == TestExecutionResult.Status.FAILED)
                        .ifPresent(t -> System.out.println("      " + t.toString().replace("\n", "\n      ")));
            }
        }

        private static String name(TestIdentifier test) {
            String id = test.getUniqueId();
            int classStart = id.indexOf("[class:");
            String className = classStart < 0 ? "" : id.substring(classStart + 7, id.indexOf(']', classStart));
            return (className.isEmpty() ? "" : className + ".") + test.getDisplayName();
        }
    }
}
