#!/usr/bin/env bash
# Throwaway PostgreSQL clusters (SPEC §9.1; deploy/docs/harness.md). Sourced, it only defines
# functions (pgc_* for its callers, pgc__* its own); run directly, it is a small command line.

PGC_MARKER_FILE=.pgc-cluster # a folder made here (pgc_stop deletes nothing without it); holds the bindir
PGC_LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

pgc__say() { printf 'pg-cluster: %s\n' "$*" >&2; }

# The folder holding initdb and pg_ctl: SMOKE_PG_BINDIR, else pg_config's, else Debian's newest.
pgc_bindir() {
  local dir candidates=("${SMOKE_PG_BINDIR:-}")
  [[ -n "${SMOKE_PG_BINDIR:-}" ]] ||
    mapfile -t candidates < <(pg_config --bindir 2>/dev/null; printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  for dir in "${candidates[@]}"; do
    [[ ! -x "$dir/initdb" ]] || { printf '%s\n' "$dir"; return 0; }
  done
  [[ -z "${SMOKE_PG_BINDIR:-}" ]] || { pgc__say "SMOKE_PG_BINDIR=$SMOKE_PG_BINDIR has no initdb"; return 1; }
  pgc__say "no PostgreSQL server binaries found (install the server package or set SMOKE_PG_BINDIR to the folder holding initdb)"
  return 1
}

# pgc_as_owner DIR COMMAND...: in DIR (a cwd it can read), as DIR's owner (PostgreSQL refuses root), without
# the passwords (a server keeps its environment in /proc); runuser is in /usr/sbin, not in cron's PATH.
pgc_as_owner() {
  local dir=$1 owner
  shift
  [[ "$(id -u)" -eq 0 ]] || { (cd "$dir" && unset PGPASSWORD PGSSLPASSWORD && "$@"); return; }
  owner=$(stat -c %U "$dir")
  [[ "$owner" != root ]] || { pgc__say "refusing to run the server as root ($dir is owned by root)"; return 1; }
  (cd "$dir" && unset PGPASSWORD PGSSLPASSWORD && PATH=$PATH:/usr/sbin:/sbin runuser -u "$owner" -- "$@")
}

# pgc_give PATH: when root runs this, PATH goes to its folder's owner (the server user).
pgc_give() { [[ "$(id -u)" -ne 0 ]] || chown -R "$(stat -c %U "$(dirname -- "$1")"):" "$1"; }

# VALUE as a single-quoted postgresql.conf string.
pgc__conf_string() { printf "'%s'" "${1//\'/\'\'}"; }

pgc_show_log() { [[ ! -s "$1" ]] || { pgc__say "last lines of $1:" && tail -n 20 -- "$1" >&2; } || true; }

# pgc__init DIR BINDIR (strict): initdb into DIR/data, a throwaway's settings (harness.md), then PGC_SETTINGS.
pgc__init() {
  local dir=$1
  pgc_as_owner "$dir" "$2/initdb" -D "$dir/data" -A trust -U postgres --encoding=UTF8 --no-locale --no-sync \
    >"$dir/initdb.log" 2>&1 || { pgc__say "initdb failed"; pgc_show_log "$dir/initdb.log"; return 1; }
  printf 'listen_addresses = %s\nunix_socket_directories = %s\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n%s\n' \
    "$(pgc__conf_string 127.0.0.1)" "$(pgc__conf_string "$dir")" "${PGC_SETTINGS:-}" >>"$dir/data/postgresql.conf"
  # Truncating the file keeps its owner (the server user).
  printf '%s\n' 'local all postgres trust' 'host  all postgres 127.0.0.1/32 trust' \
    'host  replication postgres 127.0.0.1/32 trust' 'local all all scram-sha-256' \
    'host  all all 127.0.0.1/32 scram-sha-256' >"$dir/data/pg_hba.conf"
}

# pgc__launch BINDIR DIR PORT (strict): the server started, answering within 30 s; a fresh log.
pgc__launch() {
  local bindir=$1 dir=$2 port=$3 deadline=$((SECONDS + 30)) isready=$1/pg_isready
  [[ ! -f "$dir/server.log" ]] || : >"$dir/server.log"
  pgc_as_owner "$dir" "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 30 -s >&2
  [[ -x "$isready" ]] || isready=pg_isready # Maven Central's server-only builds have none
  until "$isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2; do
    ((SECONDS < deadline)) || { pgc__say "server on port $port started but does not answer"; return 1; }
    sleep 0.2
  done
}

# FUNCTION ARGS... in a new bash with set -e in force (bash ignores -e inside a tested function).
pgc__strict() {
  # shellcheck disable=SC2016 # expanded by the new bash
  bash -c 'set -euo pipefail; . "$1"; "${@:2}"' pgc-strict "$PGC_LIB/pg-cluster.sh" "$@"
}

# pgc__own_folder DIR BINDIR (strict): the marker; as root, the folder goes
# to the unprivileged SMOKE_PG_OS_USER (postgres).
pgc__own_folder() {
  local dir=$1 user=${SMOKE_PG_OS_USER:-postgres} uid
  pgc_set_bindir "$dir" "$2"
  [[ "$(id -u)" -eq 0 ]] || return 0
  uid=$(id -u "$user" 2>/dev/null) ||
    { pgc__say "running as root, but user '$user' does not exist to run the server (set SMOKE_PG_OS_USER)"; return 1; }
  ((uid != 0)) || { pgc__say "SMOKE_PG_OS_USER=$user is root; PostgreSQL needs an unprivileged user"; return 1; }
  chown "$user:" "$dir"
  pgc_as_owner "$dir" test -w "$dir" || # a private TMPDIR (/root/tmp) locks it out
    { pgc__say "user $user cannot reach $dir; point TMPDIR at a folder it can enter"; return 1; }
}

# pgc_start [BINDIR] (not in $(...)): a new cluster; sets PGC_DIR (for pgc_stop), PGC_DATA,
# PGC_LOG, PGC_HOST, PGC_PORT, PGC_USER. On failure it explains, removes what it made, returns 1.
pgc_start() { pgc__start "${1:-}" pgc__init; }

# pgc_start_copy DATA [BINDIR]: the same from a copy of the data directory DATA.
pgc_start_copy() { pgc__start "${2:-}" pgc__copy "$1"; }

# pgc__start BINDIR FILL ARGS...: a new folder, filled by FILL DIR BINDIR ARGS (strict), started.
pgc__start() {
  local bindir=$1 dir
  [[ -n "$bindir" ]] || bindir=$(pgc_bindir) || return
  pgc_new_folder dir "$bindir" || return
  PGC_SETTINGS=${PGC_SETTINGS:-} pgc__strict "$2" "$dir" "$bindir" "${@:3}" || { pgc_stop "$dir"; return 1; }
  pgc_launch_on_free_port "$(pgc_bindir_of "$dir")" "$dir"
}

# pgc_new_folder VAR BINDIR (not in $(...)): a new cluster folder, named in the caller's VAR, registered
# before it exists (an interrupt never leaves an unlisted one); mkdir fails on an existing name.
pgc_new_folder() {
  local pgc__folder
  pgc__folder=$(mktemp -u "${TMPDIR:-/tmp}/pgc.XXXXXXXXXX")
  PGC_CLUSTERS+=("$pgc__folder")
  if ! printf '%s\n' "$pgc__folder" >>"${PGC_REGISTRY:-/dev/null}" || ! mkdir -m 700 -- "$pgc__folder"; then
    pgc__forget "$pgc__folder"
    pgc__say "cannot create $pgc__folder${PGC_REGISTRY:+ or record it in $PGC_REGISTRY}"
    return 1
  fi
  printf -v "$1" '%s' "$pgc__folder"
  pgc__strict pgc__own_folder "$pgc__folder" "$2" || { pgc_stop "$pgc__folder"; return 1; }
}

# pgc_bindir_of DIR, pgc_set_bindir DIR BINDIR: the binaries DIR's cluster runs with (its marker), pgc_stop's too.
pgc_bindir_of() { cat -- "$1/$PGC_MARKER_FILE" 2>/dev/null; }
pgc_set_bindir() { printf '%s\n' "$2" >"$1/$PGC_MARKER_FILE"; }

# pgc_launch_on_free_port BINDIR DIR: started on a free port (taken meanwhile: another); sets PGC_*.
pgc_launch_on_free_port() {
  local bindir=$1 dir=$2 port attempt try
  for attempt in 1 2 3 4 5; do
    for ((try = 0; try < 100; try++)); do # a loopback port in 20000-60000 nothing listens on now
      port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
      ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    done
    if pgc__strict pgc__launch "$bindir" "$dir" "$port"; then
      PGC_DIR=$dir PGC_DATA=$dir/data PGC_LOG=$dir/server.log PGC_HOST=127.0.0.1 PGC_PORT=$port PGC_USER=postgres
      return 0
    fi
    grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' "$dir/server.log" \
      2>/dev/null || break
    pgc__say "port $port was taken meanwhile (attempt $attempt); trying another"
    pgc__stop_server "$dir"
  done
  pgc__say "could not start a PostgreSQL server in $dir"
  pgc_show_log "$dir/server.log"
  pgc_stop "$dir"
  return 1
}

# pgc__copy DIR BINDIR DATA (strict): a copy of DATA, the server user's, with its own socket folder.
pgc__copy() {
  cp -a -- "$3" "$1/data"
  chmod 700 "$1/data"
  pgc_give "$1/data"
  printf 'unix_socket_directories = %s\n' "$(pgc__conf_string "$1")" >>"$1/data/postgresql.conf"
  rm -f -- "$1/data/postmaster.pid" "$1/data/postmaster.opts"
}

# pgc_start_major MAJOR: the system's binaries of MAJOR, else Maven Central's archive, unpacked
# into the cluster's folder (--mode=server-binaries; harness.md "Target majors").
pgc_start_major() {
  local found
  found=$("$PGC_LIB/../bin/backupsmoke" --mode=server-binaries --major="$1" </dev/null) || return
  if [[ -d "$found" ]]; then pgc_start "$found"; else pgc__start "(unpacked)" pgc__unpack "$found"; fi
}

# pgc__unpack DIR BINDIR ARCHIVE (strict): bin/, lib/, share/ side by side in DIR/pg, then initdb.
pgc__unpack() {
  local dir=$1
  mkdir -- "$dir/pg"
  tar -xJf "$3" -C "$dir/pg" || { pgc__say "cannot unpack the PostgreSQL binaries into $dir"; return 1; }
  pgc_set_bindir "$dir" "$dir/pg/bin"
  pgc_give "$dir/pg"
  pgc__init "$dir" "$dir/pg/bin"
}

# Stops DIR's server at once (immediate: the data goes anyway); a missing or dead one is fine.
pgc__stop_server() {
  local dir=$1 bindir
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  bindir=$(pgc_bindir_of "$dir") || bindir=''
  [[ -x "$bindir/pg_ctl" ]] || bindir=$(pgc_bindir) &&
    { (pgc_as_owner "$dir" "$bindir/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 -s) >/dev/null 2>&1 ||
      [[ ! -f "$dir/data/postmaster.pid" ]] || pgc__say "warning: could not stop the server in $dir"; }
}

pgc__forget() {
  local kept=() d
  for d in ${PGC_CLUSTERS[@]+"${PGC_CLUSTERS[@]}"}; do [[ "$d" == "$1" ]] || kept+=("$d"); done
  PGC_CLUSTERS=(${kept[@]+"${kept[@]}"})
}

# pgc_stop DIR: the cluster stopped, its folder removed; idempotent. Without the marker only an empty folder goes.
pgc_stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || return 0
  pgc__forget "$dir"
  [[ -d "$dir" ]] || return 0
  [[ -f "$dir/$PGC_MARKER_FILE" ]] ||
    { rmdir -- "$dir" 2>/dev/null || pgc__say "warning: $dir was not made by pgc_start; left in place"; return 0; }
  pgc__stop_server "$dir" || true
  rm -rf -- "$dir" || pgc__say "warning: could not remove $dir"
}

pgc_stop_all() {
  local d
  for d in ${PGC_CLUSTERS[@]+"${PGC_CLUSTERS[@]}"}; do pgc_stop "$d"; done
}

# Run directly: start (prints PGC_*=... assignments; the cluster keeps running), stop DIR, bindir.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    start) pgc_start && printf 'PGC_%s=%q\n' DIR "$PGC_DIR" DATA "$PGC_DATA" LOG "$PGC_LOG" HOST "$PGC_HOST" \
      PORT "$PGC_PORT" USER "$PGC_USER" ;;
    stop) pgc_stop "${2:?usage: pg-cluster.sh stop DIR}" ;;
    bindir) pgc_bindir ;;
    *) printf 'usage: pg-cluster.sh start | stop DIR | bindir\n' >&2 && exit 2 ;;
  esac
fi
