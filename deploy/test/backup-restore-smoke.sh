#!/usr/bin/env bash
# Backup/restore smoke test (SPEC §7, §9.1). It only orchestrates: the knobs,
# the URLs, the plan, every verdict and the reports are the tool's answers.
# main() reads as the flow; deploy/docs/harness.md ("How the harness is
# built") has its state (K, C) and the files of its work folder.
set -Eeuo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../lib/pg-cluster.sh disable=SC1091
. "$REPO/deploy/lib/pg-cluster.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-physical.sh disable=SC1091
. "$REPO/deploy/lib/smoke-physical.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/smoke-drill.sh disable=SC1091
. "$REPO/deploy/lib/smoke-drill.sh"

readonly PITR_B_PREFIX=pitr-b- # the id prefix of workload B's rows
readonly KNOBS_ARE='the knobs are SMOKE_* environment variables: deploy/docs/harness.md'
PHASE=setup LAST_ERR='' REPORTED=0 VERDICT_FAILED=0 CHILD_PID='' WATCHDOG_PID='' WORK='' SNAPSHOT_ID='' IN_COMBO=0 STEP=''
MAINT_URL='' SOURCE_URL='' TARGET_DB='' URL_BASE='' URL_QUERY='' LABEL='' # the source server and database
declare -A K=() C=() # the run's record and the combination's (harness.md)

say() { printf 'backup-restore-smoke: %s\n' "$*" >&2; }

# REASON's ::error:: line on stderr, built by the tool (GitHub's escapes); as it is if the tool cannot run.
annotate() { "$REPO/deploy/bin/backupsmoke" --mode=annotate <<<"$1" >&2 2>/dev/null || printf '::error::backup-restore-smoke: %s\n' "$1" >&2; }

# To the stderr the script started with (a trap can run while stderr goes
# to a file); inside a combination, that combination's failure.
fail() {
  ((IN_COMBO == 0)) || combo_fail "$*"
  exec 2>&"$DIAG_FD"
  REPORTED=1 && annotate "$*"
  exit 1
}

fail_verdict() { VERDICT_FAILED=1 && fail "$@"; }

banner() {
  PHASE=$1
  [[ -z "$WORK" ]] || printf '%s\n' "$1" >"$WORK/phase"
  printf '=== %s ===\n' "$1"
}

# Stops the running client and its process group: TERM, KILL after 2 s.
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

# What this run registered before creating it, whichever shell made it.
drop_registered() {
  local dir
  [[ ! -s "$WORK/scratch-dbs" ]] || "$REPO/deploy/bin/backupsmoke" --mode=drop-scratch-dbs --db-url="$MAINT_URL" \
    --server-label="$LABEL" --registry="$WORK/scratch-dbs" </dev/null 2>&1 |
    sed 's/^\(backupsmoke: \)\{0,1\}/backup-restore-smoke: /' >&2
  while IFS= read -r dir; do pgc_stop "$dir"; done < <(cat "$WORK/clusters" 2>/dev/null)
}

# EXIT trap: undoes all this run made, whatever its state; a wiped in-place
# database not restored yet lives on in its dump, kept with the way back.
cleanup() {
  local rc=$?
  set +eE
  trap - ERR
  trap '' INT TERM HUP
  exec 2>&"$DIAG_FD"
  ((rc == 0 || REPORTED)) || annotate "$PHASE failed: ${LAST_ERR:-exit status $rc}"
  stop_child
  ((rc == 0)) || drill_abandoned "${LAST_ERR:-exit status $rc} during $PHASE"
  abort_source_snapshot
  [[ -z "$WORK" ]] || { phys_teardown_pending "$WORK"; drop_registered; }
  pgc_stop_all
  if [[ -n "$WORK" && -f "$WORK/keep" ]]; then
    say "database $TARGET_DB may have been wiped (the wipe started) and is not restored; its dump is kept:"
    say "  pg_restore --no-owner --no-acl --dbname='$SOURCE_URL' '$WORK/backup.${K[SMOKE_METHODS]}'"
  elif [[ -n "$WORK" ]]; then
    rm -rf -- "$WORK"
  fi
  [[ -z "$WATCHDOG_PID" ]] || kill "$WATCHDOG_PID" 2>/dev/null
  ((rc == 0)) || exit $((VERDICT_FAILED ? 3 : 1))
}

on_signal() {
  trap '' INT TERM HUP
  [[ ! -s "$WORK/phase" ]] || PHASE=$(<"$WORK/phase")
  LAST_ERR="interrupted by SIG$1" && fail "$LAST_ERR during $PHASE" # the drill's report says so too
}

# A client in a process group of its own, so a signal's trap runs at once
# and stop_child ends the client's whole group; in a combination's subshell
# (itself such a group) it just runs.
run_child() {
  if ((IN_COMBO)); then
    "$@" </dev/null
    return
  fi
  start_child "$@"
  await_child
}

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

# Outlives a harness killed outright (SIGKILL) to clean up after it, in a
# process group of its own (Ctrl-C spares it); a new one replaces the last.
start_watchdog() {
  local harness=$BASHPID earlier=$WATCHDOG_PID
  PGC_REGISTRY=$WORK/clusters
  set -m
  (
    trap - EXIT ERR
    trap '' INT HUP
    set +eE
    while kill -0 "$harness" 2>/dev/null; do
      sleep 0.5
    done
    pid=$(cat "$WORK/child.pid" 2>/dev/null) && [[ -n "$pid" ]] && kill -KILL -- "-$pid" 2>/dev/null
    drop_registered
    [[ -f "$WORK/keep" ]] || rm -rf -- "$WORK"
  ) </dev/null >/dev/null 2>&1 &
  WATCHDOG_PID=$!
  set +m
  [[ -z "$earlier" ]] || kill "$earlier" 2>/dev/null
}

# Database NAME (a scratch one: no encoding needed) on the source server.
db_url() { printf '%s%s%s' "$URL_BASE" "$1" "$URL_QUERY"; }

cluster_url() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$1" "$2"; }

# The tool under test (SMOKE_TOOL: a command line ARGS are appended to).
run_tool() {
  local tool=("$REPO/deploy/bin/backupsmoke")
  [[ -z "${SMOKE_TOOL:-}" ]] || tool=(bash -c "$SMOKE_TOOL"' "$@"' backupsmoke)
  run_child "${tool[@]}" "$@" ${K[SMOKE_TIMEOUT]:+--timeout="${K[SMOKE_TIMEOUT]}"}
}

# SMOKE_TOOL's first word, when bash would take it as it is (a command name
# or path: no quote, expansion or assignment), names a command that exists:
# else one line now, not bash's "No such file" (exit 127) at the workload.
check_tool_under_test() {
  local first=''
  read -r first _ <<<"${SMOKE_TOOL:-}" || true
  [[ "$first" =~ ^[A-Za-z0-9_./+-]+$ ]] || return 0
  [[ "$first" != */* || -e "$first" ]] || fail "SMOKE_TOOL $first: no such file"
  [[ "$first" != */* || (-f "$first" && -x "$first") ]] || fail "SMOKE_TOOL $first: not an executable file"
  # shellcheck disable=SC2016 # a name as a new bash finds it, not as this script's functions
  [[ "$first" == */* ]] || bash -c 'command -v -- "$1"' check "$first" >/dev/null ||
    fail "SMOKE_TOOL $first: command not found"
}

# The harness's own questions: always this repository's tool.
gate_tool() { run_child "$REPO/deploy/bin/backupsmoke" "$@" ${K[SMOKE_TIMEOUT]:+--timeout="${K[SMOKE_TIMEOUT]}"}; }

# ask ARRAY ARGS...: the tool's answer into ARRAY (phys_ask, with the run's
# timeout); any status but 0 (or 3 with a verdict) fails.
ask() {
  local -n answer=$1
  unset 'answer[status]' 'answer[part]'
  phys_ask "$1" "$WORK/ask.err" "${@:2}" ${K[SMOKE_TIMEOUT]:+--timeout="${K[SMOKE_TIMEOUT]}"} || true
  [[ "${answer[status]}" == 0 || ("${answer[status]}" == 3 && -n "${answer[part]+set}") ]] ||
    fail "$(tool_reason "$WORK/ask.err")"
}

tag() { [[ "${K[plan.tagged]:-0}" == 0 ]] || printf '[%s] ' "$1"; }

elapsed() { awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.2f", now - start }'; }

# The knobs, then the server the tool chose (a throwaway one starts later).
preflight() {
  local made
  [[ -f "$REPO/BackupSmoke.java" ]] || fail "tool not found: $REPO/BackupSmoke.java"
  made=$(mktemp -d "${TMPDIR:-/tmp}/backupsmoke.XXXXXXXX" 2>&1) ||
    fail "cannot create a work folder in ${TMPDIR:-/tmp} for the snapshots and the backup: ${made##*: }"
  WORK=$made && start_watchdog # at once: killed during the knobs, it would leave the work folder
  printf 'started_at=%s\0' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$WORK/run.facts" # the rest: the report's
  MIGRATIONS_PATH=${MIGRATIONS_PATH:-$REPO/migrations} ask K --mode=knobs --run-record="$WORK"
  check_tool_under_test
  export PGCONNECT_TIMEOUT=${K[PGCONNECT_TIMEOUT]}
  if [[ "${K[server.kind]}" == throwaway ]]; then
    pgc_bindir >/dev/null || fail "no server configured (PGHOST or DATABASE_URL) and no PostgreSQL server binaries to start a throwaway one"
  else
    export PGHOST=${K[server.host]} PGPORT=${K[server.port]} PGUSER=${K[server.user]}
    [[ -z "${K[server.database]}" ]] || export PGDATABASE=${K[server.database]}
    [[ -z "${K[server.password]+set}" ]] || export PGPASSWORD=${K[server.password]}
    unset 'K[server.password]' DATABASE_URL
    MAINT_URL=${K[url.maintenance]} SOURCE_URL=${K[url.in_place]} TARGET_DB=${K[server.in_place_db]} K[run.registry]=1
    URL_BASE=${K[url.base]} URL_QUERY=${K[url.query]} LABEL=${K[server.label]}
  fi
  if [[ -n "${K[server.service_file]+set}" ]]; then # never a secret on a command line
    export PGSERVICEFILE=${K[server.service_file]} PGSERVICE=backupsmoke PGSSLPASSWORD=${K[server.sslpassword]}
    unset 'K[server.sslpassword]'
  fi
  start_watchdog
  [[ "${K[SMOKE_DRILL]}" == 1 ]] ||
    say "server: ${K[server.kind]}; in place: ${K[SMOKE_IN_PLACE]}; rows: ${K[SMOKE_ROWS]}; migrations: ${K[MIGRATIONS_PATH]}"
}

start_throwaway() {
  pgc_start || fail "could not start a throwaway PostgreSQL server"
  export PGHOST=$PGC_HOST PGPORT=$PGC_PORT PGUSER=$PGC_USER PGDATABASE=postgres
  unset PGPASSWORD
  URL_BASE="postgres://$PGC_USER@$PGC_HOST:$PGC_PORT/" URL_QUERY='?sslmode=disable' LABEL=$PGC_USER@$PGC_HOST:$PGC_PORT
  MAINT_URL=$(db_url postgres)
  [[ "${K[SMOKE_IN_PLACE]}" == 0 ]] || TARGET_DB=postgres SOURCE_URL=$MAINT_URL
  say "throwaway server on $LABEL, data in $PGC_DATA"
}

# The tool waits for the server and plans the run (harness.md); the source
# is a scratch database it makes, or PGDATABASE once it allows that (SMOKE_IN_PLACE=1).
plan_and_clean_start() {
  local scratch=(--scratch-source="$WORK/scratch-dbs")
  [[ "${K[SMOKE_IN_PLACE]}" == 0 ]] || scratch=()
  ask K --mode=plan --db-url="$MAINT_URL" --server-label="$LABEL" --methods="${K[SMOKE_METHODS]}" \
    --target-majors="${K[SMOKE_TARGET_MAJORS]}" --server-kind="${K[server.kind]}" --oracle="${K[SMOKE_ORACLE]}" \
    ${scratch[@]+"${scratch[@]}"}
  banner 'clean start'
  if [[ "${K[SMOKE_IN_PLACE]}" == 0 ]]; then
    TARGET_DB=${K[source.database]} SOURCE_URL=$(db_url "${K[source.database]}")
  elif [[ "${K[since.found]}" == 1 ]]; then # the check alone: the log stays
    ask K --mode=in-place-check --db-url="$SOURCE_URL" --migrations-path="${K[MIGRATIONS_PATH]}"
    say "in place: keeping the audit log of earlier runs; checkpoint ${K[SMOKE_SINCE]} at row ${K[since.row_count]}"
  else # the check, then the wipe
    ask K --mode=in-place-wipe --db-url="$SOURCE_URL" --migrations-path="${K[MIGRATIONS_PATH]}"
    say "in place: database $TARGET_DB held only what the migrations create; reset"
  fi
  if [[ "${K[server.kind]}" == throwaway ]]; then
    # shellcheck disable=SC2086 # one method name per word
    phys_setup_source "$PGC_DIR" "$PGC_PORT" "${K[SMOKE_PITR]}" ${K[plan.throwaway_tools]}
  fi
  phys_use "$WORK" "$TARGET_DB" "$SOURCE_URL" "${K[plan.source_major]}"
}

# workload URL ARGS...: a workload into the database at URL, its snapshot on stdout.
workload() { run_tool --mode=workload --db-url="$1" --migrations-path="${K[MIGRATIONS_PATH]}" "${@:2}"; }

# Workload A, whose snapshot (pre.json) goes to stdout; the judge checks it.
workload_a() {
  banner workload
  workload "$SOURCE_URL" --rows="${K[SMOKE_ROWS]}" ${K[SMOKE_BATCH_ROWS]:+--batch-rows="${K[SMOKE_BATCH_ROWS]}"} \
    ${K[since.id_tag]:+--id-prefix="audit-smoke-${K[since.id_tag]}"} >"$WORK/pre.json" || fail "BackupSmoke --mode=workload failed (exit $?)"
  cat -- "$WORK/pre.json"
}

# backup_with METHOD PATH; a command's output goes to stderr. The cluster
# commands also get what their restore command gets (physical.md).
backup_with() {
  local method=$1 path=$2 jobs=()
  [[ "$method" != directory ]] || jobs=(--jobs="${K[SMOKE_JOBS]}")
  case "$method" in
    custom | tar | plain | directory)
      run_child pg_dump --format="$method" ${jobs[@]+"${jobs[@]}"} --snapshot="$SNAPSHOT_ID" --no-owner --no-acl \
        --file="$path" --dbname="$SOURCE_URL" ;;
    command*)
      { [[ "$method" == command ]] || phys_export_command_env; } && mkdir -p -- "$path" &&
        SMOKE_BACKUP_DIR=$path SMOKE_SOURCE_URL=$SOURCE_URL SMOKE_METHOD=$method run_child bash -c "$SMOKE_BACKUP_CMD" >&2 ;;
    *) phys_backup "$method" "$path" ;; # a copy of the whole cluster
  esac
}

# restore_with METHOD URL: stops at the first error (SPEC 7).
restore_with() {
  local method=$1 url=$2 path=$WORK/backup.$1 jobs=()
  [[ "$method" != directory ]] || jobs=(--jobs="${K[SMOKE_JOBS]}")
  case "$method" in
    custom | tar | directory)
      run_child pg_restore ${jobs[@]+"${jobs[@]}"} --no-owner --no-acl --exit-on-error --dbname="$url" "$path" ;;
    plain)
      run_child psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$url" -f "$path" >/dev/null ;;
    command)
      SMOKE_BACKUP_DIR=$path SMOKE_TARGET_URL=$url run_child bash -c "$SMOKE_RESTORE_CMD" >&2 ;;
  esac
}

# The one exported snapshot of the source (harness.md: Backup methods).
open_source_snapshot() {
  coproc SNAPSHOT_SESSION { psql -X -q -At -v ON_ERROR_STOP=1 -d "$SOURCE_URL" 2>&1; }
  printf '%s\n' 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;' 'SELECT pg_export_snapshot();' >&"${SNAPSHOT_SESSION[1]}"
  read -r -t 60 SNAPSHOT_ID <&"${SNAPSHOT_SESSION[0]}" || SNAPSHOT_ID=''
  [[ "$SNAPSHOT_ID" =~ ^[0-9A-F-]+$ ]] || fail "cannot export a snapshot of $TARGET_DB: ${SNAPSHOT_ID:-no answer}"
}

abort_source_snapshot() {
  [[ -n "${SNAPSHOT_SESSION_PID:-}" ]] || return 0
  printf 'COMMIT;\n\\q\n' 2>/dev/null 1>&"${SNAPSHOT_SESSION[1]}" || kill "$SNAPSHOT_SESSION_PID" 2>/dev/null
  wait "$SNAPSHOT_SESSION_PID" 2>/dev/null || true
  SNAPSHOT_SESSION_PID=''
}

# source_capture [--snapshot-id=ID]: WORK/expected.json (in the snapshot) and WORK/oracle.source.
source_capture() {
  gate_tool --mode=oracle-capture --run-record="$WORK" --db-url="$SOURCE_URL" --second-oracle="${K[SMOKE_ORACLE]}" "$@" ||
    fail "reading the source for the expectation and the second oracle failed"
}

# Every backup, then the expectation and the oracle's capture, in one snapshot.
backup_all() {
  local method
  [[ "${K[SMOKE_PITR]}" == 1 ]] || open_source_snapshot
  for method in ${K[SMOKE_METHODS]//,/ }; do
    if [[ -n "${K[plan.backup_skip.$method]}" ]]; then
      say "$method: skipped: ${K[plan.backup_skip.$method]}"
    else
      backup_one "$method"
    fi
  done
  [[ "${K[SMOKE_PITR]}" == 0 ]] || return 0
  source_capture --snapshot-id="$SNAPSHOT_ID"
  abort_source_snapshot
}

# One backup and its time (the report reads its size and hash).
backup_one() {
  local method=$1 started=$EPOCHREALTIME status=0 path=$WORK/backup.$1
  backup_with "$method" "$path" || status=$?
  ((status == 0)) || fail "$(tag "$method")backup of $TARGET_DB failed (exit $status)"
  K[backup.$method.seconds]=$(elapsed "$started")
  if [[ "${K[method.$method.fingerprint]}" != file ]]; then
    say "$(tag "$method")backup: $(phys_backup_label "$method")"
  elif [[ -z "$(find "$path" -type f -size +0 -print -quit 2>/dev/null)" ]]; then
    fail "$(tag "$method")${K[method.$method.taken_by]} left an empty or no backup file"
  else
    say "$(tag "$method")backup: $(du -sb -- "$path" | cut -f1) bytes"
  fi
}

# PITR (physical.md): after the backups, workload A, the target (the
# expectation), the oracle's capture, then workload B, archived.
pitr_workloads() {
  workload_a
  phys_record_target "$SOURCE_URL" "$WORK/pitr.target.json" "${K[SMOKE_PITR_TARGET]}" ||
    fail "cannot record the PITR target after workload A"
  cp -- "$WORK/pitr.target.json" "$WORK/expected.json"
  source_capture
  workload "$SOURCE_URL" --rows="${K[SMOKE_PITR_ROWS]}" --id-prefix="$PITR_B_PREFIX" >"$WORK/pitr.latest.json" ||
    fail "workload B (after the PITR target) failed"
  if [[ "${K[server.kind]}" == throwaway ]]; then
    phys_archive_source_now || fail "the WAL of workload B was not archived"
  elif ! gate_tool --mode=switch-wal --db-url="$MAINT_URL" >/dev/null 2>"$WORK/switch-wal.err"; then
    say "warning: no WAL switch on $LABEL: $(tool_reason "$WORK/switch-wal.err");" \
      "the restore command must wait for the archive itself"
  fi
  say "workload B: ${K[SMOKE_PITR_ROWS]} rows after the target ($PITR_B_PREFIX*), $((K[SMOKE_ROWS] + K[SMOKE_PITR_ROWS])) rows in all"
}

# The source wiped: in place, what the migrations made; else its scratch
# database made anew. The tool confirms no table is left: a no-op wipe must
# not fake a pass.
wipe() {
  if [[ "${K[plan.wipe]}" == 0 ]]; then
    say "wipe: skipped: every method restores into a server of its own"
  elif [[ "${K[SMOKE_IN_PLACE]}" == 1 ]]; then
    [[ "${K[server.kind]}" == throwaway ]] || : >"$WORK/keep" # before: the tool may drop, then fail
    ask K --mode=in-place-wipe --db-url="$SOURCE_URL" --migrations-path="${K[MIGRATIONS_PATH]}"
  else
    ask K --mode=new-scratch-db --db-url="$MAINT_URL" --server-label="$LABEL" --renew="$TARGET_DB" \
      ${K[run.registry]:+--registry="$WORK/scratch-dbs"}
  fi
}

# Judges combination I in a subshell (a client of its own) with set -e in
# force: an unexpected failure ends that combination only. Its record goes
# to WORK/combinations/NNN whatever happens.
judge_combination() {
  local index=$1 major=${K[combination.$1.major]} record status=0
  record=$WORK/combinations/$(printf '%03d' "$index")
  mkdir -p -- "$WORK/combinations"
  if [[ "${K[combination.$index.target]}" == major && -z "${K[major.$major.port]:-}" ]]; then
    say "starting a throwaway PostgreSQL $major cluster for the restores"
    K[major.$major.port]=none
    ! pgc_start_major "$major" || K[major.$major.port]=$PGC_PORT
  fi
  start_child judge_in_subshell "$index" "$record"
  await_child || status=$?
  [[ -s "$record" ]] || (combo_begin "$index" "$record" && trap 'combo_record "$record"' EXIT &&
    combo_fail "the combination ended without a result (exit $status)")
}

judge_in_subshell() {
  set +m
  IN_COMBO=1
  combo_begin "$1" "$2"
  trap 'combo_conclude $?' EXIT
  for STEP in combo_target combo_restore combo_pitr combo_verify combo_assert combo_continuity; do
    C[timing]='' # a timed step sets it when it starts
    "$STEP"
  done
}

# The subshell's EXIT trap: a passing combination exiting non-zero failed
# unexpectedly; the record is written, the restored server released.
combo_conclude() {
  local rc=$1 step=${STEP#combo_}
  set +eE
  trap - ERR EXIT
  [[ "${C[part]:-}" != oracle ]] || C[oracle]=differs
  if ((rc != 0)) && [[ "${C[verdict]}" == pass ]]; then
    C[verdict]=fail C[reason]="the ${step//_/ } step failed unexpectedly: ${LAST_ERR:-exit status $rc}" && error_line "${C[reason]}"
  fi
  combo_record "${C[record]}"
  [[ "${K[method.${C[method]}.target]}" == database ]] || phys_release
  exit 0
}

# combo_begin I FILE: C, combination I's record (harness.md lists its keys), to be written to FILE.
combo_begin() {
  local i=$1 method=${K[combination.$1.method]}
  C=([record]=$2 [method]=$method [target_major]=${K[combination.$i.major]} [name]=$method-pg${K[combination.$i.major]}
    [target_kind]=${K[combination.$i.target]} [skip]=${K[combination.$i.skip]}
    [oracle_skip]=${K[combination.$i.oracle_skip]} [verdict]=pass [reason]='' [url]='' [target]=''
    [seconds.backup]=${K[backup.$method.seconds]:-} [restored_snapshot]='' [oracle]='')
}

error_line() { annotate "$(tag "${C[name]}")$1"; }

# A combination's failure (the gate fails at the end) ends it; a failing timed step keeps
# its seconds (from C[timing], when it started) unless taken already (continuity's judge comes after).
combo_fail() {
  error_line "$1"
  [[ -z "${C[timing]:-}" || -n "${C[seconds.${STEP#combo_}]:-}" ]] || C[seconds.${STEP#combo_}]=$(elapsed "${C[timing]}")
  C[verdict]=fail C[reason]=$1 && exit 0
}

# Where the combination is judged, as planned: C[url] and C[target].
combo_target() {
  local port
  case "${C[target_kind]}" in
    skip) # as planned; it ends the combination
      say "$(tag "${C[name]}")skipped: ${C[skip]}"
      C[verdict]=skipped C[reason]=${C[skip]} && exit 0 ;;
    server) ;; # made by the physical restore (combo_restore)
    source) C[url]=$SOURCE_URL C[target]="source database $TARGET_DB" ;;
    scratch)
      ask C --mode=new-scratch-db --db-url="$MAINT_URL" --server-label="$LABEL" \
        ${K[run.registry]:+--registry="$WORK/scratch-dbs"}
      C[url]=$(db_url "${C[database]}") C[target]="scratch database ${C[database]}" ;;
    major)
      port=${K[major.${C[target_major]}.port]}
      [[ "$port" != none ]] || combo_fail "cannot start a PostgreSQL ${C[target_major]} server to restore into"
      ask C --mode=new-scratch-db --db-url="$(cluster_url "$port" postgres)" --server-label="postgres@127.0.0.1:$port"
      C[url]=$(cluster_url "$port" "${C[database]}")
      C[target]="database ${C[database]} on a PostgreSQL ${C[target_major]} cluster" ;;
  esac
}

# restore_failed restore|cannot REASON: how a physical restore fails (smoke-physical.sh).
restore_failed() { combo_fail "$2"; }

# A physical restore makes a server of its own, timed to the end of
# recovery; a password its URL carries stays in this subshell.
combo_restore() {
  local -A restored=()
  C[timing]=$EPOCHREALTIME
  banner restore
  if [[ "${C[target_kind]}" == server ]]; then
    say "$(tag "${C[name]}")restoring into a server of its own"
    phys_restore_for "${C[name]}" "${C[method]}" "${K[method.${C[method]}.restored_by]}" \
      "${K[SMOKE_RECOVERY_TIMEOUT]}" restored
    C[url]=${restored[url]} C[target]="database ${restored[database]} on the restored server"
    export PGPASSWORD=${restored[password]} PGSSLPASSWORD=${restored[sslpassword]}
  else
    say "$(tag "${C[name]}")restoring into ${C[target]}"
    restore_with "${C[method]}" "${C[url]}" || combo_fail "restore into ${C[target]} failed (exit $?)"
  fi
  C[seconds.restore]=$(elapsed "${C[timing]}")
  [[ "${C[target_kind]}" != source ]] || rm -f -- "$WORK/keep" # the wiped source holds its data again
}

# PITR: the restored log holds exactly workload A.
combo_pitr() {
  [[ "${K[SMOKE_PITR]}" == 1 && "${C[target_kind]}" == server ]] || return 0
  combo_ask --mode=pitr-check --db-url="${C[url]}" --id-prefix=audit-smoke- --rows="${K[SMOKE_ROWS]}" \
    --later-prefix="$PITR_B_PREFIX" --nul
}

# Anchored to the expectation (SPEC 9.3) or the SMOKE_SINCE checkpoint.
combo_verify() {
  local post=$WORK/post.${C[name]}.json
  C[timing]=$EPOCHREALTIME
  banner verify
  run_tool --mode=verify --db-url="${C[url]}" "${K[run.verify_against]}" >"$post" ||
    combo_fail "BackupSmoke --mode=verify failed (exit $?)"
  C[seconds.verify]=$(elapsed "${C[timing]}")
  C[restored_snapshot]=$post
  cat -- "$post"
}

# The round trip and the second oracle, one question (SPEC 9.9), before continuity.
combo_assert() {
  local oracle=${K[SMOKE_ORACLE]}
  [[ -z "${C[oracle_skip]}" ]] || oracle=off
  banner assert
  combo_ask --mode=judge-restored --run-record="$WORK" --combination="${C[name]}" --db-url="${C[url]}" \
    --second-oracle="$oracle" ${K[since.row_count]:+--since="${K[SMOKE_SINCE]}"}
  C[oracle]=compared
  [[ -z "${C[oracle_skip]}" ]] || C[oracle]="skipped: ${C[oracle_skip]}"
}

# A verdict of the tool's (SPEC 9.9); a failing one fails the combination.
combo_ask() {
  ask C "$@"
  [[ "${C[status]}" == 0 ]] || combo_fail "${C[reason]}"
}

# Continuity: rows appended to the restored database must chain on.
combo_continuity() {
  local rows=${K[SMOKE_APPEND_ROWS]}
  ((rows > 0)) || return 0
  C[timing]=$EPOCHREALTIME
  banner continuity
  workload "${C[url]}" --rows="$rows" --id-prefix="audit-smoke-${K[since.id_tag]}continuity-" >/dev/null ||
    combo_fail "continuity: appending $rows rows to the restored database failed"
  run_tool --mode=verify --db-url="${C[url]}" "${K[run.verify_against]}" >"$WORK/after.${C[name]}.json" ||
    combo_fail "continuity: verify after appending failed"
  C[seconds.continuity]=$(elapsed "${C[timing]}")
  combo_ask --mode=judge --expect="$WORK/expected.json" --continuity="$WORK/after.${C[name]}.json" --appended="$rows" --nul
  say "$(tag "${C[name]}")continuity: $rows rows appended, the chain goes on from the restored head"
}

# The combination's one result record: C as NUL-separated NAME=VALUE facts
# in FILE (no secret among them), for the report (CombinationRecord.java).
combo_record() {
  local key
  for key in "${!C[@]}"; do
    printf '%s=%s\0' "$key" "${C[$key]}"
  done >"$1"
}

# The summary, reports (with the run's facts), next checkpoint and PASS line
# are the tool's (--mode=report), from the records in WORK.
report_and_conclude() {
  local status=0 reports=${K[SMOKE_REPORT_DIR]} facts=()
  [[ -z "$reports" ]] || facts=(--report-dir="$reports" --source-server="$MAINT_URL" --second-oracle="${K[SMOKE_ORACLE]}")
  gate_tool --mode=report --run-record="$WORK" ${facts[@]+"${facts[@]}"} \
    ${K[SMOKE_SINCE]:+--since="${K[SMOKE_SINCE]}"} 2>"$WORK/report.err" || status=$?
  [[ -z "$reports" || ! -f "$reports/report.json" ]] || say "reports: $reports/report.json, $reports/junit.xml"
  ((status != 3)) || fail_verdict "$(tool_reason "$WORK/report.err")"
  ((status == 0)) || fail "$(tool_reason "$WORK/report.err")"
  sed 's/^/backup-restore-smoke: /' -- "$WORK/report.err" >&2
}

main() {
  local index
  exec {DIAG_FD}>&2
  trap 'LAST_ERR="$BASH_COMMAND (exit $?)"' ERR
  trap cleanup EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP
  # No arguments: the knobs are environment variables (harness.md).
  [[ "${1-}" != -h && "${1-}" != --help ]] || { printf 'usage: %s  (no arguments; %s)\n' "$0" "$KNOBS_ARE"; exit 0; }
  (($# == 0)) || fail "no arguments are taken, got '$*' ($KNOBS_ARE)"

  banner preflight
  preflight
  if [[ "${K[SMOKE_DRILL]}" == 1 ]]; then
    drill_main "$WORK" # a restore drill of an existing backup (smoke-drill.sh)
    return 0
  fi
  banner 'wait for server'
  [[ "${K[server.kind]}" != throwaway ]] || start_throwaway
  plan_and_clean_start
  if [[ "${K[SMOKE_PITR]}" == 1 ]]; then
    banner backup
    backup_all
    pitr_workloads
  else
    workload_a
    banner backup
    backup_all
  fi
  banner wipe
  wipe
  for ((index = 0; index < ${K[plan.combinations]}; index++)); do judge_combination "$index"; done
  banner report
  report_and_conclude
}

main "$@"
