-- Append-only: ordinary sessions can neither rewrite nor remove audit rows.
-- Privileged maintenance has to disable the trigger explicitly
-- (ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only),
-- which is itself a visible, auditable act.
CREATE OR REPLACE FUNCTION audit_events_reject_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % of row % is not allowed', TG_OP, OLD.id
        USING ERRCODE = 'check_violation';
END;
$$;

-- Row triggers do not fire for TRUNCATE, so it gets a statement trigger of its own.
CREATE OR REPLACE FUNCTION audit_events_reject_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: TRUNCATE is not allowed'
        USING ERRCODE = 'check_violation';
END;
$$;

-- DROP + CREATE keeps the file rerunnable on servers older than 14,
-- which lack CREATE OR REPLACE TRIGGER.
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change();

DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_truncate();
