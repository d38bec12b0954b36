# shellcheck shell=bash
# The harness's opt-in in-place mode (SMOKE_IN_PLACE=1), sourced by
# deploy/test/backup-restore-smoke.sh: it wipes PGDATABASE itself, so it
# first makes sure that database holds nothing but what the migrations
# create; the tool decides what may be wiped and wipes it (InPlace.java).
# The harness gives it the run's facts once (in_place_use); the functions
# also use its helpers (gate_tool, db_url, say, fail).

IP_DB=''          # the database tested in place
IP_MIGRATIONS=''  # the migrations folder: what the database may hold
IP_WORK=''        # the harness's work folder (the tool's messages, expected.json)
SINCE_FILE=''     # SMOKE_SINCE, empty: every verify walks the whole chain
SINCE_FOUND=0     # 1 when SINCE_FILE held a checkpoint at the start

# in_place_use DB MIGRATIONS WORK SINCE_FILE SINCE_FOUND: the run's facts
# (the tool checked SMOKE_SINCE and the checkpoint it names, Knobs.java).
in_place_use() {
  IP_DB=$1 IP_MIGRATIONS=$2 IP_WORK=$3 SINCE_FILE=$4 SINCE_FOUND=$5
}

# Asks the tool about the in-place database (InPlace.java): MODE is
# in-place-check (may it be wiped?) or in-place-wipe. A refusal ends the
# run with the tool's line.
in_place_ask() {
  local status=0 reason
  gate_tool "--mode=$1" --db-url="$(db_url "$IP_DB")" --migrations-path="$IP_MIGRATIONS" \
    2>"$IP_WORK/in-place.err" || status=$?
  ((status != 0)) || return 0
  reason=$(tail -n 1 "$IP_WORK/in-place.err")
  fail "${reason#backupsmoke: }"
}

# In place, the run would wipe the target database; it refuses, changing
# nothing, when the database holds anything the migrations do not create
# (foreign tables hold data the wipe must not take; any other object would
# survive the wipe and make pg_restore fail on "already exists") or audit
# rows the smoke test did not write. The workload's row ids are fixed (SPEC
# §4), so an in-place run starts from an empty log; rows of an earlier
# smoke run may go with it, any other row is somebody's data.
refuse_foreign_data() {
  in_place_ask in-place-check
  say "in place: database $IP_DB holds only what the migrations create"
}

# In place, the clean start empties the database of the migrations' objects
# (refusing first when anything else is there), like the original harness.
clean_in_place() {
  refuse_foreign_data
  wipe_in_place
  say "in place: database $IP_DB reset"
}

# The in-place wipe drops, in one transaction, exactly the objects the
# migrations declare, and the functions and types they declare, which
# pg_restore would otherwise trip over; extensions stay (the tool's
# --mode=in-place-wipe). refuse_foreign_data has made sure nothing else is
# there.
wipe_in_place() {
  in_place_ask in-place-wipe
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
  refuse_foreign_data
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
