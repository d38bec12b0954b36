# shellcheck shell=bash
# The opt-in in-place mode (SMOKE_IN_PLACE=1), sourced by the harness: it
# wipes PGDATABASE itself, so the tool first makes sure that database holds
# nothing but what the migrations create and audit rows of earlier smoke
# runs (a row of somebody's is data, another object would survive the wipe
# and make pg_restore fail), and wipes exactly that (InPlace.java). With
# SMOKE_SINCE=FILE the log is kept from run to run: each verify runs with
# --since FILE, and a passing run moves FILE on (--mode=report).

# in_place_ask MODE URL MIGRATIONS WORK: MODE is in-place-check (may it be
# wiped?) or in-place-wipe; a refusal ends the run with the tool's line.
in_place_ask() {
  local status=0
  gate_tool "--mode=$1" --db-url="$2" --migrations-path="$3" 2>"$4/in-place.err" || status=$?
  ((status == 0)) || fail "$(tool_reason "$4/in-place.err")"
}

# in_place_clean_start URL MIGRATIONS WORK SINCE_FOUND SINCE_FILE SINCE_ROWS:
# refuses foreign data, then resets the database, or keeps its log when a
# SMOKE_SINCE checkpoint was found.
in_place_clean_start() {
  local db=${1##*/}
  db=$(url_decode "${db%%\?*}")
  in_place_ask in-place-check "$1" "$2" "$3"
  say "in place: database $db holds only what the migrations create"
  if [[ "$4" == 1 ]]; then
    say "in place: keeping the audit log of earlier runs; checkpoint $5 at row $6"
    return 0
  fi
  in_place_ask in-place-wipe "$1" "$2" "$3"
  say "in place: database $db reset"
}
