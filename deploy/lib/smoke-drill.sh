# shellcheck shell=bash
# The restore drill of an existing backup (SMOKE_DRILL=1, SPEC §9.10;
# deploy/docs/drill.md), sourced by the harness after smoke-physical.sh.
# drill_main restores into a registered sandbox cluster (or, command-url,
# the operator's server), waits for the end of recovery and has the tool's
# --mode=drill-verify judge it; every decision is the tool's. A drill ended
# before the judge still writes report.json ("passed": false).

DRILL_DIR=''     # the drill's files inside WORK
DRILL_ACTIVE=0   # 1 from drill_main's start until report.json is written
DRILL_SANDBOX='' # the sandbox cluster's folder (pg-cluster.sh)
declare -A DRILL_RESTORED=() # the tool's answer: url, database, role, password

# --mode=drill-verify with the shared knobs; report.json on stdout, the reason in verify.err.
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

# drill__give_up restore|cannot REASON: the evidence of a drill ended before the judge.
drill__give_up() {
  local facts=()
  mapfile -t facts < <(drill__backup_facts)
  if [[ "$1" == restore ]]; then
    drill__verify --restore-failed="$2" ${facts[@]+"${facts[@]}"} || true
    fail_verdict "$2"
  fi
  drill__verify --cannot-judge="$2" ${facts[@]+"${facts[@]}"} || true
  fail "$2"
}

# The backup's facts read so far, as drill-verify's flags, one per line.
drill__backup_facts() {
  [[ ! -f "$DRILL_DIR/backup_label" ]] || printf -- '--backup-label-file=%s\n' "$DRILL_DIR/backup_label"
  [[ ! -s "$DRILL_DIR/system_identifier" ]] ||
    printf -- '--backup-system-identifier=%s\n' "$(cat "$DRILL_DIR/system_identifier")"
  [[ "${K[SMOKE_BACKUP_SET]}" == latest ]] || printf -- '--backup-id=%s\n' "${K[SMOKE_BACKUP_SET]}"
}

# drill_abandoned REASON: from the harness's cleanup, before report.json exists.
drill_abandoned() {
  ((DRILL_ACTIVE)) || return 0
  drill__verify --cannot-judge="the drill was cut short: $1" >/dev/null 2>&1 || true
}

# COMMAND as the sandbox's owner (no file of the repository changes hands), output to LOG.
drill__logged() {
  local log=$1
  shift
  run_child pgc__as_owner "$DRILL_SANDBOX" "$@" >>"$log" 2>&1 || { tail -n 15 -- "$log" >&2 || true; return 1; }
}

drill__target_value() {
  local kind=${K[drill.target_kind]^^}
  [[ -z "$kind" ]] || printf '%s' "${K[SMOKE_RECOVERY_TARGET_$kind]}"
}

# The built-in restores: to the end of the backup or to the target, then promote.
drill__restore_pgbackrest() {
  local kind=${K[drill.target_kind]} args=(--stanza="${K[SMOKE_PGBACKREST_STANZA]}" --pg1-path="$DRILL_SANDBOX/data")
  [[ "${K[SMOKE_BACKUP_SET]}" == latest ]] || args+=(--set="${K[SMOKE_BACKUP_SET]}")
  if [[ -n "$kind" ]]; then args+=(--type="$kind" --target="$(drill__target_value)"); else args+=(--type=immediate); fi
  drill__logged "$DRILL_DIR/restore.log" pgbackrest "${args[@]}" --target-action=promote --archive-mode=off restore
}

drill__restore_barman() {
  local kind=${K[drill.target_kind]} args=()
  [[ -z "${K[SMOKE_BARMAN_CONFIG]}" ]] || args+=(-c "${K[SMOKE_BARMAN_CONFIG]}")
  args+=(recover)
  if [[ -n "$kind" ]]; then args+=(--target-"$kind" "$(drill__target_value)"); else args+=(--target-immediate); fi
  drill__logged "$DRILL_DIR/restore.log" barman "${args[@]}" --target-action promote \
    "${K[SMOKE_BARMAN_SERVER]}" "${K[SMOKE_BACKUP_SET]}" "$DRILL_SANDBOX/data"
}

# The restored major picks the binaries (unless SMOKE_PG_BINDIR); the marker follows (cleanup's pg_ctl).
drill__pick_bindir() {
  local major
  major=$(cat "$DRILL_SANDBOX/data/PG_VERSION" 2>/dev/null) || major=''
  [[ -z "${SMOKE_PG_BINDIR:-}" && "$major" =~ ^[0-9]+$ && -x "/usr/lib/postgresql/$major/bin/postgres" ]] || return 0
  PHYS_BINDIR=/usr/lib/postgresql/$major/bin
  printf '%s\n' "$PHYS_BINDIR" >"$DRILL_SANDBOX/$PGC_MARKER_FILE"
}

# The restore, out of recovery (DRILL_RESTORED); the backup's facts for the judge in DRILL_DIR.
drill__restore() {
  local method=${K[SMOKE_METHODS]} status=0 data server=()
  if [[ "$method" == command-url ]]; then
    # A server of the operator's: the command says when the backup began.
    SMOKE_BACKUP_LABEL_FILE=$DRILL_DIR/backup_label phys_restore_command url "$DRILL_DIR/restored-url" || status=$?
    ((status == 0)) || drill__give_up restore "the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"
    server=(--restored-url-file="$DRILL_DIR/restored-url")
  else
    phys_new_restore_dir DRILL_SANDBOX || drill__give_up cannot "cannot make a folder for the restored cluster in ${TMPDIR:-/tmp}"
    data=$DRILL_SANDBOX/data
    case "$method" in
      pgbackrest) drill__restore_pgbackrest || status=$? ;;
      barman) drill__restore_barman || status=$? ;;
      command-cluster) phys_restore_command cluster "$DRILL_SANDBOX" || status=$? ;;
    esac
    ((status == 0)) || drill__give_up restore "${K[method.$method.restored_by]} failed (exit $status)"
    [[ -f "$data/PG_VERSION" ]] || drill__give_up restore "the restore left no data directory in $data (no PG_VERSION)"
    drill__pick_bindir
    # Read before the server starts (it renames backup_label), trusting no tool's catalog.
    "$PHYS_BINDIR/pg_controldata" "$data" 2>/dev/null | sed -n 's/^Database system identifier: *//p' \
      >"$DRILL_DIR/system_identifier" || true
    [[ -s "$DRILL_DIR/system_identifier" ]] || drill__give_up restore "pg_controldata cannot read the restored data directory $data"
    [[ ! -f "$data/backup_label" ]] || cp -- "$data/backup_label" "$DRILL_DIR/backup_label"
    # trust on the sandbox's loopback, whatever PGPASSWORD holds.
    PGPASSWORD='' phys_start_restored "$DRILL_SANDBOX" >&2 ||
      drill__give_up restore "the restored data directory does not start as a server (its log is above)"
    server=(--cluster="$DRILL_SANDBOX" --database="${K[drill.database]}" --need-superuser
      --roles="${K[PGUSER]:+${K[PGUSER]},}$(stat -c %U "$DRILL_SANDBOX"),postgres")
  fi
  phys_ask DRILL_RESTORED "$DRILL_DIR/await.err" --mode=await-recovery \
    --recovery-timeout="${K[SMOKE_RECOVERY_TIMEOUT]}" "${server[@]}" || status=$?
  ((status != 3)) || drill__give_up restore "$(phys_reason "$DRILL_DIR/await.err")"
  ((status == 0)) || drill__give_up cannot "$(phys_reason "$DRILL_DIR/await.err")"
}

# drill_main WORK: the whole drill; 0 after the PASS line, else fail or fail_verdict.
drill_main() {
  local started seconds status=0 reason args=()
  DRILL_DIR=$1/drill
  mkdir -m 700 -- "$DRILL_DIR" || fail "cannot make $DRILL_DIR"
  DRILL_ACTIVE=1
  phys__ensure_bindir || drill__give_up cannot "no PostgreSQL server binaries to start the restored cluster with"
  export SMOKE_METHOD=${K[SMOKE_METHODS]} SMOKE_BACKUP_SET=${K[SMOKE_BACKUP_SET]} SMOKE_PG_BINDIR=$PHYS_BINDIR \
    SMOKE_RECOVERY_TARGET=${K[drill.target_kind]} SMOKE_RECOVERY_TARGET_TIME=${K[SMOKE_RECOVERY_TARGET_TIME]} \
    SMOKE_RECOVERY_TARGET_LSN=${K[SMOKE_RECOVERY_TARGET_LSN]} SMOKE_RECOVERY_TARGET_XID=${K[SMOKE_RECOVERY_TARGET_XID]}
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
    lsn | xid) args+=("--recovery-target-${K[drill.target_kind]}=$(drill__target_value)") ;;
  esac
  [[ -f "$DRILL_DIR/backup_label" ]] ||
    drill__give_up cannot "the restore left no backup_label (in the data directory, or for command-url in SMOKE_BACKUP_LABEL_FILE): the backup's start is unknown"
  PGPASSWORD=${DRILL_RESTORED[password]} drill__verify --db-url="${DRILL_RESTORED[url]}" "${args[@]}" \
    --restore-seconds="$seconds" >"$DRILL_DIR/report.json" || status=$?
  cat -- "$DRILL_DIR/report.json"
  [[ -z "${K[SMOKE_REPORT_DIR]}" ]] || say "reports: ${K[SMOKE_REPORT_DIR]}/report.json, report.json.sig, metrics.prom"
  if ((status != 0)); then
    reason=$(tail -n 1 "$DRILL_DIR/verify.err" 2>/dev/null) || reason=''
    reason=${reason#backupsmoke: }
    ((status != 3)) || fail_verdict "${reason:-drill-verify failed a verdict}"
    fail "${reason:-drill-verify could not judge (exit $status)}"
  fi
  gate_tool --mode=report --run-record="$DRILL_DIR" # the PASS line
}
