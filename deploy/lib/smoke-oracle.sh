# shellcheck shell=bash
# The harness's second oracle, sourced by deploy/test/backup-restore-smoke.sh.
# The gate's first oracle is BackupSmoke's verify against the expectation;
# the second one compares the whole restored database with the source.
#
# The interface the harness uses (an oracle is a name in SMOKE_ORACLE plus
# these cases):
#   oracle_names                    the known names, for the knob's message
#   oracle_known NAME               true when SMOKE_ORACLE=NAME exists
#   oracle_capture URL FILE SNAPSHOT MAJOR
#       records what the oracle compares of the database at URL into FILE.
#       On the source SNAPSHOT is the backup's exported snapshot (read inside
#       it), on the restored side it is empty and MAJOR is the restored
#       server's major. Returns 0 when captured, 3 when this oracle cannot
#       judge that server (oracle_skip_reason MAJOR says why), else failed.
#       Its programs run as children (run_child, run_tool), so a signal
#       stops them.
#   oracle_compare SOURCE_FILE RESTORED_FILE (text, off)
#       returns 0 when they agree; else prints one line naming the first
#       difference (the combination's failure reason) and returns 1. The
#       semantic oracle's comparison is the tool's (--mode=judge
#       --oracle-source --oracle-restored), which the harness asks itself.
#   oracle_report_json
#       prints the JSON object report.json keeps as "second_oracle".
#
# SMOKE_ORACLE=semantic (the default; the tool's --mode=oracle-capture and
# --mode=judge, SemanticOracle.java and OracleComparison.java): per table a
# row count and a content digest, and the inventory of schema objects by
# name, kind and covered columns, compared object by object; sequences may
# be ahead. text: a plain pg_dump of both sides, same binary and flags,
# compared line by line. off: no second oracle.
# Uses the harness's globals ORACLE, DUMP_MAJOR and WORK and its run_child
# and run_tool.

oracle_names() {
  printf 'semantic, text, off'
}

oracle_known() {
  case "$1" in
    semantic | text | off) return 0 ;;
    *) return 1 ;;
  esac
}

oracle_capture() {
  case "$ORACLE" in
    semantic) run_tool --mode=oracle-capture --db-url="$1" ${3:+--snapshot-id="$3"} >"$2" ;;
    text) run_child text_oracle_capture "$@" ;;
    off) return 3 ;;
  esac
}

oracle_compare() {
  case "$ORACLE" in
    text) text_oracle_compare "$@" ;;
    *) return 0 ;;
  esac
}

oracle_report_json() {
  if [[ "$ORACLE" == semantic && -s "$WORK/oracle.source" ]]; then
    jq -c '{name: "semantic", source_tables: (.tables | with_entries(select(.value.digest != null)
                                                | .value |= {rows, digest}))}' "$WORK/oracle.source"
  else
    jq -n -c --arg name "$ORACLE" '{name: $name}'
  fi
}

oracle_skip_reason() {
  case "$ORACLE" in
    off) printf 'SMOKE_ORACLE=off' ;;
    text) printf 'pg_dump %s cannot dump a server of major %s' "$DUMP_MAJOR" "$1" ;;
  esac
}

# --- text: pg_dump of both sides ------------------------------------------------

# A plain dump without the lines that differ by design (the random \restrict
# key, the version banner). pg_dump cannot dump a server newer than itself.
text_oracle_capture() {
  local url=$1 file=$2 snapshot=${3:-} major=${4:-}
  if [[ -n "$major" ]] && ((major > DUMP_MAJOR)); then
    return 3
  fi
  pg_dump --format=plain --no-owner --no-acl --dbname="$url" ${snapshot:+--snapshot="$snapshot"} |
    grep -v -E '^(\\(un)?restrict |-- Dumped (from|by) )' >"$file"
}

text_oracle_compare() {
  cmp -s -- "$1" "$2" && return 0
  printf 'the restored database does not dump like the source: %s\n' \
    "$(diff -- "$1" "$2" | grep -m1 -E '^[<>]' | cut -c1-160)"
  return 1
}
