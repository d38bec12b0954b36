#!/usr/bin/env bash
# Growth benchmark of BackupSmoke (issue 13): one throwaway cluster, one
# audit log grown step by step to each size of BENCH_SIZES, and at each size
# the measures below side by side, so ratios compare like with like on a
# noisy machine. Writes RESULTS.md (BENCH_OUT) with a plot (BENCH_SVG) drawn
# by deploy/bench/plot.py, and prints the same tables. Not part of the test
# command.
#
#   workload       the tool's --mode=workload adding the rows of each step
#                  (rows/s, one run); and at each size, like for like on the
#                  same table, BENCH_SLICE_ROWS rows appended by the tool and
#                  by the server's own INSERT ... SELECT generate_series
#                  (10000 rows a statement), medians of BENCH_RUNS
#   full verify    --mode=verify with both verdicts, through the launcher's
#                  defaults; peak RSS (GNU time); how busy all cores were
#                  meanwhile (/proc/stat)
#   client alone   the client's walk of every row without the server's
#                  verifier: --since a checkpoint at the first row
#   server fn      SELECT * FROM audit_events_verify_chain() alone (psql)
#   sha256 floor   the server's sha256() of every row_hash, one process: what
#                  hashing alone costs the server's verifier
#   COPY baseline  COPY (SELECT the eleven contract columns) TO STDOUT (psql)
#   COPY halves    the same COPY as two halves by chain position, run at
#                  once on two connections: what splitting the walk across
#                  connections could gain at best
#   incremental    --since the snapshot taken at that size, after
#                  BENCH_INCREMENT more rows; compared with a full verify of
#                  a chain of BENCH_INCREMENT rows; peak RSS
#   dump/restore   pg_dump -Fc of audit_events, pg_restore of its data into a
#                  migrated database (one run)
#   batch sizes    (issue 10.3) BENCH_SENTINEL_ROWS rows on a trigger that
#                  updates the sentinel once per row (test/fixtures/other-app)
#                  at fixed --batch-rows and adaptive
#
# Knobs: BENCH_SIZES ("1000000 2000000 5000000 10000000"), BENCH_RUNS (3,
# medians of the verify measures, the slices and the batch sizes),
# BENCH_INCREMENT (100000), BENCH_SLICE_ROWS (200000), BENCH_SENTINEL_ROWS (100000),
# BENCH_OUT (deploy/bench/RESULTS.md), BENCH_SVG (deploy/bench/growth.svg),
# BENCH_CLASSIC (0; 1 also runs deploy/bench/classic.sh, the first
# benchmark: start-up, harness round trip, per-row pattern).
# A reduced run to check the script: BENCH_SIZES="20000 50000"
# BENCH_INCREMENT=5000 BENCH_SLICE_ROWS=5000 BENCH_SENTINEL_ROWS=5000
# BENCH_RUNS=1 BENCH_OUT=/tmp/r.md BENCH_SVG=/tmp/r.svg deploy/bench/run.sh
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"

read -r -a SIZES <<<"${BENCH_SIZES:-1000000 2000000 5000000 10000000}"
RUNS=${BENCH_RUNS:-3}
INCREMENT=${BENCH_INCREMENT:-100000}
SLICE_ROWS=${BENCH_SLICE_ROWS:-200000}
SENTINEL_ROWS=${BENCH_SENTINEL_ROWS:-100000}
OUT=${BENCH_OUT:-$REPO/deploy/bench/RESULTS.md}
SVG=${BENCH_SVG:-$REPO/deploy/bench/growth.svg}
CLASSIC=${BENCH_CLASSIC:-0}
TOOL=$REPO/deploy/bin/backupsmoke
COLUMNS_SQL='id, actor, actor_type, action, resource_type, resource_id, details::text, "timestamp", event_category, prev_hash, row_hash'
WORK=''

cleanup() {
  pgc_stop_all
  [[ -z "$WORK" ]] || rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# "BUSY TOTAL" jiffies of all cores so far (/proc/stat): busy is user, nice,
# system, irq, softirq and steal; the rest is idle and iowait.
cpu_jiffies() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}

# Percent of all cores' time busy between two cpu_jiffies readings.
busy_percent() {
  local before=$1 after=$2
  awk -v b0="${before% *}" -v t0="${before#* }" -v b1="${after% *}" -v t1="${after#* }" \
    'BEGIN { printf "%.0f\n", (t1 > t0 ? 100 * (b1 - b0) / (t1 - t0) : 0) }'
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

url() {
  printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$PGC_PORT" "$1"
}

psql_on() {
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -d "$(url "$1")" "${@:2}"
}

# A fresh database with the given migrations applied and no rows.
fresh_database() {
  psql_on postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  "$TOOL" --mode=workload --db-url="$(url "$1")" --rows=0 --migrations-path="${2:-$REPO/migrations}" >/dev/null
}

# The server's own rate: the workload's INSERT ... SELECT generated by the
# server, 10000 rows a statement, each statement its own transaction, ids
# PREFIX0..PREFIX(rows-1); the trigger chains them as it chains the tool's.
server_sql() {
  local rows=$1 prefix=$2
  awk -v rows="$rows" -v prefix="$prefix" 'BEGIN {
    for (first = 0; first < rows; first += 10000) {
      last = first + 9999; if (last >= rows) last = rows - 1
      printf "INSERT INTO audit_events (id, actor, actor_type, action, resource_type, resource_id, details, \"timestamp\") "
      printf "SELECT '\''%s'\'' || i, '\''smoke-actor'\'', '\''User'\'', '\''certificate.issue'\'', '\''certificate'\'', ", prefix
      printf "'\''mc-smoke'\'', '\''{}'\''::jsonb, now() + i * interval '\''1 microsecond'\'' FROM generate_series(%d, %d) AS i ORDER BY i;\n", first, last
    }
  }'
}

# At one size: a slice of rows appended by the tool, then by the server,
# RUNS times; prints the two medians in rows/s and the slice's size. The
# slices stay in the table, so one is at most a tenth of the size (the
# next size must still be ahead).
workload_slices() {
  local size=$1 run tool=() server=() t slice
  slice=$((SLICE_ROWS < size / 10 ? SLICE_ROWS : size / 10))
  for ((run = 1; run <= RUNS; run++)); do
    t=$(seconds "$TOOL" --mode=workload --db-url="$(url bench)" --rows="$slice" --id-prefix="t$size-$run-" --timeout=2h)
    tool+=("$(awk -v rows="$slice" -v t="$t" 'BEGIN { printf "%.0f", rows / t }')")
    server_sql "$slice" "s$size-$run-" >"$WORK/server.sql"
    t=$(seconds psql_on bench -f "$WORK/server.sql")
    server+=("$(awk -v rows="$slice" -v t="$t" 'BEGIN { printf "%.0f", rows / t }')")
  done
  printf '%s %s %s\n' "$(median "${tool[@]}")" "$(median "${server[@]}")" "$slice"
}

# Adds rows to the growing database; prints "ROWS_PER_S PEAK_MIB". Its snapshot is the checkpoint.
grow() {
  local rows=$1 prefix=$2 line
  line=$(timed_peak "$TOOL" --mode=workload --db-url="$(url bench)" --rows="$rows" --id-prefix="$prefix" --timeout=2h)
  cp -- "$WORK/out" "$WORK/checkpoint.json"
  awk -v rows="$rows" -v t="${line% *}" -v peak="${line#* }" 'BEGIN { printf "%.0f %s\n", rows / t, peak }'
}

# One size: the verify measures (medians of RUNS), dump/restore, incremental.
measure_size() {
  local size=$1 run verify=() peak=() busy=() client=() fn=() copy=() halves=() sha=() incr=() incr_peak=() dump restore line
  local jiffies
  psql_on bench -c "SELECT json_build_object('row_count', 1, 'chain_head_hash', row_hash) FROM audit_events ORDER BY chain_seq LIMIT 1" >"$WORK/first.json"
  local middle # positions are dense: the middle one splits the rows in halves
  middle=$(psql_on bench -c "SELECT (min(chain_seq) + max(chain_seq)) / 2 FROM audit_events")
  for ((run = 1; run <= RUNS; run++)); do
    jiffies=$(cpu_jiffies)
    read -r line <<<"$(timed_peak "$TOOL" --mode=verify --db-url="$(url bench)" --timeout=2h)"
    busy+=("$(busy_percent "$jiffies" "$(cpu_jiffies)")")
    verify+=("${line% *}") peak+=("${line#* }")
    grep -q '"verdict": "clean"' "$WORK/out" || say "warning: verify at $size rows was not clean"
    client+=("$(seconds "$TOOL" --mode=verify --db-url="$(url bench)" --since="$WORK/first.json" --timeout=2h)")
    grep -q '"verdict": "clean"' "$WORK/out" || say "warning: the client's walk at $size rows was not clean"
    fn+=("$(seconds psql_on bench -c 'SELECT * FROM audit_events_verify_chain()')")
    copy+=("$(seconds psql_on bench -c "COPY (SELECT $COLUMNS_SQL FROM audit_events) TO STDOUT")")
    halves+=("$(seconds copy_halves "$middle")")
    sha+=("$(seconds psql_on bench -c 'SET max_parallel_workers_per_gather = 0' \
      -c 'SELECT count(*) FROM audit_events WHERE sha256(row_hash::bytea) IS NULL')")
  done
  dump=$(seconds pg_dump -Fc -t audit_events -a -f "$WORK/table.dump" "$(url bench)")
  fresh_database bench_restore
  restore=$(seconds pg_restore --data-only --disable-triggers -d "$(url bench_restore)" "$WORK/table.dump")
  psql_on postgres -c "DROP DATABASE bench_restore"
  rm -f -- "$WORK/table.dump"
  # The incremental verify: BENCH_INCREMENT rows appended after the snapshot taken at this size.
  cp -- "$WORK/checkpoint.json" "$WORK/since.json"
  grow "$INCREMENT" "inc$size-" >/dev/null
  for ((run = 1; run <= RUNS; run++)); do
    read -r line <<<"$(timed_peak "$TOOL" --mode=verify --db-url="$(url bench)" --since="$WORK/since.json" --timeout=2h)"
    incr+=("${line% *}") incr_peak+=("${line#* }")
  done
  grep -q '"checkpoint_found": true' "$WORK/out" || say "warning: incremental verify at $size rows found no checkpoint"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(median "${verify[@]}")" "$(median "${peak[@]}")" \
    "$(median "${fn[@]}")" "$(median "${copy[@]}")" "$(median "${incr[@]}")" "$(median "${incr_peak[@]}")" \
    "$dump" "$restore" "$(median "${client[@]}")" "$(median "${halves[@]}")" "$(median "${sha[@]}")" "$(median "${busy[@]}")" "$size"
}

# The COPY baseline split in two halves at chain position MIDDLE, both at once.
copy_halves() {
  local middle=$1
  psql_on bench -c "COPY (SELECT $COLUMNS_SQL FROM audit_events WHERE chain_seq < $middle) TO STDOUT" >/dev/null &
  psql_on bench -c "COPY (SELECT $COLUMNS_SQL FROM audit_events WHERE chain_seq >= $middle) TO STDOUT" >/dev/null
  wait "$!"
}

# A full verify of a chain of BENCH_INCREMENT rows: what the incremental verify is held to.
small_chain_verify() {
  local run times=()
  fresh_database bench_small
  "$TOOL" --mode=workload --db-url="$(url bench_small)" --rows="$INCREMENT" --timeout=1h >/dev/null
  for ((run = 1; run <= RUNS; run++)); do
    times+=("$(seconds "$TOOL" --mode=verify --db-url="$(url bench_small)" --timeout=1h)")
  done
  psql_on postgres -c "DROP DATABASE bench_small"
  median "${times[@]}"
}

# Issue 10.3: the per-row-sentinel trigger at fixed batch sizes and adaptive.
batch_sizes() {
  local size run times
  # shellcheck disable=SC2016 # the backquotes are Markdown
  printf '| `--batch-rows` | seconds (median of %s), %s rows |\n|---|---|\n' "$RUNS" "$SENTINEL_ROWS"
  for size in 100 250 500 1000 10000 adaptive; do
    times=()
    for ((run = 1; run <= RUNS; run++)); do
      fresh_database bench_sentinel "$REPO/test/fixtures/other-app"
      local flag=()
      [[ "$size" == adaptive ]] || flag=(--batch-rows="$size")
      times+=("$(seconds "$TOOL" --mode=workload --db-url="$(url bench_sentinel)" --rows="$SENTINEL_ROWS" \
        --migrations-path="$REPO/test/fixtures/other-app" "${flag[@]}" --timeout=1h)")
    done
    printf '| %s | %s |\n' "$size" "$(median "${times[@]}")"
  done
  psql_on postgres -c "DROP DATABASE bench_sentinel"
}

machine() {
  printf -- '- CPU: %s, %s cores; memory %s\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    "$(nproc)" "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf -- '- %s; kernel %s\n' "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')" "$(uname -r)"
  printf -- '- %s; %s\n' "$(java -version 2>&1 | head -1)" "$("$(pgc_bindir)/postgres" --version)"
  printf -- '- load average at the start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}

main() {
  command -v /usr/bin/time >/dev/null || { say "GNU time (/usr/bin/time) is needed for peak memory"; exit 1; }
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke-bench.XXXXXX")
  local started machine_text
  started=$(date -u '+%Y-%m-%d %H:%M UTC')
  machine_text=$(machine)
  pgc_start
  say "cluster on port $PGC_PORT; sizes ${SIZES[*]}; runs $RUNS"
  "$TOOL" --version >/dev/null # build and archive once, outside the timings

  local small have=0 size rate workload_peak slice_tool slice_server slice_rows
  say "full verify of a $INCREMENT-row chain"
  small=$(small_chain_verify)

  fresh_database bench
  printf 'rows\tworkload_rows_per_s\tworkload_s\tverify_s\tverify_peak_mib\tserver_fn_s\tcopy_s\tincremental_s\tincremental_peak_mib\tdump_s\trestore_s\tclient_s\tcopy_halves_s\tslice_tool_rows_per_s\tslice_server_rows_per_s\tworkload_peak_mib\tserver_sha256_s\tslice_rows\tverify_cpu_busy_pct\n' >"$WORK/results.tsv"
  for size in "${SIZES[@]}"; do
    local step=$((size - have)) started_grow ended_grow
    ((step > 0)) || { say "skipping $size rows: the table already holds $have"; continue; }
    say "growing to $size rows"
    started_grow=$(date +%s%N)
    read -r rate workload_peak <<<"$(grow "$step" "g$size-")"
    ended_grow=$(date +%s%N)
    say "measuring at $size rows"
    local m
    m=$(measure_size "$size")
    IFS=$'\t' read -r v vp f c i ip d r cl h sh bz _ <<<"$m"
    say "workload slices at $size rows"
    read -r slice_tool slice_server slice_rows <<<"$(workload_slices "$size")"
    have=$(psql_on bench -c "SELECT count(*) FROM audit_events")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$rate" \
      "$(awk -v ns="$((ended_grow - started_grow))" 'BEGIN { printf "%.3f", ns / 1e9 }')" \
      "$v" "$vp" "$f" "$c" "$i" "$ip" "$d" "$r" "$cl" "$h" "$slice_tool" "$slice_server" "$workload_peak" "$sh" \
      "$slice_rows" "$bz" >>"$WORK/results.tsv"
  done

  say "batch sizes on the per-row-sentinel trigger"
  local batches
  batches=$(batch_sizes)
  python3 "$REPO/deploy/bench/plot.py" "$WORK/results.tsv" "$SVG"
  write_results "$started" "$machine_text" "$small" "$batches" >"$WORK/results.md"
  if ((CLASSIC)); then
    say "the first benchmark (deploy/bench/classic.sh)"
    pgc_stop_all
    printf '\n## The first benchmark (deploy/bench/classic.sh, same run)\n' >>"$WORK/results.md"
    "$REPO/deploy/bench/classic.sh" >>"$WORK/results.md"
  fi
  cp -- "$WORK/results.md" "$OUT"
  cat -- "$OUT"
}

write_results() {
  local started=$1 machine_text=$2 small=$3 batches=$4
  cat <<EOF
# Benchmark results: growth to ${SIZES[-1]} rows

Written by \`deploy/bench/run.sh\` (started $started; sizes ${SIZES[*]};
medians of $RUNS runs for the verify measures and the workload slices, one
run for the growth steps and dump/restore; increment $INCREMENT rows,
slices of at most $SLICE_ROWS rows, a tenth of the size; the tool's slice
includes its JVM start). Throwaway cluster started by the script (fsync
and synchronous_commit off); the tool through \`deploy/bin/backupsmoke\`
with its defaults.

Machine:

$machine_text

![time and memory against rows]($(basename -- "$SVG"))

## Verify, seconds (peak RSS in MiB)

| rows | full verify (both verdicts) | cores busy during it | client walk alone | server fn alone | server sha256() alone, one process | COPY | COPY in two halves at once | incremental (+$INCREMENT) | full verify peak RSS | incremental peak RSS | pg_dump | pg_restore |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(awk -F'\t' 'NR > 1 { printf "| %s | %s | %s%% | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $4, $19, $12, $6, $17, $7, $13, $8, $5, $9, $10, $11 }' "$WORK/results.tsv")

Full verify of a chain of $INCREMENT rows: $small s.

## Workload, rows/s

| rows | growth step (tool) | growth step peak RSS MiB | slice rows | slice, tool | slice, server's INSERT … SELECT generate_series | tool / server |
|---|---|---|---|---|---|---|
$(awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %.2f |\n", $1, $2, $16, $18, $14, $15, $14 / $15 }' "$WORK/results.tsv")

## Ratios (same run)

$(awk -F'\t' -v small="$small" -v increment="$INCREMENT" 'NR > 1 {
    printf "- %s rows: workload / server rate %.2f (goal ≥ 0.85); full verify / COPY %.2f (goal ≤ 1.5); client walk alone / COPY %.2f; server fn alone / COPY %.2f; COPY in two halves / COPY %.2f; incremental / full verify of %s rows %.2f (goal ≤ 2); peak RSS %s MiB (goal ≤ 256)\n",
      $1, $14 / $15, $4 / $7, $12 / $7, $6 / $7, $13 / $7, increment, $8 / small, $5
  }' "$WORK/results.tsv")

## On paper: 100,000,000 rows and a fleet

$(awk -F'\t' 'NR > 1 { rows = $1; v = $4; f = $6; c = $7; w = $14; i = $8; p = $5; cl = $12 } END {
    k = 100000000 / rows
    printf "Every measure but memory grows linearly with the rows (see the plot), so from the largest size measured (%d rows):\n\n", rows
    printf "- workload of 100M rows: about %.0f s (%.0f min) at %.0f rows/s;\n", 100000000 / w, 100000000 / w / 60, w
    printf "- full verify: about %.0f s (%.1f min); COPY alone about %.0f s, the client walk alone about %.0f s, the server function alone about %.0f s;\n", v * k, v * k / 60, c * k, cl * k, f * k
    printf "- peak memory stays about %s MiB: the walk keeps no row;\n", p
    printf "- incremental verify of the rows added since the last checkpoint costs what those rows cost (%.2f s for the increment here), not what the history costs.\n\n", i
    printf "A fleet of N databases verified in parallel by a CI matrix (one job per database, each with its own runner): wall time is the slowest job, about %.1f min for a 100M-row log with a full verify, or seconds with --since from the previous night'"'"'s snapshot; cost is N times one job. Two jobs sharing one 2-core runner each get about half the CPU: a full verify already keeps both cores busy (the server'"'"'s hashing, its COPY and the client'"'"'s hashing).\n", v * k / 60
  }' "$WORK/results.tsv")

## Batch sizes on a trigger that updates the sentinel once per row (issue 10.3)

$batches

The adaptive workload measures 100 to 4000 rows a batch on its first
batches and keeps the cheapest (or 10000 when rows cost the same in any
statement, as with this project's trigger).
EOF
}

main "$@"
