-- Chain position: the order in which the trigger linked the rows.
--
-- The verifier of 000004 walks rows in ("timestamp", id) order, but the
-- trigger links them in the order transactions take the sentinel lock. A
-- backdated row, clock skew between writers, or two writers that started in
-- one order and inserted in the other, made it report a break although
-- nothing was touched. Here the trigger also numbers each row from a
-- sequence while it holds the sentinel lock, so the numbers follow the
-- links, and the verifier walks that order. The hash payload is unchanged:
-- every existing hash stays valid.
--
-- The trigger and the verifier also compute the payload and its hash inline
-- instead of calling audit_events_row_hash(): each call of a function with a
-- pinned search_path saves and restores the setting, and two such calls a
-- row halved the insert rate. The expression is the same as in
-- audit_events_canonical_payload() (000003), which stays for anyone who
-- wants to hash a row by hand; the tests hold all three to the SPEC vectors.

ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS chain_seq BIGINT;
CREATE SEQUENCE IF NOT EXISTS audit_events_chain_seq AS BIGINT;
CREATE INDEX IF NOT EXISTS idx_audit_events_chain_seq ON audit_events (chain_seq);
-- Lets the backfill below, and anyone following links by hand, find a row's successor quickly.
CREATE INDEX IF NOT EXISTS idx_audit_events_prev_hash ON audit_events (prev_hash);

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

    UPDATE audit_chain_head SET row_hash = NEW.row_hash, updated_at = NOW() WHERE id = 1;
    RETURN NEW;
END;
$$;

-- Upgrade path: number the rows written before this migration by following
-- their links from the genesis row. Rows no link reaches keep NULL, sort
-- last, and so still show up as a break.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_events WHERE chain_seq IS NULL) THEN
        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
        WITH RECURSIVE walk (id, row_hash, seq) AS (
            SELECT id, row_hash, 1::BIGINT FROM audit_events WHERE prev_hash IS NULL
            UNION ALL
            SELECT e.id, e.row_hash, w.seq + 1
            FROM walk w JOIN audit_events e ON e.prev_hash = w.row_hash
            WHERE w.seq < (SELECT count(*) FROM audit_events)
        ),
        first_visit AS (
            SELECT id, min(seq) AS seq FROM walk GROUP BY id
        )
        UPDATE audit_events e SET chain_seq = f.seq FROM first_visit f WHERE e.id = f.id;
        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
    END IF;
    PERFORM setval('audit_events_chain_seq', greatest(1, coalesce((SELECT max(chain_seq) FROM audit_events), 0)),
                   (SELECT max(chain_seq) IS NOT NULL FROM audit_events));
END;
$$;

-- Same name, same OUT columns, same meaning (SPEC section 6); only the
-- order of the walk changes: chain position first, rows without one last.
CREATE OR REPLACE FUNCTION audit_events_verify_chain(
    OUT first_break_id  TEXT,
    OUT first_break_pos INT,
    OUT row_count       INT
)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    r             RECORD;
    expected_prev TEXT := NULL;
    pos           INT := 0;
BEGIN
    FOR r IN
        SELECT * FROM audit_events ORDER BY chain_seq NULLS LAST, "timestamp", id COLLATE "C"
    LOOP
        IF (pos = 0 AND r.prev_hash IS NOT NULL)
           OR (pos > 0 AND r.prev_hash IS DISTINCT FROM expected_prev)
           OR r.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
                  coalesce(r.prev_hash, '')
                  || '|' || r.id || '|' || r.actor || '|' || r.actor_type || '|' || r.action
                  || '|' || r.resource_type || '|' || r.resource_id
                  || '|' || coalesce(r.details::text, '')
                  || '|' || to_char(r."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                  || '|' || coalesce(r.event_category, ''), 'UTF8')), 'hex')
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
