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
#       The harness runs it as a child (run_child), so a signal stops it.
#   oracle_compare SOURCE_FILE RESTORED_FILE
#       returns 0 when they agree; else prints one line naming the first
#       difference (the combination's failure reason) and returns 1.
#
# SMOKE_ORACLE=text (today's default): a plain pg_dump of both sides, same
# binary and flags, compared line by line; off: no second oracle.
# Uses the harness's globals ORACLE and DUMP_MAJOR.

oracle_names() {
  printf 'text, off'
}

oracle_known() {
  case "$1" in
    text | off) return 0 ;;
    *) return 1 ;;
  esac
}

oracle_capture() {
  case "$ORACLE" in
    text) text_oracle_capture "$@" ;;
    off) return 3 ;;
  esac
}

oracle_compare() {
  case "$ORACLE" in
    text) text_oracle_compare "$@" ;;
    off) return 0 ;;
  esac
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
