-- The chain trigger rewritten: right under any policy, grant or
-- search_path of the inserting role, refusing timestamps the payload cannot
-- express, and cheaper per row (issues 18 and 20). Hashes, the payload and
-- the order of chain_seq are unchanged: every existing row still verifies,
-- and the chain simply continues.
--
-- What went wrong before:
--  * The trigger ran as the inserting role. Under row-level security that
--    role may not see the rows it inserted for other actors, so 000007's
--    check "did the row linked last go in?" (a SELECT on audit_events) said
--    no, and the next rows linked to the same predecessor: a fork. It also
--    needed UPDATE on audit_chain_head and on the sequence.
--  * Each row paid for a pinned search_path (a GUC save and restore), an
--    index lookup, nextval() and four setting reads and writes: a chained
--    insert cost 3-4 times a plain one.
--  * 'infinity' made the hash NULL (a NOT NULL error on row_hash), and a
--    timestamp BC hashed like the same date AD.
--
-- Now three functions share the work; their state is one transaction-local
-- setting, audit_chain.state, "L|H|S|R|C" (see audit_events_chain_hash()):
--  * audit_events_chain_begin() (SECURITY DEFINER, pinned): once per
--    statement, locks the sentinel, reads the head and the last chain
--    position. Owned by whoever ran the migrations, so the inserting role
--    needs no privilege on audit_chain_head or the sequence.
--  * audit_events_chain_hash() (the row trigger): links and hashes the row.
--    It reads no table, so no policy can hide anything from it, and it runs
--    without a pinned search_path (the pin cost as much as the hash): it
--    names every function pg_catalog.*, and reaches begin() through the
--    table's own schema. It runs as the inserting role, so a role that
--    shadows an operator in its own path only spoils its own rows' hashes,
--    which verify reports.
--  * audit_events_chain_flush() (statement trigger, SECURITY DEFINER,
--    pinned): writes the statement's head to the sentinel and the last
--    position to the sequence, once.
-- Whether the row linked last really went in (ON CONFLICT DO NOTHING, or a
-- later BEFORE trigger returning NULL, drops it after we linked it; 000007)
-- is told by the transaction's count of rows inserted into that table,
-- pg_stat_get_xact_tuples_inserted(): it grows by one when the row goes in
-- and not at all when it is dropped, and no policy hides it. It needs
-- track_counts (on by default); begin() refuses to link without it rather
-- than fork. One case the count cannot tell: within one statement, a row
-- dropped just before a subtransaction that inserted audit rows and was
-- rolled back (the count keeps those rows); the next row then links to the
-- dropped one, and verify reports a missing predecessor.
-- Positions still come from audit_events_chain_seq, counted in the state
-- under the sentinel's lock and written back with setval(): the same
-- numbers nextval() gave, with gaps only for dropped rows.
-- A session can set audit_chain.state itself, as it could 000007's
-- settings: that spoils only the links of its own rows, which verify reports.
-- A partitioned audit_events is not supported: an insert straight into a
-- partition fires the row trigger cloned there but not the statement
-- trigger, and --mode=workload refuses such a table.

CREATE OR REPLACE FUNCTION audit_events_chain_begin()
RETURNS TEXT
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    head      TEXT;
    last_seq  BIGINT;
BEGIN
    -- It takes the lock an insert takes; called by hand it would only hold up the inserts.
    IF pg_trigger_depth() = 0 THEN
        RAISE EXCEPTION 'audit_events_chain_begin() is called by the chain trigger only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF current_setting('track_counts') <> 'on' THEN
        RAISE EXCEPTION 'audit_events needs track_counts = on: the chain trigger tells inserted rows from skipped ones by the transaction''s insert count'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT row_hash INTO head FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head has no row with id = 1: the hash chain has no sentinel'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- The position nextval() handed out last (none yet when is_called is false).
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO last_seq FROM audit_events_chain_seq;
    RETURN '|' || head || '|' || last_seq || '|0|0';
END;
$$;

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- '' or NULL while this statement does not hold the sentinel's lock; else
    -- L|H|S|R|C: L the row_hash of the row linked last ('' when none),
    -- H the confirmed head, S the last chain position handed out, R and C
    -- the table that row went to and its insert count just before it.
    state     TEXT := pg_catalog.current_setting('audit_chain.state', true);
    last_row  TEXT;
    head      TEXT;
    seq       BIGINT;
    inserted  BIGINT := pg_catalog.pg_stat_get_xact_tuples_inserted(TG_RELID);
BEGIN
    -- The payload writes the year as digits only, without era, and cannot write infinity.
    IF NOT pg_catalog.isfinite(NEW."timestamp") OR NEW."timestamp" < '0001-01-01 00:00:00+00' THEN
        RAISE EXCEPTION 'audit_events cannot hold timestamp % (row %): the hash chain''s payload writes only finite timestamps from 0001-01-01 UTC on',
            NEW."timestamp", NEW.id
            USING ERRCODE = 'datetime_field_overflow';
    END IF;
    IF state IS NULL OR state = '' THEN
        EXECUTE 'SELECT ' || pg_catalog.quote_ident(TG_TABLE_SCHEMA) || '.audit_events_chain_begin()' INTO state;
    END IF;
    last_row := pg_catalog.split_part(state, '|', 1);
    head := pg_catalog.split_part(state, '|', 2);
    seq := pg_catalog.split_part(state, '|', 3)::BIGINT + 1;

    -- The row linked last becomes the head only if it really went in.
    IF last_row <> '' AND pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.split_part(state, '|', 4)::OID)
                          > pg_catalog.split_part(state, '|', 5)::BIGINT THEN
        head := last_row;
    END IF;

    NEW.chain_seq := seq;
    NEW.prev_hash := NULLIF(head, '');
    NEW.row_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        coalesce(NEW.prev_hash, '')
        || '|' || NEW.id || '|' || NEW.actor || '|' || NEW.actor_type || '|' || NEW.action
        || '|' || NEW.resource_type || '|' || NEW.resource_id
        || '|' || coalesce(NEW.details::text, '')
        || '|' || pg_catalog.to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || coalesce(NEW.event_category, ''), 'UTF8')), 'hex');

    -- An assignment, not PERFORM: a plain expression skips the executor.
    state := pg_catalog.set_config('audit_chain.state',
        NEW.row_hash || '|' || head || '|' || seq || '|' || TG_RELID || '|' || inserted, true);
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION audit_events_chain_flush()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    state     TEXT := current_setting('audit_chain.state', true);
    last_row  TEXT;
    head      TEXT;
BEGIN
    IF state IS NULL OR state = '' THEN
        RETURN NULL;
    END IF;
    last_row := split_part(state, '|', 1);
    head := split_part(state, '|', 2);
    IF last_row <> '' AND pg_stat_get_xact_tuples_inserted(split_part(state, '|', 4)::OID)
                          > split_part(state, '|', 5)::BIGINT THEN
        head := last_row;
    END IF;
    UPDATE audit_chain_head SET row_hash = head, updated_at = NOW()
    WHERE id = 1 AND row_hash IS DISTINCT FROM head;
    IF split_part(state, '|', 3)::BIGINT > 0 THEN
        PERFORM setval('audit_events_chain_seq', split_part(state, '|', 3)::BIGINT, true);
    END IF;
    state := set_config('audit_chain.state', '', true);
    RETURN NULL;
END;
$$;

-- Pinned like every other function of ours (000008), except the row
-- trigger, which names what it calls instead (see above).
DO $pin$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY['audit_events_chain_begin()'::regprocedure,
                              'audit_events_chain_flush()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', fn,
                       (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = fn));
    END LOOP;
END
$pin$;
