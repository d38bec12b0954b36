-- Advance the sentinel once per statement instead of once per row.
--
-- Updating the one-row sentinel for every inserted row leaves a new row
-- version each time, and inside one transaction none of them can be pruned:
-- every later row has to walk past all of them to find the current one, so
-- a statement or transaction of n rows costs O(n^2). Here the row trigger
-- still takes the sentinel's lock (FOR UPDATE) at the first row of a
-- statement, then carries the running head in a transaction-local setting;
-- an AFTER INSERT statement trigger writes it to the sentinel once and
-- clears it. While the lock is held nobody else can move the sentinel, so
-- the chain and every hash are exactly what the row-by-row version writes,
-- and the sentinel is right at every statement boundary. A failed statement
-- rolls the setting back with everything else.

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    -- 'h:' || head while this statement holds the sentinel's lock; '' or NULL otherwise.
    pending TEXT := current_setting('audit_chain.pending_head', true);
    head    TEXT;
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

    PERFORM set_config('audit_chain.pending_head', 'h:' || NEW.row_hash, true);
    RETURN NEW;
END;
$$;

-- Writes the statement's last head to the sentinel, once.
CREATE OR REPLACE FUNCTION audit_events_chain_flush()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    pending TEXT := current_setting('audit_chain.pending_head', true);
BEGIN
    IF pending IS NOT NULL AND pending <> '' THEN
        UPDATE audit_chain_head SET row_hash = substr(pending, 3), updated_at = NOW() WHERE id = 1;
        PERFORM set_config('audit_chain.pending_head', '', true);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS audit_events_chain_flush ON audit_events;
CREATE TRIGGER audit_events_chain_flush
    AFTER INSERT ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_chain_flush();
