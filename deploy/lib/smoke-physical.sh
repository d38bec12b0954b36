# shellcheck shell=bash disable=SC2034 # the harness reads the PHYS_* results
# Physical backups and point-in-time recovery for the smoke harness (SPEC
# §9.6), sourced by deploy/test/backup-restore-smoke.sh after pg-cluster.sh.
#
# What it does on the harness's throwaway cluster:
#   - phys_prepare_source: a folder "physical" inside the source cluster's
#     own folder (so it goes with the cluster, whatever happens) holding the
#     WAL archive the harness keeps, pgBackRest's repository, spool, log and
#     lock folders, Barman's home and log; archive_command feeds all of them;
#     stanza-create/check and barman check run there.
#   - phys_backup_pgbackrest / phys_backup_barman / phys_backup_base: a full
#     backup each, with its evidence (label or id, start/stop LSN, timeline,
#     the tool's own verdict) in PHYS_DIR/evidence.TOOL.json.
#   - phys_new_restore_dir + phys_restore_pgbackrest / _barman / _base /
#     phys_restore_command: a fresh registered cluster folder whose empty
#     data directory the tool (or the operator's command) fills, to the
#     backup's end or to the PITR target; phys_start_restored starts it on
#     a free port, phys_await_recovery_end waits until recovery has ended
#     and names a server that stays in recovery, is paused, or is read-only.
#   - phys_record_target / phys_archive_now: the PITR target after
#     workload A and the WAL up to the end of workload B archived (the tool's
#     --mode=pitr-check judges that exactly A came back).
# Those explain a failure on stderr (or in one line on stdout where the
# harness uses it as the reason) and return 1; none exits. The plug point
# at the end (phys_setup_source … phys_combination_json) is what the harness
# calls; it uses the harness's helpers, fail included.
#
# No daemon is used: pgBackRest archives synchronously (archive-push in
# archive_command) and Barman takes its WAL from archive_command through its
# incoming folder (archiver = on, no receive-wal, no cron), moved by a
# one-shot `barman archive-wal`. So nothing of theirs outlives the run.
# Tool output goes to log files in PHYS_DIR and is shown when a step fails,
# so the harness's stdout stays clean. Children run through the harness's
# run_child when it is defined (a signal stops them at once).

PHYS_DIR=''          # the physical folder inside the source cluster's folder
PHYS_SOURCE_DIR=''   # the source cluster's folder (pg-cluster.sh)
PHYS_BINDIR=''       # server binaries of the source cluster
PHYS_STANZA=smoke    # pgBackRest stanza and Barman server name
PHYS_ARCHIVE_COMMAND='' # the source's archive_command
PHYS_RESTORED_DIR='' # cluster folder of the restore being judged
PHYS_RESTORED_PORT='' # its port, once phys_start_restored has started it

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

# Runs a command as the cluster's owner in PHYS_DIR, output to LOG; on
# failure shows the end of the log.
phys__as_owner_logged() {
  local log=$1
  shift
  if ! phys__run pgc__as_owner "$PHYS_DIR" "$@" >>"$log" 2>&1; then
    phys__say "failed: $*"
    tail -n 15 -- "$log" >&2 || true
    return 1
  fi
}

phys__conf() {
  printf '%s/pgbackrest/pgbackrest.conf' "$PHYS_DIR"
}

phys__pgbackrest() {
  phys__as_owner_logged "$PHYS_DIR/pgbackrest.out" pgbackrest --config="$(phys__conf)" --stanza="$PHYS_STANZA" "$@"
}

phys__barman() {
  phys__as_owner_logged "$PHYS_DIR/barman.out" barman -c "$PHYS_DIR/barman/barman.conf" "$@"
}

# psql as the superuser of the throwaway cluster on PORT, database DB.
phys__sql() {
  local port=$1 db=$2
  shift 2
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# Makes a folder (and its parents inside PHYS_DIR) owned by the cluster's user.
phys__mkdir() {
  pgc__as_owner "$PHYS_DIR" mkdir -p -m 700 -- "$@"
}

# Writes stdin to FILE and hands it to the cluster's owner.
phys__write_owned() {
  local file=$1
  cat >"$file" || return 1
  if [[ "$(id -u)" -eq 0 ]]; then
    chown "$(stat -c %U "$PHYS_DIR"):" "$file"
  fi
}

# phys_prepare_source CLUSTER_DIR PORT TOOLS...: readies the running
# throwaway cluster of CLUSTER_DIR for physical backups by the TOOLS named
# (archive: the harness's own WAL archive, always set up; pgbackrest;
# barman), turns archiving on and restarts it on the same port.
phys_prepare_source() {
  local dir=$1 port=$2 tool want_pgbackrest=0 want_barman=0
  shift 2
  for tool in "$@"; do
    case "$tool" in
      pgbackrest) want_pgbackrest=1 ;;
      barman) want_barman=1 ;;
    esac
  done
  PHYS_SOURCE_DIR=$dir
  PHYS_BINDIR=$(cat "$dir/$PGC_MARKER_FILE") || return 1
  PHYS_DIR=$dir/physical
  pgc__as_owner "$dir" mkdir -m 700 -- "$PHYS_DIR" || return 1
  phys__mkdir "$PHYS_DIR/wal-archive" || return 1
  ((want_pgbackrest == 0)) || phys__write_pgbackrest_conf "$port" || return 1
  ((want_barman == 0)) || phys__write_barman_conf "$port" || return 1
  phys__write_archive_script "$want_pgbackrest" "$want_barman" || return 1
  phys__enable_archiving "$port" || return 1
  if ((want_pgbackrest)); then
    if ! phys__pgbackrest stanza-create || ! phys__pgbackrest check; then
      phys__say "pgBackRest: stanza-create/check failed on the throwaway cluster"
      return 1
    fi
  fi
  if ((want_barman)); then
    # Barman's check wants at least one WAL file received.
    phys_archive_now "$port" || return 1
    phys__barman check "$PHYS_STANZA" ||
      { phys__say "Barman: check failed on the throwaway cluster"; return 1; }
  fi
}

phys__write_pgbackrest_conf() {
  local port=$1 base=$PHYS_DIR/pgbackrest
  phys__mkdir "$base/repo" "$base/spool" "$base/log" "$base/lock" || return 1
  phys__write_owned "$(phys__conf)" <<EOF
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
pg1-port=$port
pg1-socket-path=$PHYS_SOURCE_DIR
pg1-user=postgres
EOF
}

phys__write_barman_conf() {
  local port=$1 base=$PHYS_DIR/barman owner=postgres
  [[ "$(id -u)" -eq 0 ]] || owner=$(id -un)
  phys__mkdir "$base/home/$PHYS_STANZA/incoming" || return 1
  phys__write_owned "$base/barman.conf" <<EOF
[barman]
barman_user = $owner
barman_home = $base/home
log_file = $base/barman.log
log_level = INFO
path_prefix = $PHYS_BINDIR

[$PHYS_STANZA]
description = BackupSmoke throwaway cluster
conninfo = host=127.0.0.1 port=$port user=postgres dbname=postgres
streaming_conninfo = host=127.0.0.1 port=$port user=postgres
backup_method = postgres
archiver = on
streaming_archiver = off
EOF
}

# One archive_command for every destination: pgBackRest's repository first
# (its check insists on seeing itself in archive_command), then a script
# copying into the harness's archive and Barman's incoming folder. A copy
# lands under a temporary name first, so no reader sees half a segment.
phys__write_archive_script() {
  local pgbackrest=$1 barman=$2 script=$PHYS_DIR/archive-wal.sh command
  # shellcheck disable=SC2016 # $1 and $2 are the written script's arguments
  {
    printf '#!/bin/sh\n# archive_command of the BackupSmoke throwaway cluster: %%p %%f\nset -e\n'
    printf 'copy() { test -f "$2/$1" || { cp "$3" "$2/.$1.part" && mv "$2/.$1.part" "$2/$1"; }; }\n'
    printf 'copy "$2" %q "$1"\n' "$PHYS_DIR/wal-archive"
    if ((barman)); then
      printf 'copy "$2" %q "$1"\n' "$PHYS_DIR/barman/home/$PHYS_STANZA/incoming"
    fi
  } | phys__write_owned "$script" && chmod 700 "$script" || return 1
  command="$script %p %f"
  if ((pgbackrest)); then
    command="pgbackrest --config=$(phys__conf) --stanza=$PHYS_STANZA archive-push %p && $command"
  fi
  PHYS_ARCHIVE_COMMAND=$command
}

# archive_mode needs a restart; pg_ctl restart keeps the port (postmaster.opts).
phys__enable_archiving() {
  local port=$1
  {
    printf 'archive_mode = on\n'
    printf 'archive_command = %s\n' "$(pgc__conf_string "$PHYS_ARCHIVE_COMMAND")"
  } >>"$PHYS_SOURCE_DIR/data/postgresql.conf" || return 1
  if ! (pgc__as_owner "$PHYS_SOURCE_DIR" "$PHYS_BINDIR/pg_ctl" restart -D "$PHYS_SOURCE_DIR/data" \
    -l "$PHYS_SOURCE_DIR/server.log" -m fast -w -t 60 -s) >/dev/null 2>&1; then
    phys__say "could not restart the throwaway cluster with archiving on"
    pgc__show_log "$PHYS_SOURCE_DIR/server.log"
    return 1
  fi
  [[ "$(phys__sql "$port" postgres -c 'SHOW archive_mode')" == on ]] ||
    { phys__say "archive_mode is not on after the restart"; return 1; }
}

# phys_archive_now PORT: switches to a new WAL segment and waits (60 s at
# most) until the one just closed is archived everywhere; Barman's incoming
# WAL is then moved into its archive.
phys_archive_now() {
  local port=$1 segment deadline=$((SECONDS + 60)) done_segment
  segment=$(phys__sql "$port" postgres -c 'SELECT pg_walfile_name(pg_switch_wal())') || return 1
  until done_segment=$(phys__sql "$port" postgres -c 'SELECT coalesce(last_archived_wal, $$$$) FROM pg_stat_archiver') &&
    [[ "${done_segment:0:24}" > "$segment" || "${done_segment:0:24}" == "$segment" ]]; do
    if ((SECONDS >= deadline)); then
      phys__say "WAL segment $segment was not archived within 60 s: $(phys__sql "$port" postgres -c 'SELECT last_failed_wal FROM pg_stat_archiver' 2>&1) failed last"
      tail -n 5 "$PHYS_SOURCE_DIR/server.log" >&2
      return 1
    fi
    sleep 0.2
  done
  if [[ -f "$PHYS_DIR/barman/barman.conf" ]]; then
    phys__barman archive-wal "$PHYS_STANZA" || return 1
  fi
}

# --- backups -----------------------------------------------------------------

# phys_backup_pgbackrest: a full backup, then pgBackRest's own verdicts:
# info (status) and verify (checksums of every file and WAL segment).
phys_backup_pgbackrest() {
  local info verdict=passed backup
  phys__pgbackrest --type=full backup || return 1
  info=$(pgc__as_owner "$PHYS_DIR" pgbackrest --config="$(phys__conf)" --stanza="$PHYS_STANZA" \
    --output=json info 2>>"$PHYS_DIR/pgbackrest.out") || { phys__say "pgbackrest info failed"; return 1; }
  : >"$PHYS_DIR/pgbackrest.verify"
  phys__as_owner_logged "$PHYS_DIR/pgbackrest.verify" pgbackrest --config="$(phys__conf)" \
    --stanza="$PHYS_STANZA" --output=text --verbose verify || verdict=failed
  backup=$(jq -c '.[0].backup[-1]' <<<"$info") || return 1
  jq -n --argjson b "$backup" --argjson info "$info" --arg verdict "$verdict" \
    --arg verify "$(grep -E '^ *(status|backup):' "$PHYS_DIR/pgbackrest.verify" | sed 's/^ *//' | paste -sd ';' -)" '{
      tool: "pgbackrest", backup_id: $b.label, start_lsn: $b.lsn.start, stop_lsn: $b.lsn.stop,
      timeline: ($b.archive.start[0:8] | explode | map(if . >= 97 then . - 87 elif . >= 65 then . - 55 else . - 48 end)
                 | reduce .[] as $d (0; . * 16 + $d)),
      wal_start: $b.archive.start, wal_stop: $b.archive.stop,
      tool_verdict: {verify: $verdict, info_status: $info[0].status.message, verify_output: $verify},
      repository_bytes: $b.info.repository.size}' >"$PHYS_DIR/evidence.pgbackrest.json" || return 1
  [[ "$verdict" == passed ]] || { phys__say "pgbackrest verify found problems in the backup"; return 1; }
}

# phys_backup_barman: a full backup (pg_basebackup under Barman), then
# Barman's own verdict: check-backup (every WAL file the backup needs is
# in the archive).
phys_backup_barman() {
  local shown verdict=passed
  phys__barman backup "$PHYS_STANZA" || return 1
  phys__barman archive-wal "$PHYS_STANZA" || return 1
  shown=$(pgc__as_owner "$PHYS_DIR" barman -c "$PHYS_DIR/barman/barman.conf" -f json show-backup \
    "$PHYS_STANZA" latest 2>>"$PHYS_DIR/barman.out") || { phys__say "barman show-backup failed"; return 1; }
  phys__barman check-backup "$PHYS_STANZA" latest || verdict=failed
  jq --arg verdict "$verdict" --arg server "$PHYS_STANZA" '.[$server] as $s | $s.base_backup_information as $b | {
      tool: "barman", backup_id: $s.backup_id, start_lsn: $b.begin_lsn, stop_lsn: $b.end_lsn,
      timeline: $b.timeline, wal_start: $b.begin_wal, wal_stop: $b.end_wal,
      tool_verdict: {check_backup: $verdict, status: $s.status},
      repository_bytes: $b.disk_usage_bytes}' <<<"$shown" >"$PHYS_DIR/evidence.barman.json" || return 1
  [[ "$verdict" == passed ]] || { phys__say "barman check-backup found problems in the backup"; return 1; }
}

# phys_backup_base PORT DEST: pg_basebackup of the whole cluster into DEST
# with the WAL that makes it consistent, then pg_verifybackup's verdict on
# it (manifest checksums and the WAL it needs).
phys_backup_base() {
  local port=$1 dest=$2 verdict=passed label
  phys__run "$PHYS_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres --pgdata="$dest" \
    --wal-method=stream --checkpoint=fast --no-password >>"$PHYS_DIR/basebackup.out" 2>&1 ||
    { phys__say "pg_basebackup failed"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; return 1; }
  "$PHYS_BINDIR/pg_verifybackup" "$dest" >>"$PHYS_DIR/basebackup.out" 2>&1 || verdict=failed
  label=$(<"$dest/backup_label")
  jq -n --arg backup_label "$label" --argjson manifest "$(jq -c '."WAL-Ranges"[0]' "$dest/backup_manifest")" \
    --arg verdict "$verdict" '{
      tool: "pg_basebackup",
      backup_id: ($backup_label | capture("START TIME: (?<t>[^\n]*)").t),
      start_lsn: $manifest."Start-LSN", stop_lsn: $manifest."End-LSN", timeline: $manifest.Timeline,
      tool_verdict: {pg_verifybackup: $verdict}}' >"$PHYS_DIR/evidence.basebackup.json" || return 1
  [[ "$verdict" == passed ]] || { phys__say "pg_verifybackup found problems in the base backup"; tail -n 5 "$PHYS_DIR/basebackup.out" >&2; return 1; }
}

# --- PITR target -------------------------------------------------------------

# phys_record_target URL FILE: records, right after workload A, the point
# to restore to, as time, LSN and xid, and A's row count and chain head, in
# FILE (JSON). A marker transaction of the harness's own does it: its xid,
# the WAL insert position and the clock, read inside it once every commit
# of A is done. Whatever each restore does with "inclusive", it then ends
# with all of A and nothing written later: every commit of A lies before
# the LSN, the time and the marker's commit; every later commit after them.
phys_record_target() {
  local url=$1 file=$2 line xid lsn time rows head
  line=$(psql -X -q -At -v ON_ERROR_STOP=1 -F '|' -d "$url" -c 'BEGIN' \
    -c "SELECT pg_current_xact_id(), pg_current_wal_insert_lsn(),
               to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00',
               (SELECT count(*) FROM audit_events), (SELECT row_hash FROM audit_chain_head WHERE id = 1)" \
    -c 'COMMIT') || { phys__say "cannot record the PITR target: ${line:-}"; return 1; }
  IFS='|' read -r xid lsn time rows head <<<"$line"
  jq -n --arg xid "$xid" --arg lsn "$lsn" --arg time "$time" --argjson rows "$rows" --arg head "$head" \
    '{time: $time, lsn: $lsn, xid: $xid, row_count: $rows, chain_head_hash: $head}' >"$file"
}

# phys_target_value FILE KIND: the target of KIND (time, lsn, xid).
phys_target_value() {
  jq -r --arg kind "$2" '.[$kind]' "$1"
}

# --- restores ------------------------------------------------------------------

# phys_new_restore_dir: a new registered cluster folder (pg-cluster.sh, so
# pgc_stop_all removes it) with an empty data directory owned by the
# cluster's user, in PHYS_RESTORED_DIR.
phys_new_restore_dir() {
  phys__ensure_bindir || return 1
  pgc__new_folder "$PHYS_BINDIR" || return 1
  PHYS_RESTORED_DIR=$PGC_NEW
  pgc__as_owner "$PHYS_RESTORED_DIR" mkdir -m 700 -- "$PHYS_RESTORED_DIR/data"
}

# phys_restore_pgbackrest TARGET_KIND TARGET_FILE: pgbackrest restore into
# PHYS_RESTORED_DIR/data; TARGET_KIND '' restores to the end of the backup.
phys_restore_pgbackrest() {
  local kind=$1 file=$2 stop_at=(--type=immediate)
  if [[ -n "$kind" ]]; then
    stop_at=(--type="$kind" --target="$(phys_target_value "$file" "$kind")")
  fi
  phys__pgbackrest --pg1-path="$PHYS_RESTORED_DIR/data" "${stop_at[@]}" --target-action=promote restore
}

phys_restore_barman() {
  local kind=$1 file=$2 stop_at=(--target-immediate)
  if [[ -n "$kind" ]]; then
    stop_at=(--target-"$kind" "$(phys_target_value "$file" "$kind")")
  fi
  phys__barman recover "${stop_at[@]}" --target-action promote "$PHYS_STANZA" latest "$PHYS_RESTORED_DIR/data"
}

# The base backup is copied in; for PITR it replays the harness's archive.
phys_restore_base() {
  local backup=$1 kind=$2 file=$3 data=$PHYS_RESTORED_DIR/data
  cp -a -- "$backup/." "$data/" || return 1
  phys__own_data "$data" || return 1
  [[ -n "$kind" ]] || return 0
  {
    printf 'restore_command = %s\n' "$(pgc__conf_string "cp $PHYS_DIR/wal-archive/%f %p")"
    printf 'recovery_target_%s = %s\n' "$kind" "$(pgc__conf_string "$(phys_target_value "$file" "$kind")")"
    printf "recovery_target_action = 'promote'\n"
  } >>"$data/postgresql.conf" && phys__write_owned "$data/recovery.signal" </dev/null
}

# Whatever the restore left (root-owned files from a root-run command),
# the data directory goes to the cluster's user with PostgreSQL's modes.
phys__own_data() {
  local data=$1 owner
  chmod 700 "$data" || return 1
  [[ "$(id -u)" -eq 0 ]] || return 0
  owner=$(stat -c %U "$(dirname -- "$data")") || return 1
  chown -R "$owner:" "$data"
}

# --- starting and judging a restored server -----------------------------------

# phys_start_restored: starts the data directory of PHYS_RESTORED_DIR on a
# free loopback port (PHYS_RESTORED_PORT) with settings fit for a private
# copy on this machine, last in postgresql.conf so they win: loopback only,
# its own socket folder, no archiving (it must not write into the source's
# archives), hot standby (a server kept in recovery can be seen and named),
# no SSL files or log collector of the source's host, and an hba file of
# its own: trust, or md5 (SCRAM too) when a password is in use, for the
# copy keeps the source's roles and passwords.
phys_start_restored() {
  local dir=$PHYS_RESTORED_DIR data=$PHYS_RESTORED_DIR/data method=trust
  if [[ ! -f "$data/PG_VERSION" ]]; then
    phys__say "the restore left no data directory in $data (no PG_VERSION)"
    return 1
  fi
  [[ -z "${PGPASSWORD:-}" ]] || method=md5
  printf 'local all all trust\nhost all all 127.0.0.1/32 %s\n' "$method" >"$dir/pg_hba.smoke.conf" || return 1
  {
    printf 'listen_addresses = %s\n' "$(pgc__conf_string 127.0.0.1)"
    printf 'unix_socket_directories = %s\n' "$(pgc__conf_string "$dir")"
    printf 'hba_file = %s\n' "$(pgc__conf_string "$dir/pg_hba.smoke.conf")"
    printf "archive_mode = off\nhot_standby = on\nssl = off\nlogging_collector = off\n"
  } >>"$data/postgresql.conf" || return 1
  phys__own_data "$data" || return 1
  if [[ "$(id -u)" -eq 0 ]]; then
    chown "$(stat -c %U "$dir"):" "$dir/pg_hba.smoke.conf" || return 1
  fi
  rm -f -- "$data/postmaster.pid" "$data/postmaster.opts"
  pgc__launch_on_free_port "$PHYS_BINDIR" "$dir" || return 1
  PHYS_RESTORED_PORT=$PGC_PORT
}

# phys_await_recovery_end URL [SECONDS]: waits until the server at URL has
# left recovery (SECONDS: SMOKE_RECOVERY_TIMEOUT, checked digits; 120). Prints nothing and returns
# 0 when it is a writable primary; else prints one line saying why not
# (paused, still in recovery, read-only) and returns 1.
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

# phys_recovery_facts URL [LOG]: JSON with the restored server's timeline
# and, from its log when there is one, where recovery stopped and ended.
phys_recovery_facts() {
  local url=$1 log=${2:-} timeline redo_done='' stopping=''
  timeline=$(psql -X -q -At -d "$url" -c 'SELECT pg_walfile_name(pg_current_wal_lsn())') || timeline=''
  if [[ -n "$log" && -f "$log" ]]; then
    redo_done=$(grep -oE 'redo done at [0-9A-F]+/[0-9A-F]+' "$log" | tail -n 1 | awk '{ print $4 }') || true
    stopping=$(grep -oE 'recovery stopping .*' "$log" | tail -n 1) || true
  fi
  jq -n --arg wal "$timeline" --arg redo "$redo_done" --arg stopping "$stopping" '{
      restored_timeline: (if $wal == "" then null else ($wal[0:8] | explode
        | map(if . >= 97 then . - 87 elif . >= 65 then . - 55 else . - 48 end)
        | reduce .[] as $d (0; . * 16 + $d)) end),
      end_of_recovery_lsn: (if $redo == "" then null else $redo end),
      recovery_stop: (if $stopping == "" then null else $stopping end)}'
}

# --- restores by the operator's own command ------------------------------------

# phys_restore_command MODE URL_FILE: runs SMOKE_RESTORE_CMD with bash for
# command-cluster (MODE cluster: it fills the empty SMOKE_RESTORE_PGDATA,
# PHYS_RESTORED_DIR/data, owned by the cluster's user) or command-url (MODE
# url: it writes the libpq URL of the restored database to
# SMOKE_RESTORED_URL_FILE, URL_FILE). The caller exports what every restore
# command gets (SMOKE_SOURCE_URL, SMOKE_SOURCE_DB, SMOKE_BACKUP_DIR,
# SMOKE_PG_BINDIR and in PITR mode SMOKE_RECOVERY_TARGET*). Its output goes
# to stderr: the harness's stdout carries only banners, snapshots and PASS.
phys_restore_command() {
  local mode=$1 url_file=$2
  if [[ "$mode" == cluster ]]; then
    SMOKE_RESTORE_PGDATA=$PHYS_RESTORED_DIR/data phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
  else
    : >"$url_file" || return 1
    # From here on, whatever happens, the teardown runs (phys_teardown_pending).
    : >"$url_file.teardown" || return 1
    SMOKE_RESTORED_URL_FILE=$url_file phys__run bash -c "$SMOKE_RESTORE_CMD" >&2
  fi
}

# phys_read_restored_url FILE: prints the one URL the restore command wrote
# (postgres:// or postgresql://), or explains and returns 1.
phys_read_restored_url() {
  local file=$1 url
  url=$(grep -v '^[[:space:]]*$' "$file" 2>/dev/null | head -n 1 | tr -d '[:space:]') || url=''
  if [[ ! "$url" =~ ^postgres(ql)?:// ]]; then
    phys__say "the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE"
    return 1
  fi
  printf '%s\n' "$url"
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

# --- the harness's plug point ----------------------------------------------------
# What the harness calls. The run's facts come in through phys_configure
# (the knobs) and phys_use (the source); results go back as return values,
# printed lines or the caller's array (phys_restore_for). The helpers used
# are the harness's functions: say, fail, db_url, url_encode, url_decode.

PHYS_PITR=0            # SMOKE_PITR
PHYS_PITR_KIND='time'  # SMOKE_PITR_TARGET: time | lsn | xid
PHYS_RECOVERY_TIMEOUT=120 # SMOKE_RECOVERY_TIMEOUT: seconds a restored server may take to leave recovery
PHYS_WORK=''           # the harness's work folder: backups, evidence, the PITR target
PHYS_SOURCE_DB=''      # the source database (the one backed up)
PHYS_SOURCE_URL=''     # its URL, without a password
PHYS_SOURCE_MAJOR=''   # the source server's major version

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
  local dir=$1 port=$2
  shift 2
  PHYS_BINDIR=$(cat "$dir/$PGC_MARKER_FILE") || fail "cannot read the throwaway cluster's binaries folder"
  (($# > 0)) || ((PHYS_PITR)) || return 0
  say "physical backups: archiving on the throwaway cluster${1:+ for $*}"
  phys_prepare_source "$dir" "$port" archive "$@" || fail "cannot prepare the throwaway cluster for physical backups"
}

# The environment every backup and restore command of the operator gets.
phys__export_command_env() {
  export SMOKE_SOURCE_URL SMOKE_SOURCE_DB SMOKE_PG_BINDIR
  phys__ensure_bindir || return 1
  SMOKE_SOURCE_URL=$PHYS_SOURCE_URL
  SMOKE_SOURCE_DB=$PHYS_SOURCE_DB
  SMOKE_PG_BINDIR=$PHYS_BINDIR
  if [[ -n "$PHYS_DIR" ]]; then
    export SMOKE_WAL_ARCHIVE=$PHYS_DIR/wal-archive
  fi
}

# The server binaries a restored cluster starts with: the throwaway
# source's, else those of the source's major (SMOKE_PG_BINDIR first).
phys__ensure_bindir() {
  [[ -z "$PHYS_BINDIR" ]] || return 0
  if [[ -n "${SMOKE_PG_BINDIR:-}" ]]; then
    PHYS_BINDIR=$SMOKE_PG_BINDIR
  elif [[ -x "/usr/lib/postgresql/$PHYS_SOURCE_MAJOR/bin/initdb" ]]; then
    PHYS_BINDIR=/usr/lib/postgresql/$PHYS_SOURCE_MAJOR/bin
  else
    PHYS_BINDIR=$(pgc_bindir) || return 1
  fi
}

# phys_backup METHOD PATH: the backup of a physical METHOD (PATH: its folder
# in the work folder, for basebackup and the command methods). The evidence
# goes to physical.METHOD.json in the work folder.
phys_backup() {
  local method=$1 path=$2 port
  port=$(pgc_port "$PHYS_SOURCE_DIR" 2>/dev/null) || port=''
  case "$method" in
    pgbackrest) phys_backup_pgbackrest || return 1 ;;
    barman) phys_backup_barman || return 1 ;;
    basebackup) phys_backup_base "$port" "$path" || return 1 ;;
    command-cluster | command-url)
      mkdir -p -- "$path" && phys__export_command_env &&
        SMOKE_BACKUP_DIR=$path SMOKE_METHOD=$method phys__run bash -c "$SMOKE_BACKUP_CMD" >&2 || return 1
      return 0 ;;
  esac
  cp -- "$PHYS_DIR/evidence.$method.json" "$PHYS_WORK/physical.$method.json"
}

# phys_archive_source_now: the WAL written so far archived (PITR, the
# throwaway source).
phys_archive_source_now() {
  phys_archive_now "$(pgc_port "$PHYS_SOURCE_DIR")"
}

# phys_restore_for NAME METHOD RESTORED_BY RESULT: restores the backup of
# METHOD (RESTORED_BY: what does it, for the reason) and brings the
# restored server up to where it can be judged. On success sets
# RESULT[url] (the caller's associative array: the restored server's URL of
# the scratch database, no password) and RESULT[password], and writes
# restored.NAME.json (recovery facts) in the work folder; on failure sets
# RESULT[reason] to one line and returns 1. Call it in the current shell:
# the restored cluster is released by phys_release.
# shellcheck disable=SC2034,SC2154 # phys__result is the caller's associative array
phys_restore_for() {
  local -n phys__result=$4
  local status=0
  phys__restore "$1" "$2" "$3" || status=$?
  phys__result[url]=$PHYS_JUDGE_URL
  phys__result[password]=$PHYS_JUDGE_PASSWORD
  phys__result[reason]=$PHYS_REASON
  return "$status"
}

PHYS_JUDGE_URL=''      # what phys__restore found: the URL to judge,
PHYS_JUDGE_PASSWORD='' # the password it needs,
PHYS_REASON=''         # or why there is none
phys__restore() {
  local name=$1 method=$2 restored_by=$3 kind='' target=$PHYS_WORK/pitr.target.json log='' status=0
  ((PHYS_PITR == 0)) || kind=$PHYS_PITR_KIND
  PHYS_JUDGE_PASSWORD='' PHYS_RESTORED_DIR='' PHYS_REASON=''
  phys__export_command_env || { PHYS_REASON="no server binaries to start the restored cluster with"; return 1; }
  phys__export_target_env
  if [[ "$method" == command-url ]]; then
    SMOKE_BACKUP_DIR=$PHYS_WORK/backup.$method SMOKE_METHOD=$method \
      phys_restore_command url "$PHYS_WORK/restored-url.$name" || status=$?
    ((status == 0)) || { PHYS_REASON="the restore command (SMOKE_RESTORE_CMD) failed (exit $status)"; return 1; }
    PHYS_JUDGE_URL=$(phys_read_restored_url "$PHYS_WORK/restored-url.$name" 2>/dev/null) ||
      { PHYS_REASON="the restore command wrote no postgres:// URL to SMOKE_RESTORED_URL_FILE"; return 1; }
    PHYS_JUDGE_PASSWORD=${PGPASSWORD:-}
    phys__split_password
  else
    phys_new_restore_dir || { PHYS_REASON="cannot make a folder for the restored cluster"; return 1; }
    case "$method" in
      pgbackrest) phys_restore_pgbackrest "$kind" "$target" ;;
      barman) phys_restore_barman "$kind" "$target" ;;
      basebackup) phys_restore_base "$PHYS_WORK/backup.basebackup" "$kind" "$target" ;;
      command-cluster)
        SMOKE_BACKUP_DIR=$PHYS_WORK/backup.$method SMOKE_METHOD=$method phys_restore_command cluster '' ;;
    esac || status=$?
    ((status == 0)) || { PHYS_REASON="$restored_by failed (exit $status)"; return 1; }
    PHYS_REASON=$(phys_other_cluster_reason "$PHYS_RESTORED_DIR/data" "$PHYS_SOURCE_URL") || return 1
    phys_start_restored >&2 ||
      { PHYS_REASON="the restored data directory does not start as a server (its log is above)"; return 1; }
    # The role the harness works as owns the scratch database on the copy too.
    PHYS_JUDGE_URL="postgres://$(url_encode "${PGUSER:-postgres}")@127.0.0.1:$PHYS_RESTORED_PORT/$(url_encode "$PHYS_SOURCE_DB")?sslmode=disable"
    PHYS_JUDGE_PASSWORD=${PGPASSWORD:-}
    log=$PHYS_RESTORED_DIR/server.log
  fi
  PHYS_REASON=$(PGPASSWORD=$PHYS_JUDGE_PASSWORD phys_await_recovery_end "$PHYS_JUDGE_URL" "$PHYS_RECOVERY_TIMEOUT") ||
    return 1
  PGPASSWORD=$PHYS_JUDGE_PASSWORD phys_recovery_facts "$PHYS_JUDGE_URL" "$log" >"$PHYS_WORK/restored.$name.json"
}

# phys_other_cluster_reason DATA SOURCE_URL: one line, and status 1, when
# the data directory DATA is of another cluster than the source server at
# SOURCE_URL (their system_identifier differ: a backup of another server, a
# wrong stanza or Barman server), rather than let the judge find a database
# missing. Nothing when they agree, or when either cannot be read.
phys_other_cluster_reason() {
  local data=$1 url=$2 restored source
  source=$(psql -X -q -At -d "$url" -c 'SELECT system_identifier FROM pg_control_system()' 2>/dev/null) || return 0
  restored=$("$PHYS_BINDIR/pg_controldata" "$data" 2>/dev/null |
    sed -n 's/^Database system identifier: *//p') || return 0
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

phys__export_target_env() {
  ((PHYS_PITR)) || return 0
  export SMOKE_RECOVERY_TARGET=$PHYS_PITR_KIND
  SMOKE_RECOVERY_TARGET_TIME=$(phys_target_value "$PHYS_WORK/pitr.target.json" time)
  SMOKE_RECOVERY_TARGET_LSN=$(phys_target_value "$PHYS_WORK/pitr.target.json" lsn)
  SMOKE_RECOVERY_TARGET_XID=$(phys_target_value "$PHYS_WORK/pitr.target.json" xid)
  export SMOKE_RECOVERY_TARGET_TIME SMOKE_RECOVERY_TARGET_LSN SMOKE_RECOVERY_TARGET_XID
}

# A password in the restored URL goes to PHYS_JUDGE_PASSWORD, never into
# a command line.
phys__split_password() {
  if [[ "$PHYS_JUDGE_URL" =~ ^(postgres(ql)?://[^:@/]*):([^@/]*)@(.*)$ ]]; then
    PHYS_JUDGE_PASSWORD=$(url_decode "${BASH_REMATCH[3]}")
    PHYS_JUDGE_URL="${BASH_REMATCH[1]}@${BASH_REMATCH[4]}"
  fi
}

# phys_combination_json NAME METHOD: the physical and PITR evidence of a
# combination, {physical: …, pitr: …}, null where there is none.
phys_combination_json() {
  local name=$1 method=$2 backup=null restored=null target=null latest=null restored_rows=null
  [[ -f "$PHYS_WORK/physical.$method.json" ]] && backup=$(<"$PHYS_WORK/physical.$method.json")
  [[ -f "$PHYS_WORK/restored.$name.json" ]] && restored=$(<"$PHYS_WORK/restored.$name.json")
  if ((PHYS_PITR)); then
    target=$(<"$PHYS_WORK/pitr.target.json")
    latest=$(jq .row_count "$PHYS_WORK/pitr.latest.json" 2>/dev/null || printf null)
    [[ -f "$PHYS_WORK/post.$name.json" ]] && restored_rows=$(jq .row_count "$PHYS_WORK/post.$name.json")
  fi
  jq -n --argjson backup "$backup" --argjson restored "$restored" --argjson target "$target" \
    --arg kind "$PHYS_PITR_KIND" --argjson latest "${latest:-null}" --argjson rows "${restored_rows:-null}" '{
      physical: (if $backup == null and $restored == null then null else ($backup // {}) + ($restored // {}) end),
      pitr: (if $target == null then null else {
        target_kind: $kind, target: {time: $target.time, lsn: $target.lsn, xid: $target.xid},
        latest_rows: $latest, restored_rows: $rows,
        rpo_rows: (if $latest == null or $rows == null then null else $latest - $rows end)} end)}'
}

# phys_backup_label METHOD: how the backup phase names a repository backup.
phys_backup_label() {
  local facts=$PHYS_WORK/physical.$1.json
  if [[ -f "$facts" ]]; then
    jq -r '"\(.backup_id) (\(.start_lsn) - \(.stop_lsn), timeline \(.timeline)), \(.tool_verdict | del(.verify_output) | to_entries | map("\(.key): \(.value)") | join(", "))"' "$facts"
  else
    printf 'taken by SMOKE_BACKUP_CMD'
  fi
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
