-- Back to 000007: digest() from pgcrypto, and the path a default session
-- recorded with SET search_path FROM CURRENT.
CREATE OR REPLACE FUNCTION audit_events_row_hash(
    p_prev_hash TEXT, p_id TEXT, p_actor TEXT, p_actor_type TEXT, p_action TEXT,
    p_resource_type TEXT, p_resource_id TEXT, p_details JSONB,
    p_timestamp TIMESTAMPTZ, p_event_category TEXT)
RETURNS TEXT
LANGUAGE sql
STABLE
SET search_path FROM CURRENT
AS $$
    SELECT encode(digest(convert_to(audit_events_canonical_payload(
        p_prev_hash, p_id, p_actor, p_actor_type, p_action, p_resource_type,
        p_resource_id, p_details, p_timestamp, p_event_category), 'UTF8'), 'sha256'), 'hex')
$$;

ALTER FUNCTION audit_events_reject_change() SET search_path FROM CURRENT;
ALTER FUNCTION audit_events_reject_truncate() SET search_path FROM CURRENT;
ALTER FUNCTION audit_events_canonical_payload(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB, TIMESTAMPTZ, TEXT)
    SET search_path FROM CURRENT;
ALTER FUNCTION audit_events_chain_hash() SET search_path FROM CURRENT;
ALTER FUNCTION audit_events_chain_flush() SET search_path FROM CURRENT;
ALTER FUNCTION audit_events_verify_chain() SET search_path FROM CURRENT;
