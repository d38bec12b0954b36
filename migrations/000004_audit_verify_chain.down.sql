DROP FUNCTION IF EXISTS audit_events_verify_chain();
