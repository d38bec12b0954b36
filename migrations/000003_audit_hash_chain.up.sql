-- Hash chain: every row carries the hash of its predecessor and a hash of
-- its own canonical payload, and a one-row sentinel holds the newest hash.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- The sentinel. The single row (id = 1) starts empty and always holds the
-- row_hash of the newest audit row.
CREATE TABLE IF NOT EXISTS audit_chain_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    row_hash   TEXT        NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
INSERT INTO audit_chain_head (id, row_hash) VALUES (1, '') ON CONFLICT (id) DO NOTHING;

-- The canonical payload (SPEC section 6): ten fields joined by '|'.
-- Nothing here may depend on session settings: the timestamp is rendered
-- in UTC with a fixed pattern, and jsonb's text form ignores DateStyle and
-- friends. search_path is pinned because pg_restore runs with an empty one.
CREATE OR REPLACE FUNCTION audit_events_canonical_payload(
    p_prev_hash      TEXT,
    p_id             TEXT,
    p_actor          TEXT,
    p_actor_type     TEXT,
    p_action         TEXT,
    p_resource_type  TEXT,
    p_resource_id    TEXT,
    p_details        JSONB,
    p_timestamp      TIMESTAMPTZ,
    p_event_category TEXT
)
RETURNS TEXT
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $$
    -- Plain || rather than concat_ws: concat_ws would silently skip a NULL
    -- and shift the fields; here a NULL mandatory field yields a NULL hash,
    -- which the NOT NULL row_hash column then rejects.
    SELECT coalesce(p_prev_hash, '')
        || '|' || p_id
        || '|' || p_actor
        || '|' || p_actor_type
        || '|' || p_action
        || '|' || p_resource_type
        || '|' || p_resource_id
        || '|' || coalesce(p_details::text, '')
        || '|' || to_char(p_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || coalesce(p_event_category, '')
$$;

-- Lowercase hex SHA-256 of the payload's UTF-8 bytes. convert_to makes the
-- bytes UTF-8 even in a database with another encoding.
CREATE OR REPLACE FUNCTION audit_events_row_hash(
    p_prev_hash      TEXT,
    p_id             TEXT,
    p_actor          TEXT,
    p_actor_type     TEXT,
    p_action         TEXT,
    p_resource_type  TEXT,
    p_resource_id    TEXT,
    p_details        JSONB,
    p_timestamp      TIMESTAMPTZ,
    p_event_category TEXT
)
RETURNS TEXT
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $$
    SELECT encode(digest(convert_to(audit_events_canonical_payload(
        p_prev_hash, p_id, p_actor, p_actor_type, p_action, p_resource_type,
        p_resource_id, p_details, p_timestamp, p_event_category), 'UTF8'), 'sha256'), 'hex')
$$;

-- BEFORE INSERT: link the new row to the sentinel and advance it. Locking
-- the sentinel row serialises concurrent writers, so the chain never forks.
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

DROP TRIGGER IF EXISTS audit_events_chain ON audit_events;
CREATE TRIGGER audit_events_chain
    BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_chain_hash();
