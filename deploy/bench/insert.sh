#!/usr/bin/env bash
# Insert benchmark of the chain trigger (issue 20 item 3): what a chained
# audit insert costs against a plain insert of the same rows into the same
# table without the chain trigger. One throwaway cluster (fsync and
# synchronous_commit off); pgbench, one client, each transaction one
# `INSERT … SELECT generate_series` of INSERT_ROWS rows. Two databases: one
# migrated with every migration, one only up to INSERT_BEFORE (the chain
# trigger of an earlier release); each also holds plain_events, a copy of
# audit_events (LIKE … INCLUDING ALL: columns, defaults, indexes) without
# triggers. The four measures run interleaved, INSERT_RUNS times, the load
# average noted before each; prints a Markdown table of medians (rows/s) and
# the chained/plain ratios. Not part of the test command; run.sh may call it.
#
# Knobs: INSERT_RUNS (5), INSERT_TRANSACTIONS (300 a measure), INSERT_ROWS
# (200), INSERT_BEFORE (000010: the last migration of the earlier database).
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"

RUNS=${INSERT_RUNS:-5}
TRANSACTIONS=${INSERT_TRANSACTIONS:-300}
ROWS=${INSERT_ROWS:-200}
BEFORE=${INSERT_BEFORE:-000010}
for knob in RUNS TRANSACTIONS ROWS BEFORE; do
  if [[ ! ${!knob} =~ ^[0-9]+$ ]] || ((10#${!knob} == 0)); then
    echo "insert.sh: INSERT_$knob must be a positive whole number, not '${!knob}'" >&2
    exit 1
  fi
done

WORK=''
trap 'pgc_stop_all; [[ -z "$WORK" ]] || rm -rf -- "$WORK"' EXIT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke-insert.XXXXXX")
chmod 755 "$WORK"
export TMPDIR=$WORK
pgc_start >/dev/null
BINDIR=$(pgc_bindir)
export PGHOST=$PGC_HOST PGPORT=$PGC_PORT PGUSER=$PGC_USER

# Applies the migrations up to and including the one numbered $2 to database $1.
migrate() {
  local database=$1 last=$2 file
  psql -q -d postgres -c "CREATE DATABASE $database"
  for file in "$REPO"/migrations/*.up.sql; do
    if [[ $(basename -- "$file") > "${last}_~" ]]; then
      break
    fi
    PGOPTIONS="-c client_min_messages=warning" psql -q -X -v ON_ERROR_STOP=1 -1 -d "$database" -f "$file"
  done
  psql -q -X -v ON_ERROR_STOP=1 -d "$database" \
    -c "CREATE TABLE plain_events (LIKE audit_events INCLUDING ALL)" \
    -c "ALTER TABLE plain_events ALTER COLUMN row_hash SET DEFAULT ''"
}

LATEST=$(basename -- "$(printf '%s\n' "$REPO"/migrations/*.up.sql | sort | tail -n 1)")
LATEST=${LATEST%%_*}
migrate bench_latest "$LATEST"
migrate bench_before "$BEFORE"

SCRIPT=$WORK/insert.sql
cat >"$SCRIPT" <<SQL
INSERT INTO :tbl (id, actor, actor_type, action, resource_type, resource_id, details, "timestamp", event_category)
SELECT 'b-' || txid_current() || '-' || g, 'actor-' || (g % 10), 'User', 'certificate.issue', 'certificate',
       'mc-' || g, jsonb_build_object('serial', g, 'note', 'bench'), now(), 'cert_lifecycle'
FROM generate_series(1, $ROWS) AS g;
SQL

# Rows per second of one measure: pgbench's tps times the rows a transaction.
measure() {
  local database=$1 table=$2 tps
  tps=$("$BINDIR/pgbench" -n -M simple -D "tbl=$table" -f "$SCRIPT" -t "$TRANSACTIONS" "$database" 2>&1 |
    awk '/^tps = / { print $3 }')
  awk -v tps="$tps" -v rows="$ROWS" 'BEGIN { printf "%d\n", tps * rows }'
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

declare -A results=()
loads=''
for ((run = 1; run <= RUNS; run++)); do
  for database in bench_latest bench_before; do
    for table in audit_events plain_events; do
      loads+="$(cut -d ' ' -f 1 /proc/loadavg) "
      results[$database.$table]+="$(measure "$database" "$table") "
    done
  done
done

med() {
  tr ' ' '\n' <<<"${results[$1]}" | grep . | median
}
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'
}

latest_chained=$(med bench_latest.audit_events)
latest_plain=$(med bench_latest.plain_events)
before_chained=$(med bench_before.audit_events)
before_plain=$(med bench_before.plain_events)
printf '%s\n' \
  "| migrations | chained rows/s | plain rows/s | plain / chained |" \
  "|---|---|---|---|" \
  "| up to $LATEST | $latest_chained | $latest_plain | $(ratio "$latest_chained" "$latest_plain")× |" \
  "| up to $BEFORE | $before_chained | $before_plain | $(ratio "$before_chained" "$before_plain")× |" \
  "" \
  "Medians of $RUNS interleaved runs of $TRANSACTIONS transactions of $ROWS rows each;" \
  "every run: $(for key in bench_latest.audit_events bench_latest.plain_events bench_before.audit_events bench_before.plain_events; do printf '%s: %s; ' "$key" "${results[$key]% }"; done)" \
  "load average before each measure: ${loads% }; $(nproc) cores."
