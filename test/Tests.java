///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../BackupSmoke.java
//SOURCES Support.java
//SOURCES *Test.java
//DEPS org.junit.jupiter:junit-jupiter:5.14.1
//DEPS org.junit.platform:junit-platform-launcher:1.14.1
//JAVA_OPTIONS -XX:TieredStopAtLevel=1

// The test suite: JUnit 5 run through the JUnit Platform launcher, so no build
// project is needed. It expects a PostgreSQL server described by
// SMOKE_TEST_PGHOST / SMOKE_TEST_PGPORT / SMOKE_TEST_PGUSER (test/run starts a
// throwaway one) and runs from the repository root. Arguments, if any, are
// test class names (or Class#method) to run instead of all of them; a first
// argument --fast leaves out the end-to-end tests (tagged "e2e").
//
// Two phases, one after the other, each running its classes concurrently
// (a class's own tests one after the other). First the in-process tiers
// (IN_PROCESS_JOBS classes at once): they run the tool's classes in this JVM,
// each tool call with its own stdout and stderr (Support.ThreadOutput), the
// calls that run a workload one at a time (the tool's Progress is global:
// Support.oneWorkloadAtATime). Then the end-to-end tests (processes: the
// launcher, JBang, the harness), E2E_JOBS classes at once, or SMOKE_TEST_JOBS;
// the classes holding the longest runs let their own tests run at once too
// (@Execution(CONCURRENT)). In both, tests that share something of the suite's
// server say so with @ResourceLock (see Support.SUITE_DATABASES).
//
// C1 only (TieredStopAtLevel=1): a test run is short, and C2 compiling what
// runs a few times cost more CPU than it saved (deploy/docs/extending.md).

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.launcher.TagFilter.excludeTags;
import static org.junit.platform.launcher.TagFilter.includeTags;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.ClassOrdererContext;
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
    /**
     * How many end-to-end tests run at once: one per core. They are CPU-bound (a harness run is mostly
     * JVM starts of the tool, about a second each; a sequential run keeps 1.5 of 2 cores busy), so more
     * at once than cores only makes each slower (figures: deploy/docs/extending.md).
     */
    static final int E2E_JOBS = Math.max(2, Runtime.getRuntime().availableProcessors());

    /**
     * How many in-process classes run at once: one more than cores, as a test often waits (on the server,
     * a timeout it tests) and leaves its core to another (figures: deploy/docs/extending.md).
     */
    static final int IN_PROCESS_JOBS = Runtime.getRuntime().availableProcessors() + 1;

    /** When the run began: each test's line says when it ended, so a log shows which run ended last. */
    static final long STARTED = System.nanoTime();

    /** The real stdout, kept before the first in-process tool call routes System.out per thread. */
    static final PrintStream OUT = System.out;

    public static void main(String[] args) throws Exception {
        // --fast: the in-process tiers only (pure logic, and the tool's classes against the suite's
        // cluster); the tests tagged "e2e" start the tool's JVM, JBang or the whole harness.
        boolean fast = args.length > 0 && args[0].equals("--fast");
        if (fast) {
            args = java.util.Arrays.copyOfRange(args, 1, args.length);
        }
        String jobs = e2eJobs(); // checked before any test runs, not after the first phase
        List<DiscoverySelector> selectors = selectors(args);
        // The end-to-end tests need the tool built and the launcher primed: done while the first phase runs.
        CompletableFuture<Void> built = fast ? CompletableFuture.completedFuture(null)
                : CompletableFuture.runAsync(Support::buildTool);
        List<TestExecutionSummary> summaries = new ArrayList<>();
        summaries.add(execute(concurrentClasses(discovery(selectors).filters(excludeTags("e2e")),
                Integer.toString(IN_PROCESS_JOBS)).build()));
        if (!fast) {
            built.join();
            summaries.add(execute(concurrentClasses(discovery(selectors).filters(includeTags("e2e")), jobs).build()));
        }
        report(summaries);
    }

    /** SMOKE_TEST_JOBS, or E2E_JOBS; a value that is not a whole number from 1 ends the run with one line. */
    private static String e2eJobs() {
        String jobs = System.getenv().getOrDefault("SMOKE_TEST_JOBS", Integer.toString(E2E_JOBS));
        if (!jobs.matches("[1-9][0-9]{0,2}")) {
            OUT.println("Tests: SMOKE_TEST_JOBS must be a whole number from 1, got '" + jobs + "'");
            System.exit(1);
        }
        return jobs;
    }

    /** Every *Test class that //SOURCES brought in, or the classes (or Class#method) named. */
    private static List<DiscoverySelector> selectors(String[] names) throws Exception {
        List<DiscoverySelector> selectors = new ArrayList<>();
        if (names.length == 0) {
            // Found by scanning this script's own jar, so a new test file is one new file and nothing else.
            Path ownJar = Path.of(Tests.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            selectors.addAll(selectClasspathRoots(Set.of(ownJar)));
        }
        for (String name : names) {
            selectors.add(name.contains("#") ? selectMethod(name) : selectClass(Class.forName(name)));
        }
        return selectors;
    }

    private static LauncherDiscoveryRequestBuilder discovery(List<DiscoverySelector> selectors) {
        return LauncherDiscoveryRequestBuilder.request().selectors(selectors).filters(includeClassNamePatterns(".*Test"));
    }

    /**
     * Jupiter's parallel execution: classes at once, a class's own tests one after the other (they share
     * its @TempDir and static state), never more than JOBS threads.
     */
    private static LauncherDiscoveryRequestBuilder concurrentClasses(LauncherDiscoveryRequestBuilder discovery,
                                                                     String jobs) {
        return discovery.configurationParameter("junit.jupiter.execution.parallel.enabled", "true")
                .configurationParameter("junit.jupiter.execution.parallel.mode.default", "same_thread")
                .configurationParameter("junit.jupiter.execution.parallel.mode.classes.default", "concurrent")
                .configurationParameter("junit.jupiter.execution.parallel.config.strategy", "fixed")
                .configurationParameter("junit.jupiter.execution.parallel.config.fixed.parallelism", jobs)
                .configurationParameter("junit.jupiter.execution.parallel.config.fixed.max-pool-size", jobs)
                .configurationParameter("junit.jupiter.execution.parallel.config.fixed.saturate", "true")
                .configurationParameter("junit.jupiter.testclass.order.default", LongestAtBothEnds.class.getName());
    }

    /**
     * The order in which the classes reach Jupiter's pool. The pool works through them from both ends at
     * once: the thread that hands them out runs the last one first and goes backwards, the other threads
     * take from the front. So the classes holding the longest runs go to both ends, the longest outermost,
     * and start first: when one of them started last, the run ended with one core busy and the others
     * idle (figures: deploy/docs/extending.md).
     */
    public static final class LongestAtBothEnds implements ClassOrderer {
        /** The classes that take longest on the 2-core machine, longest first; any other goes in between. */
        static final List<String> LONGEST = List.of("DrillHarnessTest", "BackupMethodsTest", "PhysicalBackupTest",
                "HarnessTest", "OracleHarnessTest", "SinceHarnessTest", "FaultsTest", "CommandLineTest",
                "DrillJudgeTest", "ServerVerifierTest", "StepFailureTest", "CheckpointLedgerTest", "CopyRowsTest",
                "RestoredClusterTest", "OracleTest");

        @Override
        public void orderClasses(ClassOrdererContext context) {
            List<String> order = bothEnds(LONGEST);
            int between = order.indexOf(null);
            context.getClassDescriptors().sort(Comparator.comparingInt(descriptor -> {
                int place = order.indexOf(descriptor.getTestClass().getSimpleName());
                return place < 0 ? between : place;
            }));
        }

        /** LONGEST_FIRST dealt to the front and the back in turn, outside in, with null in between. */
        static List<String> bothEnds(List<String> longestFirst) {
            List<String> order = new ArrayList<>();
            order.add(null);
            for (int index = 0; index < longestFirst.size(); index++) {
                if (index % 2 == 0) {
                    order.add(order.indexOf(null), longestFirst.get(index)); // the front's end, before null
                } else {
                    order.add(order.indexOf(null) + 1, longestFirst.get(index)); // the back's start, after null
                }
            }
            return order;
        }
    }

    private static TestExecutionSummary execute(LauncherDiscoveryRequest request) {
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request, summary, new ProgressListener());
        return summary.getSummary();
    }

    /** The failures again, then the last line "N passed, N failed, N skipped"; exit 0 only when all passed. */
    private static void report(List<TestExecutionSummary> summaries) {
        PrintWriter out = new PrintWriter(OUT, true);
        List<TestExecutionSummary.Failure> failures = summaries.stream().flatMap(s -> s.getFailures().stream()).toList();
        if (!failures.isEmpty()) {
            out.println();
            out.println("Failures:");
            for (TestExecutionSummary.Failure failure : failures) {
                out.println("  " + failure.getTestIdentifier().getDisplayName() + " ("
                        + failure.getTestIdentifier().getUniqueId() + ")");
                out.println("    " + failure.getException());
            }
        }
        long passed = summaries.stream().mapToLong(TestExecutionSummary::getTestsSucceededCount).sum();
        long failed = summaries.stream().mapToLong(s -> s.getTestsFailedCount() + s.getContainersFailedCount()).sum();
        long skipped = summaries.stream().mapToLong(s -> s.getTestsSkippedCount() + s.getTestsAbortedCount()).sum();
        out.println();
        out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }

    /** One line per finished test, so a CI log shows where time goes and what broke; on the real stdout. */
    static final class ProgressListener implements TestExecutionListener {
        private final java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void executionStarted(TestIdentifier test) {
            started.put(test.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionSkipped(TestIdentifier test, String reason) {
            OUT.println("SKIP  " + name(test) + ": " + reason);
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
                // One println per test, so concurrent classes' lines never interleave within a test's report.
                String failure = result.getThrowable().filter(t -> result.getStatus() == TestExecutionResult.Status.FAILED)
                        .map(t -> "\n      " + t.toString().replace("\n", "\n      ")).orElse("");
                long endedAt = (System.nanoTime() - STARTED) / 1_000_000_000;
                OUT.println(status + "  " + name(test) + "  (" + millis + " ms, ended at " + endedAt + " s)" + failure);
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
