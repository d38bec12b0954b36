# shellcheck shell=bash
# The harness's second oracle, sourced by deploy/test/backup-restore-smoke.sh.
# The gate's first oracle is BackupSmoke's verify against the expectation;
# the second one compares the whole restored database with the source.
#
# The interface the harness uses (an oracle is a name in SMOKE_ORACLE plus
# these cases); everything a function needs is an argument:
#   oracle_capture ORACLE URL FILE SNAPSHOT MAJOR DUMP_MAJOR
#       records what oracle ORACLE compares of the database at URL into
#       FILE. On the source SNAPSHOT is the backup's exported snapshot (read
#       inside it), on the restored side it is empty and MAJOR is the
#       restored server's major (DUMP_MAJOR: the system pg_dump's). Returns
#       0 when captured, 3 when this oracle cannot judge that server
#       (oracle_skip_reason says why), else failed. Its programs run as
#       children (run_child, run_tool), so a signal stops them.
#   oracle_compare ORACLE SOURCE_FILE RESTORED_FILE (text, off)
#       returns 0 when they agree; else prints one line naming the first
#       difference (the combination's failure reason) and returns 1. The
#       semantic oracle's comparison is the tool's (--mode=judge
#       --oracle-source --oracle-restored), which the harness asks itself.
#   oracle_report_json ORACLE SOURCE_FILE
#       prints the JSON object report.json keeps as "second_oracle".
#   oracle_skip_reason ORACLE MAJOR DUMP_MAJOR
#
# SMOKE_ORACLE=semantic (the default; the tool's --mode=oracle-capture and
# --mode=judge, SemanticOracle.java and OracleComparison.java): per table a
# row count and a content digest, and the inventory of schema objects by
# name, kind and covered columns, compared object by object; sequences may
# be ahead. text: a plain pg_dump of both sides, same binary and flags,
# compared line by line. off: no second oracle.

oracle_capture() {
  local oracle=$1
  shift
  case "$oracle" in
    semantic) run_tool --mode=oracle-capture --db-url="$1" ${3:+--snapshot-id="$3"} >"$2" ;;
    text) run_child text_oracle_capture "$@" ;;
    off) return 3 ;;
  esac
}

oracle_compare() {
  case "$1" in
    text) text_oracle_compare "$2" "$3" ;;
    *) return 0 ;;
  esac
}

oracle_report_json() {
  if [[ "$1" == semantic && -s "$2" ]]; then
    jq -c '{name: "semantic", source_tables: (.tables | with_entries(select(.value.digest != null)
                                                | .value |= {rows, digest}))}' "$2"
  else
    jq -n -c --arg name "$1" '{name: $name}'
  fi
}

oracle_skip_reason() {
  case "$1" in
    off) printf 'SMOKE_ORACLE=off' ;;
    text) printf 'pg_dump %s cannot dump a server of major %s' "$3" "$2" ;;
  esac
}

# --- text: pg_dump of both sides ------------------------------------------------

# A plain dump without the lines that differ by design (the random \restrict
# key, the version banner). pg_dump cannot dump a server newer than itself.
text_oracle_capture() {
  local url=$1 file=$2 snapshot=${3:-} major=${4:-} dump_major=${5:-}
  if [[ -n "$major" ]] && ((major > dump_major)); then
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
