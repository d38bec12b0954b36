-- Back to the hashing pass of 000012 and the row trigger of 000011 (details::text,
-- character varying fields as they are, no test of the era, no refusal of a row
-- inserted by a BEFORE trigger), the hashing pass pinned as 000016 pins it, and
-- audit_events_chain_flush() executable by PUBLIC again.

CREATE OR REPLACE FUNCTION audit_events_verify_chain_first_modified()
RETURNS SETOF TEXT
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET TimeZone = 'UTC'
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0
SET enable_indexscan = off
SET enable_bitmapscan = off
AS $$
BEGIN
    -- RETURN QUERY runs to completion, the one way a PL/pgSQL function's
    -- query may use parallel workers.
    RETURN QUERY
    SELECT e.id
    FROM audit_events e
    WHERE e.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
              coalesce(e.prev_hash, '')
              || '|' || e.id || '|' || e.actor || '|' || e.actor_type || '|' || e.action
              || '|' || e.resource_type || '|' || e.resource_id
              || '|' || coalesce(e.details::text, '')
              || '|' || to_char(e."timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              || '|' || coalesce(e.event_category, ''), 'UTF8')), 'hex')
    ORDER BY e.chain_seq NULLS LAST, e."timestamp", e.id COLLATE "C"
    LIMIT 1;
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

DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_verify_chain_first_modified()'::regprocedure, pg_catalog.current_schema());
END
$pin$;

GRANT EXECUTE ON FUNCTION audit_events_chain_flush() TO PUBLIC;
