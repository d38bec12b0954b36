// The source server before the plan (--mode=plan, SPEC 7): up within 60 s as
// libpq sees the URL (pg_isready, so a URL libpq refuses fails at once, its
// status 3), then one login; with --scratch-source=FILE, the source's scratch
// database, its name appended to FILE before CREATE DATABASE on a configured
// server, so that the harness's cleanup and its watchdog drop exactly what
// this run made, even when the CREATE is interrupted (harness.md).

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

final class SourceServer {
    static final int READY_WITHIN_SECONDS = 60;

    private SourceServer() {
    }

    /** Until pg_isready (on ENV's PATH) says URL is up: status 3 (a URL libpq refuses) fails at once. */
    static void awaitReady(String url, String label, Map<String, String> env) throws Failure {
        long deadline = System.nanoTime() + READY_WITHIN_SECONDS * 1_000_000_000L;
        while (true) {
            Ready answer = pgIsReady(url, env);
            if (answer.status() == 0) {
                return;
            }
            if (answer.status() == 3) {
                throw new Failure("cannot connect to " + label + ": " + answer.said().replaceFirst(
                        "^pg_isready: error: ", ""));
            }
            if (System.nanoTime() > deadline) {
                throw new Failure("server " + label + " not ready within " + READY_WITHIN_SECONDS + " s: "
                        + answer.said());
            }
            pause();
        }
    }

    record Ready(int status, String said) {
    }

    private static Ready pgIsReady(String url, Map<String, String> env) throws Failure {
        Path program = ProgramSearch.find(env.get("PATH"), "pg_isready");
        if (program == null) {
            throw new Failure("pg_isready not on PATH");
        }
        ProcessBuilder builder = new ProcessBuilder(List.of(program.toString(), "-d", url, "-t", "5"))
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().clear();
        builder.environment().putAll(env); // PGSSLMODE, PGCONNECT_TIMEOUT … as the harness set them
        try {
            Process process = builder.start();
            String said = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return new Ready(process.waitFor(), said);
        } catch (IOException e) {
            throw new Failure("cannot run " + program + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for the server");
        }
    }

    private static void pause() throws Failure {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for the server");
        }
    }

    /** A new scratch database's name: backupsmoke_ and 12 random hex digits. */
    static String scratchName() {
        byte[] random = new byte[6];
        new SecureRandom().nextBytes(random);
        return "backupsmoke_" + HexFormat.of().formatHex(random);
    }

    /** Creates database NAME from template0, registered first in REGISTRY unless that is null. */
    static void createScratch(Connector connector, String name, Path registry, String label) throws Failure {
        try (Connection connection = connector.open()) {
            try (PreparedStatement taken = connection.prepareStatement(
                    "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?")) {
                taken.setString(1, name);
                if (taken.executeQuery().next()) {
                    throw new Failure("database " + name + " exists already; run again");
                }
            } catch (SQLException e) {
                throw new Failure("cannot list databases on " + label);
            }
            if (registry != null) {
                register(registry, name);
            }
            try {
                connection.createStatement().execute("CREATE DATABASE \"" + name + "\" TEMPLATE template0");
            } catch (SQLException e) {
                throw new Failure("cannot create scratch database " + name + " on " + label + " (does "
                        + connector.target().user() + " have CREATEDB?)");
            }
        } catch (SQLException e) {
            throw new Failure("cannot connect to " + label + ": " + Sql.oneLine(e));
        }
    }

    private static void register(Path registry, String name) throws Failure {
        try {
            Files.writeString(registry, name + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new Failure("cannot register scratch database " + name + " in " + registry);
        }
    }
}
