// The order the suite hands its classes to Jupiter's pool (Tests.LongestAtBothEnds):
// the longest at both ends, every one of them a class of the suite. Pure: no server.

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SuiteOrderTest {
    @Test
    void theLongestAreDealtToTheFrontAndTheBackInTurnOutsideIn() {
        assertEquals(Arrays.asList("a", "c", "e", null, "d", "b"),
                Tests.LongestAtBothEnds.bothEnds(List.of("a", "b", "c", "d", "e")));
        assertEquals(Arrays.asList((String) null), Tests.LongestAtBothEnds.bothEnds(List.of()));
    }

    @Test
    void everyClassNamedLongestIsATestClassOfTheSuite() {
        List<String> missing = Tests.LongestAtBothEnds.LONGEST.stream()
                .filter(name -> !Files.isRegularFile(Path.of("test", name + ".java"))).toList();
        assertEquals(List.of(), missing, "renamed or removed: Tests.LongestAtBothEnds.LONGEST");
    }
}
