// The harness's backup methods (SMOKE_METHODS), in one table: what each one
// is, what it needs, and where its restore is judged. The harness asks for
// this table (--mode=knobs) instead of matching method names; a new method
// is one entry here plus its backup and restore commands in the harness.

import java.util.List;
import java.util.Optional;

/**
 * One backup method.
 *
 * @param name        its name in SMOKE_METHODS
 * @param kind        logical (pg_dump), physical (a copy of the whole cluster) or command (the operator's own)
 * @param target      where the restore lands: database (an empty database the harness makes), cluster (a data
 *                    directory the harness starts as a server) or server (a server the command brings up itself)
 * @param programs    programs that must be on PATH
 * @param commands    knobs that must be set (the operator's commands)
 * @param takenBy     what takes the backup, for messages
 * @param restoredBy  what restores it, for messages
 * @param throwawayOnly true when it can only back up the harness's own throwaway cluster
 * @param fingerprint file (SHA-256 of the backup file or folder the harness holds), repository (the tool's own
 *                    size, no hash) or none (the command put it where the harness cannot see)
 */
record BackupMethod(String name, String kind, String target, List<String> programs, List<String> commands,
        String takenBy, String restoredBy, boolean throwawayOnly, String fingerprint) {

    static final String DATABASE = "database";

    private static final List<String> COMMANDS = List.of("SMOKE_BACKUP_CMD", "SMOKE_RESTORE_CMD");

    /** Every method, in the order the harness documents them. */
    static final List<BackupMethod> ALL = List.of(
            logical("custom"), logical("directory"), logical("tar"), logical("plain", "psql"),
            new BackupMethod("basebackup", "physical", "cluster", List.of(), List.of(), "pg_basebackup",
                    "copying the base backup", true, "file"),
            new BackupMethod("pgbackrest", "physical", "cluster", List.of("pgbackrest"), List.of(), "pgbackrest",
                    "pgbackrest restore", true, "repository"),
            new BackupMethod("barman", "physical", "cluster", List.of("barman"), List.of(), "barman",
                    "barman recover", true, "repository"),
            operator("command", DATABASE, "file"),
            operator("command-cluster", "cluster", "none"),
            operator("command-url", "server", "none"));

    private static BackupMethod logical(String name) {
        return logical(name, "pg_restore");
    }

    private static BackupMethod logical(String name, String restoredBy) {
        return new BackupMethod(name, "logical", DATABASE, List.of("pg_dump", restoredBy), List.of(), "pg_dump",
                restoredBy, false, "file");
    }

    private static BackupMethod operator(String name, String target, String fingerprint) {
        return new BackupMethod(name, "command", target, List.of(), COMMANDS, "SMOKE_BACKUP_CMD",
                "the restore command (SMOKE_RESTORE_CMD)", false, fingerprint);
    }

    static Optional<BackupMethod> named(String name) {
        return ALL.stream().filter(method -> method.name.equals(name)).findFirst();
    }

    static String names() {
        return String.join(", ", ALL.stream().map(BackupMethod::name).toList());
    }

    /** Physical restores bring back a whole server: it can be restored to a point in time, and only under its own major. */
    boolean restoresAServer() {
        return !target.equals(DATABASE);
    }

    /** The names of the methods that can restore to a point in time, for messages. */
    static String pitrNames() {
        List<String> names = ALL.stream().filter(BackupMethod::restoresAServer).map(BackupMethod::name).toList();
        return String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
    }
}
