#!/usr/bin/env bash
# Backup/restore smoke test (SPEC §7, §9.1): BackupSmoke writes a hash-chained
# audit log, pg_dump saves it, the database is wiped, pg_restore brings it
# back, and BackupSmoke's verify snapshot must match the workload snapshot.
#
# Where it runs:
#   - no server configured (neither PGHOST nor DATABASE_URL): a throwaway
#     cluster of its own, removed at exit whatever happens;
#   - a server configured: a scratch database it creates, wipes by dropping
#     and re-creating, and drops at exit; nothing else is touched;
#   - SMOKE_IN_PLACE=1: in PGDATABASE itself (the original behaviour): it is
#     reset, filled, dumped, wiped and restored there, and refused (nothing
#     changed) unless it holds only what the migrations create and at most
#     the audit rows of an earlier smoke run.
#
# Knobs: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE, DATABASE_URL (instead of
# PGHOST), SMOKE_ROWS (24), MIGRATIONS_PATH (<repo>/migrations),
# SMOKE_IN_PLACE (0), SMOKE_TOOL (a shell command run instead of
# deploy/bin/backupsmoke, the fast launcher of BackupSmoke.java; the
# arguments are appended),
# SMOKE_PG_BINDIR and SMOKE_PG_OS_USER (throwaway server, see pg-cluster.sh),
# SMOKE_TIMEOUT (the tool's --timeout, for large SMOKE_ROWS).
#
# stdout carries only the phase banners, the two snapshots and the final
# PASS line; diagnostics go to stderr. Any failure ends with
# "::error::backup-restore-smoke: REASON" on stderr and exit status 1.
set -Eeuo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-in-place.sh disable=SC1091
. "$REPO/deploy/lib/smoke-in-place.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-reports.sh disable=SC1091
. "$REPO/deploy/lib/smoke-reports.sh"

# U+2026 as UTF-8 bytes, so the PASS line does not depend on the locale.
readonly ELLIPSIS=$'\xe2\x80\xa6'

PHASE=setup         # the phase running, named in unexpected failures
LAST_ERR=''         # the last failing command, recorded by the ERR trap
REPORTED=0          # 1 once the ::error:: line is out
CHILD_PID=''        # a long-running client being waited for
WORK=''             # temporary work folder (snapshots, dump)
SERVER=''           # throwaway | url | pgvars
IN_PLACE=0
MAINT_DB=''         # database to connect to for CREATE/DROP DATABASE
TARGET_DB=''        # database the round trip runs in
SCRATCH_DBS=()      # databases this run created and must drop
KEEP_DUMP=0         # 1 while an in-place database is wiped but not restored
URL_QUERY=''        # query string (sslmode, ...) carried into every URL
ROWS=''
MIGRATIONS=''
METHODS=()          # backup methods (SMOKE_METHODS)
JOBS=2              # parallel jobs of the directory method (SMOKE_JOBS)
APPEND_ROWS=8       # rows appended after the restore (SMOKE_APPEND_ROWS)
REPORT_DIR=''       # where report.json and junit.xml go (SMOKE_REPORT_DIR)
MAJORS_WANTED=''    # target majors (SMOKE_TARGET_MAJORS); default: the source's
MAJORS=()           # the same, resolved once the source server is known
SOURCE_MAJOR=''     # major version of the source server
DUMP_MAJOR=''       # major version of the system pg_dump
COMBOS=()           # "METHOD MAJOR" of every combination, in order
WIPED_DB_FREE=1     # 1 until a combination has restored into the wiped source database
SNAPSHOT_ID=''      # the source snapshot every pg_dump of this run reads

say() {
  printf 'backup-restore-smoke: %s\n' "$*" >&2
}

# Failures and cleanup write to the stderr the script was started with
# (DIAG_FD, opened in main): a signal trap can run while a function's stderr
# is redirected to a file.
fail() {
  exec 2>&"$DIAG_FD"
  REPORTED=1
  printf '::error::backup-restore-smoke: %s\n' "$*" >&2
  exit 1
}

banner() {
  PHASE=$1
  printf '=== %s ===\n' "$1"
}

# --- cleanup -----------------------------------------------------------------

stop_child() {
  [[ -n "$CHILD_PID" ]] || return 0
  kill -TERM -- "-$CHILD_PID" 2>/dev/null || kill -TERM "$CHILD_PID" 2>/dev/null
  wait "$CHILD_PID" 2>/dev/null
  CHILD_PID=''
}

# Only the databases this run created; a throwaway server goes as a whole.
drop_scratch_db() {
  local name
  [[ "$SERVER" != throwaway ]] || return 0
  for name in ${SCRATCH_DBS[@]+"${SCRATCH_DBS[@]}"}; do
    sql "$MAINT_DB" -c 'SET client_min_messages = warning' \
      -c "DROP DATABASE IF EXISTS \"$name\"" ||
      say "warning: could not drop scratch database $name on $(server_label); drop it by hand"
  done
}

# An in-place database wiped but not restored lives on only in the dump, so
# the work folder is kept then and the way back is printed.
remove_work() {
  [[ -n "$WORK" ]] || return 0
  if ((KEEP_DUMP)); then
    say "database $TARGET_DB was wiped and not restored; its dump is kept:"
    say "  pg_restore --no-owner --no-acl --dbname='$(db_url "$TARGET_DB")' '$WORK/backup.dump'"
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
  abort_source_snapshot
  drop_scratch_db
  pgc_stop_all
  remove_work
  if ((rc != 0)); then
    exit 1
  fi
}

on_signal() {
  trap '' INT TERM HUP
  fail "interrupted by SIG$1 during $PHASE"
}

# Runs a client in the background, in a process group of its own (job
# control on just for the fork), and waits for it. A foreground child would
# hold INT/TERM handling back until it ended; this way the trap runs at once
# and stop_child can end the client together with anything it started
# (the JVM behind the jbang bootstrap, psql under a stand-in tool).
run_child() {
  local rc=0
  set -m
  "$@" </dev/null &
  CHILD_PID=$!
  set +m
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=''
  return "$rc"
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

# Prints a URL for database DB on the configured server. It never carries a
# password: the tool and libpq both take that from PGPASSWORD.
db_url() {
  local host=$PGHOST
  if [[ "$host" == *:* ]]; then
    host="[$host]"
  else
    host=$(url_encode "$host")
  fi
  printf 'postgres://%s@%s:%s/%s%s\n' "$(url_encode "$PGUSER")" "$host" "$PGPORT" \
    "$(url_encode "$1")" "${URL_QUERY:+?$URL_QUERY}"
}

# psql on database DB: no psqlrc, quiet, bare values, stop at the first error.
sql() {
  local db=$1
  shift
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$(db_url "$db")" "$@"
}

# Takes DATABASE_URL apart into PGHOST, PGPORT, PGUSER, PGPASSWORD and
# PGDATABASE, so that psql, pg_dump, pg_restore and the tool are all pointed
# at the server by db_url alone and the password travels only in the
# environment. Parts the URL leaves out keep their PG* value, as in libpq;
# other query parameters (sslmode, ...) are carried along untouched.
adopt_database_url() {
  local url=$1 rest authority userinfo='' host port='' db='' query param key value
  local params=() kept=()
  [[ "$url" =~ ^postgres(ql)?://(.*)$ ]] ||
    fail "DATABASE_URL must start with postgres:// or postgresql://"
  rest=${BASH_REMATCH[2]%%#*}
  [[ "$rest" =~ ^([^/?]*)(/([^?]*))?(\?(.*))?$ ]] || fail "DATABASE_URL cannot be parsed"
  authority=${BASH_REMATCH[1]}
  db=$(url_decode "${BASH_REMATCH[3]}")
  query=${BASH_REMATCH[5]}
  if [[ "$authority" == *@* ]]; then
    userinfo=${authority%@*}
    authority=${authority##*@}
  fi
  [[ "$authority" != *,* ]] || fail "DATABASE_URL with several hosts is not supported"
  if [[ "$authority" =~ ^\[([^]]*)\](:([0-9]*))?$ || "$authority" =~ ^([^:]*)(:([0-9]*))?$ ]]; then
    host=$(url_decode "${BASH_REMATCH[1]}")
    port=${BASH_REMATCH[3]}
  else
    fail "DATABASE_URL has a malformed host:port"
  fi
  if [[ -n "$userinfo" ]]; then
    export PGUSER
    PGUSER=$(url_decode "${userinfo%%:*}")
    if [[ "$userinfo" == *:* ]]; then
      export PGPASSWORD
      PGPASSWORD=$(url_decode "${userinfo#*:}")
    fi
  fi
  if [[ -n "$query" ]]; then
    IFS='&' read -r -a params <<<"$query"
    for param in "${params[@]}"; do
      key=$(url_decode "${param%%=*}")
      value=$(url_decode "${param#*=}")
      case "$key" in
        host) host=$value ;;
        port) port=$value ;;
        dbname) db=$value ;;
        user) export PGUSER=$value ;;
        password) export PGPASSWORD=$value ;;
        *) kept+=("$param") ;;
      esac
    done
  fi
  [[ -z "$host" ]] || export PGHOST=$host
  [[ -z "$port" ]] || export PGPORT=$port
  [[ -z "$db" ]] || export PGDATABASE=$db
  [[ -n "${PGHOST:-}" ]] || fail "DATABASE_URL names no host"
  URL_QUERY=$(
    IFS='&'
    printf '%s' "${kept[*]}"
  )
}

# Reads and checks SMOKE_ROWS, MIGRATIONS_PATH and SMOKE_IN_PLACE.
read_knobs() {
  ROWS=${SMOKE_ROWS:-24}
  [[ "$ROWS" =~ ^[0-9]+$ ]] || fail "SMOKE_ROWS must be a whole number, got '$ROWS'"
  MIGRATIONS=${MIGRATIONS_PATH:-$REPO/migrations}
  case "${SMOKE_IN_PLACE:-0}" in
    1) IN_PLACE=1 ;;
    0 | '') IN_PLACE=0 ;;
    *) fail "SMOKE_IN_PLACE must be 1 or 0, got '$SMOKE_IN_PLACE'" ;;
  esac
  read_method_knobs
}

# SMOKE_METHODS (custom), SMOKE_JOBS (2), SMOKE_APPEND_ROWS (8),
# SMOKE_REPORT_DIR, and for the command method SMOKE_BACKUP_CMD and
# SMOKE_RESTORE_CMD.
read_method_knobs() {
  local method
  IFS=',' read -r -a METHODS <<<"${SMOKE_METHODS:-custom}"
  ((${#METHODS[@]} > 0)) || fail "SMOKE_METHODS names no method"
  for method in "${METHODS[@]}"; do
    case "$method" in
      custom | directory | tar | plain | basebackup) ;;
      command)
        [[ -n "${SMOKE_BACKUP_CMD:-}" && -n "${SMOKE_RESTORE_CMD:-}" ]] ||
          fail "the command method needs SMOKE_BACKUP_CMD and SMOKE_RESTORE_CMD" ;;
      *) fail "unknown backup method '$method' in SMOKE_METHODS (custom, directory, tar, plain, basebackup, command)" ;;
    esac
  done
  ((IN_PLACE == 0 || ${#METHODS[@]} == 1)) || fail "SMOKE_IN_PLACE=1 runs one method only"
  JOBS=${SMOKE_JOBS:-2}
  [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || fail "SMOKE_JOBS must be a whole number from 1, got '$JOBS'"
  APPEND_ROWS=${SMOKE_APPEND_ROWS:-8}
  [[ "$APPEND_ROWS" =~ ^[0-9]+$ ]] || fail "SMOKE_APPEND_ROWS must be a whole number, got '$APPEND_ROWS'"
  MAJORS_WANTED=${SMOKE_TARGET_MAJORS:-}
  [[ "$MAJORS_WANTED" =~ ^([0-9]+(,[0-9]+)*)?$ ]] ||
    fail "SMOKE_TARGET_MAJORS must be a comma list of major versions, got '$MAJORS_WANTED'"
  REPORT_DIR=${SMOKE_REPORT_DIR:-}
  if [[ -n "$REPORT_DIR" ]]; then
    if ! mkdir -p -- "$REPORT_DIR" || [[ ! -w "$REPORT_DIR" ]]; then
      fail "SMOKE_REPORT_DIR $REPORT_DIR cannot be written"
    fi
  fi
}

# Decides where the round trip runs: a server named by DATABASE_URL or by
# PGHOST, or else a throwaway one (started later, in "wait for server").
choose_server() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    SERVER=url
    adopt_database_url "$DATABASE_URL"
    # From here on every client gets an explicit URL; nothing below should
    # fall back on the caller's database.
    unset DATABASE_URL
  elif [[ -n "${PGHOST:-}" ]]; then
    SERVER=pgvars
  else
    SERVER=throwaway
    return 0
  fi
  export PGPORT=${PGPORT:-5432}
  export PGUSER=${PGUSER:-$(id -un)}
  # Bounds every connection attempt, the cleanup's included.
  export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
  MAINT_DB=${PGDATABASE:-postgres}
  if ((IN_PLACE)); then
    [[ -n "${PGDATABASE:-}" ]] ||
      fail "SMOKE_IN_PLACE=1 needs PGDATABASE (or a database in DATABASE_URL): the database to test in place"
    TARGET_DB=$PGDATABASE
  fi
}

# --- phases ----------------------------------------------------------------------

preflight() {
  local tool missing=()
  for tool in pg_dump pg_restore psql pg_isready jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || fail "not on PATH: ${missing[*]}"
  read_knobs
  choose_server
  [[ -d "$MIGRATIONS" ]] || fail "migrations folder not found: $MIGRATIONS"
  MIGRATIONS=$(cd -- "$MIGRATIONS" && pwd -P)
  if [[ -z "${SMOKE_TOOL:-}" && ! -f "$REPO/BackupSmoke.java" ]]; then
    fail "tool not found: $REPO/BackupSmoke.java"
  fi
  if [[ "$SERVER" == throwaway ]]; then
    pgc_bindir >/dev/null || fail "no server configured (PGHOST or DATABASE_URL) and no PostgreSQL server binaries to start a throwaway one"
  fi
  local made
  made=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke.XXXXXXXX" 2>&1) ||
    fail "cannot create a work folder in ${TMPDIR:-/tmp} for the snapshots and the backup: ${made##*: }"
  WORK=$made
  say "server: $SERVER; in place: $IN_PLACE; rows: $ROWS; migrations: $MIGRATIONS"
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
}

# pg_isready waits for the server to accept connections; one psql login
# then checks the credentials, so a wrong password fails at once instead of
# being retried for a minute.
wait_for_server() {
  local deadline=$((SECONDS + 60)) status
  until status=$(pg_isready -d "$(db_url "$MAINT_DB")" -t 5 2>&1); do
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

# A database of our own to run in. Its name is recorded before CREATE, so an
# interrupt during CREATE still drops it; it was checked to be free just
# before, so the drop can only ever hit what this run made.
create_scratch_db() {
  new_scratch_db
  TARGET_DB=$NEW_DB
}

# Creates an empty database of this run's own and names it in NEW_DB.
new_scratch_db() {
  local name taken
  name="backupsmoke_$(random_hex)"
  taken=$(sql "$MAINT_DB" -c "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
    fail "cannot list databases on $(server_label)"
  [[ -z "$taken" ]] || fail "database $name exists already; run again"
  SCRATCH_DBS+=("$name")
  sql "$MAINT_DB" -c "CREATE DATABASE \"$name\" TEMPLATE template0" ||
    fail "cannot create scratch database $name on $(server_label) (does $PGUSER have CREATEDB?)"
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
confirm_no_tables() {
  local db=$1 count
  count=$(sql "$db" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%'") || fail "cannot count tables in $db"
  [[ "$count" == 0 ]] || fail "wipe left $count table(s) in $db"
  say "confirmed: no tables in $db"
}

# Runs BackupSmoke with ARGS. SMOKE_TOOL, when set, is a shell command line
# (quotes allowed) to which the arguments are appended.
run_tool() {
  # SMOKE_TIMEOUT raises the tool's bound on one call (2 minutes by default).
  if [[ -n "${SMOKE_TIMEOUT:-}" ]]; then
    set -- "$@" --timeout="$SMOKE_TIMEOUT"
  fi
  if [[ -n "${SMOKE_TOOL:-}" ]]; then
    run_child bash -c "$SMOKE_TOOL"' "$@"' backupsmoke "$@"
  else
    # JBang resolves the tool once; the calls run the cached application directly.
    run_child "$REPO/deploy/bin/backupsmoke" "$@"
  fi
}

# A snapshot must be exactly one JSON object with the section-3 basics, or
# the comparisons below would compare nothing.
check_snapshot() {
  local file=$1 what=$2
  if ! jq -s -e 'length == 1 and (.[0] | type == "object"
        and (.row_count | type) == "number"
        and (.chain_head_hash | type) == "string")' "$file" >/dev/null 2>&1; then
    say "$what output was:"
    cat -- "$file" >&2
    fail "$what did not print one JSON snapshot with row_count and chain_head_hash"
  fi
}

workload() {
  run_tool --mode=workload --db-url="$(db_url "$TARGET_DB")" \
    --migrations-path="$MIGRATIONS" --rows="$ROWS" >"$WORK/pre.json" ||
    fail "BackupSmoke --mode=workload failed (exit $?)"
  check_snapshot "$WORK/pre.json" "BackupSmoke --mode=workload"
  cat -- "$WORK/pre.json"
}

# --- backup methods ----------------------------------------------------------

# Where the backup of METHOD lives in the work folder.
backup_path() {
  case "$1" in
    custom) printf '%s/backup.dump' "$WORK" ;;
    directory) printf '%s/backup.dir' "$WORK" ;;
    tar) printf '%s/backup.tar' "$WORK" ;;
    plain) printf '%s/backup.sql' "$WORK" ;;
    command) printf '%s/backup.command' "$WORK" ;;
    basebackup) printf '%s/backup.basebackup' "$WORK" ;;
  esac
}

# Takes the backup of METHOD from the source database. The command method
# runs the operator's SMOKE_BACKUP_CMD with bash, an empty SMOKE_BACKUP_DIR
# and SMOKE_SOURCE_URL (the password stays in PGPASSWORD).
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
        SMOKE_BACKUP_DIR=$path SMOKE_SOURCE_URL=$url run_child bash -c "$SMOKE_BACKUP_CMD" ;;
    basebackup)
      # A physical copy of the whole cluster, with the WAL to make it consistent.
      run_child pg_basebackup --pgdata="$path" --wal-method=stream --checkpoint=fast --no-password ;;
  esac
}

# Restores the backup of METHOD into the empty database DB; every restore
# must stop at its first error (SPEC 7, and no "errors ignored").
restore_with() {
  local method=$1 db=$2 path url
  path=$(backup_path "$method")
  url=$(db_url "$db")
  case "$method" in
    custom | tar)
      run_child pg_restore --no-owner --no-acl --exit-on-error --dbname="$url" "$path" ;;
    directory)
      run_child pg_restore --jobs="$JOBS" --no-owner --no-acl --exit-on-error --dbname="$url" "$path" ;;
    plain)
      run_child psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$url" -f "$path" >/dev/null ;;
    command)
      SMOKE_BACKUP_DIR=$path SMOKE_TARGET_URL=$url run_child bash -c "$SMOKE_RESTORE_CMD" ;;
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

backup_bytes() {
  du -sb -- "$1" | cut -f1
}

# A plain dump for the second oracle: source and restored database must dump
# the same (same binary, same flags), once the lines that differ by design
# (the random \restrict key, the version banner) are set aside. Extra
# arguments go to pg_dump (the source's snapshot).
oracle_dump() {
  pg_dump --format=plain --no-owner --no-acl --dbname="$(db_url "$1")" "${@:3}" |
    grep -v -E '^(\\(un)?restrict |-- Dumped (from|by) )' >"$2"
}

# Seconds since START (an $EPOCHREALTIME reading), with two decimals.
elapsed() {
  awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.2f", now - start }'
}

# Opens a session on the source that exports its snapshot and keeps it
# open: the pg_dump backups, the oracle dump and the expected row count and
# chain head are all read in that one snapshot, so writes racing the backup
# cannot make the comparison flaky. The expectation goes to expected.json.
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

# Takes every method's backup from the same source, and the oracle dump.
backup() {
  local method started size
  open_source_snapshot
  for method in "${METHODS[@]}"; do
    started=$EPOCHREALTIME
    if [[ "$method" == basebackup && "$SERVER" != throwaway ]]; then
      say "basebackup: skipped: a physical backup is only taken of the throwaway cluster"
      printf '0\t\t0\n' >"$WORK/backup.$method.facts"
      continue
    fi
    local status=0
    backup_with "$method" || status=$?
    ((status == 0)) || fail "$(tag "$method")backup of $TARGET_DB failed (exit $status)"
    size=0
    if [[ -n "$(find "$(backup_path "$method")" -type f -size +0 -print -quit 2>/dev/null)" ]]; then
      size=$(backup_bytes "$(backup_path "$method")")
    fi
    ((size > 0)) || fail "$(tag "$method")$(backup_tool "$method") left an empty or no backup file"
    printf '%s\t%s\t%s\n' "$(elapsed "$started")" "$(backup_sha256 "$(backup_path "$method")")" "$size" \
      >"$WORK/backup.$method.facts"
    say "$(tag "$method")backup: $size bytes"
  done
  oracle_dump "$TARGET_DB" "$WORK/oracle.source.sql" --snapshot="$SNAPSHOT_ID" ||
    fail "pg_dump of the source for the oracle failed"
  close_source_snapshot
}

wipe() {
  if ((IN_PLACE)); then
    # A throwaway server goes at exit anyway; a real one keeps its dump.
    [[ "$SERVER" == throwaway ]] || KEEP_DUMP=1
    wipe_in_place
  else
    wipe_scratch_db
  fi
  confirm_no_tables "$TARGET_DB"
}

# --- restore, verify and judge each method ---------------------------------

# One combination's failure: the ::error:: line now, the gate fails at the
# end. NAME is the combination (METHOD-pgMAJOR).
combo_fail() {
  local name=$1 reason=$2
  printf '::error::backup-restore-smoke: %s%s\n' "$(tag "$name")" "$reason" >&2
  printf '%s' "$reason" >"$WORK/result.$name.reason"
  return 1
}

# "[NAME] " in front of messages when several combinations run, else nothing.
tag() {
  if ((${#COMBOS[@]} > 1 || ${#METHODS[@]} > 1)); then
    printf '[%s] ' "$1"
  fi
}

# What takes the backup of METHOD, for messages.
backup_tool() {
  if [[ "$1" == command ]]; then
    printf 'SMOKE_BACKUP_CMD'
  else
    printf 'pg_dump'
  fi
}

# Restores, verifies, checks the oracle and continuity for combination NAME
# (METHOD into database DB on the server PG* name), recording phase times.
# Returns 1 on failure (already reported).
run_combination() {
  local name=$1 method=$2 db=$3 major=$4 started restore_s verify_s continuity_s oracle=compared
  started=$EPOCHREALTIME
  banner restore
  if [[ "$method" != basebackup ]]; then
    say "$(tag "$name")restoring into $db on $(server_label)"
    restore_with "$method" "$db" || combo_fail "$name" "restore into $db failed (exit $?)" || return 1
  fi
  restore_s=$(elapsed "$started")
  banner verify
  started=$EPOCHREALTIME
  verify_into "$name" "$db" || return 1
  verify_s=$(elapsed "$started")
  banner assert
  assert_round_trip "$name" "$WORK/expected.json" "$WORK/post.$name.json" || return 1
  # The oracle dump is taken before the continuity rows go in, and compared after.
  if ((major > DUMP_MAJOR)); then
    oracle="skipped: pg_dump $DUMP_MAJOR cannot dump a server of major $major"
  else
    oracle_dump "$db" "$WORK/oracle.$name.sql" || combo_fail "$name" "pg_dump of $db for the oracle failed" || return 1
  fi
  started=$EPOCHREALTIME
  check_continuity "$name" "$db" || return 1
  continuity_s=$(elapsed "$started")
  if [[ "$oracle" == compared ]] && ! cmp -s "$WORK/oracle.source.sql" "$WORK/oracle.$name.sql"; then
    combo_fail "$name" "the restored database does not dump like the source: $(diff "$WORK/oracle.source.sql" "$WORK/oracle.$name.sql" | grep -m1 -E '^[<>]' | cut -c1-160)" ||
      return 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$restore_s" "$verify_s" "$continuity_s" \
    "$(jq -r .chain_head_hash "$WORK/post.$name.json")" "$oracle" >"$WORK/result.$name.times"
}

# The pre-backup snapshot is the anchor: the restored chain must still hold
# the recorded head at the recorded position (SPEC 9.3).
verify_into() {
  local name=$1 db=$2 post=$WORK/post.$1.json
  run_tool --mode=verify --db-url="$(db_url "$db")" --expect="$WORK/expected.json" >"$post" ||
    combo_fail "$name" "BackupSmoke --mode=verify failed (exit $?)" || return 1
  check_snapshot "$post" "BackupSmoke --mode=verify"
  cat -- "$post"
}

# Continuity (SMOKE_APPEND_ROWS): rows appended after the restore must chain
# on from the restored head, which a restore that lost the trigger or the
# sentinel, or let the trigger rewrite hashes, cannot do.
check_continuity() {
  local name=$1 db=$2 after=$WORK/after.$1.json expected
  ((APPEND_ROWS > 0)) || return 0
  run_tool --mode=workload --db-url="$(db_url "$db")" --migrations-path="$MIGRATIONS" \
    --rows="$APPEND_ROWS" --id-prefix=continuity- >/dev/null ||
    combo_fail "$name" "continuity: appending $APPEND_ROWS rows to the restored database failed" || return 1
  run_tool --mode=verify --db-url="$(db_url "$db")" --expect="$WORK/expected.json" >"$after" ||
    combo_fail "$name" "continuity: verify after appending failed" || return 1
  expected=$(($(jq -r .row_count "$WORK/expected.json") + APPEND_ROWS))
  jq -e --argjson rows "$expected" '.row_count == $rows and (.first_break_id // "") == ""
      and .verifier_walked == $rows and (.client.verdict // "clean") == "clean"' "$after" >/dev/null ||
    combo_fail "$name" "continuity: after appending $APPEND_ROWS rows the chain does not verify: $(jq -c '{row_count, first_break_id, verifier_walked, client: .client.break_kind}' "$after")" ||
    return 1
  say "$(tag "$name")continuity: $APPEND_ROWS rows appended, the chain goes on from the restored head"
}

# SPEC 7's four assertions, then the client's verdict and the integrity
# machinery. Returns 1 on the first that fails (already reported).
assert_round_trip() {
  local name=$1 pre=$2 post=$3 rows post_rows broken walked
  rows=$(jq -r '.row_count' "$pre")
  post_rows=$(jq -r '.row_count' "$post")
  [[ "$rows" == "$post_rows" ]] || combo_fail "$name" "row_count differs: pre=$rows post=$post_rows" || return 1
  # Compared inside jq: byte-exact, no newline trimming by the shell.
  jq -n -e --slurpfile a "$pre" --slurpfile b "$post" \
    '$a[0].chain_head_hash == $b[0].chain_head_hash' >/dev/null ||
    combo_fail "$name" "chain_head_hash differs: pre=$(jq -c '.chain_head_hash' "$pre") post=$(jq -c '.chain_head_hash' "$post")" ||
    return 1
  broken=$(jq -r '.first_break_id // ""' "$post")
  [[ -z "$broken" ]] ||
    combo_fail "$name" "verifier reports a break at first_break_id=$broken first_break_pos=$(jq -r '.first_break_pos' "$post")" ||
    return 1
  walked=$(jq -r '.verifier_walked // 0' "$post")
  [[ "$walked" == "$rows" ]] || combo_fail "$name" "verifier walked $walked rows, expected $rows" || return 1
  assert_client_verdict "$name" "$post" || return 1
  assert_same_machinery "$name" "$WORK/pre.json" "$post" || return 1
}

# The client recomputes every hash and follows the links (SPEC 9.2): its
# verdict must be clean, and it must agree with the server's verifier.
assert_client_verdict() {
  local name=$1 post=$2 verdict
  if ! jq -e 'has("client")' "$post" >/dev/null; then
    say "warning: the verify snapshot has no client verdict; only the server's verifier was checked"
    return 0
  fi
  verdict=$(jq -r '.client.verdict' "$post")
  [[ "$verdict" == clean ]] ||
    combo_fail "$name" "client verification: $(jq -r '.client | "\(.break_kind) at \(.first_break_id // "-") position \(.first_break_pos // "-")"' "$post")" ||
    return 1
  jq -e '.client.agrees_with_server' "$post" >/dev/null ||
    combo_fail "$name" "client and server verifiers disagree: client clean, server $(jq -r '.first_break_id // "clean"' "$post")"
}

# The triggers and the verifier function must come back as they were:
# enabled, with the same definitions and pinned settings. Names each entry
# of the fingerprint that differs.
assert_same_machinery() {
  local name=$1 pre=$2 post=$3 changed
  changed=$(jq -n -r --slurpfile a "$pre" --slurpfile b "$post" '
      ($a[0].integrity // {}) as $before | ($b[0].integrity // {}) as $after
      | [($before + $after) | keys[] | select($before[.] != $after[.])
         | "\(.): \($before[.] // "absent") -> \($after[.] // "absent")"]
      | join("; ")')
  [[ -z "$changed" ]] || combo_fail "$name" "integrity machinery changed by the restore: $changed"
}

# Every combination of method and target major, in order.
plan_combinations() {
  local major method
  SOURCE_MAJOR=$(server_major) || fail "cannot read the server version of $(server_label)"
  DUMP_MAJOR=$(pg_dump --version | grep -oE '[0-9]+' | head -n 1) || true
  [[ "$DUMP_MAJOR" =~ ^[0-9]+$ ]] || fail "cannot tell the version of pg_dump from 'pg_dump --version'"
  # pg_dump refuses servers newer than itself: say so before anything runs.
  ((SOURCE_MAJOR <= DUMP_MAJOR)) ||
    fail "pg_dump $DUMP_MAJOR cannot dump a server of major $SOURCE_MAJOR (newer than itself): install pg_dump $SOURCE_MAJOR or newer"
  IFS=',' read -r -a MAJORS <<<"${MAJORS_WANTED:-$SOURCE_MAJOR}"
  for major in "${MAJORS[@]}"; do
    ((major >= SOURCE_MAJOR)) ||
      fail "SMOKE_TARGET_MAJORS: $major is older than the source server ($SOURCE_MAJOR); restores go to the same or newer majors"
    for method in "${METHODS[@]}"; do
      COMBOS+=("$method $major")
    done
  done
}

# Restores and judges every combination. The first one on the source's
# major restores into the wiped source database (SPEC 7); the others into
# new empty databases, on the source server or on a throwaway cluster of
# the target major. Failures are recorded; the gate is decided at the end.
restore_and_judge_all() {
  local combo method major
  for combo in "${COMBOS[@]}"; do
    read -r method major <<<"$combo"
    judge "$method" "$major"
  done
}

judge() {
  local method=$1 major=$2 name=$1-pg$2
  if [[ "$method" == basebackup && "$major" != "$SOURCE_MAJOR" ]]; then
    skip "$name" "a physical backup only starts under its own major ($SOURCE_MAJOR)"
  elif [[ "$method" == basebackup && "$SERVER" != throwaway ]]; then
    skip "$name" "a physical backup is only taken of the throwaway cluster"
  elif [[ "$method" == basebackup ]]; then
    judge_on_copy "$name" "$major"
  elif [[ "$major" == "$SOURCE_MAJOR" ]]; then
    judge_on_source "$name" "$method" "$major"
  else
    judge_on_major "$name" "$method" "$major"
  fi
}

skip() {
  say "$(tag "$1")skipped: $2"
  printf '%s' "$2" >"$WORK/result.$1.skipped"
}

# Runs run_combination in a subshell pointed at another server, so the PG*
# settings of the source stay as they are; a failure that ended the
# subshell without its own reason is recorded as such.
judge_in() {
  local name=$1
  shift
  (
    set -Eeuo pipefail
    "$@"
  ) || [[ -f "$WORK/result.$name.reason" ]] || printf 'failed (see the error above)' >"$WORK/result.$name.reason"
}

judge_on_source() {
  local name=$1 method=$2 major=$3 db
  if ((WIPED_DB_FREE)); then
    db=$TARGET_DB
    WIPED_DB_FREE=0
    judge_in "$name" run_combination "$name" "$method" "$db" "$major"
    KEEP_DUMP=0
  else
    judge_in "$name" restore_into_new_db "$name" "$method" "$major"
  fi
}

restore_into_new_db() {
  local name=$1 method=$2 major=$3
  new_scratch_db
  confirm_no_tables "$NEW_DB"
  run_combination "$name" "$method" "$NEW_DB" "$major"
}

# A throwaway cluster of the target major, started once and reused.
judge_on_major() {
  local name=$1 method=$2 major=$3 port_var=MAJOR_PORT_$3
  if [[ -z "${!port_var:-}" ]]; then
    say "starting a throwaway PostgreSQL $major cluster for the restores"
    if pgc_start_major "$major"; then
      printf -v "$port_var" '%s' "$PGC_PORT"
    else
      printf -v "$port_var" 'none'
    fi
  fi
  if [[ "${!port_var}" == none ]]; then
    combo_fail "$name" "cannot start a PostgreSQL $major server to restore into" || return 0
  fi
  judge_in "$name" on_throwaway "${!port_var}" restore_into_new_db "$name" "$method" "$major"
}

# A physical backup comes back as a cluster of its own on another port.
judge_on_copy() {
  local name=$1 major=$2
  say "$(tag "$name")starting the base backup as a cluster of its own"
  if ! pgc_start_copy "$(backup_path basebackup)" "$(pgc_bindir)"; then
    combo_fail "$name" "the base backup does not start as a cluster" || return 0
  fi
  judge_in "$name" on_throwaway "$PGC_PORT" run_combination "$name" basebackup "$TARGET_DB" "$major"
}

# Runs a command with the PG* settings of the throwaway cluster on PORT.
on_throwaway() {
  export PGHOST=127.0.0.1 PGPORT=$1 PGUSER=postgres
  unset PGPASSWORD
  URL_QUERY=sslmode=disable
  MAINT_DB=postgres
  shift
  "$@"
}

# The PASS line (the last line of stdout) when every combination that could
# run passed.
conclude() {
  local failed head combo method major passed=0
  failed=$(find "$WORK" -maxdepth 1 -name 'result.*.reason' | wc -l)
  ((failed == 0)) || fail "$failed of ${#COMBOS[@]} combination(s) failed"
  for combo in "${COMBOS[@]}"; do
    read -r method major <<<"$combo"
    [[ -f "$WORK/result.$method-pg$major.skipped" ]] || passed=$((passed + 1))
  done
  ((passed > 0)) || fail "no combination could run: every one was skipped"
  head=$(jq -r '.chain_head_hash' "$WORK/expected.json")
  printf 'PASS  rows=%s  chain_head=%s%s  verifier=clean\n' "$(jq -r .row_count "$WORK/expected.json")" "${head:0:16}" "$ELLIPSIS"
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
  banner 'wait for server'
  if [[ "$SERVER" == throwaway ]]; then
    start_throwaway
  fi
  wait_for_server
  banner 'clean start'
  if ((IN_PLACE)); then
    clean_in_place
  else
    create_scratch_db
  fi
  banner workload
  workload
  plan_combinations
  banner backup
  backup
  banner wipe
  wipe
  restore_and_judge_all
  write_reports
  conclude
}

main "$@"
