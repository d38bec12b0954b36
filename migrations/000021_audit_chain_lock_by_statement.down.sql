-- Back to 000011's begin(), which takes the sentinel's lock itself,
-- pinned as 000016 pins it; the statement trigger and its function go.

DROP TRIGGER IF EXISTS audit_events_chain_lock ON audit_events;
DROP FUNCTION IF EXISTS audit_events_chain_lock();

CREATE OR REPLACE FUNCTION audit_events_chain_begin()
RETURNS TEXT
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    head      TEXT;
    last_seq  BIGINT;
BEGIN
    -- It takes the lock an insert takes; called by hand it would only hold up the inserts.
    IF pg_trigger_depth() = 0 THEN
        RAISE EXCEPTION 'audit_events_chain_begin() is called by the chain trigger only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF current_setting('track_counts') <> 'on' THEN
        RAISE EXCEPTION 'audit_events needs track_counts = on: the chain trigger tells inserted rows from skipped ones by the transaction''s insert count'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT row_hash INTO head FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head has no row with id = 1: the hash chain has no sentinel'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- The position nextval() handed out last (none yet when is_called is false).
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO last_seq FROM audit_events_chain_seq;
    RETURN '|' || head || '|' || last_seq || '|0|0';
END;
$$;

DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_chain_begin()'::regprocedure, pg_catalog.current_schema());
END
$pin$;
