# shellcheck shell=bash
# Physical backups and point-in-time recovery (SPEC §9.6; deploy/docs/physical.md),
# sourced by the harness after pg-cluster.sh.

PHYS_LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
PHYS_STANZA=smoke # pgBackRest stanza and Barman server name (PhysicalEvidence.SERVER)

# The run's record (phys_use, phys_setup_source, phys_record_target, phys_use_target):
PHYS_WORK='' PHYS_SOURCE_DB='' PHYS_SOURCE_URL='' PHYS_SOURCE_MAJOR=''
PHYS_SOURCE_DIR='' PHYS_DIR='' PHYS_SOURCE_PORT='' # the throwaway source cluster's folder, its "physical", its port
PHYS_BINDIR=''                 # server binaries for the source and the restores
PHYS_RESTORED_DIR=''           # the restored cluster being judged (phys_release stops it)
declare -A PHYS_TARGET=()      # the PITR target: kind, time, lsn, xid

phys__say() { printf 'backup-restore-smoke: %s\n' "$*" >&2; }

phys__run() { if declare -F run_child >/dev/null; then run_child "$@"; else "$@" </dev/null; fi; }

# FUNCTION ARGS... in a new bash with set -euo pipefail (bash ignores -e
# inside a function whose status is tested), the run's record passed along.
phys__strict() {
  # shellcheck disable=SC2016 # expanded by the new bash
  phys__run bash -c 'set -euo pipefail; . "$0/pg-cluster.sh"; . "$0/smoke-physical.sh"; eval "$1"; "${@:2}"' \
    "$PHYS_LIB" "$(declare -p PHYS_DIR PHYS_SOURCE_DIR PHYS_SOURCE_PORT PHYS_BINDIR PHYS_WORK PHYS_TARGET)" "$@"
}

# phys_ask ARRAY ERR ARGS...: the tool's NUL-separated NAME=VALUE answer into ARRAY (from a pipe: it may hold
# a password), its say= entries said, ARRAY[status] its exit status, also returned; its stderr in ERR.
# shellcheck disable=SC2034 # phys__answer is the caller's array
phys_ask() {
  local -n phys__answer=$1
  local entry
  while IFS= read -r -d '' entry; do
    case "$entry" in
      say=*) phys__say "${entry#say=}" ;;
      *) phys__answer[${entry%%=*}]=${entry#*=} ;;
    esac
  done < <(rc=0 && "$PHYS_LIB/../bin/backupsmoke" "${@:3}" </dev/null 2>"$2" || rc=$? && printf 'status=%s\0' "$rc")
  return "${phys__answer[status]}"
}

# The tool's one-line reason in its stderr ERR, without "backupsmoke: ": its
# last line, but after a usage error (exit 2) the line before the usage help
# that follows it (SPEC 2), not the help's last line. In plain bash: no other
# program need be on PATH.
tool_reason() {
  local line reason=''
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" != 'Usage: backupsmoke'* || -z "$reason" ]] || break
    reason=$line
  done <"$1"
  printf '%s\n' "${reason#backupsmoke: }"
}

# The tool's reason (tool_reason of ERR); the lines before (a log's end) to stderr.
phys_reason() {
  head -n -1 -- "$1" >&2
  tool_reason "$1"
}

# phys__failed REASON LOG (phys_restore's): its on_fail restore with REASON and what LOG says last, as the tool reads it.
phys__failed() {
  phys__run "$PHYS_LIB/../bin/backupsmoke" --mode=await-recovery --step-failed="$1" --step-output="$2" 2>"$2.err" || true
  "$on_fail" restore "$(tool_reason "$2.err")"
}

# phys__logged LOG DIR COMMAND...: COMMAND as DIR's owner, its output in LOG, shown on failure.
phys__logged() {
  local log=$1 dir=$2
  pgc_as_owner "$dir" "${@:3}" >>"$log" 2>&1 || { phys__say "failed: ${*:3}"; tail -n 15 -- "$log" >&2; return 1; }
}

phys__pgbackrest() {
  phys__logged "$PHYS_DIR/pgbackrest.out" "$PHYS_DIR" pgbackrest --config="$PHYS_DIR/pgbackrest/pgbackrest.conf" \
    --stanza="$PHYS_STANZA" "$@"
}

phys__barman() { phys__logged "$PHYS_DIR/barman.out" "$PHYS_DIR" barman -c "$PHYS_DIR/barman/barman.conf" "$@"; }

# phys__prepare TOOLS... (strict): the folder "physical" and archiving (PhysicalSetup.java), checked.
phys__prepare() {
  local tools=" $* "
  pgc_as_owner "$PHYS_SOURCE_DIR" mkdir -m 700 -- "$PHYS_DIR"
  "$PHYS_LIB/../bin/backupsmoke" --mode=physical-setup --cluster="$PHYS_SOURCE_DIR" --bindir="$PHYS_BINDIR" \
    --tools="$(IFS=, && printf '%s' "$*")"
  pgc_give "$PHYS_DIR"
  pgc_as_owner "$PHYS_SOURCE_DIR" "$PHYS_BINDIR/pg_ctl" restart -D "$PHYS_SOURCE_DIR/data" \
    -l "$PHYS_SOURCE_DIR/server.log" -m fast -w -t 60 -s >/dev/null 2>&1 || {
    phys__say "could not restart the throwaway cluster with archiving on"
    pgc_show_log "$PHYS_SOURCE_DIR/server.log"
    return 1
  }
  [[ "$(psql -X -At -h 127.0.0.1 -p "$PHYS_SOURCE_PORT" -U postgres -d postgres -c 'SHOW archive_mode')" == on ]]
  [[ "$tools" != *' pgbackrest '* ]] || { phys__pgbackrest stanza-create && phys__pgbackrest check; }
  # Barman's check wants at least one WAL file received.
  [[ "$tools" != *' barman '* ]] || { phys__archive_now && phys__barman check "$PHYS_STANZA"; }
}

# phys__archive_now (strict): a WAL switch, archived within 60 s (--mode=archive-now), then into Barman's archive.
phys__archive_now() {
  "$PHYS_LIB/../bin/backupsmoke" --mode=archive-now \
    --db-url="postgres://postgres@127.0.0.1:$PHYS_SOURCE_PORT/postgres?sslmode=disable" </dev/null ||
    { tail -n 5 "$PHYS_SOURCE_DIR/server.log" >&2; return 1; }
  [[ ! -f "$PHYS_DIR/barman/barman.conf" ]] || phys__barman archive-wal "$PHYS_STANZA"
}

# phys__backup METHOD DEST (strict): the backup; its tool's output and own verdict in
# WORK/evidence.METHOD, read by --mode=backup-evidence.
phys__backup() {
  local method=$1 out=$PHYS_WORK/evidence.$1 conf=$PHYS_DIR/pgbackrest/pgbackrest.conf
  mkdir -m 700 -- "$out"
  printf passed >"$out/verdict"
  case "$method" in
    pgbackrest)
      phys__pgbackrest --type=full backup
      pgc_as_owner "$PHYS_DIR" pgbackrest --config="$conf" --stanza="$PHYS_STANZA" --output=json info \
        >"$out/info.json" 2>>"$PHYS_DIR/pgbackrest.out"
      phys__logged "$out/verify.out" "$PHYS_DIR" pgbackrest --config="$conf" --stanza="$PHYS_STANZA" --output=text \
        --verbose verify || printf failed >"$out/verdict" ;;
    barman)
      phys__barman backup "$PHYS_STANZA"
      phys__barman archive-wal "$PHYS_STANZA"
      pgc_as_owner "$PHYS_DIR" barman -c "$PHYS_DIR/barman/barman.conf" -f json show-backup "$PHYS_STANZA" latest \
        >"$out/show-backup.json" 2>>"$PHYS_DIR/barman.out"
      phys__barman check-backup "$PHYS_STANZA" latest || printf failed >"$out/verdict" ;;
    basebackup) # the whole cluster with the WAL that makes it consistent
      "$PHYS_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$PHYS_SOURCE_PORT" -U postgres --pgdata="$2" \
        --wal-method=stream --checkpoint=fast --no-password >>"$PHYS_DIR/basebackup.out" 2>&1 ||
        { phys__say "pg_basebackup failed"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; return 1; }
      cp -- "$2/backup_label" "$2/backup_manifest" "$out/"
      "$PHYS_BINDIR/pg_verifybackup" "$2" >>"$PHYS_DIR/basebackup.out" 2>&1 ||
        { printf failed >"$out/verdict"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; } ;;
  esac
  "$PHYS_LIB/../bin/backupsmoke" --mode=backup-evidence --run-record="$out" >"$PHYS_WORK/physical.$method.label"
}

# phys_tool_argv VAR METHOD DATA SET NAME [CONFIG]: pgBackRest's or Barman's restore of backup SET of
# NAME (stanza, server) into DATA, to the backup's end or PHYS_TARGET, promoted (--mode=restore-command).
# shellcheck disable=SC2034 # phys__argv is the caller's array
phys_tool_argv() {
  local -n phys__argv=$1
  local kind=${PHYS_TARGET[kind]:-}
  mapfile -t -d '' phys__argv < <("$PHYS_LIB/../bin/backupsmoke" --mode=restore-command --tool="$2" --pgdata="$3" \
    --backup-set="$4" --repository="$5" ${6:+--tool-config="$6"} ${kind:+--recovery-target="$kind=${PHYS_TARGET[$kind]}"})
}

# The throwaway source's repository: TOOL's configuration in PHYS_DIR/TOOL/TOOL.conf (PhysicalSetup.java).
phys__source_tool_argv() { phys_tool_argv "$@" latest "$PHYS_STANZA" "$PHYS_DIR/$2/$2.conf"; }

# phys__start_restored DIR AUTH [RECOVERY...] (strict): DIR/data served as a private copy (--mode=restored-setup).
phys__start_restored() {
  "$PHYS_LIB/../bin/backupsmoke" --mode=restored-setup --restored-cluster="$1" --auth="$2" "${@:3}" </dev/null
  pgc_give "$1/data"
  pgc_launch_on_free_port "$PHYS_BINDIR" "$1"
}

# The restored major picks the binaries (unless SMOKE_PG_BINDIR); the marker follows (cleanup's pg_ctl).
phys__pick_bindir() {
  local major
  major=$(cat "$1/data/PG_VERSION" 2>/dev/null) || major=''
  [[ -z "${SMOKE_PG_BINDIR:-}" && "$major" =~ ^[0-9]+$ && -x "/usr/lib/postgresql/$major/bin/postgres" ]] || return 0
  PHYS_BINDIR=/usr/lib/postgresql/$major/bin
  pgc_set_bindir "$1" "$PHYS_BINDIR"
}

# phys_restore REQUEST ANSWER: a combination's or the drill's restore, out of
# recovery; the tool's answer (url, database, password, wal) in the caller's
# array ANSWER. REQUEST (the caller's associative array) is described in
# physical.md; failures end through its on_fail restore|cannot REASON.
phys_restore() {
  local -n phys__request=$1
  local method=${phys__request[method]} on_fail=${phys__request[on_fail]} status=0 data argv=() server=() recovery=()
  local dir=${phys__request[dir]} name=${phys__request[name]:+.${phys__request[name]}}
  if [[ "$method" == command-url ]]; then
    # From here on, whatever happens, the teardown runs (phys_teardown_pending).
    : >"$dir/restored-url$name" && : >"$dir/restored-url$name.teardown" &&
      SMOKE_RESTORED_URL_FILE=$dir/restored-url$name phys__run bash -c "$SMOKE_RESTORE_CMD" >&2 || status=$?
    ((status == 0)) || "$on_fail" restore "the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"
    server=(--restored-url-file="$dir/restored-url$name")
  else
    { phys__ensure_bindir && pgc_new_folder PHYS_RESTORED_DIR "$PHYS_BINDIR" &&
      pgc_as_owner "$PHYS_RESTORED_DIR" mkdir -m 700 -- "$PHYS_RESTORED_DIR/data"; } ||
      "$on_fail" cannot "cannot make a folder for the restored cluster in ${TMPDIR:-/tmp}"
    data=$PHYS_RESTORED_DIR/data
    case "$method" in
      command-cluster) SMOKE_RESTORE_PGDATA=$data phys__run bash -c "$SMOKE_RESTORE_CMD" >&2 || status=$? ;;
      basebackup) # a PITR target: replay the WAL archive up to it
        cp -a -- "$PHYS_WORK/backup.basebackup/." "$data/" || status=$?
        [[ -z "${PHYS_TARGET[kind]:-}" ]] || recovery=(--wal-archive="$PHYS_DIR/wal-archive"
          --recovery-target="${PHYS_TARGET[kind]}=${PHYS_TARGET[${PHYS_TARGET[kind]}]}") ;;
      *) # its temporary files (Barman's) in the cluster's folder: a restore killed mid-way leaves none in TMPDIR
        "${phys__request[argv]}" argv "$method" "$data"
        TMPDIR=$PHYS_RESTORED_DIR phys__run phys__logged "$dir/restore$name.log" "$PHYS_RESTORED_DIR" "${argv[@]}" || status=$? ;;
    esac
    ((status == 0)) || { rm -rf -- "$data" # the room a restore filling TMPDIR took, for the reason's file
      phys__failed "${phys__request[restored_by]} failed (exit $status)" "$dir/restore$name.log"; }
    [[ -f "$data/PG_VERSION" ]] || "$on_fail" restore "the restore left no data directory in $data (no PG_VERSION)"
    phys__pick_bindir "$PHYS_RESTORED_DIR"
    # Read before the server starts (it renames backup_label), trusting no tool's catalog.
    "$PHYS_BINDIR/pg_controldata" "$data" >"$dir/controldata$name" 2>&1 || true
    [[ ! -f "$data/backup_label" ]] || cp -- "$data/backup_label" "$dir/backup_label$name"
    [[ -z "${phys__request[check]:-}" ]] || "${phys__request[check]}" "$PHYS_RESTORED_DIR"
    # Its output kept: a server that does not start takes its folder, and its log, with it.
    phys__strict phys__start_restored "$PHYS_RESTORED_DIR" "${phys__request[auth]}" "${recovery[@]}" \
      >"$dir/start$name.log" 2>&1 || status=$?
    cat -- "$dir/start$name.log" >&2
    ((status == 0)) || phys__failed "the restored data directory does not start as a server (its log is above)" \
      "$dir/start$name.log"
    server=(--cluster="$PHYS_RESTORED_DIR" --database="${phys__request[database]}" --roles="${phys__request[roles]}"
      --controldata="$dir/controldata$name" ${phys__request[cluster_need]:+"${phys__request[cluster_need]}"})
  fi
  [[ -z "${phys__request[source_url]:-}" ]] || server+=(--source-url="${phys__request[source_url]}")
  phys_ask "$2" "$dir/await$name.err" --mode=await-recovery --recovery-timeout="${phys__request[timeout]}" \
    ${phys__request[need]:+"${phys__request[need]}"} "${server[@]}" || status=$?
  ((status != 3)) || "$on_fail" restore "$(phys_reason "$dir/await$name.err")"
  ((status == 0)) || "$on_fail" cannot "$(phys_reason "$dir/await$name.err")"
}

# phys_teardown_pending FOLDER: SMOKE_TEARDOWN_CMD once per URL_FILE.teardown marker under FOLDER.
phys_teardown_pending() {
  local marker
  while IFS= read -r -d '' marker; do
    rm -f -- "$marker"
    [[ -n "${SMOKE_TEARDOWN_CMD:-}" ]] || continue
    SMOKE_RESTORED_URL_FILE=${marker%.teardown} bash -c "$SMOKE_TEARDOWN_CMD" </dev/null >&2 ||
      phys__say "warning: SMOKE_TEARDOWN_CMD failed (exit $?); the restored server may still exist"
  done < <(find "$1" -name '*.teardown' -print0 2>/dev/null)
}

# --- the harness's plug point --------------------------------------------------
# phys_use WORK SOURCE_DB SOURCE_URL SOURCE_MAJOR: the source, once known.
phys_use() { PHYS_WORK=$1 PHYS_SOURCE_DB=$2 PHYS_SOURCE_URL=$3 PHYS_SOURCE_MAJOR=$4; }
# phys_use_target KIND TIME LSN XID: the drill's PITR target as the operator gave it (KIND empty: none).
phys_use_target() { PHYS_TARGET=([kind]=$1 [time]=$2 [lsn]=$3 [xid]=$4); }

# phys_setup_source DIR PORT PITR METHODS...: the running throwaway cluster readied
# (archiving for the methods' tools, or for PITR=1).
phys_setup_source() {
  PHYS_BINDIR=$(pgc_bindir_of "$1") || fail "cannot read the throwaway cluster's binaries folder"
  (($# > 3)) || (($3)) || return 0
  PHYS_SOURCE_DIR=$1 PHYS_SOURCE_PORT=$2 PHYS_DIR=$1/physical
  say "physical backups: archiving on the throwaway cluster${4:+ for ${*:4}}"
  phys__strict phys__prepare "${@:4}" || fail "cannot prepare the throwaway cluster for physical backups"
}

# What every backup and restore command of the operator gets (physical.md; the drill's: drill.md).
phys_export_command_env() {
  [[ -z "$PHYS_DIR" ]] || export SMOKE_WAL_ARCHIVE=$PHYS_DIR/wal-archive
  phys__ensure_bindir || return
  export SMOKE_SOURCE_URL=$PHYS_SOURCE_URL SMOKE_SOURCE_DB=$PHYS_SOURCE_DB SMOKE_PG_BINDIR=$PHYS_BINDIR
  [[ -n "${PHYS_TARGET[kind]+set}" ]] || return 0 # once the PITR target is recorded; the drill's, even none
  export SMOKE_RECOVERY_TARGET=${PHYS_TARGET[kind]} SMOKE_RECOVERY_TARGET_TIME=${PHYS_TARGET[time]} \
    SMOKE_RECOVERY_TARGET_LSN=${PHYS_TARGET[lsn]} SMOKE_RECOVERY_TARGET_XID=${PHYS_TARGET[xid]}
}

# Restores start with the throwaway source's binaries, else the source major's.
phys__ensure_bindir() {
  [[ -z "$PHYS_BINDIR" ]] || return 0
  PHYS_BINDIR=${SMOKE_PG_BINDIR:-/usr/lib/postgresql/$PHYS_SOURCE_MAJOR/bin}
  [[ -n "${SMOKE_PG_BINDIR:-}" || -x "$PHYS_BINDIR/initdb" ]] || PHYS_BINDIR=$(pgc_bindir)
}

# phys_backup METHOD PATH: pgBackRest's, Barman's or pg_basebackup's backup (into the folder PATH).
phys_backup() { phys__strict phys__backup "$1" "$2"; }

phys_backup_label() { cat -- "$PHYS_WORK/physical.$1.label" 2>/dev/null || printf 'taken by SMOKE_BACKUP_CMD'; }

phys_archive_source_now() { phys__strict phys__archive_now; }

# phys_record_target URL FILE KIND: the PITR target (time, lsn or xid) after workload A, its JSON in FILE.
phys_record_target() {
  phys_ask PHYS_TARGET "$PHYS_WORK/pitr.target.err" --mode=pitr-target --db-url="$1" \
    --target-kind="$3" --target-file="$2" ||
    { phys__say "cannot record the PITR target: $(phys_reason "$PHYS_WORK/pitr.target.err")"; return 1; }
}

# phys_restore_for NAME METHOD RESTORED_BY TIMEOUT RESULT: a combination's restore, out of recovery
# within TIMEOUT s; failures end in the harness's restore_failed restore|cannot REASON (phys_restore's on_fail).
phys_restore_for() {
  local method=$2 auth=trust
  [[ -z "${PGPASSWORD:-}" ]] || auth=md5 # the copy keeps the source's roles and passwords
  # shellcheck disable=SC2034 # read by phys_restore
  local -A request=([on_fail]=restore_failed [method]=$method [restored_by]=$3 [dir]=$PHYS_WORK [name]=$1
    [argv]=phys__source_tool_argv [auth]=$auth [database]=$PHYS_SOURCE_DB [roles]=${PGUSER:-postgres}
    [timeout]=$4 [need]=--need-writes [source_url]=$PHYS_SOURCE_URL)
  phys_export_command_env || restore_failed cannot "no server binaries to start the restored cluster with"
  export SMOKE_BACKUP_DIR=$PHYS_WORK/backup.$method SMOKE_METHOD=$method
  phys_restore request "$5"
  local -n phys__result=$5
  printf '%s\n' "${phys__result[wal]}" >"$PHYS_WORK/restored.$1.wal"
  [[ -z "$PHYS_RESTORED_DIR" ]] || cp -- "$PHYS_RESTORED_DIR/server.log" "$PHYS_WORK/restored.$1.log"
}

# After a combination's record: its restored cluster goes, the operator's teardown runs.
phys_release() {
  [[ -z "$PHYS_RESTORED_DIR" ]] || pgc_stop "$PHYS_RESTORED_DIR"
  PHYS_RESTORED_DIR=''
  phys_teardown_pending "$PHYS_WORK"
}
