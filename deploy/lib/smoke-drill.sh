# shellcheck shell=bash
# The restore drill of an existing backup (SMOKE_DRILL=1, SPEC §9.10, issue
# 17), sourced by deploy/test/backup-restore-smoke.sh after
# smoke-physical.sh. The harness calls drill_main right after its preflight,
# before anything touches a server: a drill runs no workload, takes no
# backup and creates no database. It
#   1. restores the backup (SMOKE_METHODS: pgbackrest, barman,
#      command-cluster or command-url) into a sandbox cluster of the
#      harness's own (DRILL_SANDBOX, made by phys_new_restore_dir: registered, so the harness's
#      cleanup and watchdog remove it) or, for command-url, into the
#      operator's server;
#   2. reads the restored data directory's system identifier
#      (pg_controldata) and backup_label before the sandbox starts;
#   3. starts the sandbox (phys_start_restored: loopback, its own socket
#      folder, archive_mode = off, trust) and waits, polling, until recovery
#      has ended: a paused recovery fails naming it, a server that stays in
#      recovery or dies fails, an early refused connection decides nothing;
#   4. runs the tool's --mode=drill-verify on the restored database, which
#      judges it against the ledger, writes report.json, report.json.sig and
#      metrics.prom, and decides the exit status (0, 3 a verdict failed, 1
#      cannot judge). Every decision is the tool's; this file orchestrates.
# A drill that ends before drill-verify judged (a failed restore, a paused
# recovery, an interruption) still leaves report.json saying "passed":
# false: drill-verify --restore-failed (exit 3) or --cannot-judge (exit 1).
#
# What it reads of the harness: K (the knobs as the tool normalized them:
# SMOKE_METHODS, SMOKE_LEDGER, drill.database, SMOKE_BACKUP_SET, the
# stanza, Barman server and config, SMOKE_LIVE_URL, SMOKE_MAX_RPO,
# SMOKE_SIGNING_KEY, SMOKE_VERIFY_KEY, SMOKE_REPORT_DIR, SMOKE_RECOVERY_TARGET_*,
# drill.target_kind, drill.target_time_iso, SMOKE_RECOVERY_TIMEOUT,
# SMOKE_TIMEOUT, PGUSER), the documented record of the run, and
# PHYS_BINDIR of smoke-physical.sh's record; its work folder comes as
# drill_main's argument; the
# helpers it calls: banner, say, fail, fail_verdict, gate_tool, run_child,
# url_encode, and smoke-physical.sh's and pg-cluster.sh's functions. The
# restore commands get SMOKE_RESTORE_PGDATA (command-cluster) or
# SMOKE_RESTORED_URL_FILE and SMOKE_BACKUP_LABEL_FILE (command-url: it
# writes the backup's backup_label there, at least its START TIME line),
# SMOKE_METHOD, SMOKE_BACKUP_SET,
# SMOKE_PG_BINDIR, and SMOKE_RECOVERY_TARGET (time, lsn or xid) with its
# SMOKE_RECOVERY_TARGET_TIME, _LSN or _XID.

DRILL_DIR=''        # the drill's files inside WORK (restore log, backup_label copy)
DRILL_ACTIVE=0      # 1 from drill_main's start until report.json is written
DRILL_URL=''        # the restored database's URL (no password)
DRILL_REASON=''     # why the last drill__ helper that returned 1 did
DRILL_SANDBOX=''    # the sandbox cluster's folder (pg-cluster.sh; its port: pgc_port)

# drill__verify ARGS...: the tool's --mode=drill-verify with the knobs every
# call shares (ledger, method, evidence folder, signing key); report.json on
# stdout, the tool's reason in DRILL_DIR/verify.err. Its status is the tool's.
drill__verify() {
  local status=0
  gate_tool --mode=drill-verify --ledger="${K[SMOKE_LEDGER]}" --method="${K[SMOKE_METHODS]}" \
    ${K[SMOKE_REPORT_DIR]:+--report-dir="${K[SMOKE_REPORT_DIR]}"} \
    ${K[SMOKE_SIGNING_KEY]:+--signing-key="${K[SMOKE_SIGNING_KEY]}"} \
    ${K[SMOKE_VERIFY_KEY]:+--verify-key="${K[SMOKE_VERIFY_KEY]}"} \
    ${K[SMOKE_TIMEOUT]:+--timeout="${K[SMOKE_TIMEOUT]}"} "$@" 2>"$DRILL_DIR/verify.err" || status=$?
  DRILL_ACTIVE=0
  return "$status"
}

# drill__give_up KIND REASON: the drill ends before it could judge: the
# evidence says so (KIND restore: the restore is not what it must be, exit
# 3; cannot: the drill could not run, exit 1), then the harness fails.
drill__give_up() {
  local kind=$1 reason=$2 facts=()
  mapfile -t facts < <(drill__backup_facts)
  if [[ "$kind" == restore ]]; then
    drill__verify --restore-failed="$reason" ${facts[@]+"${facts[@]}"} || true
    fail_verdict "$reason"
  fi
  drill__verify --cannot-judge="$reason" ${facts[@]+"${facts[@]}"} || true
  fail "$reason"
}

# The backup's facts read so far, as drill-verify's flags, one per line.
drill__backup_facts() {
  local sysid
  [[ ! -f "$DRILL_DIR/backup_label" ]] || printf -- '--backup-label-file=%s\n' "$DRILL_DIR/backup_label"
  if sysid=$(cat "$DRILL_DIR/system_identifier" 2>/dev/null); then
    printf -- '--backup-system-identifier=%s\n' "$sysid"
  fi
  [[ "${K[SMOKE_BACKUP_SET]}" == latest ]] || printf -- '--backup-id=%s\n' "${K[SMOKE_BACKUP_SET]}"
}

# drill__kind STATUS: 3 is a restore that failed, anything else a drill that could not judge.
drill__kind() {
  if (($1 == 3)); then
    printf restore
  else
    printf cannot
  fi
}

# drill_abandoned REASON: from the harness's cleanup, when the run ends (an
# error, a signal) before the drill's report was written.
drill_abandoned() {
  ((DRILL_ACTIVE)) || return 0
  drill__verify --cannot-judge="the drill was cut short: $1" >/dev/null 2>&1 || true
}

# The environment every restore command of a drill gets.
drill__export_command_env() {
  export SMOKE_METHOD=${K[SMOKE_METHODS]} SMOKE_BACKUP_SET=${K[SMOKE_BACKUP_SET]} SMOKE_PG_BINDIR=$PHYS_BINDIR
  export SMOKE_RECOVERY_TARGET=${K[drill.target_kind]}
  export SMOKE_RECOVERY_TARGET_TIME=${K[SMOKE_RECOVERY_TARGET_TIME]}
  export SMOKE_RECOVERY_TARGET_LSN=${K[SMOKE_RECOVERY_TARGET_LSN]}
  export SMOKE_RECOVERY_TARGET_XID=${K[SMOKE_RECOVERY_TARGET_XID]}
}

# drill__logged LOG COMMAND...: COMMAND as the sandbox's owner (the
# repository's owner: no file of the repository changes hands), output to
# LOG, whose end is shown when it fails.
drill__logged() {
  local log=$1
  shift
  if ! run_child pgc__as_owner "$DRILL_SANDBOX" "$@" >>"$log" 2>&1; then
    tail -n 15 -- "$log" >&2 || true
    return 1
  fi
}

# The built-in restores into DRILL_SANDBOX/data: to the end of the
# backup (immediate) or to the recovery target, then promote.
drill__restore_pgbackrest() {
  local kind=${K[drill.target_kind]} args=()
  args=(--stanza="${K[SMOKE_PGBACKREST_STANZA]}" --pg1-path="$DRILL_SANDBOX/data")
  [[ "${K[SMOKE_BACKUP_SET]}" == latest ]] || args+=(--set="${K[SMOKE_BACKUP_SET]}")
  if [[ -n "$kind" ]]; then
    args+=(--type="$kind" --target="$(drill__target_value)")
  else
    args+=(--type=immediate)
  fi
  drill__logged "$DRILL_DIR/restore.log" pgbackrest "${args[@]}" --target-action=promote --archive-mode=off restore
}

drill__restore_barman() {
  local kind=${K[drill.target_kind]} args=()
  [[ -z "${K[SMOKE_BARMAN_CONFIG]}" ]] || args+=(-c "${K[SMOKE_BARMAN_CONFIG]}")
  args+=(recover)
  if [[ -n "$kind" ]]; then
    args+=(--target-"$kind" "$(drill__target_value)")
  else
    args+=(--target-immediate)
  fi
  drill__logged "$DRILL_DIR/restore.log" barman "${args[@]}" --target-action promote \
    "${K[SMOKE_BARMAN_SERVER]}" "${K[SMOKE_BACKUP_SET]}" "$DRILL_SANDBOX/data"
}

drill__target_value() {
  case "${K[drill.target_kind]}" in
    time) printf '%s' "${K[SMOKE_RECOVERY_TARGET_TIME]}" ;;
    lsn) printf '%s' "${K[SMOKE_RECOVERY_TARGET_LSN]}" ;;
    xid) printf '%s' "${K[SMOKE_RECOVERY_TARGET_XID]}" ;;
  esac
}

# The restored data directory's major picks the server binaries, unless
# SMOKE_PG_BINDIR names them; the sandbox's marker follows, so its cleanup
# stops it with the same pg_ctl.
drill__pick_bindir() {
  local major
  major=$(cat "$DRILL_SANDBOX/data/PG_VERSION" 2>/dev/null) || major=''
  [[ -z "${SMOKE_PG_BINDIR:-}" && "$major" =~ ^[0-9]+$ && -x "/usr/lib/postgresql/$major/bin/postgres" ]] || return 0
  PHYS_BINDIR=/usr/lib/postgresql/$major/bin
  printf '%s\n' "$PHYS_BINDIR" >"$DRILL_SANDBOX/$PGC_MARKER_FILE"
}

# drill__await_recovery_end URL|'' : polls the restored server until it
# has left recovery (SMOKE_RECOVERY_TIMEOUT seconds at most). For the
# sandbox (URL empty) over its own socket as its bootstrap superuser: PGUSER
# when given, else the sandbox's OS owner, else postgres, whichever is a
# superuser there; the role found is DRILL_ROLE. A refused connection is
# retried until the time is up (recovery may not have replayed the role
# yet); the server's death, a paused replay, and still being in recovery at
# the end are failures (DRILL_REASON, status 3); never answering is status 1.
DRILL_ROLE=''
drill__await_recovery_end() {
  local url=$1 limit=${K[SMOKE_RECOVERY_TIMEOUT]} deadline state role last='' roles=() pid
  local query="SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), pg_catalog.pg_is_in_recovery(),
      CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused()::text ELSE '-' END,
      coalesce(pg_catalog.pg_last_wal_replay_lsn()::text, '-')"
  deadline=$((SECONDS + limit))
  if [[ -z "$url" ]]; then
    [[ -z "${K[PGUSER]}" ]] || roles+=("${K[PGUSER]}")
    roles+=("$(stat -c %U "$DRILL_SANDBOX")" postgres)
  else
    roles=('')
  fi
  while :; do
    for role in "${roles[@]}"; do
      if [[ -z "$url" ]]; then
        state=$(psql -X -q -At -F ' ' -h "$DRILL_SANDBOX" -p "$(pgc_port "$DRILL_SANDBOX")" -U "$role" -d template1 \
          -c "$query" 2>&1) || { last=${state//$'\n'/ }; continue; }
      else
        state=$(psql -X -q -At -F ' ' -d "$url" -c "$query" 2>&1) || { last=${state//$'\n'/ }; continue; }
      fi
      if [[ -z "$url" && "$state" != 't '* ]]; then
        last="role $role is not a superuser of the restored cluster"
        continue
      fi
      case "${state#* }" in
        'f - '*) DRILL_ROLE=$role; return 0 ;;
        't true '*)
          DRILL_REASON="the restored server is paused in recovery (pg_is_wal_replay_paused() = true) at replay LSN ${state##* }: the restore must end with recovery_target_action = promote"
          return 3 ;;
      esac
      last="still in recovery, replayed up to ${state##* }"
      break
    done
    if [[ -z "$url" ]]; then
      pid=$(head -n 1 "$DRILL_SANDBOX/data/postmaster.pid" 2>/dev/null) || pid=''
      if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        tail -n 15 "$DRILL_SANDBOX/server.log" >&2 || true
        DRILL_REASON="the restored server stopped during recovery (its log is above): the backup cannot be restored"
        return 3
      fi
    fi
    if ((SECONDS >= deadline)); then
      if [[ "$last" == still* ]]; then
        DRILL_REASON="the restored server is still in recovery after $limit s (SMOKE_RECOVERY_TIMEOUT): $last"
        return 3
      fi
      DRILL_REASON="the restored server does not answer within $limit s (SMOKE_RECOVERY_TIMEOUT): $last"
      return 1
    fi
    sleep 0.5
  done
}

# drill__restore: the restore of the method chosen; on success the sandbox
# (or the operator's server) is out of recovery and DRILL_URL names the
# restored database. Facts for the judge go to DRILL_DIR (backup_label,
# system_identifier).
drill__restore() {
  local method=${K[SMOKE_METHODS]} status=0 data sysid
  if [[ "$method" == command-url ]]; then
    # A server of the operator's: no data directory to read, so the command says when the backup began.
    SMOKE_BACKUP_LABEL_FILE=$DRILL_DIR/backup_label phys_restore_command url "$DRILL_DIR/restored-url" || status=$?
    ((status == 0)) || drill__give_up restore "the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"
    DRILL_URL=$(phys_read_restored_url "$DRILL_DIR/restored-url" 2>/dev/null) ||
      drill__give_up restore "the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE"
    status=0
    drill__await_recovery_end "$DRILL_URL" || status=$?
    ((status == 0)) || drill__give_up "$(drill__kind "$status")" "$DRILL_REASON"
    return 0
  fi
  phys_new_restore_dir DRILL_SANDBOX || drill__give_up cannot "cannot make a folder for the restored cluster in ${TMPDIR:-/tmp}"
  data=$DRILL_SANDBOX/data
  case "$method" in
    pgbackrest) drill__restore_pgbackrest || status=$? ;;
    barman) drill__restore_barman || status=$? ;;
    command-cluster) phys_restore_command cluster "$DRILL_SANDBOX" || status=$? ;;
  esac
  ((status == 0)) || drill__give_up restore "${K[method.$method.restored_by]} failed (exit $status)"
  [[ -f "$data/PG_VERSION" ]] ||
    drill__give_up restore "the restore left no data directory in $data (no PG_VERSION)"
  drill__pick_bindir
  # What the judge needs of the backup, read before the server starts (it
  # renames backup_label) and without trusting any tool's catalog.
  sysid=$("$PHYS_BINDIR/pg_controldata" "$data" 2>/dev/null | sed -n 's/^Database system identifier: *//p') || sysid=''
  [[ -n "$sysid" ]] || drill__give_up restore "pg_controldata cannot read the restored data directory $data"
  printf '%s\n' "$sysid" >"$DRILL_DIR/system_identifier"
  if [[ -f "$data/backup_label" ]]; then
    cp -- "$data/backup_label" "$DRILL_DIR/backup_label"
  fi
  # trust over the sandbox's own socket and loopback, whatever PGPASSWORD holds.
  PGPASSWORD='' phys_start_restored "$DRILL_SANDBOX" >&2 ||
    drill__give_up restore "the restored data directory does not start as a server (its log is above)"
  status=0
  drill__await_recovery_end '' || status=$?
  ((status == 0)) || drill__give_up "$(drill__kind "$status")" "$DRILL_REASON"
  DRILL_URL="postgres://$(url_encode "$DRILL_ROLE")@127.0.0.1:$(pgc_port "$DRILL_SANDBOX")/$(url_encode "${K[drill.database]}")?sslmode=disable"
}

# drill_main WORK: the whole drill, its files in the run's work folder
# WORK; returns 0 after printing the PASS line, or ends the run through
# fail / fail_verdict.
drill_main() {
  local started seconds status=0 reason args=()
  DRILL_DIR=$1/drill
  mkdir -m 700 -- "$DRILL_DIR" || fail "cannot make $DRILL_DIR"
  DRILL_ACTIVE=1
  phys__ensure_bindir || drill__give_up cannot "no PostgreSQL server binaries to start the restored cluster with"
  drill__export_command_env
  say "drill: ${K[SMOKE_METHODS]} restore of backup set ${K[SMOKE_BACKUP_SET]}${K[drill.target_kind]:+ to the $(drill__target_value) target}, judged against ${K[SMOKE_LEDGER]}"
  banner 'drill: restore'
  started=$EPOCHREALTIME
  drill__restore
  seconds=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  say "drill: restored and out of recovery in $seconds s"
  banner 'drill: verify'
  mapfile -t args < <(drill__backup_facts)
  [[ -z "${K[SMOKE_LIVE_URL]}" ]] || args+=(--live-url="${K[SMOKE_LIVE_URL]}")
  [[ -z "${K[SMOKE_MAX_RPO]}" ]] || args+=(--max-rpo="${K[SMOKE_MAX_RPO]}")
  case "${K[drill.target_kind]}" in
    time) args+=(--recovery-target-time="${K[drill.target_time_iso]}") ;;
    lsn) args+=(--recovery-target-lsn="${K[SMOKE_RECOVERY_TARGET_LSN]}") ;;
    xid) args+=(--recovery-target-xid="${K[SMOKE_RECOVERY_TARGET_XID]}") ;;
  esac
  if [[ ! -f "$DRILL_DIR/backup_label" ]]; then
    drill__give_up cannot "the restore left no backup_label (in the data directory, or for command-url in SMOKE_BACKUP_LABEL_FILE): the backup's start is unknown"
  fi
  drill__verify --db-url="$DRILL_URL" "${args[@]}" --restore-seconds="$seconds" >"$DRILL_DIR/report.json" || status=$?
  cat -- "$DRILL_DIR/report.json"
  [[ -z "${K[SMOKE_REPORT_DIR]}" ]] || say "reports: ${K[SMOKE_REPORT_DIR]}/report.json, report.json.sig, metrics.prom"
  if ((status != 0)); then
    reason=$(tail -n 1 "$DRILL_DIR/verify.err" 2>/dev/null) || reason=''
    reason=${reason#backupsmoke: }
    ((status != 3)) || fail_verdict "${reason:-drill-verify failed a verdict}"
    fail "${reason:-drill-verify could not judge (exit $status)}"
  fi
  jq -r --arg method "${K[SMOKE_METHODS]}" '"PASS  drill=\($method)  rows=\(.restored.row_count)  chain_head=\(.restored.chain_head_hash[0:16])\u2026  checkpoint=\(.ledger.relied_on) of \(.ledger.entries)  verifier=clean"' "$DRILL_DIR/report.json"
}
