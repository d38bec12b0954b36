# shellcheck shell=bash
# The harness's opt-in in-place mode (SMOKE_IN_PLACE=1), sourced by
# deploy/test/backup-restore-smoke.sh: it wipes PGDATABASE itself, so it
# first makes sure that database holds nothing but what the migrations
# create. The harness gives it the run's facts once (in_place_use); the
# functions also use its helpers (sql, say, fail, server_label).

IP_DB=''          # the database tested in place
IP_MIGRATIONS=''  # the migrations folder: what the database may hold
IP_WORK=''        # the harness's work folder (SQL files, expected.json)
SINCE_FILE=''     # SMOKE_SINCE, empty: every verify walks the whole chain
SINCE_FOUND=0     # 1 when SINCE_FILE held a checkpoint at the start

# in_place_use DB MIGRATIONS WORK SINCE_FILE SINCE_FOUND: the run's facts
# (the tool checked SMOKE_SINCE and the checkpoint it names, Knobs.java).
in_place_use() {
  IP_DB=$1 IP_MIGRATIONS=$2 IP_WORK=$3 SINCE_FILE=$4 SINCE_FOUND=$5
}

# Prints "KIND NAME" for every object the up-migrations create: KIND is
# table, relation (view, sequence), routine (function, procedure) or type
# (type, domain); NAME is lower-cased unless quoted, schema kept when given.
# Line comments go and lines are joined first, so that a name on the line
# after CREATE TABLE is still found.
declared_objects() {
  local file create_re
  create_re='create[[:space:]]+(or[[:space:]]+replace[[:space:]]+)?((unlogged|temporary|temp|materialized)[[:space:]]+)?(table|view|sequence|function|procedure|type|domain)[[:space:]]+(if[[:space:]]+not[[:space:]]+exists[[:space:]]+)?(("[^" ]+"|[[:alnum:]_$]+)\.)?("[^" ]+"|[[:alnum:]_$]+)'
  printf 'table schema_migrations\n' # the tool's own ledger (SPEC §5)
  for file in "$IP_MIGRATIONS"/*.up.sql; do
    if [[ -f "$file" ]]; then
      sed 's/--.*$//' "$file"
      printf '\n'
    fi
  done | tr '\n\r\t' '   ' | { grep -oiE "$create_re" || true; } | awk '
    {
      kind = ""
      for (i = 2; i < NF && kind == ""; i++) {
        w = tolower($i)
        if (w == "table") kind = "table"
        else if (w == "view" || w == "sequence") kind = "relation"
        else if (w == "function" || w == "procedure") kind = "routine"
        else if (w == "type" || w == "domain") kind = "type"
      }
      n = split($NF, part, ".")
      name = ""
      for (j = 1; j <= n; j++) {
        p = part[j]
        if (p ~ /^"/) p = substr(p, 2, length(p) - 2); else p = tolower(p)
        name = name (j > 1 ? "." : "") p
      }
      print kind, name
    }' | sort -u
}

# Writes SQL defining the temporary view smoke_objects: the database's own
# objects outside the system schemas and extensions (tables, views,
# sequences not owned by a column, routines, types), each with its DROP
# statement and whether the migrations declare it (psql variable :declared,
# the output of declared_objects).
write_objects_view() {
  cat <<'SQL'
SET client_min_messages = warning;
CREATE TEMP VIEW smoke_objects AS
WITH declared(kind, name) AS (
  SELECT split_part(line, ' ', 1), split_part(line, ' ', 2)
    FROM unnest(string_to_array(:'declared', E'\n')) AS line
   WHERE line <> ''
), objects(ord, kind, sch, name, label, drop_cmd) AS (
  SELECT CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 1 ELSE 2 END,
         CASE WHEN c.relkind IN ('r', 'p', 'f') THEN 'table' ELSE 'relation' END,
         n.nspname::text, c.relname::text,
         format('%I.%I', n.nspname, c.relname),
         format('DROP %s IF EXISTS %I.%I CASCADE',
                CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                               WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                               ELSE 'TABLE' END,
                n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND (d.deptype = 'e'
                             OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
  UNION ALL
  SELECT 3, 'routine', n.nspname::text, p.proname::text,
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         format('DROP %s IF EXISTS %I.%I(%s) CASCADE',
                CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                               ELSE 'FUNCTION' END,
                n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
  UNION ALL
  SELECT 4, 'type', n.nspname::text, t.typname::text,
         format('%I.%I', n.nspname, t.typname),
         format('DROP %s IF EXISTS %I.%I CASCADE',
                CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                n.nspname, t.typname)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
     AND t.typcategory <> 'A'
     AND (t.typrelid = 0
          OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                        AND d.deptype = 'e')
)
SELECT o.ord, o.kind, o.label, o.drop_cmd,
       EXISTS (SELECT 1 FROM declared k
                WHERE k.kind = o.kind AND k.name IN (o.name, o.sch || '.' || o.name)) AS declared
  FROM objects o
 WHERE o.sch NOT IN ('pg_catalog', 'information_schema')
   AND o.sch NOT LIKE 'pg\_%';
SQL
}

# Runs an objects-view query file on the target database.
objects_query() {
  sql "$IP_DB" -v declared="$(declared_objects)" -f "$1"
}

# In place, the run would wipe the target database; it refuses, changing
# nothing, when the database holds anything the migrations do not create.
# Foreign tables hold data the wipe must not take; any other foreign object
# would survive the wipe and make pg_restore fail on "already exists".
refuse_foreign_objects() {
  local foreign
  {
    write_objects_view
    printf '%s\n' "SELECT coalesce(string_agg(kind || ' ' || label, ', ' ORDER BY ord, label), '') FROM smoke_objects WHERE NOT declared;"
  } >"$IP_WORK/foreign.sql"
  foreign=$(objects_query "$IP_WORK/foreign.sql") ||
    fail "cannot inspect database $IP_DB on $(server_label)"
  [[ -z "$foreign" ]] ||
    fail "SMOKE_IN_PLACE=1 refused: database $IP_DB holds objects the migrations in $IP_MIGRATIONS do not create: $foreign"
  say "in place: database $IP_DB holds only what the migrations create"
}

# The workload's row ids are fixed (SPEC §4), so an in-place run starts from
# an empty log. Rows of an earlier smoke run may go with it: those the
# workload wrote (audit-smoke-NNNN) and the continuity check appended
# (audit-smoke-continuity-NNNN), all by the workload's actor smoke-actor;
# under SMOKE_SINCE their ids carry the run's tag (audit-smoke-rTAG-…).
# Any other audit row is somebody's data, even with a look-alike id
# (continuity-0001 by an application's actor), and the run refuses.
refuse_foreign_audit_rows() {
  local present foreign
  present=$(sql "$IP_DB" -c "SELECT to_regclass('audit_events') IS NOT NULL") ||
    fail "cannot inspect database $IP_DB on $(server_label)"
  [[ "$present" == t ]] || return 0
  foreign=$(sql "$IP_DB" -c "SELECT count(*) FROM audit_events WHERE NOT (id ~ '^audit-smoke-(r[0-9]{8}t[0-9]{6}z-)?(continuity-)?[0-9]{4,}\$' AND actor = 'smoke-actor')") ||
    fail "cannot read audit_events in $IP_DB"
  [[ "$foreign" == 0 ]] ||
    fail "SMOKE_IN_PLACE=1 refused: audit_events in $IP_DB holds $foreign row(s) not written by this smoke test"
}

# In place, the clean start empties the database of the migrations' objects
# (refusing first when anything else is there), like the original harness.
clean_in_place() {
  refuse_foreign_objects
  refuse_foreign_audit_rows
  wipe_in_place
  say "in place: database $IP_DB reset"
}

# The in-place wipe drops, in one transaction, exactly the objects the
# migrations declare (tables first; CASCADE takes what they own: indexes,
# triggers, constraints, owned sequences) plus the functions and types they
# declare, which pg_restore would otherwise trip over. Extensions stay: the
# dump re-creates them with IF NOT EXISTS. refuse_foreign_objects has made
# sure nothing else is there, so this amounts to emptying the schema of the
# migrations' objects and nothing more.
wipe_in_place() {
  {
    write_objects_view
    printf '%s\n' 'SELECT drop_cmd FROM smoke_objects WHERE declared ORDER BY ord, label \gexec'
  } >"$IP_WORK/wipe.sql"
  objects_query "$IP_WORK/wipe.sql" -1 >&2 || fail "wiping database $IP_DB in place failed"
}

# --- SMOKE_SINCE: a long-lived in-place log, verified from a checkpoint ------
#
# With SMOKE_SINCE=FILE the in-place database keeps its audit log from run to
# run and grows by SMOKE_ROWS rows a run (ids tagged with the run's start,
# so runs never collide). FILE is the checkpoint: {row_count,
# chain_head_hash} of the log as the last passing run backed it up. When it
# exists, the clean start keeps the log, and every verify of the restored
# database runs with --since FILE: the checkpoint's row must still carry its
# head, and only the rows after it are hashed (SPEC §9.8). When it does not
# exist yet, the run starts from an empty log and verifies everything. A
# passing run writes its own expectation to FILE for the next one.

# The clean start of an in-place run: a kept log under a checkpoint, else a reset.
since_clean_start() {
  if ((SINCE_FOUND == 0)); then
    clean_in_place
    return 0
  fi
  refuse_foreign_objects
  refuse_foreign_audit_rows
  say "in place: keeping the audit log of earlier runs; checkpoint $SINCE_FILE at row $(jq -r .row_count "$SINCE_FILE")"
}

# What every verify of a restored database is checked against: the
# checkpoint (only newer rows hashed) or the whole expectation.
since_verify_flags() {
  if ((SINCE_FOUND)); then
    printf '%s\n' "--since=$SINCE_FILE"
  else
    printf '%s\n' "--expect=$IP_WORK/expected.json"
  fi
}

# After a passing run: this run's expectation becomes the next checkpoint.
# Written beside FILE and renamed, so FILE is never half written.
since_write_checkpoint() {
  [[ -n "$SINCE_FILE" ]] || return 0
  if ! jq '{row_count, chain_head_hash}' "$IP_WORK/expected.json" >"$SINCE_FILE.tmp" ||
    ! mv -f -- "$SINCE_FILE.tmp" "$SINCE_FILE"; then
    fail "cannot write the next checkpoint to SMOKE_SINCE=$SINCE_FILE"
  fi
  say "checkpoint: $SINCE_FILE now at row $(jq -r .row_count "$SINCE_FILE"); the next run hashes only what comes after it"
}
