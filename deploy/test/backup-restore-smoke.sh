#!/usr/bin/env bash
# Backup/restore smoke test (SPEC §7, §9.1): BackupSmoke writes a hash-chained
# audit log, a backup saves it, the database is wiped, the restore brings it
# back, and BackupSmoke's verify snapshot must match the workload snapshot.
#
# Where it runs:
#   - no server configured (neither PGHOST nor DATABASE_URL): a throwaway
#     cluster of its own, removed at exit whatever happens (a watchdog
#     removes it even when the harness itself is killed with SIGKILL);
#   - a server configured: a scratch database it creates, wipes by dropping
#     and re-creating, and drops at exit; nothing else is touched;
#   - SMOKE_IN_PLACE=1: in PGDATABASE itself (the original behaviour): it is
#     reset, filled, dumped, wiped and restored there, and refused (nothing
#     changed) unless it holds only what the migrations create and at most
#     the audit rows of an earlier smoke run.
#
# The flow, as main() reads: preflight → wait for server → clean start →
# workload → backup (every method, in one exported snapshot) → wipe → then
# judge_combination for every (method, target major): pick_target → restore
# → verify → assert → oracle capture → continuity → oracle compare → one
# result record. The records
# (WORK/combinations) feed the summary table, report.json and junit.xml
# (the tool's --mode=report).
#
# Knobs (deploy/docs/harness.md has the table): PGHOST PGPORT PGUSER PGPASSWORD
# PGDATABASE, DATABASE_URL (instead of PGHOST), SMOKE_ROWS (24),
# SMOKE_BATCH_ROWS (the tool's --batch-rows), MIGRATIONS_PATH
# (<repo>/migrations), SMOKE_IN_PLACE (0), SMOKE_TOOL (a shell command run
# instead of deploy/bin/backupsmoke; the arguments are appended),
# SMOKE_PG_BINDIR and SMOKE_PG_OS_USER (throwaway server, see pg-cluster.sh),
# SMOKE_TIMEOUT (the tool's --timeout), SMOKE_METHODS, SMOKE_JOBS,
# SMOKE_TARGET_MAJORS, SMOKE_APPEND_ROWS, SMOKE_ORACLE, SMOKE_REPORT_DIR,
# SMOKE_SINCE (a checkpoint file: with SMOKE_IN_PLACE=1 the log is kept
# and only rows after the checkpoint are hashed, see smoke-in-place.sh),
# SMOKE_BACKUP_CMD, SMOKE_RESTORE_CMD, SMOKE_TEARDOWN_CMD, SMOKE_PITR,
# SMOKE_PITR_TARGET, SMOKE_PITR_ROWS, SMOKE_RECOVERY_TIMEOUT (physical
# methods and PITR, see smoke-physical.sh); SMOKE_DRILL=1 with SMOKE_LEDGER,
# SMOKE_PGBACKREST_STANZA, SMOKE_BARMAN_SERVER, SMOKE_BARMAN_CONFIG,
# SMOKE_BACKUP_SET, SMOKE_DRILL_DATABASE, SMOKE_LIVE_URL, SMOKE_MAX_RPO,
# SMOKE_SIGNING_KEY, SMOKE_VERIFY_KEY, SMOKE_RECOVERY_TARGET_TIME/_LSN/_XID:
# a restore drill of an existing backup instead of the round trip
# (smoke-drill.sh, deploy/docs/drill.md).
#
# Every knob is parsed and checked once, by the tool (--mode=knobs,
# deploy/tool/Knobs.java), before any use; its answer, the run's record K,
# also carries the method table (deploy/tool/BackupMethod.java). The summary,
# report.json and junit.xml come from the tool too (--mode=report).
#
# stdout carries only the phase banners, the two snapshots, the summary table
# and the final PASS line; diagnostics (and the command method's output) go
# to stderr. Any failure ends with "::error::backup-restore-smoke: REASON" on
# stderr; the exit status is 0 when every combination passed, 3 when a
# backup or restore failed a verdict, 1 when the gate could not judge.
set -Eeuo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-in-place.sh disable=SC1091
. "$REPO/deploy/lib/smoke-in-place.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-oracle.sh disable=SC1091
. "$REPO/deploy/lib/smoke-oracle.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-physical.sh disable=SC1091
. "$REPO/deploy/lib/smoke-physical.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-drill.sh disable=SC1091
. "$REPO/deploy/lib/smoke-drill.sh"

# U+2026 as UTF-8 bytes, so the PASS line does not depend on the locale.
readonly ELLIPSIS=$'\xe2\x80\xa6'

PHASE=setup         # the phase running, named in unexpected failures and on signals
LAST_ERR=''         # the last failing command, recorded by the ERR trap
REPORTED=0          # 1 once the ::error:: line is out
VERDICT_FAILED=0    # 1 when a combination failed a verdict: the exit status is 3
CHILD_PID=''        # a long-running client being waited for (its own process group)
WATCHDOG_PID=''     # the watchdog that cleans up should this shell be killed
WORK=''             # temporary work folder (snapshots, backups, records)
SERVER=''           # throwaway | url | pgvars
IN_PLACE=0
MAINT_DB=''         # database to connect to for CREATE/DROP DATABASE
TARGET_DB=''        # the source database: workload, backup, wipe
NEW_DB=''           # the scratch database new_scratch_db made last
WHY=''              # why the last helper that returned 1 did (new_scratch_db, confirm_no_tables)
URL_QUERY=''        # query string (sslmode, ...) carried into every URL
ROWS=''
BATCH_ROWS=''       # the tool's --batch-rows (SMOKE_BATCH_ROWS), empty: its default
MIGRATIONS=''
METHODS=()          # backup methods (SMOKE_METHODS)
JOBS=2              # parallel jobs of the directory method (SMOKE_JOBS)
APPEND_ROWS=8       # rows appended after the restore (SMOKE_APPEND_ROWS)
ORACLE=semantic     # the second oracle (SMOKE_ORACLE), see smoke-oracle.sh
REPORT_DIR=''       # where report.json and junit.xml go (SMOKE_REPORT_DIR)
MAJORS_WANTED=''    # target majors (SMOKE_TARGET_MAJORS); default: the source's
SOURCE_MAJOR=''     # major version of the source server
DUMP_MAJOR=''       # major version of the system pg_dump
COMBOS=()           # "METHOD MAJOR" of every combination, in order
WIPED_DB_FREE=1     # 1 until a combination has restored into the wiped source database
SNAPSHOT_ID=''      # the source snapshot every pg_dump of this run reads
STARTED_AT=''       # when the run started (UTC, ISO 8601), for the report
ID_TAG=''           # "rYYYYMMDDtHHMMSSz-" under SMOKE_SINCE: this run's row ids
PITR=0              # 1 under SMOKE_PITR: backups first, then workloads A and B
readonly PITR_B_PREFIX=pitr-b- # the id prefix of workload B's rows
# K: the run's knobs as the tool normalized them (read_knobs): K[SMOKE_ROWS]
# and every other knob by its variable's name, and per chosen method its row
# of the method table: K[method.NAME.kind|target|taken_by|restored_by|
# throwaway_only|fingerprint] (SPEC 7).
declare -A K=()
declare -A BACKUP_S=() BACKUP_SHA=() BACKUP_BYTES=() # per method, from the backup phase
declare -A MAJOR_PORT=() # throwaway cluster of each target major, started once ("none": failed)
declare -A C=()     # the combination being judged (see combo_begin)
RECORDED=0          # combinations judged so far (judge_combination)
IN_COMBO=0          # 1 inside a combination's subshell (judge_combination)
STEP=''             # the step of the combination running, named when it fails unexpectedly
# What outlives a combination's subshell lives in files in WORK, the run's
# one shared record: scratch-dbs and clusters (registered before creation,
# read by the cleanup and the watchdog), keep (an in-place dump to keep),
# phase (the phase running, for the signal message), child.pid (the process
# group being waited for), combinations/NNN (the results).

say() {
  printf 'backup-restore-smoke: %s\n' "$*" >&2
}

# Failures and cleanup write to the stderr the script was started with
# (DIAG_FD, opened in main): a signal trap can run while a function's stderr
# is redirected to a file.
fail() {
  # Inside a combination, a failure is that combination's, not the run's.
  ((IN_COMBO == 0)) || combo_fail "$*"
  exec 2>&"$DIAG_FD"
  REPORTED=1
  printf '::error::backup-restore-smoke: %s\n' "$*" >&2
  exit 1
}

# The end of a run in which a combination failed a verdict: exit status 3.
fail_verdict() {
  VERDICT_FAILED=1
  fail "$@"
}

banner() {
  PHASE=$1
  [[ -z "$WORK" ]] || printf '%s\n' "$1" >"$WORK/phase"
  printf '=== %s ===\n' "$1"
}

# --- cleanup -----------------------------------------------------------------

# Stops the running client and everything it started (its process group):
# TERM, then KILL when it has not gone within two seconds.
stop_child() {
  local pid=$CHILD_PID tries
  [[ -n "$pid" ]] || return 0
  CHILD_PID=''
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((tries = 0; tries < 20; tries++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f -- "$WORK/child.pid"
}

# Drops database NAME through maintenance URL MAINT: its sessions (a restore
# cut off by a signal, say) are ended first, or DROP DATABASE would refuse.
drop_database() {
  local maint=$1 name=$2 try
  for try in 1 2 3 4 5; do
    sql_url "$maint" -c 'SET client_min_messages = warning' \
      -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$name' AND pid <> pg_backend_pid()" \
      -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 && return 0
    sleep "0.$try"
  done
  return 1
}

# Only the databases this run created; a throwaway server goes as a whole.
drop_scratch_dbs() {
  local name
  [[ "$SERVER" != throwaway ]] || return 0
  while IFS= read -r name; do
    drop_database "$(db_url "$MAINT_DB")" "$name" ||
      say "warning: could not drop scratch database $name on $(server_label); drop it by hand"
  done < <(cat "$WORK/scratch-dbs" 2>/dev/null)
}

# Every cluster registered in the work folder, whichever shell started it.
stop_registered_clusters() {
  local dir
  while IFS= read -r dir; do
    pgc_stop "$dir"
  done < <(cat "$WORK/clusters" 2>/dev/null)
}

# An in-place database wiped but not restored lives on only in the dump, so
# the work folder is kept then and the way back is printed.
remove_work() {
  [[ -n "$WORK" ]] || return 0
  if [[ -f "$WORK/keep" ]]; then
    say "database $TARGET_DB was wiped and not restored; its dump is kept:"
    say "  pg_restore --no-owner --no-acl --dbname='$(db_url "$TARGET_DB")' '$(backup_path "${METHODS[0]}")'"
    return 0
  fi
  rm -rf -- "$WORK"
}

# EXIT trap: reports an unexpected failure, then undoes everything this run
# made, whatever state it is in. Errors here must not cut the cleanup short.
cleanup() {
  local rc=$?
  set +eE
  trap - ERR
  trap '' INT TERM HUP
  exec 2>&"$DIAG_FD"
  if ((rc != 0 && REPORTED == 0)); then
    printf '::error::backup-restore-smoke: %s failed: %s\n' "$PHASE" "${LAST_ERR:-exit status $rc}" >&2
  fi
  stop_child
  ((rc == 0)) || drill_abandoned "${LAST_ERR:-exit status $rc} during $PHASE"
  abort_source_snapshot
  [[ -z "$WORK" ]] || phys_teardown_pending "$WORK"
  drop_scratch_dbs
  pgc_stop_all
  stop_registered_clusters
  remove_work
  # Everything is undone: the watchdog has nothing left to do.
  [[ -z "$WATCHDOG_PID" ]] || kill "$WATCHDOG_PID" 2>/dev/null
  if ((rc != 0)); then
    ((VERDICT_FAILED)) && exit 3
    exit 1
  fi
}

# A signal takes effect at once: the client being waited for (run_child) is
# stopped by the cleanup, and the message names the phase it came in.
on_signal() {
  trap '' INT TERM HUP
  # A combination's subshell names the phase it is in.
  [[ ! -s "$WORK/phase" ]] || PHASE=$(<"$WORK/phase")
  fail "interrupted by SIG$1 during $PHASE"
}

# Runs a client in the background, in a process group of its own (job
# control on just for the fork), and waits for it. A foreground child would
# hold INT/TERM handling back until it ended; this way the trap runs at once
# and stop_child can end the client together with anything it started
# (the JVM behind the launcher, psql under a stand-in tool). The group is
# also written down for the watchdog.
run_child() {
  if ((IN_COMBO)); then
    # In a combination's subshell, itself a process group of its own that
    # stop_child and the watchdog end as a whole: its children stay in it.
    "$@" </dev/null
    return
  fi
  start_child "$@"
  await_child
}

# The two halves of run_child. A caller that needs set -e in force in the
# child (judge_combination) calls start_child where its status is not
# tested: bash ignores -e in whatever a function tested by || or if runs.
start_child() {
  set -m
  "$@" </dev/null &
  CHILD_PID=$!
  set +m
  printf '%s\n' "$CHILD_PID" >"$WORK/child.pid"
}

await_child() {
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=''
  rm -f -- "$WORK/child.pid"
  return "$rc"
}

# The watchdog outlives this shell should it be killed outright (SIGKILL
# after a CI runner's grace period, the OOM killer): once this shell's PID
# is gone it kills the client being waited for, stops the clusters and drops
# the scratch databases recorded in the work folder, and removes the folder.
# In a process group of its own, so a Ctrl-C or a group kill aimed at the
# harness does not take it along; the cleanup ends it after a normal exit.
start_watchdog() {
  local harness=$BASHPID
  PGC_REGISTRY=$WORK/clusters
  set -m
  (
    trap - EXIT ERR
    trap '' INT HUP
    set +eE
    while kill -0 "$harness" 2>/dev/null; do
      sleep 0.5
    done
    watchdog_cleanup
  ) </dev/null >/dev/null 2>&1 &
  WATCHDOG_PID=$!
  set +m
}

watchdog_cleanup() {
  local pid name
  [[ -d "$WORK" ]] || return 0
  if pid=$(cat "$WORK/child.pid" 2>/dev/null) && [[ -n "$pid" ]]; then
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  stop_registered_clusters
  while IFS= read -r name; do
    drop_database "$(db_url "$MAINT_DB")" "$name"
  done < <(cat "$WORK/scratch-dbs" 2>/dev/null)
  [[ -f "$WORK/keep" ]] || rm -rf -- "$WORK"
}

# --- connections ---------------------------------------------------------------

url_encode() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c" && out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

url_decode() {
  local s=${1//\\/\\\\}
  printf '%b' "${s//%/\\x}"
}

server_label() {
  printf '%s@%s:%s' "$PGUSER" "$PGHOST" "$PGPORT"
}

# Prints a URL for database DB on HOST:PORT as USER, with QUERY (sslmode,
# ...). It never carries a secret: the password travels in PGPASSWORD, an
# sslpassword in the connection service file (see keep_secrets_off_command_lines).
server_url() {
  local host=$1 port=$2 user=$3 query=$4 db=$5
  if [[ "$host" == *:* ]]; then
    host="[$host]"
  else
    host=$(url_encode "$host")
  fi
  printf 'postgres://%s@%s:%s/%s%s\n' "$(url_encode "$user")" "$host" "$port" \
    "$(url_encode "$db")" "${query:+?$query}"
}

# A URL for database DB on the source server.
db_url() {
  server_url "$PGHOST" "$PGPORT" "$PGUSER" "$URL_QUERY" "$1"
}

# A URL for database DB on the throwaway cluster listening on PORT.
cluster_url() {
  server_url 127.0.0.1 "$1" postgres sslmode=disable "$2"
}

# psql on URL: no psqlrc, quiet, bare values, stop at the first error.
sql_url() {
  local url=$1
  shift
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$url" "$@"
}

# psql on database DB of the source server.
sql() {
  local db=$1
  shift
  sql_url "$(db_url "$db")" "$@"
}

# Secrets never go into a command line, where `ps` shows them to every user
# of the machine: the password is in PGPASSWORD (libpq and the tool read
# it); libpq has no variable for sslpassword, so it goes into a connection
# service file readable only by us (PGSERVICEFILE, service named by
# PGSERVICE: libpq reads any connection parameter from there), and to the
# tool in PGSSLPASSWORD, BackupSmoke's own variable for it.
keep_secrets_off_command_lines() {
  [[ -n "${K[server.sslpassword]+set}" ]] || return 0
  (
    umask 077
    printf '[backupsmoke]\nsslpassword=%s\n' "${K[server.sslpassword]}" >"$WORK/pg_service.conf"
  ) || fail "cannot write the connection service file in $WORK"
  export PGSERVICEFILE=$WORK/pg_service.conf PGSERVICE=backupsmoke PGSSLPASSWORD=${K[server.sslpassword]}
  unset 'K[server.sslpassword]'
}

# --- knobs -------------------------------------------------------------------

# Every knob, parsed and checked by the tool (Knobs.java) before any use: its
# answer is NUL-separated NAME=VALUE entries, read into K, never evaluated,
# and read from a pipe: it carries the passwords DATABASE_URL holds, which
# must never reach a file. A bad value stops the run with the tool's line
# naming the variable.
read_knobs() {
  local entry status=0
  while IFS= read -r -d '' entry; do
    K[${entry%%=*}]=${entry#*=}
  done < <(MIGRATIONS_PATH=${MIGRATIONS_PATH:-$REPO/migrations} "$REPO/deploy/bin/backupsmoke" --mode=knobs \
    </dev/null 2>"$WORK/knobs.err")
  wait "$!" || status=$?
  if ((status != 0)); then
    entry=$(tail -n 1 "$WORK/knobs.err")
    fail "${entry#backupsmoke: }"
  fi
  ROWS=${K[SMOKE_ROWS]} BATCH_ROWS=${K[SMOKE_BATCH_ROWS]} MIGRATIONS=${K[MIGRATIONS_PATH]}
  IN_PLACE=${K[SMOKE_IN_PLACE]} JOBS=${K[SMOKE_JOBS]} APPEND_ROWS=${K[SMOKE_APPEND_ROWS]} ORACLE=${K[SMOKE_ORACLE]}
  MAJORS_WANTED=${K[SMOKE_TARGET_MAJORS]} REPORT_DIR=${K[SMOKE_REPORT_DIR]}
  IFS=',' read -r -a METHODS <<<"${K[SMOKE_METHODS]}"
  PITR=${K[SMOKE_PITR]}
  phys_configure "$PITR" "${K[SMOKE_PITR_TARGET]}" "${K[SMOKE_RECOVERY_TIMEOUT]}"
  ID_TAG=${K[since.id_tag]}
  export PGCONNECT_TIMEOUT=${K[PGCONNECT_TIMEOUT]}
}

# True when METHOD's ATTRIBUTE in the method table is VALUE.
method_is() {
  [[ "${K[method.$1.$2]}" == "$3" ]]
}

# The methods backed up from the throwaway cluster by a tool it must be set
# up for (smoke-physical.sh: archiving, pgBackRest, Barman).
throwaway_tools() {
  local method
  for method in "${METHODS[@]}"; do
    if method_is "$method" throwaway_only 1; then
      printf '%s\n' "$method"
    fi
  done
}

# Where the round trip runs, as the tool decided (ServerChoice.java): a
# server named by DATABASE_URL or by PGHOST, or else a throwaway one
# (started later, in "wait for server"). Every client then gets an explicit
# URL (db_url); the password travels only in PGPASSWORD.
choose_server() {
  SERVER=${K[server.kind]}
  [[ "$SERVER" != throwaway ]] || return 0
  export PGHOST=${K[server.host]} PGPORT=${K[server.port]} PGUSER=${K[server.user]}
  [[ -z "${K[server.database]}" ]] || export PGDATABASE=${K[server.database]}
  if [[ -n "${K[server.password]+set}" ]]; then
    export PGPASSWORD=${K[server.password]}
    unset 'K[server.password]'
  fi
  URL_QUERY=${K[server.query]}
  MAINT_DB=${K[server.maintenance_db]}
  TARGET_DB=${K[server.in_place_db]}
  unset DATABASE_URL
}

# --- phases ----------------------------------------------------------------------

# What another major's server binaries need, checked before anything starts
# (the tool checked the other programs with the knobs).
check_programs() {
  local major missing=() majors=()
  IFS=',' read -r -a majors <<<"$MAJORS_WANTED"
  for major in ${majors[@]+"${majors[@]}"}; do
    read -r -a missing <<<"$(pgc_major_needs "$major")"
    ((${#missing[@]} == 0)) ||
      fail "SMOKE_TARGET_MAJORS=$MAJORS_WANTED: PostgreSQL $major server binaries come from Maven Central and need ${missing[*]}, not on PATH"
  done
}

preflight() {
  local made
  STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  [[ -f "$REPO/BackupSmoke.java" ]] || fail "tool not found: $REPO/BackupSmoke.java"
  made=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke.XXXXXXXX" 2>&1) ||
    fail "cannot create a work folder in ${TMPDIR:-/tmp} for the snapshots and the backup: ${made##*: }"
  WORK=$made
  read_knobs
  check_programs
  choose_server
  if [[ "$SERVER" == throwaway ]]; then
    pgc_bindir >/dev/null || fail "no server configured (PGHOST or DATABASE_URL) and no PostgreSQL server binaries to start a throwaway one"
  fi
  keep_secrets_off_command_lines
  start_watchdog
  [[ "${K[SMOKE_DRILL]}" == 1 ]] || say "server: $SERVER; in place: $IN_PLACE; rows: $ROWS; migrations: $MIGRATIONS"
}

start_throwaway() {
  pgc_start || fail "could not start a throwaway PostgreSQL server"
  export PGHOST=$PGC_HOST PGPORT=$PGC_PORT PGUSER=$PGC_USER PGDATABASE=postgres
  unset PGPASSWORD
  URL_QUERY=sslmode=disable
  MAINT_DB=postgres
  if ((IN_PLACE)); then
    TARGET_DB=postgres
  fi
  say "throwaway server on $(server_label), data in $PGC_DATA"
  # shellcheck disable=SC2046 # one method name per word
  phys_setup_source "$PGC_DIR" "$PGC_PORT" $(throwaway_tools)
}

# pg_isready waits for the server to accept connections; one psql login
# then checks the credentials, so a wrong password fails at once instead of
# being retried for a minute. pg_isready's status 3 (no attempt made: a
# refused parameter in the URL) cannot get better by waiting.
wait_for_server() {
  local deadline=$((SECONDS + 60)) status rc
  while true; do
    rc=0
    status=$(pg_isready -d "$(db_url "$MAINT_DB")" -t 5 2>&1) || rc=$?
    ((rc != 0)) || break
    ((rc != 3)) || fail "cannot connect to $(server_label): ${status#pg_isready: error: }"
    if ((SECONDS >= deadline)); then
      fail "server $(server_label) not ready within 60 s: $status"
    fi
    sleep 1
  done
  sql "$MAINT_DB" -c 'SELECT 1' >/dev/null ||
    fail "server $(server_label) is up, but connecting to database $MAINT_DB failed"
  say "server $(server_label) is up"
}

random_hex() {
  od -An -N6 -tx1 /dev/urandom | tr -d ' \n'
}

# A database of our own to run in.
create_scratch_db() {
  new_scratch_db "$(db_url "$MAINT_DB")" source || fail "$WHY"
  TARGET_DB=$NEW_DB
}

# Creates an empty database through maintenance URL MAINT and names it in
# NEW_DB. On the source server (WHERE=source) its name is registered before
# CREATE, in WORK/scratch-dbs for the cleanup and the watchdog, so an interrupt during CREATE
# still drops it; it was checked to be free just before, so the drop can
# only ever hit what this run made. On a throwaway cluster the cluster goes
# as a whole. On failure WHY says why: the caller decides whether that ends
# the run or one combination.
new_scratch_db() {
  local maint=$1 where=$2 name taken
  name="backupsmoke_$(random_hex)"
  taken=$(sql_url "$maint" -c "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
    { WHY="cannot list databases on $(server_label)"; return 1; }
  [[ -z "$taken" ]] || { WHY="database $name exists already; run again"; return 1; }
  if [[ "$where" == source && "$SERVER" != throwaway ]]; then
    printf '%s\n' "$name" >>"$WORK/scratch-dbs"
  fi
  sql_url "$maint" -c "CREATE DATABASE \"$name\" TEMPLATE template0" ||
    { WHY="cannot create scratch database $name on $(server_label) (does $PGUSER have CREATEDB?)"; return 1; }
  NEW_DB=$name
  say "scratch database $name created"
}

# Drop and re-create from template0: nothing of the workload can survive.
wipe_scratch_db() {
  sql "$MAINT_DB" -c "DROP DATABASE \"$TARGET_DB\"" \
    -c "CREATE DATABASE \"$TARGET_DB\" TEMPLATE template0" ||
    fail "dropping and re-creating scratch database $TARGET_DB failed"
}

# The wipe is only proven by looking: a no-op wipe must not fake a pass.
# Prints the number of tables in the database at URL.
count_tables() {
  sql_url "$1" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%'"
}

# Returns 1 with the reason in WHY.
confirm_no_tables() {
  local url=$1 count db
  db=${url##*/}
  db=${db%%\?*}
  count=$(count_tables "$url") || { WHY="cannot count tables in $db"; return 1; }
  [[ "$count" == 0 ]] || { WHY="wipe left $count table(s) in $db"; return 1; }
  say "confirmed: no tables in $db"
}

# Runs BackupSmoke with ARGS. SMOKE_TOOL, when set, is a shell command line
# (quotes allowed) to which the arguments are appended.
run_tool() {
  # SMOKE_TIMEOUT raises the tool's bound on one call (2 minutes by default).
  if [[ -n "${K[SMOKE_TIMEOUT]:-}" ]]; then
    set -- "$@" --timeout="${K[SMOKE_TIMEOUT]}"
  fi
  if [[ -n "${SMOKE_TOOL:-}" ]]; then
    run_child bash -c "$SMOKE_TOOL"' "$@"' backupsmoke "$@"
  else
    # JBang resolves the tool once; the calls run the cached application directly.
    run_child "$REPO/deploy/bin/backupsmoke" "$@"
  fi
}

# Asks the tool one of the harness's own questions (--mode=knobs, report):
# always this repository's tool, whatever SMOKE_TOOL stands in for.
gate_tool() {
  run_child "$REPO/deploy/bin/backupsmoke" "$@"
}

# A snapshot must be exactly one JSON object with the section-3 basics, or
# the comparisons below would compare nothing.
is_snapshot() {
  jq -s -e 'length == 1 and (.[0] | type == "object"
        and (.row_count | type) == "number"
        and (.chain_head_hash | type) == "string")' "$1" >/dev/null 2>&1
}

check_snapshot() {
  local file=$1 what=$2
  if ! is_snapshot "$file"; then
    say "$what output was:"
    cat -- "$file" >&2
    fail "$what did not print one JSON snapshot with row_count and chain_head_hash"
  fi
}

workload() {
  run_tool --mode=workload --db-url="$(db_url "$TARGET_DB")" \
    --migrations-path="$MIGRATIONS" --rows="$ROWS" ${BATCH_ROWS:+--batch-rows="$BATCH_ROWS"} \
    ${ID_TAG:+--id-prefix="audit-smoke-$ID_TAG"} >"$WORK/pre.json" ||
    fail "BackupSmoke --mode=workload failed (exit $?)"
  check_snapshot "$WORK/pre.json" "BackupSmoke --mode=workload"
  cat -- "$WORK/pre.json"
}

# --- backup methods ----------------------------------------------------------

# Where the backup of METHOD lives in the work folder.
backup_path() {
  printf '%s/backup.%s' "$WORK" "$1"
}

# Takes the backup of METHOD from the source database. The command method
# runs the operator's SMOKE_BACKUP_CMD with bash, an empty SMOKE_BACKUP_DIR
# and SMOKE_SOURCE_URL (the password stays in PGPASSWORD); its output goes
# to stderr, since stdout carries only the harness's own lines.
backup_with() {
  local method=$1 path url
  path=$(backup_path "$method")
  url=$(db_url "$TARGET_DB")
  case "$method" in
    custom | tar | plain)
      run_child pg_dump --format="$method" --snapshot="$SNAPSHOT_ID" --no-owner --no-acl --file="$path" --dbname="$url" ;;
    directory)
      run_child pg_dump --format=directory --jobs="$JOBS" --snapshot="$SNAPSHOT_ID" --no-owner --no-acl \
        --file="$path" --dbname="$url" ;;
    command)
      mkdir -p -- "$path" &&
        SMOKE_BACKUP_DIR=$path SMOKE_SOURCE_URL=$url run_child bash -c "$SMOKE_BACKUP_CMD" >&2 ;;
    basebackup | pgbackrest | barman | command-cluster | command-url)
      # A physical copy of the whole cluster (smoke-physical.sh).
      phys_backup "$method" "$path" ;;
  esac
}

# Restores the backup of METHOD into the empty database at URL; every
# restore must stop at its first error (SPEC 7, and no "errors ignored").
restore_with() {
  local method=$1 url=$2 path
  path=$(backup_path "$method")
  case "$method" in
    custom | tar)
      run_child pg_restore --no-owner --no-acl --exit-on-error --dbname="$url" "$path" ;;
    directory)
      run_child pg_restore --jobs="$JOBS" --no-owner --no-acl --exit-on-error --dbname="$url" "$path" ;;
    plain)
      run_child psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$url" -f "$path" >/dev/null ;;
    command)
      SMOKE_BACKUP_DIR=$path SMOKE_TARGET_URL=$url run_child bash -c "$SMOKE_RESTORE_CMD" >&2 ;;
    basebackup | pgbackrest | barman | command-cluster | command-url) ;; # restored by combo_restore_physical
  esac
}

# A fingerprint of a backup an auditor can keep: SHA-256 of the file, or of
# the sorted list of file hashes for a folder.
backup_sha256() {
  local path=$1
  if [[ -d "$path" ]]; then
    (cd -- "$path" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
  else
    sha256sum -- "$path" | cut -d' ' -f1
  fi
}

# Seconds since START (an $EPOCHREALTIME reading), with two decimals.
elapsed() {
  awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.2f", now - start }'
}

# Opens a session on the source that exports its snapshot and keeps it
# open: the pg_dump backups, the oracle's capture and the expected row count
# and chain head are all read in that one snapshot, so writes racing the
# backup cannot make the comparison flaky. The expectation goes to
# expected.json.
open_source_snapshot() {
  local rows head
  coproc SNAPSHOT_SESSION { psql -X -q -At -v ON_ERROR_STOP=1 -d "$(db_url "$TARGET_DB")" 2>&1; }
  printf '%s\n' 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;' 'SELECT pg_export_snapshot();' \
    'SELECT count(*) FROM audit_events;' 'SELECT row_hash FROM audit_chain_head WHERE id = 1;' \
    >&"${SNAPSHOT_SESSION[1]}"
  read -r -t 60 SNAPSHOT_ID <&"${SNAPSHOT_SESSION[0]}" || SNAPSHOT_ID=''
  [[ "$SNAPSHOT_ID" =~ ^[0-9A-F-]+$ ]] || fail "cannot export a snapshot of $TARGET_DB: ${SNAPSHOT_ID:-no answer}"
  if ! read -r -t 60 rows <&"${SNAPSHOT_SESSION[0]}" || ! read -r -t 60 head <&"${SNAPSHOT_SESSION[0]}"; then
    fail "cannot read the expected chain head in the backup's snapshot"
  fi
  jq -n --argjson rows "$rows" --arg head "$head" '{row_count: $rows, chain_head_hash: $head}' >"$WORK/expected.json"
  if ! jq -e -n --slurpfile a "$WORK/pre.json" --slurpfile b "$WORK/expected.json" \
    '$a[0].row_count == $b[0].row_count and $a[0].chain_head_hash == $b[0].chain_head_hash' >/dev/null; then
    say "writes after the workload: the expectation is the backup's own snapshot ($rows rows)"
  fi
}

close_source_snapshot() {
  printf 'COMMIT;\n\\q\n' >&"${SNAPSHOT_SESSION[1]}"
  wait "$SNAPSHOT_SESSION_PID" 2>/dev/null || true
  SNAPSHOT_SESSION_PID=''
}

# Ends a snapshot session a failure left open, so it cannot block the DROP
# DATABASE of the cleanup; nothing to do when none is open.
abort_source_snapshot() {
  [[ -n "${SNAPSHOT_SESSION_PID:-}" ]] || return 0
  kill "$SNAPSHOT_SESSION_PID" 2>/dev/null
  wait "$SNAPSHOT_SESSION_PID" 2>/dev/null || true
  SNAPSHOT_SESSION_PID=''
}

# Takes every method's backup from the same source, and the oracle's
# capture of the source, all in the backup's exported snapshot.
backup_all() {
  local method
  # In PITR mode the backups come first, before workload A (pitr_workloads).
  ((PITR)) || open_source_snapshot
  for method in "${METHODS[@]}"; do
    if method_is "$method" throwaway_only 1 && [[ "$SERVER" != throwaway ]]; then
      say "$method: skipped: a physical backup is only taken of the throwaway cluster"
      continue
    fi
    backup_one "$method"
  done
  ((PITR == 0)) || return 0
  local status=0
  oracle_capture "$ORACLE" "$(db_url "$TARGET_DB")" "$WORK/oracle.source" "$SNAPSHOT_ID" || status=$?
  ((status == 0 || status == 3)) || fail "the oracle's capture of the source failed"
  close_source_snapshot
}

# One method's backup, with its time, size and SHA-256 for the report.
backup_one() {
  local method=$1 started status=0 path size=0
  started=$EPOCHREALTIME
  path=$(backup_path "$method")
  backup_with "$method" || status=$?
  ((status == 0)) || fail "$(tag "$method")backup of $TARGET_DB failed (exit $status)"
  BACKUP_S[$method]=$(elapsed "$started")
  if ! method_is "$method" fingerprint file; then
    # Their backup lives in a repository (or wherever the command put it):
    # no file of ours describes it, so no hash; the tool's own size.
    # A command method's backup has no size we know of: left out (null).
    BACKUP_BYTES[$method]=$(jq -r '.repository_bytes // empty' "$WORK/physical.$method.json" 2>/dev/null || true)
    say "$(tag "$method")backup: $(phys_backup_label "$method")"
    return 0
  fi
  if [[ -n "$(find "$path" -type f -size +0 -print -quit 2>/dev/null)" ]]; then
    size=$(du -sb -- "$path" | cut -f1)
  fi
  ((size > 0)) || fail "$(tag "$method")${K[method.$method.taken_by]} left an empty or no backup file"
  BACKUP_SHA[$method]=$(backup_sha256 "$path")
  BACKUP_BYTES[$method]=$size
  say "$(tag "$method")backup: $size bytes"
}

# PITR (smoke-physical.sh): workload A after the backups, the target and
# A's snapshot, the oracle's capture of A, then workload B, which no
# restore may bring back, archived.
pitr_workloads() {
  banner workload
  workload
  pitr_mark
  local status=0
  oracle_capture "$ORACLE" "$(db_url "$TARGET_DB")" "$WORK/oracle.source" '' || status=$?
  ((status == 0 || status == 3)) || fail "the oracle's capture of the source failed"
  pitr_workload_b
}

# After workload A: the target and A's snapshot (WORK/pitr.target.json, and
# WORK/expected.json, the expectation every restore is judged against).
pitr_mark() {
  local kind=${K[SMOKE_PITR_TARGET]}
  phys_record_target "$(db_url "$TARGET_DB")" "$WORK/pitr.target.json" ||
    fail "cannot record the PITR target after workload A"
  jq '{row_count, chain_head_hash}' "$WORK/pitr.target.json" >"$WORK/expected.json"
  say "PITR target ($kind): $(phys_target_value "$WORK/pitr.target.json" "$kind") after $(jq .row_count "$WORK/expected.json") rows of workload A"
}

# Workload B: rows written after the target, which no restore may bring
# back, and its WAL archived: by the throwaway cluster's archiving, or by
# the operator's, which a WAL switch closes the segment for.
pitr_workload_b() {
  local refused
  run_tool --mode=workload --db-url="$(db_url "$TARGET_DB")" --migrations-path="$MIGRATIONS" \
    --rows="${K[SMOKE_PITR_ROWS]}" --id-prefix="$PITR_B_PREFIX" >"$WORK/pitr.latest.json" ||
    fail "workload B (after the PITR target) failed"
  if [[ "$SERVER" == throwaway ]]; then
    phys_archive_source_now || fail "the WAL of workload B was not archived"
  elif refused=$(phys_switch_wal_reason "$(db_url "$MAINT_DB")"); then
    sql "$MAINT_DB" -c 'SELECT pg_switch_wal()' >/dev/null
  else
    say "warning: no WAL switch on $(server_label): $refused; the restore command must wait for the archive itself"
  fi
  say "workload B: ${K[SMOKE_PITR_ROWS]} rows after the target ($PITR_B_PREFIX*), $(jq .row_count "$WORK/pitr.latest.json") rows in all"
}

# True when some method restores into a database on the source server.
restores_into_source() {
  local method
  for method in "${METHODS[@]}"; do
    ! method_is "$method" target database || return 0
  done
  return 1
}

wipe() {
  if ! restores_into_source; then
    say "wipe: skipped: every method restores into a server of its own"
    return 0
  fi
  if ((IN_PLACE)); then
    # A throwaway server goes at exit anyway; a real one keeps its dump.
    if [[ "$SERVER" != throwaway ]]; then
      : >"$WORK/keep"
    fi
    wipe_in_place
  else
    wipe_scratch_db
  fi
  confirm_no_tables "$(db_url "$TARGET_DB")" || fail "$WHY"
}

# --- one combination, top to bottom ------------------------------------------

# Every combination of method and target major, in order.
plan_combinations() {
  local major method majors=()
  SOURCE_MAJOR=$(server_major) || fail "cannot read the server version of $(server_label)"
  DUMP_MAJOR=$(pg_dump --version | grep -oE '[0-9]+' | head -n 1) || true
  [[ "$DUMP_MAJOR" =~ ^[0-9]+$ ]] || fail "cannot tell the version of pg_dump from 'pg_dump --version'"
  # pg_dump refuses servers newer than itself: say so before anything runs.
  ((SOURCE_MAJOR <= DUMP_MAJOR)) ||
    fail "pg_dump $DUMP_MAJOR cannot dump a server of major $SOURCE_MAJOR (newer than itself): install pg_dump $SOURCE_MAJOR or newer"
  IFS=',' read -r -a majors <<<"${MAJORS_WANTED:-$SOURCE_MAJOR}"
  for major in "${majors[@]}"; do
    ((major >= SOURCE_MAJOR)) ||
      fail "SMOKE_TARGET_MAJORS: $major is older than the source server ($SOURCE_MAJOR); restores go to the same or newer majors"
    for method in "${METHODS[@]}"; do
      COMBOS+=("$method $major")
    done
  done
}

judge_all() {
  local combo method major
  for combo in "${COMBOS[@]}"; do
    read -r method major <<<"$combo"
    judge_combination "$method" "$major"
  done
}

# Judges one combination in a subshell of its own, so that set -e is in
# force in every step: bash ignores -e inside a function called where its
# status is tested ("$step" || break), and a command failing unexpectedly
# must end that combination, not the run. The subshell is run like any
# client (run_child: a process group of its own, waited for), so a signal
# reaches the harness's traps at once and stop_child or the watchdog end it
# with whatever it runs. It leaves its result in one file, the record
# WORK/combinations/NNN; expected failures are recorded by combo_fail or
# combo_skip, unexpected ones by its EXIT trap (combo_conclude), which names
# the step and the command. Everything else it leaves for the rest of the run
# goes through the files listed with the globals (scratch-dbs, clusters,
# keep); the shared state it reads (the cluster of another major, whether the
# wiped source database is still free) is decided here, before it starts.
judge_combination() {
  local method=$1 major=$2 record status=0
  record=$WORK/combinations/$(printf '%03d' "$RECORDED")
  RECORDED=$((RECORDED + 1))
  mkdir -p -- "$WORK/combinations"
  start_major_for "$method" "$major"
  start_child judge_in_subshell "$method" "$major" "$record"
  await_child || status=$?
  if method_is "$method" target database && [[ "$major" == "$SOURCE_MAJOR" ]]; then
    WIPED_DB_FREE=0
  fi
  if [[ ! -s "$record" ]]; then
    combo_begin "$method" "$major"
    C[verdict]=fail C[reason]="the combination ended without a result (exit $status)"
    printf '::error::backup-restore-smoke: %s%s\n' "$(tag "${C[name]}")" "${C[reason]}" >&2
    combo_record "$record"
  fi
}

# The subshell of judge_combination: the steps in order, each with -e in
# force, until one fails or every one has run.
judge_in_subshell() {
  set +m
  IN_COMBO=1
  combo_begin "$1" "$2"
  C[record]=$3
  trap 'combo_conclude $?' EXIT
  for STEP in pick_target combo_restore combo_pitr combo_verify combo_assert combo_oracle_capture \
    combo_continuity combo_oracle_compare; do
    "$STEP"
  done
}

# The subshell's EXIT trap: a combination still passing that exits non-zero
# failed unexpectedly (set -e, a signal); its record is written whatever
# happened, and what it restored into is released.
combo_conclude() {
  local rc=$1 step=${STEP#combo_}
  set +eE
  trap - ERR EXIT
  if ((rc != 0)) && [[ "${C[verdict]}" == pass ]]; then
    C[verdict]=fail
    C[reason]="the ${step//_/ } step failed unexpectedly: ${LAST_ERR:-exit status $rc}"
    printf '::error::backup-restore-smoke: %s%s\n' "$(tag "${C[name]}")" "${C[reason]}" >&2
  fi
  combo_record "${C[record]}"
  combo_release_physical
  exit 0
}

# The state of one combination, reset for each: C[name] METHOD-pgMAJOR,
# C[method], C[major], C[verdict] pass | fail | skipped, C[reason],
# C[url] the database it is judged in, C[target] where that is (for the
# report), C[restore_s] C[verify_s] C[continuity_s] phase times,
# C[restored_head], C[oracle] (captured, compared, differs or skipped: why),
# C[evidence.KEY] JSON evidence plug-ins add (combo_evidence), C[record]
# the file its result goes to.
combo_begin() {
  C=([method]=$1 [major]=$2 [name]=$1-pg$2 [verdict]=pass [reason]='' [url]='' [target]=''
    [restore_s]='' [verify_s]='' [continuity_s]='' [restored_head]='' [oracle]='')
}

# One combination's failure: the ::error:: line now, the gate fails at the
# end. It ends the combination's subshell (its record is written on exit).
combo_fail() {
  printf '::error::backup-restore-smoke: %s%s\n' "$(tag "${C[name]}")" "$1" >&2
  C[verdict]=fail
  C[reason]=$1
  exit 0
}

combo_skip() {
  say "$(tag "${C[name]}")skipped: $1"
  C[verdict]=skipped
  C[reason]=$1
  exit 0
}

# Adds KEY with JSON VALUE to the combination's evidence in the report.
combo_evidence() {
  C[evidence.$1]=$2
}

# "[NAME] " in front of messages when several combinations run, else nothing.
tag() {
  if ((${#COMBOS[@]} > 1 || ${#METHODS[@]} > 1)); then
    printf '[%s] ' "$1"
  fi
}

# The throwaway cluster of MAJOR a database method restores into, started
# once, before the first combination that needs it ("none": it failed).
start_major_for() {
  local method=$1 major=$2
  method_is "$method" target database && [[ "$major" != "$SOURCE_MAJOR" && -z "${MAJOR_PORT[$major]:-}" ]] ||
    return 0
  say "starting a throwaway PostgreSQL $major cluster for the restores"
  MAJOR_PORT[$major]=none
  if pgc_start_major "$major"; then
    MAJOR_PORT[$major]=$PGC_PORT
  fi
}

# Where the combination is judged: one (server, database) pair, in C[url].
# This is the plug point for restores that are not a database on the source
# server: a target of its own for a method is one more case here.
#   - the source's major: the wiped source database for the first
#     combination (SPEC 7), a new scratch database for the others;
#   - another major: a new database on a throwaway cluster of that major;
#   - basebackup, pgbackrest, barman, command-cluster, command-url: a
#     server of its own, restored here (target_restored_physically).
# A target function sets C[url] (a libpq URL without secrets) and C[target]
# (words for messages and the report); one that restores by itself (a data
# directory started as a cluster, a URL a command hands back) also sets
# C[restore_s] and leaves restore_with a no-op for its method. Clusters it
# starts with pgc_start* are registered, so stopped at exit, by the watchdog
# too; evidence of its own goes into the record with combo_evidence KEY JSON.
# On failure it calls combo_fail "why" (or combo_skip "why").
pick_target() {
  local method=${C[method]} major=${C[major]}
  if ! method_is "$method" target database; then
    [[ "$major" == "$SOURCE_MAJOR" ]] ||
      combo_skip "a physical backup only starts under its own major ($SOURCE_MAJOR)"
    method_is "$method" throwaway_only 0 || [[ "$SERVER" == throwaway ]] ||
      combo_skip "a physical backup is only taken of the throwaway cluster"
    target_restored_physically
  elif [[ "$major" != "$SOURCE_MAJOR" ]]; then
    target_on_major "$major"
  elif ((WIPED_DB_FREE)); then
    C[url]=$(db_url "$TARGET_DB")
    C[target]="source database $TARGET_DB"
  else
    new_scratch_db "$(db_url "$MAINT_DB")" source || combo_fail "$WHY"
    C[url]=$(db_url "$NEW_DB")
    C[target]="scratch database $NEW_DB"
    confirm_no_tables "${C[url]}" || combo_fail "$WHY"
  fi
}

# A new empty database on the throwaway cluster of MAJOR (start_major_for).
target_on_major() {
  local major=$1
  [[ "${MAJOR_PORT[$major]}" != none ]] || combo_fail "cannot start a PostgreSQL $major server to restore into"
  new_scratch_db "$(cluster_url "${MAJOR_PORT[$major]}" postgres)" cluster || combo_fail "$WHY"
  C[url]=$(cluster_url "${MAJOR_PORT[$major]}" "$NEW_DB")
  C[target]="database $NEW_DB on a PostgreSQL $major cluster"
}

combo_restore() {
  local started=$EPOCHREALTIME status=0
  [[ -z "${C[restore_s]}" ]] || return 0 # pick_target restored it already
  banner restore
  say "$(tag "${C[name]}")restoring into ${C[target]}"
  restore_with "${C[method]}" "${C[url]}" || status=$?
  C[restore_s]=$(elapsed "$started")
  ((status == 0)) || combo_fail "restore into ${C[target]} failed (exit $status)"
  if [[ "${C[url]}" == "$(db_url "$TARGET_DB")" ]]; then
    # The wiped source database holds its data again: no dump to keep.
    rm -f -- "$WORK/keep"
  fi
}

# A physical restore (smoke-physical.sh) lands in a server of its own: a
# fresh data directory the tool or the operator's command fills and the
# harness starts, or a server the command brings up itself (command-url).
# Its time runs up to the end of recovery (RTO). The combination is judged
# in the scratch database there; a password the restored URL carries is
# used for this combination only (its subshell's environment).
target_restored_physically() {
  local started=$EPOCHREALTIME
  local -A restored_server=()
  banner restore
  say "$(tag "${C[name]}")restoring into a server of its own"
  phys_restore_for "${C[name]}" "${C[method]}" "${K[method.${C[method]}.restored_by]}" restored_server
  C[restore_s]=$(elapsed "$started")
  C[url]=${restored_server[url]}
  C[target]="database $(phys_url_database "${C[url]}") on the restored server"
  export PGPASSWORD=${restored_server[password]}
}

# How a physical restore's failure ends (smoke-physical.sh): the
# combination fails, with the time the restore took.
restore_failed() {
  C[restore_s]=$(elapsed "$started")
  combo_fail "$1"
}

# PITR: the restored audit log holds exactly workload A; the tool names the
# extra or missing rows (--mode=pitr-check, SPEC 9.9).
combo_pitr() {
  ((PITR)) || return 0
  ! method_is "${C[method]}" target database || return 0
  combo_ask --mode=pitr-check --db-url="${C[url]}" --id-prefix=audit-smoke- \
    --rows="$(jq .row_count "$WORK/expected.json")" --later-prefix="$PITR_B_PREFIX"
}

# After the record: the restored cluster goes, the operator's teardown runs.
combo_release_physical() {
  ! method_is "${C[method]}" target database || return 0
  phys_release
}

# The pre-backup snapshot is the anchor: the restored chain must still hold
# the recorded head at the recorded position (SPEC 9.3).
combo_verify() {
  local started=$EPOCHREALTIME post=$WORK/post.${C[name]}.json status=0
  banner verify
  run_tool --mode=verify --db-url="${C[url]}" "$(since_verify_flags)" >"$post" || status=$?
  C[verify_s]=$(elapsed "$started")
  ((status == 0)) || combo_fail "BackupSmoke --mode=verify failed (exit $status)"
  check_snapshot "$post" "BackupSmoke --mode=verify"
  if jq -e 'has("incremental")' "$post" >/dev/null; then
    say "$(tag "${C[name]}")incremental verify (SMOKE_SINCE): $(jq -r '.incremental | "from position \(.since_position), \(.rows_hashed) row(s) hashed; the earlier rows were trusted from the checkpoint, not re-hashed"' "$post")"
  fi
  C[restored_head]=$(jq -r .chain_head_hash "$post")
  cat -- "$post"
}

# The pre-backup expectation against the restored snapshot, judged by the
# tool (SPEC 7's four assertions, the SMOKE_SINCE checkpoint, the client's
# verdict and its agreement with the server's, the integrity machinery).
combo_assert() {
  local since=()
  banner assert
  [[ "${K[since.found]}" == 0 ]] || since=(--since="${K[SMOKE_SINCE]}")
  combo_ask --mode=judge --expect="$WORK/expected.json" --snapshot="$WORK/post.${C[name]}.json" \
    --workload-snapshot="$WORK/pre.json" ${since[@]+"${since[@]}"}
}

# Asks the tool for a verdict (--mode=judge or pitr-check with ARGS, SPEC
# 9.9) and acts on it: its lines are said; a failing verdict fails the
# combination with the tool's reason.
combo_ask() {
  local verdict=$WORK/verdict.${C[name]}.json status=0 line
  run_tool "$@" >"$verdict" || status=$?
  ((status == 0 || status == 3)) || combo_fail "BackupSmoke $1 failed (exit $status)"
  while IFS= read -r line; do
    say "$line"
  done < <(jq -r '.say[]' "$verdict")
  ((status == 0)) || combo_fail "$(jq -r .reason "$verdict")"
}

# The second oracle (smoke-oracle.sh): the restored database is captured
# before the continuity rows go in, and compared with the source's capture
# after continuity (whose finding, when both fail, is the more telling).
combo_oracle_capture() {
  local status=0
  oracle_capture "$ORACLE" "${C[url]}" "$WORK/oracle.${C[name]}" '' "${C[major]}" "$DUMP_MAJOR" || status=$?
  if ((status == 3)); then
    C[oracle]="skipped: $(oracle_skip_reason "$ORACLE" "${C[major]}" "$DUMP_MAJOR")"
    return 0
  fi
  ((status == 0)) || combo_fail "the oracle's capture of ${C[target]} failed"
  phys_oracle_after_replay "$ORACLE" "$WORK/oracle.source" "$WORK/oracle.${C[name]}"
  C[oracle]=captured
}

combo_oracle_compare() {
  local difference source=$WORK/oracle.source restored=$WORK/oracle.${C[name]}
  [[ "${C[oracle]}" == captured ]] || return 0 # skipped
  C[oracle]=differs
  if [[ "$ORACLE" == semantic ]]; then
    combo_ask --mode=judge --oracle-source="$source" --oracle-restored="$restored"
  elif ! difference=$(oracle_compare "$ORACLE" "$source" "$restored"); then
    combo_fail "$difference"
  fi
  C[oracle]=compared
}

# Continuity (SMOKE_APPEND_ROWS): rows appended after the restore must chain
# on from the restored head, which a restore that lost the trigger or the
# sentinel, or let the trigger rewrite hashes, cannot do. They carry the
# smoke run's own prefix, so an in-place rerun tells them from real rows.
combo_continuity() {
  local started=$EPOCHREALTIME after=$WORK/after.${C[name]}.json appended=0 verified=0
  ((APPEND_ROWS > 0)) || return 0
  banner continuity
  run_tool --mode=workload --db-url="${C[url]}" --migrations-path="$MIGRATIONS" \
    --rows="$APPEND_ROWS" --id-prefix="audit-smoke-${ID_TAG}continuity-" >/dev/null || appended=$?
  ((appended != 0)) || run_tool --mode=verify --db-url="${C[url]}" "$(since_verify_flags)" >"$after" ||
    verified=$?
  C[continuity_s]=$(elapsed "$started")
  ((appended == 0)) || combo_fail "continuity: appending $APPEND_ROWS rows to the restored database failed"
  ((verified == 0)) || combo_fail "continuity: verify after appending failed"
  combo_ask --mode=judge --expect="$WORK/expected.json" --continuity="$after" --appended="$APPEND_ROWS"
  say "$(tag "${C[name]}")continuity: $APPEND_ROWS rows appended, the chain goes on from the restored head"
}

# The combination's one result record: NUL-separated NAME=VALUE facts in
# FILE (WORK/combinations/NNN; no secret among them), which the tool turns
# into the JSON records of report.json, the summary and junit.xml
# (RunRecord.java).
combo_record() {
  local method=${C[method]} key
  {
    printf '%s=%s\0' name "${C[name]}" method "$method" target_major "${C[major]}" verdict "${C[verdict]}" \
      reason "${C[reason]}" target "${C[target]}" restored_chain_head "${C[restored_head]}" oracle "${C[oracle]}" \
      backup_sha256 "${BACKUP_SHA[$method]:-}" backup_bytes "${BACKUP_BYTES[$method]:-}" \
      seconds.backup "${BACKUP_S[$method]:-}" seconds.restore "${C[restore_s]}" seconds.verify "${C[verify_s]}" \
      seconds.continuity "${C[continuity_s]}"
    for key in "${!C[@]}"; do
      if [[ "$key" == evidence.* ]]; then
        printf '%s=%s\0' "$key" "${C[$key]}"
      fi
    done
  } >"$1"
}

# The summary table on stdout and, with SMOKE_REPORT_DIR, report.json and
# junit.xml, all made by the tool from the run record (combinations/ and
# run.facts in WORK); its exit status is the run's: 0 every combination
# passed, 3 one failed, 1 none ran. Prints the PASS line (the last line of
# stdout) on 0; otherwise ends the run with the tool's reason.
report_and_conclude() {
  local status=0 reason head
  [[ -z "$REPORT_DIR" ]] || write_run_facts
  gate_tool --mode=report --run-record="$WORK" ${REPORT_DIR:+--report-dir="$REPORT_DIR"} 2>"$WORK/report.err" ||
    status=$?
  [[ -z "$REPORT_DIR" || ! -f "$REPORT_DIR/report.json" ]] || say "reports: $REPORT_DIR/report.json, $REPORT_DIR/junit.xml"
  if ((status != 0)); then
    reason=$(tail -n 1 "$WORK/report.err")
    ((status != 3)) || fail_verdict "${reason#backupsmoke: }"
    fail "${reason#backupsmoke: }"
  fi
  head=$(jq -r '.chain_head_hash' "$WORK/expected.json")
  since_write_checkpoint
  printf 'PASS  rows=%s  chain_head=%s%s  verifier=clean\n' "$(jq -r .row_count "$WORK/expected.json")" "${head:0:16}" "$ELLIPSIS"
}

# What ran, where and with what: the facts the report's header is made of,
# NUL-separated NAME=VALUE entries in WORK/run.facts.
write_run_facts() {
  local commit java jbang
  commit=$(git -C "$REPO" rev-parse HEAD 2>/dev/null) || commit=''
  java=$(java -version 2>&1 | head -n 1) || java=''
  jbang=$("$REPO/deploy/bin/jbang" --version 2>&1 </dev/null | tail -n 1) || jbang=''
  printf '%s=%s\0' started_at "$STARTED_AT" finished_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" host "$(uname -n)" \
    repository_commit "$commit" tool "$(run_tool --version 2>/dev/null || true)" jbang "$jbang" java "$java" \
    pg_dump "$(pg_dump --version)" source_server "$(sql "$MAINT_DB" -c 'SHOW server_version')" \
    second_oracle "$(oracle_report_json "$ORACLE" "$WORK/oracle.source")" >"$WORK/run.facts"
}

server_major() {
  sql "$MAINT_DB" -c 'SHOW server_version_num' | awk '{ print int($1 / 10000) }'
}

main() {
  exec {DIAG_FD}>&2
  trap 'LAST_ERR="$BASH_COMMAND (exit $?)"' ERR
  trap cleanup EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP

  banner preflight
  preflight
  if [[ "${K[SMOKE_DRILL]}" == 1 ]]; then
    # A restore drill of an existing backup: no workload, no backup, no
    # database of ours on any server (smoke-drill.sh).
    drill_main "$WORK"
    return 0
  fi
  banner 'wait for server'
  if [[ "$SERVER" == throwaway ]]; then
    start_throwaway
  fi
  wait_for_server
  banner 'clean start'
  in_place_use "$TARGET_DB" "$MIGRATIONS" "$WORK" "${K[SMOKE_SINCE]}" "${K[since.found]}"
  if ((IN_PLACE)); then
    since_clean_start
  else
    create_scratch_db
  fi
  if ((PITR)); then
    plan_combinations
    phys_use "$WORK" "$TARGET_DB" "$(db_url "$TARGET_DB")" "$SOURCE_MAJOR"
    banner backup
    backup_all
    pitr_workloads
  else
    banner workload
    workload
    plan_combinations
    phys_use "$WORK" "$TARGET_DB" "$(db_url "$TARGET_DB")" "$SOURCE_MAJOR"
    banner backup
    backup_all
  fi
  banner wipe
  wipe
  judge_all
  banner report
  report_and_conclude
}

main "$@"
