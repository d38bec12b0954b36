DROP TRIGGER IF EXISTS audit_events_chain ON audit_events;
DROP FUNCTION IF EXISTS audit_events_chain_hash();
DROP FUNCTION IF EXISTS audit_events_row_hash(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB, TIMESTAMPTZ, TEXT);
DROP FUNCTION IF EXISTS audit_events_canonical_payload(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB, TIMESTAMPTZ, TEXT);
DROP TABLE IF EXISTS audit_chain_head;
-- pgcrypto stays: other objects in the database may rely on it.
