-- Back to 000006: the row trigger advances the pending head for every row it links.
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
