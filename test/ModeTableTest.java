// The table of modes (BackupSmoke.modes()): each name once, what each needs,
// the flag groups naming only modes of the table, and the order of the
// command's checks: a mode on files never asks for a URL, the URL is asked
// before the mode is found unknown. In process; no server.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModeTableTest {
    static final List<Mode> MODES = new BackupSmoke(Map.of()).modes();
    static final List<String> NAMES = MODES.stream().map(Mode::name).toList();

    private static List<String> needing(Mode.Needs needs) {
        return MODES.stream().filter(mode -> mode.needsNow() == needs).map(Mode::name).toList();
    }

    @Test
    void eachModeIsInTheTableOnceWithWhatItNeeds() {
        assertEquals(NAMES.stream().distinct().toList(), NAMES);
        assertEquals(List.of("report", "knobs", "backup-evidence", "judge", "await-recovery", "server-binaries",
                "restored-setup", "restore-command", "physical-setup", "annotate"), needing(Mode.Needs.FILES));
        assertEquals(List.of("workload", "verify", "selftest", "checkpoint", "drill-verify", "judge-restored",
                "oracle-capture", "pitr-check", "in-place-check", "in-place-wipe", "new-scratch-db",
                "drop-scratch-dbs", "pitr-target", "switch-wal", "archive-now"), needing(Mode.Needs.DATABASE));
        assertEquals(List.of("plan"), needing(Mode.Needs.READY_SERVER));
    }

    @Test
    void everyFlagGroupNamesModesOfTheTable() {
        for (ModeFlags group : ModeFlagsTest.groups()) {
            assertTrue(NAMES.containsAll(group.modes()), group.modes() + " not all in " + NAMES);
        }
    }

    @Test
    void aModeOnFilesNeverAsksForAUrl() {
        Support.refused(1, "--mode=server-binaries needs --major=N", "--mode=server-binaries");
    }

    @Test
    void drillVerifyNeedsADatabaseOnlyWhenSomethingWasRestored() {
        Support.refused(1, "--db-url or DATABASE_URL is required", "--mode=drill-verify", "--backup-lsn=0/3000148");
        BackupSmoke nothingRestored = new BackupSmoke(Map.of());
        nothingRestored.drillOptions.restoreFailed = "pg_restore failed";
        assertEquals(Mode.Needs.FILES, Mode.named(nothingRestored.modes(), "drill-verify").needsNow());
    }

    @Test
    void theUrlIsAskedBeforeTheModeIsFoundMissingOrUnknown() {
        assertEquals("backupsmoke: --db-url or DATABASE_URL is required\n", Support.tool("--mode=backup").err());
        assertEquals("backupsmoke: --db-url or DATABASE_URL is required\n", Support.tool().err());
        Support.refused(1, "--mode is required (workload | verify)", "--db-url=postgres://nobody@localhost/none",
                "--mode=");
    }
}
