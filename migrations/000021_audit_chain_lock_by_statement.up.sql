-- The sentinel's lock is taken by a statement trigger of audit_events, not
-- by audit_events_chain_begin(), which any role may call.
--
-- Every inserting role calls begin() through the row trigger, so PUBLIC
-- may execute it, and it took the sentinel's row lock (FOR UPDATE). A role
-- with no right on the audit tables (LOGIN, and PUBLIC's USAGE on public)
-- made a temporary table with a BEFORE INSERT trigger of its own calling
-- public.audit_events_chain_begin() (its check of pg_trigger_depth()
-- passes there), inserted a row and stayed in pg_sleep: an insert into
-- audit_events by the application waited for the lock until its own
-- statement_timeout, and idle_in_transaction_session_timeout did not help
-- (the transaction was not idle; the role set its own statement_timeout
-- = 0). begin() also handed it the head and the last chain position.
-- Revoking EXECUTE would not hold: a restore without privileges gives it
-- back (000019).
--
-- Now audit_events_chain_lock(), a BEFORE INSERT statement trigger of
-- audit_events (SECURITY DEFINER, pinned, refusing any other table as the
-- flush does since 000019), takes the lock and marks this transaction's
-- setting audit_chain.locked_<table oid>; begin() reads the sentinel
-- without locking it and refuses to run without the mark. A role that sets
-- the mark itself only reads the head, holding nothing up. The lock is
-- the same row lock, taken once per statement as before; in REPEATABLE
-- READ the lock still fails with a serialization error when another
-- transaction moved the head after this one's snapshot, so the unlocked
-- read after it sees the head the lock holds. A row trigger fired without
-- the statement trigger (logical replication's apply, where statement
-- triggers never fire and the flush never wrote the sentinel either) is
-- refused instead of linked unlocked.

CREATE OR REPLACE FUNCTION audit_events_chain_lock()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    IF TG_RELID <> 'audit_events'::regclass THEN
        RAISE EXCEPTION 'audit_events_chain_lock() locks the sentinel of its own schema''s audit_events and fires on that table only, not on %.%',
            TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    PERFORM set_config('audit_chain.locked_' || TG_RELID, 'on', true);
    RETURN NULL;
END;
$$;

REVOKE EXECUTE ON FUNCTION audit_events_chain_lock() FROM PUBLIC;

-- Dropped first: the migrations run again safely without their ledger.
DROP TRIGGER IF EXISTS audit_events_chain_lock ON audit_events;
CREATE TRIGGER audit_events_chain_lock
    BEFORE INSERT ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_chain_lock();

CREATE OR REPLACE FUNCTION audit_events_chain_begin()
RETURNS TEXT
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    head      TEXT;
    last_seq  BIGINT;
BEGIN
    IF pg_trigger_depth() = 0 THEN
        RAISE EXCEPTION 'audit_events_chain_begin() is called by the chain trigger only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF current_setting('track_counts') <> 'on' THEN
        RAISE EXCEPTION 'audit_events needs track_counts = on: the chain trigger tells inserted rows from skipped ones by the transaction''s insert count'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- The statement trigger holds the sentinel's lock (000021): read, never locked here.
    IF current_setting('audit_chain.locked_' || 'audit_events'::regclass::oid, true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'audit_events cannot chain a row without the sentinel''s lock, which its statement trigger audit_events_chain_lock takes: it did not fire (logical replication''s apply fires no statement trigger, or the trigger is disabled)'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT row_hash INTO head FROM audit_chain_head WHERE id = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head has no row with id = 1: the hash chain has no sentinel'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- The position nextval() handed out last (none yet when is_called is false).
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO last_seq FROM audit_events_chain_seq;
    RETURN '|' || head || '|' || last_seq || '|0|0';
END;
$$;

-- Both pinned as 000016 pins every function of ours (CREATE OR REPLACE
-- above set the path of this session instead).
DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_chain_lock()'::regprocedure, pg_catalog.current_schema());
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_chain_begin()'::regprocedure, pg_catalog.current_schema());
END
$pin$;
