-- Back to the definitions of 000003 and 000004: link without numbering,
-- verify in ("timestamp", id) order.
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
    NEW.prev_hash := NULLIF(head, '');
    NEW.row_hash := audit_events_row_hash(
        NEW.prev_hash, NEW.id, NEW.actor, NEW.actor_type, NEW.action,
        NEW.resource_type, NEW.resource_id, NEW.details, NEW."timestamp",
        NEW.event_category);
    UPDATE audit_chain_head SET row_hash = NEW.row_hash, updated_at = NOW() WHERE id = 1;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION audit_events_verify_chain(
    OUT first_break_id TEXT, OUT first_break_pos INT, OUT row_count INT)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    r             RECORD;
    expected_prev TEXT := NULL;
    pos           INT := 0;
BEGIN
    FOR r IN SELECT * FROM audit_events ORDER BY "timestamp", id COLLATE "C" LOOP
        IF (pos = 0 AND r.prev_hash IS NOT NULL)
           OR (pos > 0 AND r.prev_hash IS DISTINCT FROM expected_prev)
           OR r.row_hash IS DISTINCT FROM audit_events_row_hash(
                  r.prev_hash, r.id, r.actor, r.actor_type, r.action, r.resource_type,
                  r.resource_id, r.details, r."timestamp", r.event_category)
        THEN
            first_break_id := r.id;
            first_break_pos := pos;
            row_count := pos + 1;
            RETURN;
        END IF;
        expected_prev := r.row_hash;
        pos := pos + 1;
    END LOOP;
    first_break_id := NULL;
    first_break_pos := -1;
    row_count := pos;
END;
$$;

DROP INDEX IF EXISTS idx_audit_events_prev_hash;
DROP INDEX IF EXISTS idx_audit_events_chain_seq;
ALTER TABLE audit_events DROP COLUMN IF EXISTS chain_seq;
DROP SEQUENCE IF EXISTS audit_events_chain_seq;
