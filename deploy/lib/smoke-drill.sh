# shellcheck shell=bash
# The restore drill of an existing backup (SMOKE_DRILL=1, SPEC §9.10; deploy/docs/drill.md),
# sourced after smoke-physical.sh; a drill ended before the judge still writes report.json.

DRILL_DIR='' DRILL_ACTIVE=0 # the drill's files inside WORK; 1 from drill_main's start to a failing report.json or the PASS line

# --mode=drill-verify with the shared knobs and the backup's facts read so far;
# report.json on stdout, the reason in verify.err.
drill__verify() {
  local status=0 facts=()
  [[ ! -f "$DRILL_DIR/backup_label" ]] || facts+=(--backup-label-file="$DRILL_DIR/backup_label")
  [[ ! -f "$DRILL_DIR/controldata" ]] || facts+=(--backup-controldata="$DRILL_DIR/controldata")
  [[ ! -f "$DRILL_DIR/restore.log" ]] || facts+=(--restore-log="$DRILL_DIR/restore.log") # it names the backup
  gate_tool --mode=drill-verify --ledger="${K[SMOKE_LEDGER]}" --method="${K[SMOKE_METHODS]}" \
    ${facts[@]+"${facts[@]}"} ${K[SMOKE_REPORT_DIR]:+--report-dir="${K[SMOKE_REPORT_DIR]}"} ${K[drill.schema]:+--schema="${K[drill.schema]}"} \
    ${K[SMOKE_SIGNING_KEY]:+--signing-key="${K[SMOKE_SIGNING_KEY]}"} ${K[drill.backup_id]:+--backup-id="${K[drill.backup_id]}"} \
    ${K[SMOKE_VERIFY_KEY]:+--verify-key="${K[SMOKE_VERIFY_KEY]}"} "$@" 2>"$DRILL_DIR/verify.err" || status=$?
  ((status == 0)) || DRILL_ACTIVE=0 # a passing report.json stands only with the PASS line (drill_abandoned)
  return "$status"
}

# drill__give_up restore|cannot REASON: the evidence of a drill ended before the judge.
drill__give_up() {
  if [[ "$1" == restore ]]; then
    drill__verify --restore-failed="$2" || true
    fail_verdict "$2"
  fi
  drill__verify --cannot-judge="$2" || true
  fail "$2"
}

# drill_abandoned REASON: from the harness's cleanup, before a failing report.json exists or the PASS line.
drill_abandoned() {
  ((DRILL_ACTIVE)) || return 0
  drill__verify --cannot-judge="the drill was cut short: $1" >/dev/null 2>&1 || true
}

# The operator's repository, as the knobs name it: pgBackRest's stanza, or Barman's server and config.
drill__tool_argv() { phys_tool_argv "$@" "${K[SMOKE_BACKUP_SET]}" "${K[drill.repository]}" "${K[drill.tool_config]}"; }

# After the restore, before the server starts: the backup's identifier read, the sandbox's owner may connect.
drill__restored() {
  grep -q '^Database system identifier: *[0-9]' "$DRILL_DIR/controldata" ||
    drill__give_up restore "pg_controldata cannot read the restored data directory $1/data"
  request[roles]="${K[PGUSER]:+${K[PGUSER]},}$(stat -c %U "$1"),postgres"
}

# drill_main WORK: the whole drill; 0 after the PASS line, else fail or fail_verdict.
drill_main() {
  local started seconds status=0 reason kind=${K[drill.target_kind]}
  local -A restored=() # the tool's answer: url, database, role, password
  DRILL_DIR=$1/drill
  mkdir -m 700 -- "$DRILL_DIR" || fail "cannot make $DRILL_DIR"
  DRILL_ACTIVE=1
  phys_use_target "$kind" "${K[SMOKE_RECOVERY_TARGET_TIME]}" "${K[SMOKE_RECOVERY_TARGET_LSN]}" "${K[SMOKE_RECOVERY_TARGET_XID]}"
  phys_export_command_env || drill__give_up cannot "no PostgreSQL server binaries to start the restored cluster with"
  export SMOKE_METHOD=${K[SMOKE_METHODS]} SMOKE_BACKUP_SET=${K[SMOKE_BACKUP_SET]}
  say "drill: ${K[SMOKE_METHODS]} restore of backup set ${K[SMOKE_BACKUP_SET]}${kind:+ to the ${K[SMOKE_RECOVERY_TARGET_${kind^^}]} target}, judged against ${K[SMOKE_LEDGER]}"
  banner 'drill: restore'
  started=$EPOCHREALTIME
  # trust on the sandbox's loopback, whatever PGPASSWORD holds; command-url: the command says when the backup began.
  # shellcheck disable=SC2034 # read by phys_restore and drill__restored
  local -A request=([on_fail]=drill__give_up [method]=${K[SMOKE_METHODS]} [dir]=$DRILL_DIR [auth]=trust
    [restored_by]=${K[method.${K[SMOKE_METHODS]}.restored_by]} [argv]=drill__tool_argv [check]=drill__restored
    [database]=${K[drill.database]} [cluster_need]=--need-superuser [timeout]=${K[SMOKE_RECOVERY_TIMEOUT]})
  SMOKE_BACKUP_LABEL_FILE=$DRILL_DIR/backup_label phys_restore request restored
  seconds=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  say "drill: restored and out of recovery in $seconds s"
  banner 'drill: verify'
  [[ -f "$DRILL_DIR/backup_label" ]] ||
    drill__give_up cannot "the restore left no backup_label (in the data directory, or for command-url in SMOKE_BACKUP_LABEL_FILE): the backup's start is unknown"
  PGPASSWORD=${restored[password]} PGSSLPASSWORD=${restored[sslpassword]} drill__verify --db-url="${restored[url]}" ${K[drill.target_flag]:+"${K[drill.target_flag]}"} \
    ${K[SMOKE_LIVE_URL]:+--live-url="${K[SMOKE_LIVE_URL]}"} ${K[SMOKE_MAX_RPO]:+--max-rpo="${K[SMOKE_MAX_RPO]}"} \
    --restore-seconds="$seconds" >"$DRILL_DIR/report.json" || status=$?
  cat -- "$DRILL_DIR/report.json"
  [[ -z "${K[SMOKE_REPORT_DIR]}" ]] || say "reports: ${K[SMOKE_REPORT_DIR]}/report.json, report.json.sig, metrics.prom"
  if ((status != 0)); then
    reason=$(tool_reason "$DRILL_DIR/verify.err")
    ((status != 3)) || fail_verdict "${reason:-drill-verify failed a verdict}"
    fail "${reason:-drill-verify could not judge (exit $status)}"
  fi
  gate_tool --mode=report --run-record="$DRILL_DIR" # the PASS line
}
