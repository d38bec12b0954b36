-- Back to 000017's row trigger (a nested row after one not in is refused at
-- once) and 000011's flush, pinned as 000016 pins it; its EXECUTE stays
-- revoked (000017).

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- '' or NULL while this statement does not hold the sentinel's lock; else
    -- L|H|S|R|C|D: L the row_hash of the row linked last ('' when none),
    -- H the confirmed head, S the last chain position handed out, R and C
    -- the table that row went to and its insert count just before it, D the
    -- trigger depth it was linked at (000017; begin() leaves D out).
    state     TEXT := pg_catalog.current_setting('audit_chain.state', true);
    last_row  TEXT;
    head      TEXT;
    seq       BIGINT;
    inserted  BIGINT := pg_catalog.pg_stat_get_xact_tuples_inserted(TG_RELID);
    depth     INT := pg_catalog.pg_trigger_depth();
BEGIN
    -- The payload writes the year as digits only, without era, and cannot write infinity.
    IF NOT pg_catalog.isfinite(NEW."timestamp") OR NEW."timestamp" < '0001-01-01 00:00:00+00'::timestamptz THEN
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

    -- The row linked last becomes the head only if it really went in. Not
    -- in yet, it was dropped, unless it is still in its BEFORE triggers and
    -- one of them inserts this row (a deeper trigger): linking this row to
    -- the head too would fork the chain (000017).
    IF last_row <> '' THEN
        IF pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.split_part(state, '|', 4)::OID)
           > pg_catalog.split_part(state, '|', 5)::BIGINT THEN
            head := last_row;
        ELSIF depth > NULLIF(pg_catalog.split_part(state, '|', 6), '')::INT THEN
            RAISE EXCEPTION 'audit_events cannot chain row % while the row linked before it is still in its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger instead',
                NEW.id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
    END IF;

    NEW.chain_seq := seq;
    NEW.prev_hash := NULLIF(head, '');
    -- Every piece text, the details as jsonb's output function prints them (000017).
    NEW.row_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        coalesce(NEW.prev_hash, ''::text)
        || '|'::text || NEW.id || '|'::text || NEW.actor::text || '|'::text || NEW.actor_type::text
        || '|'::text || NEW.action::text || '|'::text || NEW.resource_type::text
        || '|'::text || NEW.resource_id::text
        || '|'::text || coalesce(pg_catalog.textin(pg_catalog.jsonb_out(NEW.details)), ''::text)
        || '|'::text || pg_catalog.to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text)
        || '|'::text || coalesce(NEW.event_category, ''::text), 'UTF8'::name)), 'hex'::text);

    -- An assignment, not PERFORM: a plain expression skips the executor.
    state := pg_catalog.set_config('audit_chain.state',
        NEW.row_hash || '|' || head || '|' || seq || '|' || TG_RELID || '|' || inserted || '|' || depth, true);
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

DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_chain_flush()'::regprocedure, pg_catalog.current_schema());
END
$pin$;
