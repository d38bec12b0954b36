#!/usr/bin/env bash
# The prelude shared by deploy/bench/run.sh and deploy/bench/classic.sh
# (issue 19 item 5): the repository, the throwaway-cluster functions, the
# EXIT trap that removes the cluster and the work folder, and the small
# helpers both benchmarks time things with. Sourced, never run; the caller
# has set -euo pipefail.

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"

TOOL=$REPO/deploy/bin/backupsmoke
# The eleven contract columns, as the client walk reads them (CopyRows.COLUMNS).
# shellcheck disable=SC2034 # used by the scripts that source this file
COLUMNS_SQL='id, actor, actor_type, action, resource_type, resource_id, details::text, "timestamp", event_category, prev_hash, row_hash'
WORK=''

bench_cleanup() {
  pgc_stop_all
  [[ -z "$WORK" ]] || rm -rf -- "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The work folder (removed at exit); checks that GNU time is there for peak memory.
bench_begin() {
  command -v /usr/bin/time >/dev/null || { say "GNU time (/usr/bin/time) is needed for peak memory"; exit 1; }
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke-bench.XXXXXX")
}

say() {
  printf 'bench: %s\n' "$*" >&2
}

# Seconds (3 decimals) that a command takes; its stdout goes to $WORK/out.
seconds() {
  local started ended
  started=$(date +%s%N)
  "$@" >"$WORK/out" 2>"$WORK/err" || { say "failed: $*"; cat -- "$WORK/err" >&2; return 1; }
  ended=$(date +%s%N)
  awk -v ns="$((ended - started))" 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}

# "SECONDS PEAK_MIB" of a command (GNU time); stdout goes to $WORK/out.
timed_peak() {
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { say "failed: $*"; cat -- "$WORK/err" >&2; return 1; }
  awk '{ printf "%.3f %.0f\n", $1, $2 / 1024 }' "$WORK/time"
}

# The median of the numbers given as arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The one-minute load average now.
load1() {
  cut -d' ' -f1 /proc/loadavg
}

url() {
  printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$PGC_PORT" "$1"
}

psql_on() {
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -d "$(url "$1")" "${@:2}"
}

# A fresh database with the given migrations (default: ours) applied and no rows.
fresh_database() {
  psql_on postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  "$TOOL" --mode=workload --db-url="$(url "$1")" --rows=0 --migrations-path="${2:-$REPO/migrations}" >/dev/null
}
