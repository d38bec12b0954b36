-- Back to 000005: the row trigger advances the sentinel for every row.
DROP TRIGGER IF EXISTS audit_events_chain_flush ON audit_events;
DROP FUNCTION IF EXISTS audit_events_chain_flush();

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    head TEXT;
BEGIN
    SELECT row_hash INTO head FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head has no row with id = 1: the hash chain has no sentinel'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.chain_seq := nextval('audit_events_chain_seq');
    NEW.prev_hash := NULLIF(head, '');
    NEW.row_hash := encode(pg_catalog.sha256(convert_to(
        coalesce(NEW.prev_hash, '')
        || '|' || NEW.id || '|' || NEW.actor || '|' || NEW.actor_type || '|' || NEW.action
        || '|' || NEW.resource_type || '|' || NEW.resource_id
        || '|' || coalesce(NEW.details::text, '')
        || '|' || to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || coalesce(NEW.event_category, ''), 'UTF8')), 'hex');
    UPDATE audit_chain_head SET row_hash = NEW.row_hash, updated_at = NOW() WHERE id = 1;
    RETURN NEW;
END;
$$;
