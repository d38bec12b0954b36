// The evidence of a physical backup and of its restore (SPEC 9.6), made from
// what the tools themselves printed, which the harness (smoke-physical.sh)
// keeps as files in its work folder WORK:
//   WORK/evidence.METHOD/   one backup: `verdict` (passed or failed: the
//                           tool's own check) and the tool's output:
//                           pgbackrest: info.json (info --output=json),
//                           verify.out; barman: show-backup.json;
//                           basebackup: backup_label, backup_manifest.
//   WORK/restored.NAME.wal  the restored server's current WAL file name,
//   WORK/restored.NAME.log  its server log, when the harness started it,
//   WORK/pitr.target.json   the PITR target (PITR mode), pitr.latest.json
//                           the source after workload B, post.NAME.json the
//                           restored snapshot.
// --mode=backup-evidence --run-record=WORK/evidence.METHOD writes
// WORK/physical.METHOD.json and prints the line naming the backup; it fails
// (exit 1, the reason on stderr) when the tool's own check found problems. The report
// (CombinationRecord) adds each physical combination's evidence.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class PhysicalEvidence {
    static final String MODE = "backup-evidence";
    static final String FOLDER_PREFIX = "evidence.";
    /** pgBackRest's stanza and Barman's server name on the throwaway cluster (smoke-physical.sh). */
    static final String SERVER = "smoke";

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Pattern REDO_DONE = Pattern.compile("redo done at ([0-9A-F]+/[0-9A-F]+)");
    private static final Pattern RECOVERY_STOP = Pattern.compile("recovery stopping .*");
    private static final Pattern START_TIME = Pattern.compile("(?m)^START TIME: (.*)$");
    private static final Pattern VERIFY_LINE = Pattern.compile("(?m)^ *((?:status|backup):.*)$");

    private PhysicalEvidence() {
    }

    /** The mode: the backup of FOLDER's method judged by its own tool, its evidence written, its label printed. */
    static int backupEvidence(Path folder, PrintStream out) throws Failure {
        if (folder == null || !folder.getFileName().toString().startsWith(FOLDER_PREFIX)) {
            throw new Failure("--mode=" + MODE + " needs --run-record=WORK/" + FOLDER_PREFIX + "METHOD");
        }
        String method = folder.getFileName().toString().substring(FOLDER_PREFIX.length());
        boolean verified = "passed".equals(RunRecord.readText(folder.resolve("verdict")).strip());
        ObjectNode evidence = switch (method) {
            case "pgbackrest" -> pgbackrest(JsonFile.required(folder.resolve("info.json")),
                    RunRecord.readText(folder.resolve("verify.out")), verified);
            case "barman" -> barman(JsonFile.required(folder.resolve("show-backup.json")), SERVER, verified);
            case "basebackup" -> basebackup(RunRecord.readText(folder.resolve("backup_label")),
                    JsonFile.required(folder.resolve("backup_manifest")), verified);
            default -> throw new Failure("no evidence is made for method " + Failure.quoted(method));
        };
        HarnessModes.write(folder.resolveSibling("physical." + method + ".json"), evidence.toString() + "\n");
        if (!verified) {
            throw new Failure(problemsFound(method));
        }
        out.println(label(evidence));
        return 0;
    }

    static String problemsFound(String method) {
        return switch (method) {
            case "pgbackrest" -> "pgbackrest verify found problems in the backup";
            case "barman" -> "barman check-backup found problems in the backup";
            default -> "pg_verifybackup found problems in the base backup";
        };
    }

    /** pgBackRest's newest backup in `info --output=json`, with verify's verdict and its summary lines. */
    static ObjectNode pgbackrest(JsonNode info, String verifyOutput, boolean verified) {
        JsonNode stanza = info.path(0);
        JsonNode backups = stanza.path("backup");
        JsonNode backup = backups.path(backups.size() - 1);
        ObjectNode evidence = backup("pgbackrest", backup.path("label"), backup.path("lsn").path("start"),
                backup.path("lsn").path("stop"), NODES.numberNode(timeline(backup.path("archive").path("start").asText())));
        evidence.set("wal_start", backup.path("archive").path("start"));
        evidence.set("wal_stop", backup.path("archive").path("stop"));
        ObjectNode verdict = evidence.putObject("tool_verdict");
        verdict.put("verify", verdictWord(verified));
        verdict.set("info_status", stanza.path("status").path("message"));
        verdict.put("verify_output", verifySummary(verifyOutput));
        evidence.set("repository_bytes", backup.path("info").path("repository").path("size"));
        return evidence;
    }

    /** Barman's `show-backup -f json` of SERVER's latest backup, with check-backup's verdict. */
    static ObjectNode barman(JsonNode shown, String server, boolean verified) {
        JsonNode backup = shown.path(server);
        JsonNode base = backup.path("base_backup_information");
        ObjectNode evidence = backup("barman", backup.path("backup_id"), base.path("begin_lsn"), base.path("end_lsn"),
                base.path("timeline"));
        evidence.set("wal_start", base.path("begin_wal"));
        evidence.set("wal_stop", base.path("end_wal"));
        ObjectNode verdict = evidence.putObject("tool_verdict");
        verdict.put("check_backup", verdictWord(verified));
        verdict.set("status", backup.path("status"));
        evidence.set("repository_bytes", base.path("disk_usage_bytes"));
        return evidence;
    }

    /** A pg_basebackup: its backup_label's START TIME names it, its manifest's WAL range, pg_verifybackup's verdict. */
    static ObjectNode basebackup(String backupLabel, JsonNode manifest, boolean verified) {
        JsonNode range = manifest.path("WAL-Ranges").path(0);
        Matcher start = START_TIME.matcher(backupLabel);
        ObjectNode evidence = backup("pg_basebackup", start.find() ? NODES.textNode(start.group(1)) : null,
                range.path("Start-LSN"), range.path("End-LSN"), range.path("Timeline"));
        evidence.putObject("tool_verdict").put("pg_verifybackup", verdictWord(verified));
        return evidence;
    }

    private static ObjectNode backup(String tool, JsonNode id, JsonNode start, JsonNode stop, JsonNode timeline) {
        ObjectNode evidence = NODES.objectNode();
        evidence.put("tool", tool);
        evidence.set("backup_id", present(id));
        evidence.set("start_lsn", present(start));
        evidence.set("stop_lsn", present(stop));
        evidence.set("timeline", present(timeline));
        return evidence;
    }

    private static JsonNode present(JsonNode node) {
        return node == null || node.isMissingNode() ? NODES.nullNode() : node;
    }

    private static String verdictWord(boolean verified) {
        return verified ? "passed" : "failed";
    }

    /** verify's status and backup lines, trimmed, joined by ';'. */
    static String verifySummary(String output) {
        List<String> lines = new ArrayList<>();
        Matcher line = VERIFY_LINE.matcher(output);
        while (line.find()) {
            lines.add(line.group(1));
        }
        return String.join(";", lines);
    }

    /** The timeline a WAL file name starts with (8 hex digits), or null when it names none. */
    static Integer timeline(String walFile) {
        if (walFile == null || !walFile.matches("[0-9A-Fa-f]{8}.*")) {
            return null;
        }
        return Integer.parseUnsignedInt(walFile.substring(0, 8), 16);
    }

    /** How the backup phase names a repository backup: id, LSN range, timeline, the tool's verdicts. */
    static String label(JsonNode evidence) {
        List<String> verdicts = new ArrayList<>();
        evidence.path("tool_verdict").fields().forEachRemaining(entry -> {
            if (!entry.getKey().equals("verify_output")) {
                verdicts.add(entry.getKey() + ": " + entry.getValue().asText());
            }
        });
        return evidence.path("backup_id").asText() + " (" + evidence.path("start_lsn").asText() + " - "
                + evidence.path("stop_lsn").asText() + ", timeline " + evidence.path("timeline").asText() + "), "
                + String.join(", ", verdicts);
    }

    /** The restored server's timeline (from its WAL file name) and, from its log, where recovery stopped and ended. */
    static ObjectNode recovery(String walFile, String serverLog) {
        ObjectNode facts = NODES.objectNode();
        Integer timeline = timeline(walFile == null ? null : walFile.strip());
        facts.set("restored_timeline", timeline == null ? NODES.nullNode() : NODES.numberNode(timeline));
        facts.set("end_of_recovery_lsn", lastMatch(REDO_DONE, serverLog, 1));
        facts.set("recovery_stop", lastMatch(RECOVERY_STOP, serverLog, 0));
        return facts;
    }

    private static JsonNode lastMatch(Pattern pattern, String text, int group) {
        String last = null;
        Matcher match = pattern.matcher(text);
        while (match.find()) {
            last = match.group(group);
        }
        return last == null ? NODES.nullNode() : NODES.textNode(last);
    }

    /**
     * The evidence of combination NAME of METHOD in WORK: physical (the backup's evidence and the restored
     * server's recovery facts; null when there is neither) and pitr (PITR mode: the target, the rows of the
     * source after workload B and of the restore, the rows lost; else null).
     */
    static Map<String, JsonNode> ofCombination(Path work, String name, String method) throws Failure {
        ObjectNode physical = NODES.objectNode();
        JsonNode backup = JsonFile.optional(work.resolve("physical." + method + ".json"));
        if (backup != null) {
            physical.setAll((ObjectNode) backup);
        }
        Path wal = work.resolve("restored." + name + ".wal");
        if (Files.exists(wal)) {
            String log = RunRecord.readText(work.resolve("restored." + name + ".log"));
            physical.setAll(recovery(RunRecord.readText(wal), log));
        }
        JsonNode target = JsonFile.optional(work.resolve("pitr.target.json"));
        return Map.of("physical", physical.isEmpty() ? NODES.nullNode() : physical,
                "pitr", target == null ? NODES.nullNode() : pitr(target, JsonFile.optional(work.resolve("pitr.latest.json")),
                        JsonFile.optional(work.resolve("post." + name + ".json"))));
    }

    /** The PITR evidence: target (kind and its three forms), rows after workload B and restored, rows lost. */
    static ObjectNode pitr(JsonNode target, JsonNode latest, JsonNode restored) {
        ObjectNode pitr = NODES.objectNode();
        pitr.set("target_kind", present(target.get("kind")));
        ObjectNode at = pitr.putObject("target");
        for (String form : List.of("time", "lsn", "xid")) {
            at.set(form, present(target.get(form)));
        }
        JsonNode latestRows = latest == null ? null : latest.get("row_count");
        JsonNode restoredRows = restored == null ? null : restored.get("row_count");
        pitr.set("latest_rows", present(latestRows));
        pitr.set("restored_rows", present(restoredRows));
        pitr.set("rpo_rows", latestRows != null && restoredRows != null && latestRows.isNumber() && restoredRows.isNumber()
                ? rows(latestRows.asLong() - restoredRows.asLong()) : NODES.nullNode());
        return pitr;
    }

    /** A row count as JSON reads one back: an int when it fits. */
    private static JsonNode rows(long count) {
        return count == (int) count ? NODES.numberNode((int) count) : NODES.numberNode(count);
    }
}
