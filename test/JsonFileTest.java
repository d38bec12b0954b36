// JsonFile: the one reader of the harness's JSON files, in process: a missing,
// blank or malformed file, read as required and as optional.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonFileTest {
    @TempDir Path temp;

    @Test
    void aMissingOrBlankFileIsAbsentWhenOptionalAndAFailureWhenRequired() throws Exception {
        Path missing = temp.resolve("missing.json");
        Path blank = Files.writeString(temp.resolve("blank.json"), " \n");
        for (Path file : List.of(missing, blank)) {
            assertNull(JsonFile.optional(file));
            assertEquals(file + " is empty or missing",
                    assertThrows(Failure.class, () -> JsonFile.required(file)).getMessage());
        }
    }

    @Test
    void aMalformedFileFailsEitherWayNamingTheFile() throws Exception {
        Path malformed = Files.writeString(temp.resolve("malformed.json"), "{\"row_count\": ");
        assertEquals(malformed + " is not JSON",
                assertThrows(Failure.class, () -> JsonFile.optional(malformed)).getMessage());
        assertEquals(malformed + " is not JSON",
                assertThrows(Failure.class, () -> JsonFile.required(malformed)).getMessage());
    }

    @Test
    void aFileThatIsThereIsReadAsJsonReadsIt() throws Exception {
        Path file = Files.writeString(temp.resolve("snapshot.json"), "{\"row_count\": 24, \"chain_head_hash\": \"ab\"}");
        assertEquals("{\"row_count\":24,\"chain_head_hash\":\"ab\"}", JsonFile.required(file).toString());
        assertEquals(JsonFile.required(file), JsonFile.optional(file));
    }

    @Test
    void aFolderInsteadOfAFileCannotBeRead() {
        assertEquals("cannot read " + temp + ": Is a directory",
                assertThrows(Failure.class, () -> JsonFile.optional(temp)).getMessage());
    }
}
