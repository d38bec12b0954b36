-- Back to 000007's row and statement triggers (pinned as in 000008): the
-- row trigger runs as the inserting role, finds the row linked last by
-- primary key, and numbers rows with nextval(), which setval() in 000011's
-- flush kept in step.

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    -- 'h:' || confirmed head while this statement holds the sentinel's lock; '' or NULL otherwise.
    pending   TEXT := current_setting('audit_chain.pending_head', true);
    -- row_hash || id of the row linked last in this statement; '' or NULL when none.
    last_row  TEXT := current_setting('audit_chain.pending_row', true);
    head      TEXT;
BEGIN
    IF pending IS NULL OR pending = '' THEN
        SELECT row_hash INTO head FROM audit_chain_head WHERE id = 1 FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit_chain_head has no row with id = 1: the hash chain has no sentinel'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
    ELSE
        head := substr(pending, 3);
    END IF;

    -- The row linked last becomes the head only if it really went in.
    IF last_row IS NOT NULL AND last_row <> '' AND EXISTS (
           SELECT 1 FROM audit_events WHERE id = substr(last_row, 65) AND row_hash = substr(last_row, 1, 64)) THEN
        head := substr(last_row, 1, 64);
    END IF;

    -- Taken under the sentinel lock, so the numbers follow the links.
    NEW.chain_seq := nextval('audit_events_chain_seq');
    NEW.prev_hash := NULLIF(head, '');
    NEW.row_hash := encode(pg_catalog.sha256(convert_to(
        coalesce(NEW.prev_hash, '')
        || '|' || NEW.id || '|' || NEW.actor || '|' || NEW.actor_type || '|' || NEW.action
        || '|' || NEW.resource_type || '|' || NEW.resource_id
        || '|' || coalesce(NEW.details::text, '')
        || '|' || to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || coalesce(NEW.event_category, ''), 'UTF8')), 'hex');

    -- Assignments, not PERFORM: a plain expression skips the executor that a
    -- PERFORM starts, which pays for the lookup above.
    pending := set_config('audit_chain.pending_head', 'h:' || head, true);
    last_row := set_config('audit_chain.pending_row', NEW.row_hash || NEW.id, true);
    RETURN NEW;
END;
$$;

-- Writes the statement's confirmed head to the sentinel, once, after checking
-- that the row linked last went in.
CREATE OR REPLACE FUNCTION audit_events_chain_flush()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    pending   TEXT := current_setting('audit_chain.pending_head', true);
    last_row  TEXT := current_setting('audit_chain.pending_row', true);
    head      TEXT;
BEGIN
    IF pending IS NOT NULL AND pending <> '' THEN
        head := substr(pending, 3);
        IF last_row IS NOT NULL AND last_row <> '' AND EXISTS (
               SELECT 1 FROM audit_events WHERE id = substr(last_row, 65) AND row_hash = substr(last_row, 1, 64)) THEN
            head := substr(last_row, 1, 64);
        END IF;
        UPDATE audit_chain_head SET row_hash = head, updated_at = NOW()
        WHERE id = 1 AND row_hash IS DISTINCT FROM head;
    END IF;
    pending := set_config('audit_chain.pending_head', '', true);
    last_row := set_config('audit_chain.pending_row', '', true);
    RETURN NULL;
END;
$$;

-- 000006 installs this trigger; recreated here so the file also holds on a
-- database whose flush trigger went missing.
DROP TRIGGER IF EXISTS audit_events_chain_flush ON audit_events;
CREATE TRIGGER audit_events_chain_flush
    AFTER INSERT ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_chain_flush();

DROP FUNCTION IF EXISTS audit_events_chain_begin();

DO $pin$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY['audit_events_chain_hash()'::regprocedure,
                              'audit_events_chain_flush()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', fn,
                       (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = fn));
    END LOOP;
END
$pin$;
