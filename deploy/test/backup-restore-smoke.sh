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
SCRATCH_DB=''       # database this run created and must drop
KEEP_DUMP=0         # 1 while an in-place database is wiped but not restored
URL_QUERY=''        # query string (sslmode, ...) carried into every URL
ROWS=''
MIGRATIONS=''

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

# Only the database this run created; a throwaway server goes as a whole.
drop_scratch_db() {
  [[ -n "$SCRATCH_DB" && "$SERVER" != throwaway ]] || return 0
  sql "$MAINT_DB" -c 'SET client_min_messages = warning' \
    -c "DROP DATABASE IF EXISTS \"$SCRATCH_DB\"" ||
    say "warning: could not drop scratch database $SCRATCH_DB on $(server_label); drop it by hand"
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
  local name taken
  name="backupsmoke_$(random_hex)"
  taken=$(sql "$MAINT_DB" -c "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
    fail "cannot list databases on $(server_label)"
  [[ -z "$taken" ]] || fail "database $name exists already; run again"
  SCRATCH_DB=$name
  sql "$MAINT_DB" -c "CREATE DATABASE \"$name\" TEMPLATE template0" ||
    fail "cannot create scratch database $name on $(server_label) (does $PGUSER have CREATEDB?)"
  TARGET_DB=$name
  say "scratch database $name created"
}

# Prints "KIND NAME" for every object the up-migrations create: KIND is
# table, relation (view, sequence), routine (function, procedure) or type
# (type, domain); NAME is lower-cased unless quoted, schema kept when given.
# Line comments go and lines are joined first, so that a name on the line
# after CREATE TABLE is still found.
declared_objects() {
  local file create_re
  create_re='create[[:space:]]+(or[[:space:]]+replace[[:space:]]+)?((unlogged|temporary|temp|materialized)[[:space:]]+)?(table|view|sequence|function|procedure|type|domain)[[:space:]]+(if[[:space:]]+not[[:space:]]+exists[[:space:]]+)?(("[^" ]+"|[[:alnum:]_$]+)\.)?("[^" ]+"|[[:alnum:]_$]+)'
  printf 'table schema_migrations\n' # the tool's own ledger (SPEC §5)
  for file in "$MIGRATIONS"/*.up.sql; do
    if [[ -f "$file" ]]; then
      sed 's/--.*$//' "$file"
      printf '\n'
    fi
  done | tr '\n\r\t' '   ' | { grep -oiE "$create_re" || true; } | awk '
    {
      kind = ""
      for (i = 2; i < NF && kind == ""; i++) {
        w = tolower($i)
        if (w == "table") kind = "table"
        else if (w == "view" || w == "sequence") kind = "relation"
        else if (w == "function" || w == "procedure") kind = "routine"
        else if (w == "type" || w == "domain") kind = "type"
      }
      n = split($NF, part, ".")
      name = ""
      for (j = 1; j <= n; j++) {
        p = part[j]
        if (p ~ /^"/) p = substr(p, 2, length(p) - 2); else p = tolower(p)
        name = name (j > 1 ? "." : "") p
      }
      print kind, name
    }' | sort -u
}

# Writes SQL defining the temporary view smoke_objects: the database's own
# objects outside the system schemas and extensions (tables, views,
# sequences not owned by a column, routines, types), each with its DROP
# statement and whether the migrations declare it (psql variable :declared,
# the output of declared_objects).
write_objects_view() {
  cat <<'SQL'
SET client_min_messages = warning;
CREATE TEMP VIEW smoke_objects AS
WITH declared(kind, name) AS (
  SELECT split_part(line, ' ', 1), split_part(line, ' ', 2)
    FROM unnest(string_to_array(:'declared', E'\n')) AS line
   WHERE line <> ''
), objects(ord, kind, sch, name, label, drop_cmd) AS (
  SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 1 ELSE 2 END,
         CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' ELSE 'relation' END,
         n.nspname::text, c.relname::text,
         format('%I.%I', n.nspname, c.relname),
         format('DROP %s IF EXISTS %I.%I CASCADE',
                CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                               WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                               ELSE 'TABLE' END,
                n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND (d.deptype = 'e'
                             OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
  UNION ALL
  SELECT 3, 'routine', n.nspname::text, p.proname::text,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         format('DROP %s IF EXISTS %I.%I(%s) CASCADE',
                CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                               ELSE 'FUNCTION' END,
                n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
  UNION ALL
  SELECT 4, 'type', n.nspname::text, t.typname::text,
         format('%I.%I', n.nspname, t.typname),
         format('DROP %s IF EXISTS %I.%I CASCADE',
                CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                n.nspname, t.typname)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
     AND t.typcategory <> 'A'
     AND (t.typrelid = 0
          OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                        AND d.deptype = 'e')
)
SELECT o.ord, o.kind, o.label, o.drop_cmd,
       EXISTS (SELECT 1 FROM declared k
                WHERE k.kind = o.kind AND k.name IN (o.name, o.sch || '.' || o.name)) AS declared
  FROM objects o
 WHERE o.sch NOT IN ('pg_catalog', 'information_schema')
   AND o.sch NOT LIKE 'pg\_%';
SQL
}

# Runs an objects-view query file on the target database.
objects_query() {
  sql "$TARGET_DB" -v declared="$(declared_objects)" -f "$1"
}

# In place, the run would wipe the target database; it refuses, changing
# nothing, when the database holds anything the migrations do not create.
# Foreign tables hold data the wipe must not take; any other foreign object
# would survive the wipe and make pg_restore fail on "already exists".
refuse_foreign_objects() {
  local foreign
  {
    write_objects_view
    printf '%s\n' "SELECT coalesce(string_agg(kind || ' ' || label, ', ' ORDER BY ord, label), '') FROM smoke_objects WHERE NOT declared;"
  } >"$WORK/foreign.sql"
  foreign=$(objects_query "$WORK/foreign.sql") ||
    fail "cannot inspect database $TARGET_DB on $(server_label)"
  [[ -z "$foreign" ]] ||
    fail "SMOKE_IN_PLACE=1 refused: database $TARGET_DB holds objects the migrations in $MIGRATIONS do not create: $foreign"
  say "in place: database $TARGET_DB holds only what the migrations create"
}

# The workload's row ids are fixed (SPEC §4), so an in-place run starts from
# an empty log. Rows of an earlier smoke run (audit-smoke-NNNN) may go with
# it; any other audit row is somebody's data, and the run refuses.
refuse_foreign_audit_rows() {
  local present foreign
  present=$(sql "$TARGET_DB" -c "SELECT to_regclass('audit_events') IS NOT NULL") ||
    fail "cannot inspect database $TARGET_DB on $(server_label)"
  [[ "$present" == t ]] || return 0
  foreign=$(sql "$TARGET_DB" -c "SELECT count(*) FROM audit_events WHERE id !~ '^audit-smoke-[0-9]{4,}\$'") ||
    fail "cannot read audit_events in $TARGET_DB"
  [[ "$foreign" == 0 ]] ||
    fail "SMOKE_IN_PLACE=1 refused: audit_events in $TARGET_DB holds $foreign row(s) not written by this smoke test"
}

# In place, the clean start empties the database of the migrations' objects
# (refusing first when anything else is there), like the original harness.
clean_in_place() {
  refuse_foreign_objects
  refuse_foreign_audit_rows
  wipe_in_place
  say "in place: database $TARGET_DB reset"
}

# The in-place wipe drops, in one transaction, exactly the objects the
# migrations declare (tables first; CASCADE takes what they own: indexes,
# triggers, constraints, owned sequences) plus the functions and types they
# declare, which pg_restore would otherwise trip over. Extensions stay: the
# dump re-creates them with IF NOT EXISTS. refuse_foreign_objects has made
# sure nothing else is there, so this amounts to emptying the schema of the
# migrations' objects and nothing more.
wipe_in_place() {
  {
    write_objects_view
    printf '%s\n' 'SELECT drop_cmd FROM smoke_objects WHERE declared ORDER BY ord, label \gexec'
  } >"$WORK/wipe.sql"
  objects_query "$WORK/wipe.sql" -1 >&2 || fail "wiping database $TARGET_DB in place failed"
}

# Drop and re-create from template0: nothing of the workload can survive.
wipe_scratch_db() {
  sql "$MAINT_DB" -c "DROP DATABASE \"$TARGET_DB\"" \
    -c "CREATE DATABASE \"$TARGET_DB\" TEMPLATE template0" ||
    fail "dropping and re-creating scratch database $TARGET_DB failed"
}

# The wipe is only proven by looking: a no-op wipe must not fake a pass.
confirm_no_tables() {
  local count
  count=$(sql "$TARGET_DB" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%'") || fail "cannot count tables in $TARGET_DB after the wipe"
  [[ "$count" == 0 ]] || fail "wipe left $count table(s) in $TARGET_DB"
  say "wipe confirmed: no tables left in $TARGET_DB"
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

backup() {
  run_child pg_dump --format=custom --no-owner --no-acl \
    --file="$WORK/backup.dump" --dbname="$(db_url "$TARGET_DB")" ||
    fail "pg_dump of $TARGET_DB failed (exit $?)"
  [[ -s "$WORK/backup.dump" ]] || fail "pg_dump left an empty or no backup file"
  say "backup: $(wc -c <"$WORK/backup.dump") bytes"
}

wipe() {
  if ((IN_PLACE)); then
    # A throwaway server goes at exit anyway; a real one keeps its dump.
    [[ "$SERVER" == throwaway ]] || KEEP_DUMP=1
    wipe_in_place
  else
    wipe_scratch_db
  fi
  confirm_no_tables
}

restore() {
  run_child pg_restore --no-owner --no-acl --exit-on-error \
    --dbname="$(db_url "$TARGET_DB")" "$WORK/backup.dump" ||
    fail "pg_restore into $TARGET_DB failed (exit $?)"
  KEEP_DUMP=0
}

# The pre-backup snapshot is the anchor: the restored chain must still hold
# the recorded head at the recorded position (SPEC 9.3).
verify() {
  run_tool --mode=verify --db-url="$(db_url "$TARGET_DB")" --expect="$WORK/pre.json" >"$WORK/post.json" ||
    fail "BackupSmoke --mode=verify failed (exit $?)"
  check_snapshot "$WORK/post.json" "BackupSmoke --mode=verify"
  cat -- "$WORK/post.json"
}

# SPEC §7's four assertions, then the client's verdict and the integrity
# machinery, then the PASS line (the last line of stdout).
assert_round_trip() {
  local pre=$WORK/pre.json post=$WORK/post.json rows post_rows head broken walked
  rows=$(jq -r '.row_count' "$pre")
  post_rows=$(jq -r '.row_count' "$post")
  [[ "$rows" == "$post_rows" ]] || fail "row_count differs: pre=$rows post=$post_rows"
  # Compared inside jq: byte-exact, no newline trimming by the shell.
  jq -n -e --slurpfile a "$pre" --slurpfile b "$post" \
    '$a[0].chain_head_hash == $b[0].chain_head_hash' >/dev/null ||
    fail "chain_head_hash differs: pre=$(jq -c '.chain_head_hash' "$pre") post=$(jq -c '.chain_head_hash' "$post")"
  broken=$(jq -r '.first_break_id // ""' "$post")
  [[ -z "$broken" ]] ||
    fail "verifier reports a break at first_break_id=$broken first_break_pos=$(jq -r '.first_break_pos' "$post")"
  walked=$(jq -r '.verifier_walked // 0' "$post")
  [[ "$walked" == "$rows" ]] || fail "verifier walked $walked rows, expected $rows"
  assert_client_verdict "$post"
  assert_same_machinery "$pre" "$post"
  head=$(jq -r '.chain_head_hash' "$pre")
  printf 'PASS  rows=%s  chain_head=%s%s  verifier=clean\n' "$rows" "${head:0:16}" "$ELLIPSIS"
}

# The client recomputes every hash and follows the links (SPEC 9.2): its
# verdict must be clean, and it must agree with the server's verifier.
assert_client_verdict() {
  local post=$1 verdict
  if ! jq -e 'has("client")' "$post" >/dev/null; then
    say "warning: the verify snapshot has no client verdict; only the server's verifier was checked"
    return 0
  fi
  verdict=$(jq -r '.client.verdict' "$post")
  [[ "$verdict" == clean ]] ||
    fail "client verification: $(jq -r '.client | "\(.break_kind) at \(.first_break_id // "-") position \(.first_break_pos // "-")"' "$post")"
  jq -e '.client.agrees_with_server' "$post" >/dev/null ||
    fail "client and server verifiers disagree: client clean, server $(jq -r '.first_break_id // "clean"' "$post")"
}

# The triggers and the verifier function must come back as they were:
# enabled, with the same definitions and pinned settings. Names each entry
# of the fingerprint that differs.
assert_same_machinery() {
  local pre=$1 post=$2 changed
  changed=$(jq -n -r --slurpfile a "$pre" --slurpfile b "$post" '
      ($a[0].integrity // {}) as $before | ($b[0].integrity // {}) as $after
      | [($before + $after) | keys[] | select($before[.] != $after[.])
         | "\(.): \($before[.] // "absent") -> \($after[.] // "absent")"]
      | join("; ")')
  [[ -z "$changed" ]] || fail "integrity machinery changed by the restore: $changed"
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
  banner backup
  backup
  banner wipe
  wipe
  banner restore
  restore
  banner verify
  verify
  banner assert
  assert_round_trip
}

main "$@"
