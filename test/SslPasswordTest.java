// The passphrase of an encrypted client key (sslpassword) on its way to the
// text oracle's pg_dump (TextOracle, ServiceFile): libpq reads it from no
// environment variable, so the tool hands it over in a connection service
// file of its own, and never on pg_dump's command line. In process, then
// against a server of its own that asks for a client certificate.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SslPasswordTest {
    static final String PASSPHRASE = "open sesame#1 'x'";

    @TempDir Path temp;

    /** What a libpq client may be shown: the connection string without its password and sslpassword. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " -> ", quoteCharacter = '"', value = {
        "postgres://u:pw@h/d?sslmode=require&sslpassword=SECRET -> postgres://u@h/d?sslmode=require",
        "postgres://u@h/d?ssl%70assword=SECRET&sslkey=k -> postgres://u@h/d?sslkey=k",
        "host=h password=SECRET dbname='my db' sslpassword='a b' -> host='h' dbname='my db'",
        "host=h dbname=d -> host=h dbname=d"})
    void theConnectionStringPgDumpIsGivenHoldsNoSecret(String given, String shown) throws Exception {
        assertEquals(shown, ConnectionTarget.withoutSecrets(given));
        assertEquals(List.of("pg_dump", "--format=plain", "--no-owner", "--no-acl", "--dbname=" + shown),
                TextOracle.command(shown, null));
    }

    @Test
    void theSslpasswordGoesToAServiceFileOnlyItsOwnerReadsAndIsGoneAfter() throws Exception {
        ConnectionTarget target = ConnectionTarget.parse("postgres://u:pw@h/d", Map.of("PGSSLPASSWORD", PASSPHRASE));
        Path file;
        try (ServiceFile service = ServiceFile.of(target, temp)) {
            Map<String, String> secrets = TextOracle.secrets(target, service);
            file = Path.of(secrets.get("PGSERVICEFILE"));
            assertEquals(Map.of("PGSERVICEFILE", file.toString(), "PGSERVICE", "backupsmoke", "PGPASSWORD", "pw"),
                    secrets);
            assertEquals("[backupsmoke]\nsslpassword=" + PASSPHRASE + "\n", Files.readString(file));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals(temp, file.getParent().getParent());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
        }
        assertFalse(Files.exists(file.getParent()), "removed with its file once pg_dump has ended");
        try (ServiceFile none = ServiceFile.of(ConnectionTarget.parse("postgres://u@h/d", Map.of()), temp)) {
            assertEquals(Map.of(), none.environment());
        }
        assertEquals(List.of(), Files.list(temp).toList(), "no folder without a secret");
    }

    @Test
    void anSslpasswordHoldingALineBreakIsRefused() throws Exception {
        ConnectionTarget target = ConnectionTarget.parse("postgres://u@h/d?sslpassword=a%0Ahost=elsewhere", Map.of());
        assertEquals("the sslpassword cannot hold a line break (a connection service file holds a value a line)",
                assertThrows(Failure.class, () -> ServiceFile.of(target, temp))
                        .getMessage());
        assertEquals(List.of(), Files.list(temp).toList(), "its folder removed");
    }

    /**
     * libpq's service file reader drops the white space that ends a line: a password "pw " given by one
     * failed to log in a role whose password it was, which "pw " in PGPASSWORD did (reproduced on PostgreSQL
     * 15 with psql). A passphrase ending so would never decrypt the key: refused, naming why.
     */
    @Test
    void anSslpasswordEndingWithWhiteSpaceIsRefused() throws Exception {
        for (String ending : List.of("%20", "%09")) {
            ConnectionTarget target = ConnectionTarget.parse("postgres://u@h/d?sslpassword=secret" + ending, Map.of());
            assertEquals("the sslpassword cannot end with white space (libpq drops the white space that ends a line"
                    + " of a connection service file)", assertThrows(Failure.class, () -> ServiceFile.of(target, temp))
                    .getMessage());
        }
        assertEquals(List.of(), Files.list(temp).toList(), "its folder removed");
    }

    /**
     * Reproduction: a server asking for a client certificate whose key is encrypted. Until the service file,
     * pg_dump never got the passphrase (PGSSLPASSWORD is the tool's, not libpq's): OpenSSL asked for it ("Enter
     * PEM pass phrase:"), and the dump failed with "could not load private key file ...: processing error".
     */
    @Test
    @Tag("e2e")
    void theTextOraclesPgDumpDecryptsTheClientKeyWithTheSslpassword() throws Exception {
        Map<String, String> cluster = Support.startCluster("");
        try {
            Path data = Path.of(cluster.get("PGC_DIR"), "data");
            Path keys = temp.resolve("keys");
            Files.createDirectories(keys);
            makeCertificates(keys, data);
            requireClientCertificates(data, cluster.get("PGC_PORT"));
            String url = "postgres://postgres@127.0.0.1:" + cluster.get("PGC_PORT") + "/postgres?sslmode=verify-ca"
                    + "&sslrootcert=" + keys.resolve("ca.crt") + "&sslcert=" + keys.resolve("client.crt")
                    + "&sslkey=" + keys.resolve("client.key");
            var dumped = Support.tool(Map.of("PGSSLPASSWORD", PASSPHRASE), "--mode=oracle-capture",
                    "--second-oracle=text", "--db-url=" + url);
            assertEquals(0, dumped.exit(), dumped.describe());
            assertTrue(dumped.out().contains("-- PostgreSQL database dump complete"), dumped.describe());
            var inUrl = Support.tool(Map.of(), "--mode=oracle-capture", "--second-oracle=text",
                    "--db-url=" + url + "&sslpassword=" + LibpqUrl.encode(PASSPHRASE));
            assertEquals(0, inUrl.exit(), inUrl.describe());
            var wrong = Support.tool(Map.of("PGSSLPASSWORD", "wrong"), "--mode=oracle-capture",
                    "--second-oracle=text", "--db-url=" + url);
            assertEquals("backupsmoke: the text oracle's pg_dump of " + url + " failed (exit 1)\n", wrong.err());
            assertEquals(List.of("keys"), Files.list(temp).map(p -> p.getFileName().toString()).toList(),
                    "no service file left behind");
        } finally {
            Support.stopCluster(cluster.get("PGC_DIR"));
        }
    }

    /** A CA, the server's certificate and key (into DATA, its owner's) and the client's, its key encrypted. */
    private static void makeCertificates(Path keys, Path data) throws Exception {
        openssl(keys, "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=ca", "-keyout", "ca.key",
                "-out", "ca.crt");
        for (String name : List.of("server", "client")) {
            String subject = name.equals("server") ? "/CN=127.0.0.1" : "/CN=postgres";
            openssl(keys, "req", "-new", "-nodes", "-subj", subject, "-keyout", name + ".plain", "-out", name + ".csr");
            openssl(keys, "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "2", "-out", name + ".crt");
        }
        openssl(keys, "pkey", "-in", "client.plain", "-aes256", "-passout", "pass:" + PASSPHRASE, "-out", "client.key");
        Files.setPosixFilePermissions(keys.resolve("client.key"), PosixFilePermissions.fromString("rw-------"));
        Files.copy(keys.resolve("ca.crt"), data.resolve("ca.crt"));
        Files.copy(keys.resolve("server.crt"), data.resolve("server.crt"));
        Files.copy(keys.resolve("server.plain"), data.resolve("server.key"));
        for (String file : List.of("ca.crt", "server.crt", "server.key")) {
            Files.setOwner(data.resolve(file), Files.getOwner(data));
            Files.setPosixFilePermissions(data.resolve(file), PosixFilePermissions.fromString("rw-------"));
        }
    }

    private static void openssl(Path folder, String... arguments) {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(arguments));
        var result = Support.run(command, Map.of(), folder, 60);
        assertEquals(0, result.exit(), result.describe());
    }

    /** SSL on and, over TCP, a client certificate the only way in (reloaded: SSL and pg_hba.conf take SIGHUP). */
    private static void requireClientCertificates(Path data, String port) throws Exception {
        Files.writeString(data.resolve("pg_hba.conf"),
                "local all postgres trust\nhostssl all postgres 127.0.0.1/32 cert\n");
        String plain = "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres&sslmode=disable";
        try (Connection connection = DriverManager.getConnection(plain);
                Statement statement = connection.createStatement()) {
            statement.execute("ALTER SYSTEM SET ssl = on");
            statement.execute("ALTER SYSTEM SET ssl_ca_file = 'ca.crt'");
            statement.execute("SELECT pg_catalog.pg_reload_conf()");
        }
        // The postmaster loads SSL and pg_hba.conf in one reload: a plain connection refused says both are in.
        long end = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < end) {
            try (Connection stillPlain = DriverManager.getConnection(plain)) {
                Thread.sleep(100);
            } catch (java.sql.SQLException refused) {
                return;
            }
        }
        throw new AssertionError("the cluster still takes connections without a certificate after 30 s");
    }
}
