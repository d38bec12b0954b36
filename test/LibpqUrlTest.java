// The URLs the harness hands out (LibpqUrl, --mode=knobs), in process: what
// the harness's url_encode and server_url used to build, byte for byte.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class LibpqUrlTest {
    @Test
    void everyPartButTheQueryIsPercentEncodedAndAnIpv6HostBracketed() {
        assertEquals("postgres://app%20user@db.example:5433/my%2Fdb%C3%A9?sslmode=require&application_name=x",
                LibpqUrl.of("app user", "db.example", "5433", "my/dbé", "sslmode=require&application_name=x"));
        assertEquals("postgres://u@[::1]:5432/", LibpqUrl.base("u", "::1", "5432"));
        assertEquals("postgres://u@%2Fvar%2Frun%2Fpostgresql:5432/d", LibpqUrl.of("u", "/var/run/postgresql", "5432",
                "d", ""));
        assertEquals("A-z0-9._~%25%3F%40", LibpqUrl.encode("A-z0-9._~%?@"));
    }

    /** The one decoder of every URL reader: libpq's, but that a reader asks whether a '%' starts no escape. */
    @Test
    void decodingIsLibpqsAndAPercentThatStartsNoEscapeIsTold() {
        assertEquals("a+b c/\u00e9#", LibpqUrl.decode("a+b%20c%2f%C3%A9#"));
        assertEquals("%zz 100% %4", LibpqUrl.decode("%zz 100% %4"));
        assertTrue(LibpqUrl.isWellEncoded("a%20b%2F"));
        assertFalse(LibpqUrl.isWellEncoded("%zz"));
        assertFalse(LibpqUrl.isWellEncoded("abc%4"));
        assertFalse(LibpqUrl.isWellEncoded("%20%"));
    }

    @Test
    void aConfiguredServerGetsItsUrlsAndLabelAThrowawayOneNone() throws Exception {
        ServerChoice server = ServerChoice.of(Map.of("DATABASE_URL",
                "postgres://alice:s3cret@db:6543/app%20db?sslmode=disable"), true);
        assertEquals(Map.of("url.base", "postgres://alice@db:6543/", "url.query", "?sslmode=disable",
                "url.maintenance", "postgres://alice@db:6543/app%20db?sslmode=disable",
                "url.in_place", "postgres://alice@db:6543/app%20db?sslmode=disable", "server.label", "alice@db:6543"),
                LibpqUrl.entries(server));
        assertEquals("postgres://bob@h:5432/postgres", LibpqUrl.entries(ServerChoice.of(
                Map.of("PGHOST", "h", "PGUSER", "bob"), false)).get("url.maintenance"));
        assertEquals("", LibpqUrl.entries(ServerChoice.of(Map.of("PGHOST", "h", "PGUSER", "bob"), false))
                .get("url.in_place"));
        assertEquals(Map.of(), LibpqUrl.entries(ServerChoice.of(Map.of(), false)));
    }
}
