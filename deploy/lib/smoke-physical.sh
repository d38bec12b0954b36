# shellcheck shell=bash
# Physical backups and point-in-time recovery for the smoke harness (SPEC
# §9.6), sourced by deploy/test/backup-restore-smoke.sh after pg-cluster.sh.
#
# On the harness's throwaway cluster, a folder "physical" inside the
# cluster's own folder (so it goes with the cluster, whatever happens)
# holds the WAL archive the harness keeps, pgBackRest's repository, spool,
# log and lock folders, Barman's home and log; archive_command feeds them
# all. No daemon is used: pgBackRest archives synchronously (archive-push in
# archive_command) and Barman takes its WAL through its incoming folder,
# moved by a one-shot `barman archive-wal`; nothing of theirs outlives the
# run. Tool output goes to log files in that folder, shown when a step fails.
#
# Steps made of several commands run in a bash of their own with set -e in
# force (phys__strict: bash ignores -e inside a function whose status is
# tested), so any failing command fails the step; the harness judges the
# step's status once. What the tools printed is kept in the work folder and
# the tool turns it into evidence (--mode=backup-evidence and the report:
# PhysicalEvidence.java). Failures of the restore path end through the
# caller's restore_failed REASON (the harness: the combination fails; the
# drill: its report says so).

PHYS_LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
PHYS_STANZA=smoke # pgBackRest stanza and Barman server name (PhysicalEvidence.SERVER)

# The run's record (set by phys_configure, phys_use, phys_setup_source):
PHYS_PITR=0               # SMOKE_PITR
PHYS_PITR_KIND='time'     # SMOKE_PITR_TARGET: time | lsn | xid
PHYS_RECOVERY_TIMEOUT=120 # SMOKE_RECOVERY_TIMEOUT (seconds)
PHYS_WORK=''              # the harness's work folder
PHYS_SOURCE_DB=''         # the source database
PHYS_SOURCE_URL=''        # its URL, without a password
PHYS_SOURCE_MAJOR=''      # the source server's major version
PHYS_SOURCE_DIR=''        # the throwaway source cluster's folder (pg-cluster.sh), if any
PHYS_DIR=''               # the physical folder inside it
PHYS_BINDIR=''            # server binaries for the source and the restores
PHYS_RESTORED_DIR=''      # the cluster folder of the restore being judged (phys_release stops it)

phys__say() {
  printf 'backup-restore-smoke: %s\n' "$*" >&2
}

# Runs a command the way the harness runs its children, when it can.
phys__run() {
  if declare -F run_child >/dev/null; then
    run_child "$@"
  else
    "$@" </dev/null
  fi
}

# phys__strict FUNCTION ARGS...: FUNCTION of this file in a new bash with
# set -euo pipefail, the run's record passed along.
phys__strict() {
  # shellcheck disable=SC2016 # expanded by the new bash
  phys__run bash -c 'set -euo pipefail; . "$0/pg-cluster.sh"; . "$0/smoke-physical.sh"; eval "$1"; "${@:2}"' \
    "$PHYS_LIB" "$(declare -p PHYS_DIR PHYS_SOURCE_DIR PHYS_BINDIR PHYS_WORK PHYS_PITR_KIND)" "$@"
}

# Runs a command as the cluster's owner in PHYS_DIR, output to LOG; on
# failure shows the end of the log.
phys__logged() {
  local log=$1
  shift
  pgc__as_owner "$PHYS_DIR" "$@" >>"$log" 2>&1 || { phys__say "failed: $*"; tail -n 15 -- "$log" >&2; return 1; }
}

phys__pgbackrest() {
  phys__logged "$PHYS_DIR/pgbackrest.out" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" \
    --stanza="$PHYS_STANZA" "$@"
}

phys__barman() {
  phys__logged "$PHYS_DIR/barman.out" barman -c "$PHYS_DIR/barman/barman.conf" "$@"
}

# psql as the superuser of the throwaway cluster on PORT.
phys__sql() {
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

# Writes stdin to FILE (strict) and hands it to the owner of folder OWNER_DIR.
phys__write_owned() {
  cat >"$1"
  [[ "$(id -u)" -ne 0 ]] || chown "$(stat -c %U "$2"):" "$1"
}

# --- the source --------------------------------------------------------------

# phys__prepare PORT TOOLS... (strict): readies the running throwaway
# cluster for the TOOLS (archive: the harness's own WAL archive, always;
# pgbackrest; barman), turns archiving on and restarts it on the same port.
phys__prepare() {
  local port=$1 tools=" ${*:2} " base=$PHYS_DIR
  pgc__as_owner "$PHYS_SOURCE_DIR" mkdir -m 700 -- "$PHYS_DIR"
  pgc__as_owner "$PHYS_DIR" mkdir -p -m 700 -- "$PHYS_DIR/wal-archive"
  [[ "$tools" != *' pgbackrest '* ]] || phys__pgbackrest_conf "$port"
  [[ "$tools" != *' barman '* ]] || phys__barman_conf "$port"
  phys__archive_script
  {
    printf 'archive_mode = on\narchive_command = %s\n' "$(pgc__conf_string "$(phys__archive_command "$tools")")"
  } >>"$PHYS_SOURCE_DIR/data/postgresql.conf"
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
  if [[ -f "$base/barman/barman.conf" ]]; then
    phys__archive_now "$port" # Barman's check wants at least one WAL file received.
    phys__barman check "$PHYS_STANZA"
  fi
}

phys__pgbackrest_conf() {
  local base=$PHYS_DIR/pgbackrest
  pgc__as_owner "$PHYS_DIR" mkdir -p -m 700 -- "$base/repo" "$base/spool" "$base/log" "$base/lock"
  phys__write_owned "$base/pgbackrest.conf" "$PHYS_DIR" <<EOF
[global]
repo1-path=$base/repo
repo1-retention-full=1
spool-path=$base/spool
log-path=$base/log
lock-path=$base/lock
log-level-console=warn
log-level-file=detail
start-fast=y
compress-type=none

[$PHYS_STANZA]
pg1-path=$PHYS_SOURCE_DIR/data
pg1-port=$1
pg1-socket-path=$PHYS_SOURCE_DIR
pg1-user=postgres
EOF
}

phys__barman_conf() {
  local base=$PHYS_DIR/barman owner=postgres
  [[ "$(id -u)" -eq 0 ]] || owner=$(id -un)
  pgc__as_owner "$PHYS_DIR" mkdir -p -m 700 -- "$base/home/$PHYS_STANZA/incoming"
  phys__write_owned "$base/barman.conf" "$PHYS_DIR" <<EOF
[barman]
barman_user = $owner
barman_home = $base/home
log_file = $base/barman.log
log_level = INFO
path_prefix = $PHYS_BINDIR

[$PHYS_STANZA]
description = BackupSmoke throwaway cluster
conninfo = host=127.0.0.1 port=$1 user=postgres dbname=postgres
streaming_conninfo = host=127.0.0.1 port=$1 user=postgres
backup_method = postgres
archiver = on
streaming_archiver = off
EOF
}

# A script copying a WAL file into the harness's archive and, when Barman is
# set up, its incoming folder; a copy lands under a temporary name first, so
# no reader sees half a segment.
phys__archive_script() {
  local script=$PHYS_DIR/archive-wal.sh
  # shellcheck disable=SC2016 # $1 and $2 are the written script's arguments
  {
    printf '#!/bin/sh\n# archive_command of the BackupSmoke throwaway cluster: %%p %%f\nset -e\n'
    printf 'copy() { test -f "$2/$1" || { cp "$3" "$2/.$1.part" && mv "$2/.$1.part" "$2/$1"; }; }\n'
    printf 'copy "$2" %q "$1"\n' "$PHYS_DIR/wal-archive"
    [[ ! -f "$PHYS_DIR/barman/barman.conf" ]] ||
      printf 'copy "$2" %q "$1"\n' "$PHYS_DIR/barman/home/$PHYS_STANZA/incoming"
  } | phys__write_owned "$script" "$PHYS_DIR"
  chmod 700 "$script"
}

# pgBackRest's repository first (its check insists on seeing itself in
# archive_command), then the script.
phys__archive_command() {
  [[ "$1" != *' pgbackrest '* ]] ||
    printf 'pgbackrest --config=%s --stanza=%s archive-push %%p && ' "$PHYS_DIR/pgbackrest/pgbackrest.conf" "$PHYS_STANZA"
  printf '%s %%p %%f' "$PHYS_DIR/archive-wal.sh"
}

# phys__archive_now PORT (strict): switches to a new WAL segment and waits
# (60 s at most) until the one just closed is archived everywhere; Barman's
# incoming WAL is then moved into its archive.
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

# --- backups (strict): the tool's output into WORK/evidence.METHOD ------------

# A full backup, then pgBackRest's own verdicts: info (status) and verify
# (checksums of every file and WAL segment).
phys__backup_pgbackrest() {
  local out=$1
  phys__pgbackrest --type=full backup
  pgc__as_owner "$PHYS_DIR" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" --stanza="$PHYS_STANZA" \
    --output=json info >"$out/info.json" 2>>"$PHYS_DIR/pgbackrest.out"
  phys__logged "$out/verify.out" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" \
    --stanza="$PHYS_STANZA" --output=text --verbose verify || printf failed >"$out/verdict"
}

# A full backup (pg_basebackup under Barman), then Barman's own verdict:
# check-backup (every WAL file the backup needs is in the archive).
phys__backup_barman() {
  local out=$1
  phys__barman backup "$PHYS_STANZA"
  phys__barman archive-wal "$PHYS_STANZA"
  pgc__as_owner "$PHYS_DIR" barman -c "$PHYS_DIR/barman/barman.conf" -f json show-backup "$PHYS_STANZA" latest \
    >"$out/show-backup.json" 2>>"$PHYS_DIR/barman.out"
  phys__barman check-backup "$PHYS_STANZA" latest || printf failed >"$out/verdict"
}

# pg_basebackup of the whole cluster into DEST with the WAL that makes it
# consistent, then pg_verifybackup's verdict on it.
phys__backup_basebackup() {
  local out=$1 dest=$2 port
  port=$(pgc_port "$PHYS_SOURCE_DIR")
  "$PHYS_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres --pgdata="$dest" --wal-method=stream \
    --checkpoint=fast --no-password >>"$PHYS_DIR/basebackup.out" 2>&1 ||
    { phys__say "pg_basebackup failed"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; return 1; }
  cp -- "$dest/backup_label" "$dest/backup_manifest" "$out/"
  "$PHYS_BINDIR/pg_verifybackup" "$dest" >>"$PHYS_DIR/basebackup.out" 2>&1 ||
    { printf failed >"$out/verdict"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; }
}

# phys__backup METHOD PATH (strict): the backup, then the tool's evidence in
# WORK/physical.METHOD.json and its label in WORK/physical.METHOD.label.
phys__backup() {
  local method=$1 out=$PHYS_WORK/evidence.$1
  mkdir -m 700 -- "$out"
  printf passed >"$out/verdict"
  "phys__backup_$method" "$out" "$2"
  "$PHYS_LIB/../bin/backupsmoke" --mode=backup-evidence --run-record="$out" >"$PHYS_WORK/physical.$method.label"
}

# --- restores --------------------------------------------------------------------

# The data directory DATA to the cluster's user (the owner of its folder)
# with PostgreSQL's modes, whatever the restore left (root-owned files).
phys__own_data() {
  chmod 700 "$1"
  [[ "$(id -u)" -ne 0 ]] || chown -R "$(stat -c %U "$(dirname -- "$1")"):" "$1"
}

# phys__restore_tool METHOD DIR (strict): pgbackrest restore, barman recover
# or a copy of the base backup into DIR/data, to the end of the backup or
# to the PITR target (WORK/pitr.target.json), then promote.
phys__restore_tool() {
  local method=$1 data=$2/data kind='' value='' stop=()
  if [[ -f "$PHYS_WORK/pitr.target.json" ]]; then
    kind=$PHYS_PITR_KIND
    value=$(phys_target_value "$PHYS_WORK/pitr.target.json" "$kind")
  fi
  case "$method" in
    pgbackrest)
      if [[ -n "$kind" ]]; then stop=(--type="$kind" --target="$value"); else stop=(--type=immediate); fi
      phys__pgbackrest --pg1-path="$data" "${stop[@]}" --target-action=promote restore ;;
    barman)
      if [[ -n "$kind" ]]; then stop=(--target-"$kind" "$value"); else stop=(--target-immediate); fi
      phys__barman recover "${stop[@]}" --target-action promote "$PHYS_STANZA" latest "$data" ;;
    basebackup)
      cp -a -- "$PHYS_WORK/backup.basebackup/." "$data/"
      phys__own_data "$data"
      [[ -n "$kind" ]] || return 0
      printf "restore_command = %s\nrecovery_target_%s = %s\nrecovery_target_action = 'promote'\n" \
        "$(pgc__conf_string "cp $PHYS_DIR/wal-archive/%f %p")" "$kind" "$(pgc__conf_string "$value")" \
        >>"$data/postgresql.conf"
      phys__write_owned "$data/recovery.signal" "$2" </dev/null ;;
  esac
}

# phys_new_restore_dir VAR: a new registered cluster folder (pg-cluster.sh,
# so pgc_stop_all and the watchdog remove it) with an empty data directory
# owned by the cluster's user, named in the caller's variable VAR.
# shellcheck disable=SC2034 # phys__dir is the caller's variable
phys_new_restore_dir() {
  local -n phys__dir=$1
  phys__ensure_bindir && pgc__new_folder "$PHYS_BINDIR" &&
    pgc__as_owner "$PGC_NEW" mkdir -m 700 -- "$PGC_NEW/data" && phys__dir=$PGC_NEW
}

# phys_start_restored DIR: starts the data directory of DIR on a
# free loopback port with settings fit for a private copy, last in
# postgresql.conf so they win: loopback only, its own socket folder, no
# archiving (it must not write into the source's archives), hot standby (a
# server kept in recovery can be seen and named), no SSL files or log
# collector of the source's host, and an hba file of its own: trust, or md5
# (SCRAM too) when a password is in use, for the copy keeps the source's
# roles and passwords. Its port: pgc_port DIR.
phys_start_restored() {
  phys__strict phys__start_restored "$1"
}

phys__start_restored() {
  local dir=$1 data=$1/data method=trust
  [[ -f "$data/PG_VERSION" ]] || { phys__say "the restore left no data directory in $data (no PG_VERSION)"; return 1; }
  [[ -z "${PGPASSWORD:-}" ]] || method=md5
  printf 'local all all trust\nhost all all 127.0.0.1/32 %s\n' "$method" | phys__write_owned "$dir/pg_hba.smoke.conf" "$dir"
  printf 'listen_addresses = %s\nunix_socket_directories = %s\nhba_file = %s\n' "$(pgc__conf_string 127.0.0.1)" \
    "$(pgc__conf_string "$dir")" "$(pgc__conf_string "$dir/pg_hba.smoke.conf")" >>"$data/postgresql.conf"
  printf "archive_mode = off\nhot_standby = on\nssl = off\nlogging_collector = off\n" >>"$data/postgresql.conf"
  phys__own_data "$data"
  rm -f -- "$data/postmaster.pid" "$data/postmaster.opts"
  pgc__launch_on_free_port "$PHYS_BINDIR" "$dir"
}

# phys_restore_command MODE URL_FILE: runs SMOKE_RESTORE_CMD with bash for
# command-cluster (MODE cluster: it fills the empty SMOKE_RESTORE_PGDATA,
# URL_FILE being the cluster folder) or command-url (MODE url: it writes
# the libpq URL of the restored database to SMOKE_RESTORED_URL_FILE,
# URL_FILE). The caller exports what every restore command gets. Its output
# goes to stderr: the harness's stdout carries only its own lines.
phys_restore_command() {
  if [[ "$1" == cluster ]]; then
    SMOKE_RESTORE_PGDATA=$2/data phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
    return
  fi
  # From here on, whatever happens, the teardown runs (phys_teardown_pending).
  : >"$2" && : >"$2.teardown" && SMOKE_RESTORED_URL_FILE=$2 phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
}

# phys_read_restored_url FILE: prints the one URL the restore command wrote
# (postgres:// or postgresql://), or returns 1.
phys_read_restored_url() {
  local url
  url=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | head -n 1 | tr -d '[:space:]') || url=''
  [[ "$url" =~ ^postgres(ql)?:// ]] && printf '%s\n' "$url"
}

# phys_teardown_pending FOLDER: SMOKE_TEARDOWN_CMD, once, for every
# command-url restore under FOLDER not torn down yet (URL_FILE.teardown
# marks one), with SMOKE_RESTORED_URL_FILE naming its URL file. The marker
# is a file, so the teardown runs whichever shell gets there first: the
# combination's own, or the harness's cleanup should that one be killed.
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

# phys_await_recovery_end URL [SECONDS]: waits until the server at URL has
# left recovery (SECONDS: SMOKE_RECOVERY_TIMEOUT; 120). Prints nothing and
# returns 0 when it is a writable primary; else prints one line saying why
# not (paused, still in recovery, read-only) and returns 1.
phys_await_recovery_end() {
  local url=$1 limit=${2:-120} deadline state
  deadline=$((SECONDS + limit))
  while :; do
    if ! state=$(psql -X -q -At -F ' ' -d "$url" -c \
      "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused()::text ELSE '-' END,
              current_setting('transaction_read_only'), coalesce(pg_last_wal_replay_lsn()::text, '-')" 2>&1); then
      printf 'the restored server does not answer: %s\n' "${state//$'\n'/ }"
      return 1
    fi
    case "$state" in
      'f - off '*) return 0 ;;
      'f - on '*)
        printf 'the restored server is read-only (transaction_read_only = on): continuity cannot write on it\n'
        return 1 ;;
      't true '*)
        printf 'the restored server is paused in recovery (pg_is_wal_replay_paused() = true) at replay LSN %s: promote it or set recovery_target_action = promote\n' "${state##* }"
        return 1 ;;
    esac
    if ((SECONDS >= deadline)); then
      printf 'the restored server is still in recovery after %s s (replayed up to %s): it did not reach its target or end of WAL and promote\n' "$limit" "${state##* }"
      return 1
    fi
    sleep 0.2
  done
}

# phys_other_cluster_reason DATA SOURCE_URL: one line, and status 1, when
# the data directory DATA is of another cluster than the source server at
# SOURCE_URL (their system_identifier differ: a backup of another server, a
# wrong stanza or Barman server), rather than let the judge find a database
# missing. Nothing when they agree, or when either cannot be read.
phys_other_cluster_reason() {
  local restored source
  source=$(psql -X -q -At -d "$2" -c 'SELECT system_identifier FROM pg_control_system()' 2>/dev/null) || return 0
  restored=$("$PHYS_BINDIR/pg_controldata" "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p') || return 0
  [[ -n "$restored" && -n "$source" && "$restored" != "$source" ]] || return 0
  printf 'the restore is of another cluster: its system identifier is %s, the source'"'"'s is %s (a backup of another server: check the stanza or server the restore reads)\n' "$restored" "$source"
  return 1
}

# phys_switch_wal_reason URL: one line, and status 1, when the role at URL
# may not run pg_switch_wal() (asked before, so the server logs no refusal).
phys_switch_wal_reason() {
  local url=$1 allowed
  allowed=$(psql -X -q -At -d "$url" -c "SELECT has_function_privilege('pg_catalog.pg_switch_wal()', 'EXECUTE')" 2>&1) ||
    { printf 'cannot ask whether pg_switch_wal() may run: %s\n' "${allowed//$'\n'/ }"; return 1; }
  [[ "$allowed" == t ]] && return 0
  printf 'role %s may not run pg_switch_wal() (it needs superuser, or GRANT EXECUTE ON FUNCTION pg_catalog.pg_switch_wal() TO %s)\n' \
    "$(psql -X -q -At -d "$url" -c 'SELECT current_user')" "$(psql -X -q -At -d "$url" -c 'SELECT quote_ident(current_user)')"
  return 1
}

# phys_target_value FILE KIND: the target of KIND (time, lsn, xid).
phys_target_value() {
  jq -r --arg kind "$2" '.[$kind]' "$1"
}

# --- the harness's plug point ----------------------------------------------------

# phys_configure PITR KIND RECOVERY_TIMEOUT: the knobs this file follows.
phys_configure() {
  PHYS_PITR=$1 PHYS_PITR_KIND=$2 PHYS_RECOVERY_TIMEOUT=$3
}

# phys_use WORK SOURCE_DB SOURCE_URL SOURCE_MAJOR: the source, once known.
phys_use() {
  PHYS_WORK=$1 PHYS_SOURCE_DB=$2 PHYS_SOURCE_URL=$3 PHYS_SOURCE_MAJOR=$4
}

# phys_setup_source DIR PORT METHODS...: on the throwaway cluster, once it
# runs, archiving into the harness's own WAL archive (PITR) and the set-up
# of the METHODS backed up from it (basebackup, pgbackrest, barman).
phys_setup_source() {
  PHYS_BINDIR=$(cat "$1/$PGC_MARKER_FILE") || fail "cannot read the throwaway cluster's binaries folder"
  (($# > 2)) || ((PHYS_PITR)) || return 0
  PHYS_SOURCE_DIR=$1 PHYS_DIR=$1/physical
  say "physical backups: archiving on the throwaway cluster${3:+ for ${*:3}}"
  phys__strict phys__prepare "${@:2}" || fail "cannot prepare the throwaway cluster for physical backups"
}

# The environment every backup and restore command of the operator gets.
phys__export_command_env() {
  [[ -z "$PHYS_DIR" ]] || export SMOKE_WAL_ARCHIVE=$PHYS_DIR/wal-archive
  phys__ensure_bindir && export SMOKE_SOURCE_URL=$PHYS_SOURCE_URL SMOKE_SOURCE_DB=$PHYS_SOURCE_DB SMOKE_PG_BINDIR=$PHYS_BINDIR
}

# In PITR mode, the target every restore command gets.
phys__export_target_env() {
  ((PHYS_PITR)) || return 0
  export SMOKE_RECOVERY_TARGET=$PHYS_PITR_KIND
  SMOKE_RECOVERY_TARGET_TIME=$(phys_target_value "$PHYS_WORK/pitr.target.json" time)
  SMOKE_RECOVERY_TARGET_LSN=$(phys_target_value "$PHYS_WORK/pitr.target.json" lsn)
  SMOKE_RECOVERY_TARGET_XID=$(phys_target_value "$PHYS_WORK/pitr.target.json" xid)
  export SMOKE_RECOVERY_TARGET_TIME SMOKE_RECOVERY_TARGET_LSN SMOKE_RECOVERY_TARGET_XID
}

# The server binaries a restored cluster starts with: the throwaway
# source's, else those of the source's major (SMOKE_PG_BINDIR first).
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

# phys_backup METHOD PATH: the backup of a physical METHOD (PATH: its folder
# in the work folder, for basebackup and the command methods); the evidence
# goes to physical.METHOD.json in the work folder.
phys_backup() {
  case "$1" in
    command-cluster | command-url)
      phys__export_command_env && mkdir -p -- "$2" &&
        SMOKE_BACKUP_DIR=$2 SMOKE_METHOD=$1 phys__run bash -c "$SMOKE_BACKUP_CMD" >&2 ;;
    *) phys__strict phys__backup "$1" "$2" ;;
  esac
}

# phys_backup_label METHOD: how the backup phase names a repository backup.
phys_backup_label() {
  cat -- "$PHYS_WORK/physical.$1.label" 2>/dev/null || printf 'taken by SMOKE_BACKUP_CMD'
}

# phys_archive_source_now: the WAL written so far archived (PITR, the
# throwaway source).
phys_archive_source_now() {
  phys__strict phys__archive_now "$(pgc_port "$PHYS_SOURCE_DIR")"
}

# phys_record_target URL FILE: records, right after workload A, the point
# to restore to, as time, LSN and xid, and A's row count and chain head, in
# FILE (JSON, with the kind asked for). A marker transaction of the
# harness's own does it: its xid, the WAL insert position and the clock,
# read inside it once every commit of A is done. Whatever each restore does
# with "inclusive", it then ends with all of A and nothing written later:
# every commit of A lies before the LSN, the time and the marker's commit;
# every later commit after them.
phys_record_target() {
  local line xid lsn time rows head
  line=$(psql -X -q -At -v ON_ERROR_STOP=1 -F '|' -d "$1" -c 'BEGIN' \
    -c "SELECT pg_current_xact_id(), pg_current_wal_insert_lsn(),
               to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00',
               (SELECT count(*) FROM audit_events), (SELECT row_hash FROM audit_chain_head WHERE id = 1)" \
    -c 'COMMIT') || { phys__say "cannot record the PITR target: ${line:-}"; return 1; }
  IFS='|' read -r xid lsn time rows head <<<"$line"
  jq -n --arg kind "$PHYS_PITR_KIND" --arg xid "$xid" --arg lsn "$lsn" --arg time "$time" --argjson rows "$rows" \
    --arg head "$head" '{kind: $kind, time: $time, lsn: $lsn, xid: $xid, row_count: $rows, chain_head_hash: $head}' >"$2"
}

# phys_restore_for NAME METHOD RESTORED_BY RESULT: restores the backup of
# METHOD (RESTORED_BY: what does it, for the reason) and brings the
# restored server up to where it can be judged: RESULT[url] (the caller's
# associative array: the restored server's URL of the scratch database, no
# password) and RESULT[password]. What the report needs of the restored
# server goes to WORK/restored.NAME.wal and .log. A failure ends through
# the caller's restore_failed REASON. Call it in the current shell: the
# restored cluster is released by phys_release.
# shellcheck disable=SC2034 # phys__result is the caller's array
phys_restore_for() {
  local name=$1 method=$2 restored_by=$3 status=0 url password=${PGPASSWORD:-} log='' reason port
  local -n phys__result=$4
  phys__export_command_env || restore_failed "no server binaries to start the restored cluster with"
  phys__export_target_env
  export SMOKE_BACKUP_DIR=$PHYS_WORK/backup.$method SMOKE_METHOD=$method
  if [[ "$method" == command-url ]]; then
    phys_restore_command url "$PHYS_WORK/restored-url.$name" || status=$?
    ((status == 0)) || restore_failed "the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"
    url=$(phys_read_restored_url "$PHYS_WORK/restored-url.$name") ||
      restore_failed "the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE"
    # A password in the restored URL is used through PGPASSWORD, never on a command line.
    if [[ "$url" =~ ^(postgres(ql)?://[^:@/]*):([^@/]*)@(.*)$ ]]; then
      password=$(url_decode "${BASH_REMATCH[3]}")
      url="${BASH_REMATCH[1]}@${BASH_REMATCH[4]}"
    fi
  else
    phys_new_restore_dir PHYS_RESTORED_DIR || restore_failed "cannot make a folder for the restored cluster"
    if [[ "$method" == command-cluster ]]; then
      phys_restore_command cluster "$PHYS_RESTORED_DIR" || status=$?
    else
      phys__strict phys__restore_tool "$method" "$PHYS_RESTORED_DIR" || status=$?
    fi
    ((status == 0)) || restore_failed "$restored_by failed (exit $status)"
    reason=$(phys_other_cluster_reason "$PHYS_RESTORED_DIR/data" "$PHYS_SOURCE_URL") || restore_failed "$reason"
    phys_start_restored "$PHYS_RESTORED_DIR" >&2 ||
      restore_failed "the restored data directory does not start as a server (its log is above)"
    port=$(pgc_port "$PHYS_RESTORED_DIR")
    # The role the harness works as owns the scratch database on the copy too.
    url="postgres://$(url_encode "${PGUSER:-postgres}")@127.0.0.1:$port/$(url_encode "$PHYS_SOURCE_DB")?sslmode=disable"
    log=$PHYS_RESTORED_DIR/server.log
  fi
  reason=$(PGPASSWORD=$password phys_await_recovery_end "$url" "$PHYS_RECOVERY_TIMEOUT") || restore_failed "$reason"
  PGPASSWORD=$password psql -X -q -At -d "$url" -c 'SELECT pg_walfile_name(pg_current_wal_lsn())' \
    >"$PHYS_WORK/restored.$name.wal" 2>/dev/null || true
  [[ -z "$log" ]] || cp -- "$log" "$PHYS_WORK/restored.$name.log"
  phys__result[url]=$url
  phys__result[password]=$password
}

# phys_url_database URL: the database a libpq URL names.
phys_url_database() {
  local rest=${1#*://}
  rest=${rest#*/}
  url_decode "${rest%%\?*}"
}

# phys_oracle_after_replay ORACLE SOURCE RESTORED: in PITR mode, the text oracle's
# dumps without their sequence values: WAL replay brings a sequence back up
# to 32 values ahead of the source (nextval logs ahead), which is correct.
# The semantic oracle already lets a sequence be ahead.
phys_oracle_after_replay() {
  ((PHYS_PITR)) && [[ "$1" == text && -f "$2" && -f "$3" ]] || return 0
  sed -i '/^SELECT pg_catalog.setval(/d' "$2" "$3"
}

# phys_release: after a combination's record, its restored cluster goes
# and the operator's teardown runs.
phys_release() {
  [[ -z "$PHYS_RESTORED_DIR" ]] || pgc_stop "$PHYS_RESTORED_DIR"
  PHYS_RESTORED_DIR=''
  phys_teardown_pending "$PHYS_WORK"
}
