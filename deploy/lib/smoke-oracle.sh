# shellcheck shell=bash
# The harness's second oracle (SMOKE_ORACLE; deploy/docs/harness.md), which
# compares the whole restored database with the source. semantic is the
# tool's: its capture (--mode=oracle-capture) and its comparison (part of the
# harness's --mode=judge); text is a plain pg_dump of both sides, same binary
# and flags, compared here line by line; off is none. Whether an oracle can
# judge a target at all is the plan's (HarnessPlan.oracleSkipReason).

# oracle_capture ORACLE URL FILE SNAPSHOT: what ORACLE compares of the
# database at URL, into FILE; on the source inside the exported SNAPSHOT.
oracle_capture() {
  case "$1" in
    semantic) run_tool --mode=oracle-capture --db-url="$2" ${4:+--snapshot-id="$4"} >"$3" ;;
    text) run_child text_oracle_capture "$2" "$3" "$4" ;;
  esac
}

# A plain dump without the lines that differ by design (the random
# \restrict key, the version banner).
text_oracle_capture() {
  pg_dump --format=plain --no-owner --no-acl --dbname="$1" ${3:+--snapshot="$3"} |
    grep -v -E '^(\\(un)?restrict |-- Dumped (from|by) )' >"$2"
}

# oracle_compare_text SOURCE RESTORED: silent when they agree, else one line
# naming the first difference, returning 1.
oracle_compare_text() {
  cmp -s -- "$1" "$2" && return 0
  printf 'the restored database does not dump like the source: %s\n' \
    "$(diff -- "$1" "$2" | grep -m1 -E '^[<>]' | cut -c1-160)"
  return 1
}
