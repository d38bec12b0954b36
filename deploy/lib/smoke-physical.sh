# shellcheck shell=bash
# Physical backups and point-in-time recovery (SPEC §9.6), sourced by the
# harness after pg-cluster.sh. deploy/docs/physical.md describes the folder
# "physical" of the throwaway cluster (archives, repositories, logs), the
# files this leaves in the work folder, and what the tool decides.

PHYS_LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
PHYS_STANZA=smoke # pgBackRest stanza and Barman server name (PhysicalEvidence.SERVER)

# The run's record (phys_configure, phys_use, phys_setup_source, phys_record_target):
PHYS_PITR=0 PHYS_PITR_KIND='time' PHYS_RECOVERY_TIMEOUT=120
PHYS_WORK='' PHYS_SOURCE_DB='' PHYS_SOURCE_URL='' PHYS_SOURCE_MAJOR=''
PHYS_SOURCE_DIR='' # the throwaway source cluster's folder, if any
PHYS_DIR=''        # the physical folder inside it
PHYS_BINDIR=''     # server binaries for the source and the restores
PHYS_RESTORED_DIR='' # the cluster folder of the restore being judged (phys_release stops it)
declare -A PHYS_TARGET=() # the PITR target: kind, time, lsn, xid

phys__say() { printf 'backup-restore-smoke: %s\n' "$*" >&2; }

# Runs a command the way the harness runs its children, when it can.
phys__run() {
  if declare -F run_child >/dev/null; then run_child "$@"; else "$@" </dev/null; fi
}

# FUNCTION ARGS... in a new bash with set -euo pipefail (bash ignores -e
# inside a function whose status is tested), the run's record passed along.
phys__strict() {
  # shellcheck disable=SC2016 # expanded by the new bash
  phys__run bash -c 'set -euo pipefail; . "$0/pg-cluster.sh"; . "$0/smoke-physical.sh"; eval "$1"; "${@:2}"' \
    "$PHYS_LIB" "$(declare -p PHYS_DIR PHYS_SOURCE_DIR PHYS_BINDIR PHYS_WORK PHYS_TARGET)" "$@"
}

# phys_ask ARRAY ERR ARGS...: the tool's NUL-separated answer in the caller's
# array, from a pipe (it may hold a password); stderr in ERR.
# shellcheck disable=SC2034 # phys__answer is the caller's array
phys_ask() {
  local -n phys__answer=$1
  local entry status=0
  while IFS= read -r -d '' entry; do
    phys__answer[${entry%%=*}]=${entry#*=}
  done < <("$PHYS_LIB/../bin/backupsmoke" "${@:3}" </dev/null 2>"$2")
  wait "$!" || status=$?
  return "$status"
}

# The tool's reason (the last line of ERR); the lines before (a log's end) to stderr.
phys_reason() {
  head -n -1 -- "$1" >&2
  tail -n 1 -- "$1" | sed 's/^backupsmoke: //'
}

# COMMAND as the cluster's owner in PHYS_DIR, output to LOG, shown on failure.
phys__logged() {
  local log=$1
  shift
  pgc__as_owner "$PHYS_DIR" "$@" >>"$log" 2>&1 || { phys__say "failed: $*"; tail -n 15 -- "$log" >&2; return 1; }
}

phys__pgbackrest() {
  phys__logged "$PHYS_DIR/pgbackrest.out" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" \
    --stanza="$PHYS_STANZA" "$@"
}

phys__barman() { phys__logged "$PHYS_DIR/barman.out" barman -c "$PHYS_DIR/barman/barman.conf" "$@"; }

phys__sql() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }

# phys__prepare PORT TOOLS...: the tool readies the folder "physical" and
# turns archiving on (PhysicalSetup.java); the cluster restarts and is checked.
phys__prepare() {
  local port=$1 tools=" ${*:2} "
  pgc__as_owner "$PHYS_SOURCE_DIR" mkdir -m 700 -- "$PHYS_DIR"
  "$PHYS_LIB/../bin/backupsmoke" --mode=physical-setup --cluster="$PHYS_SOURCE_DIR" --bindir="$PHYS_BINDIR" \
    --tools="$(IFS=, && printf '%s' "${*:2}")"
  [[ "$(id -u)" -ne 0 ]] || chown -R "$(stat -c %U "$PHYS_SOURCE_DIR"):" "$PHYS_DIR"
  if ! pgc__as_owner "$PHYS_SOURCE_DIR" "$PHYS_BINDIR/pg_ctl" restart -D "$PHYS_SOURCE_DIR/data" \
    -l "$PHYS_SOURCE_DIR/server.log" -m fast -w -t 60 -s >/dev/null 2>&1; then
    phys__say "could not restart the throwaway cluster with archiving on"
    pgc__show_log "$PHYS_SOURCE_DIR/server.log"
    return 1
  fi
  [[ "$(phys__sql "$port" 'SHOW archive_mode')" == on ]]
  if [[ "$tools" == *' pgbackrest '* ]]; then
    phys__pgbackrest stanza-create
    phys__pgbackrest check
  fi
  if [[ "$tools" == *' barman '* ]]; then
    phys__archive_now "$port" # Barman's check wants at least one WAL file received.
    phys__barman check "$PHYS_STANZA"
  fi
}

# phys__archive_now PORT: a WAL switch, then a wait (60 s) until the segment
# just closed is archived; Barman's incoming WAL then moves into its archive.
phys__archive_now() {
  local port=$1 segment deadline=$((SECONDS + 60)) done_segment
  segment=$(phys__sql "$port" 'SELECT pg_walfile_name(pg_switch_wal())')
  until done_segment=$(phys__sql "$port" 'SELECT coalesce(last_archived_wal, $$$$) FROM pg_stat_archiver') &&
    [[ ! "${done_segment:0:24}" < "$segment" ]]; do
    if ((SECONDS >= deadline)); then
      phys__say "WAL segment $segment was not archived within 60 s: $(phys__sql "$port" 'SELECT last_failed_wal FROM pg_stat_archiver' 2>&1) failed last"
      tail -n 5 "$PHYS_SOURCE_DIR/server.log" >&2
      return 1
    fi
    sleep 0.2
  done
  [[ ! -f "$PHYS_DIR/barman/barman.conf" ]] || phys__barman archive-wal "$PHYS_STANZA"
}

# Backups (strict): the tools' output into WORK/evidence.METHOD, their own verdict in it.
phys__backup_pgbackrest() {
  phys__pgbackrest --type=full backup
  pgc__as_owner "$PHYS_DIR" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" --stanza="$PHYS_STANZA" \
    --output=json info >"$1/info.json" 2>>"$PHYS_DIR/pgbackrest.out"
  phys__logged "$1/verify.out" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" \
    --stanza="$PHYS_STANZA" --output=text --verbose verify || printf failed >"$1/verdict"
}

phys__backup_barman() {
  phys__barman backup "$PHYS_STANZA"
  phys__barman archive-wal "$PHYS_STANZA"
  pgc__as_owner "$PHYS_DIR" barman -c "$PHYS_DIR/barman/barman.conf" -f json show-backup "$PHYS_STANZA" latest \
    >"$1/show-backup.json" 2>>"$PHYS_DIR/barman.out"
  phys__barman check-backup "$PHYS_STANZA" latest || printf failed >"$1/verdict"
}

# phys__backup_basebackup OUT DEST: the whole cluster with the WAL that makes it consistent.
phys__backup_basebackup() {
  local out=$1 dest=$2
  "$PHYS_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$(pgc_port "$PHYS_SOURCE_DIR")" -U postgres --pgdata="$dest" \
    --wal-method=stream --checkpoint=fast --no-password >>"$PHYS_DIR/basebackup.out" 2>&1 ||
    { phys__say "pg_basebackup failed"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; return 1; }
  cp -- "$dest/backup_label" "$dest/backup_manifest" "$out/"
  "$PHYS_BINDIR/pg_verifybackup" "$dest" >>"$PHYS_DIR/basebackup.out" 2>&1 ||
    { printf failed >"$out/verdict"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; }
}

# phys__backup METHOD PATH: the backup, then the tool's evidence and label.
phys__backup() {
  local method=$1 out=$PHYS_WORK/evidence.$1
  mkdir -m 700 -- "$out"
  printf passed >"$out/verdict"
  "phys__backup_$method" "$out" "$2"
  "$PHYS_LIB/../bin/backupsmoke" --mode=backup-evidence --run-record="$out" >"$PHYS_WORK/physical.$method.label"
}

# DATA to the cluster's user with PostgreSQL's modes, whatever the restore left.
phys__own_data() {
  chmod 700 "$1"
  [[ "$(id -u)" -ne 0 ]] || chown -R "$(stat -c %U "$(dirname -- "$1")"):" "$1"
}

# phys__restore_tool METHOD DIR (strict): into DIR/data, to the end of the
# backup or to the PITR target, then promote.
phys__restore_tool() {
  local data=$2/data kind=${PHYS_TARGET[kind]:-} value='' stop=()
  [[ -z "$kind" ]] || value=${PHYS_TARGET[$kind]}
  case "$1" in
    pgbackrest)
      if [[ -n "$kind" ]]; then stop=(--type="$kind" --target="$value"); else stop=(--type=immediate); fi
      phys__pgbackrest --pg1-path="$data" "${stop[@]}" --target-action=promote restore ;;
    barman)
      if [[ -n "$kind" ]]; then stop=(--target-"$kind" "$value"); else stop=(--target-immediate); fi
      phys__barman recover "${stop[@]}" --target-action promote "$PHYS_STANZA" latest "$data" ;;
    basebackup)
      cp -a -- "$PHYS_WORK/backup.basebackup/." "$data/"
      if [[ -n "$kind" ]]; then
        printf "restore_command = %s\nrecovery_target_%s = %s\nrecovery_target_action = 'promote'\n" \
          "$(pgc__conf_string "cp $PHYS_DIR/wal-archive/%f %p")" "$kind" "$(pgc__conf_string "$value")" \
          >>"$data/postgresql.conf"
        : >"$data/recovery.signal"
      fi
      phys__own_data "$data" ;;
  esac
}

# phys_new_restore_dir VAR: a registered cluster folder with an empty data directory.
# shellcheck disable=SC2034 # phys__dir is the caller's variable
phys_new_restore_dir() {
  local -n phys__dir=$1
  phys__ensure_bindir && pgc__new_folder "$PHYS_BINDIR" &&
    pgc__as_owner "$PGC_NEW" mkdir -m 700 -- "$PGC_NEW/data" && phys__dir=$PGC_NEW
}

# phys_start_restored DIR: DIR/data served as a private copy (physical.md);
# the settings come last in postgresql.conf, so they win.
phys_start_restored() { phys__strict phys__start_restored "$1"; }

phys__start_restored() {
  local dir=$1 data=$1/data method=trust
  [[ -f "$data/PG_VERSION" ]] || { phys__say "the restore left no data directory in $data (no PG_VERSION)"; return 1; }
  [[ -z "${PGPASSWORD:-}" ]] || method=md5 # the copy keeps the source's roles and passwords
  printf 'local all all trust\nhost all all 127.0.0.1/32 %s\n' "$method" >"$data/pg_hba.smoke.conf"
  printf "listen_addresses = %s\nunix_socket_directories = %s\nhba_file = %s\narchive_mode = off\nhot_standby = on\nssl = off\nlogging_collector = off\n" \
    "$(pgc__conf_string 127.0.0.1)" "$(pgc__conf_string "$dir")" "$(pgc__conf_string "$data/pg_hba.smoke.conf")" \
    >>"$data/postgresql.conf"
  phys__own_data "$data"
  rm -f -- "$data/postmaster.pid" "$data/postmaster.opts"
  pgc__launch_on_free_port "$PHYS_BINDIR" "$dir"
}

# phys_restore_command cluster DIR | url URL_FILE: SMOKE_RESTORE_CMD fills
# DIR/data, or writes a URL to URL_FILE; its output goes to stderr.
phys_restore_command() {
  if [[ "$1" == cluster ]]; then
    SMOKE_RESTORE_PGDATA=$2/data phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
    return
  fi
  # From here on, whatever happens, the teardown runs (phys_teardown_pending).
  : >"$2" && : >"$2.teardown" && SMOKE_RESTORED_URL_FILE=$2 phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
}

# SMOKE_TEARDOWN_CMD once per URL_FILE.teardown marker under FOLDER, by
# whichever shell gets there first (a combination's, or the cleanup).
phys_teardown_pending() {
  local marker status
  while IFS= read -r -d '' marker; do
    rm -f -- "$marker"
    [[ -n "${SMOKE_TEARDOWN_CMD:-}" ]] || continue
    status=0
    SMOKE_RESTORED_URL_FILE=${marker%.teardown} bash -c "$SMOKE_TEARDOWN_CMD" </dev/null >&2 || status=$?
    ((status == 0)) ||
      phys__say "warning: SMOKE_TEARDOWN_CMD failed (exit $status); the restored server may still exist"
  done < <(find "$1" -name '*.teardown' -print0 2>/dev/null)
}

# --- the harness's plug point --------------------------------------------------
phys_configure() { PHYS_PITR=$1 PHYS_PITR_KIND=$2 PHYS_RECOVERY_TIMEOUT=$3; }

# phys_use WORK SOURCE_DB SOURCE_URL SOURCE_MAJOR: the source, once known.
phys_use() { PHYS_WORK=$1 PHYS_SOURCE_DB=$2 PHYS_SOURCE_URL=$3 PHYS_SOURCE_MAJOR=$4; }

# phys_setup_source DIR PORT METHODS...: the running throwaway cluster readied.
phys_setup_source() {
  PHYS_BINDIR=$(cat "$1/$PGC_MARKER_FILE") || fail "cannot read the throwaway cluster's binaries folder"
  (($# > 2)) || ((PHYS_PITR)) || return 0
  PHYS_SOURCE_DIR=$1 PHYS_DIR=$1/physical
  say "physical backups: archiving on the throwaway cluster${3:+ for ${*:3}}"
  phys__strict phys__prepare "${@:2}" || fail "cannot prepare the throwaway cluster for physical backups"
}

# What every backup and restore command of the operator gets.
phys__export_command_env() {
  [[ -z "$PHYS_DIR" ]] || export SMOKE_WAL_ARCHIVE=$PHYS_DIR/wal-archive
  phys__ensure_bindir
  export SMOKE_SOURCE_URL=$PHYS_SOURCE_URL SMOKE_SOURCE_DB=$PHYS_SOURCE_DB SMOKE_PG_BINDIR=$PHYS_BINDIR
  [[ -n "${PHYS_TARGET[kind]:-}" ]] || return 0 # PITR, once the target is recorded
  export SMOKE_RECOVERY_TARGET=${PHYS_TARGET[kind]} SMOKE_RECOVERY_TARGET_TIME=${PHYS_TARGET[time]} \
    SMOKE_RECOVERY_TARGET_LSN=${PHYS_TARGET[lsn]} SMOKE_RECOVERY_TARGET_XID=${PHYS_TARGET[xid]}
}

# Restores start with the throwaway source's binaries, else the source major's.
phys__ensure_bindir() {
  if [[ -n "$PHYS_BINDIR" ]]; then
    return 0
  elif [[ -n "${SMOKE_PG_BINDIR:-}" ]]; then
    PHYS_BINDIR=$SMOKE_PG_BINDIR
  elif [[ -x "/usr/lib/postgresql/$PHYS_SOURCE_MAJOR/bin/initdb" ]]; then
    PHYS_BINDIR=/usr/lib/postgresql/$PHYS_SOURCE_MAJOR/bin
  else
    PHYS_BINDIR=$(pgc_bindir)
  fi
}

# phys_backup METHOD PATH: PATH is the backup's folder for basebackup and the command methods.
phys_backup() {
  case "$1" in
    command-cluster | command-url)
      phys__export_command_env && mkdir -p -- "$2" &&
        SMOKE_BACKUP_DIR=$2 SMOKE_METHOD=$1 phys__run bash -c "$SMOKE_BACKUP_CMD" >&2 ;;
    *) phys__strict phys__backup "$1" "$2" ;;
  esac
}

phys_backup_label() { cat -- "$PHYS_WORK/physical.$1.label" 2>/dev/null || printf 'taken by SMOKE_BACKUP_CMD'; }

phys_archive_source_now() { phys__strict phys__archive_now "$(pgc_port "$PHYS_SOURCE_DIR")"; }

# phys_record_target URL FILE: the PITR target after workload A, its JSON in FILE.
phys_record_target() {
  phys_ask PHYS_TARGET "$PHYS_WORK/pitr.target.err" --mode=pitr-target --db-url="$1" \
    --target-kind="$PHYS_PITR_KIND" --target-file="$2" ||
    { phys__say "cannot record the PITR target: $(phys_reason "$PHYS_WORK/pitr.target.err")"; return 1; }
}

# phys_target_value KIND: the recorded target of KIND (time, lsn, xid).
phys_target_value() { printf '%s\n' "${PHYS_TARGET[$1]}"; }

# phys_switch_wal URL: pg_switch_wal() when the role at URL may run it; else prints why not and returns 1.
phys_switch_wal() {
  "$PHYS_LIB/../bin/backupsmoke" --mode=switch-wal --db-url="$1" </dev/null >/dev/null 2>"$PHYS_WORK/switch-wal.err" ||
    { phys_reason "$PHYS_WORK/switch-wal.err"; return 1; }
}

# phys_restore_for NAME METHOD RESTORED_BY RESULT: the restore, out of
# recovery; the caller's array RESULT gets the tool's answer (url, database,
# password). Failures end through the caller's restore_failed REASON.
phys_restore_for() {
  local name=$1 method=$2 status=0 server=() err=$PHYS_WORK/await.$1.err
  phys__export_command_env || restore_failed "no server binaries to start the restored cluster with"
  export SMOKE_BACKUP_DIR=$PHYS_WORK/backup.$method SMOKE_METHOD=$method
  if [[ "$method" == command-url ]]; then
    phys_restore_command url "$PHYS_WORK/restored-url.$name" || status=$?
    ((status == 0)) || restore_failed "the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"
    server=(--restored-url-file="$PHYS_WORK/restored-url.$name")
  else
    phys_new_restore_dir PHYS_RESTORED_DIR || restore_failed "cannot make a folder for the restored cluster"
    if [[ "$method" == command-cluster ]]; then
      phys_restore_command cluster "$PHYS_RESTORED_DIR" || status=$?
    else
      phys__strict phys__restore_tool "$method" "$PHYS_RESTORED_DIR" || status=$?
    fi
    ((status == 0)) || restore_failed "$3 failed (exit $status)"
    "$PHYS_BINDIR/pg_controldata" "$PHYS_RESTORED_DIR/data" >"$PHYS_WORK/controldata.$name" 2>&1 || true
    phys_start_restored "$PHYS_RESTORED_DIR" >&2 ||
      restore_failed "the restored data directory does not start as a server (its log is above)"
    # The role the harness works as owns the scratch database on the copy too.
    server=(--cluster="$PHYS_RESTORED_DIR" --roles="${PGUSER:-postgres}" --database="$PHYS_SOURCE_DB"
      --source-url="$PHYS_SOURCE_URL" --controldata="$PHYS_WORK/controldata.$name")
  fi
  phys_ask "$4" "$err" --mode=await-recovery --need-writes --recovery-timeout="$PHYS_RECOVERY_TIMEOUT" "${server[@]}" ||
    restore_failed "$(phys_reason "$err")"
  local -n phys__result=$4
  printf '%s\n' "${phys__result[wal]}" >"$PHYS_WORK/restored.$name.wal"
  [[ -z "$PHYS_RESTORED_DIR" ]] || cp -- "$PHYS_RESTORED_DIR/server.log" "$PHYS_WORK/restored.$name.log"
}

# In PITR mode the text oracle's dumps lose their sequence values: WAL
# replay brings a sequence up to 32 values ahead (nextval logs ahead).
phys_oracle_after_replay() {
  ((PHYS_PITR)) && [[ "$1" == text && -f "$2" && -f "$3" ]] || return 0
  sed -i '/^SELECT pg_catalog.setval(/d' "$2" "$3"
}

# After a combination's record: its restored cluster goes, the operator's teardown runs.
phys_release() {
  [[ -z "$PHYS_RESTORED_DIR" ]] || pgc_stop "$PHYS_RESTORED_DIR"
  PHYS_RESTORED_DIR=''
  phys_teardown_pending "$PHYS_WORK"
}
