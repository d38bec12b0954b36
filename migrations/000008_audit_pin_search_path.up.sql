-- Pin every function of ours to the schema it lives in.
--
-- The earlier files pinned `SET search_path FROM CURRENT`, which records
-- the migrating session's path, by default "$user", public. A schema named
-- after the role (CREATE SCHEMA postgres) with copies of the audit tables
-- then came first for that role: the trigger linked against the copy's
-- sentinel and the verifier walked the copy, so tampering with the real
-- table went unseen (issue 11). ALTER DATABASE … SET search_path did the
-- same for every role.
--
-- Here each function gets `search_path = <its own schema>, pg_catalog`,
-- computed from the catalog, so a database migrated into another schema is
-- pinned to that one. Our functions are those in a schema whose
-- audit_events carries our chain trigger (audit_events_chain calling that
-- schema's audit_events_chain_hash); other schemas' functions of the same
-- names belong to someone else and stay as they are.
--
-- audit_events_row_hash() called pgcrypto's digest(), which lives in
-- whatever schema pgcrypto was installed into; it now uses the built-in
-- pg_catalog.sha256() (same bytes, same hash), so the pin holds wherever
-- pgcrypto is. The trigger and the verifier already did.
DO $pin$
DECLARE
    ours CONSTANT TEXT[] := ARRAY['audit_events_reject_change', 'audit_events_reject_truncate',
        'audit_events_canonical_payload', 'audit_events_row_hash', 'audit_events_chain_hash',
        'audit_events_chain_flush', 'audit_events_verify_chain'];
    home RECORD;
    fn   RECORD;
BEGIN
    FOR home IN
        SELECT DISTINCT n.oid, n.nspname
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_proc f ON f.oid = t.tgfoid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.tgname = 'audit_events_chain' AND c.relname = 'audit_events'
          AND f.proname = 'audit_events_chain_hash' AND f.pronamespace = c.relnamespace
    LOOP
        IF to_regprocedure(format('%I.audit_events_row_hash(text, text, text, text, text, text, text, jsonb, '
                                  'timestamptz, text)', home.nspname)) IS NOT NULL THEN
            EXECUTE format($def$
                CREATE OR REPLACE FUNCTION %1$I.audit_events_row_hash(
                    p_prev_hash TEXT, p_id TEXT, p_actor TEXT, p_actor_type TEXT, p_action TEXT,
                    p_resource_type TEXT, p_resource_id TEXT, p_details JSONB,
                    p_timestamp TIMESTAMPTZ, p_event_category TEXT)
                RETURNS TEXT
                LANGUAGE sql
                STABLE
                AS $body$
                    SELECT encode(pg_catalog.sha256(convert_to(audit_events_canonical_payload(
                        p_prev_hash, p_id, p_actor, p_actor_type, p_action, p_resource_type,
                        p_resource_id, p_details, p_timestamp, p_event_category), 'UTF8')), 'hex')
                $body$
                $def$, home.nspname);
        END IF;

        FOR fn IN
            SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments
            FROM pg_proc p
            WHERE p.pronamespace = home.oid AND p.proname = ANY (ours)
        LOOP
            EXECUTE format('ALTER FUNCTION %I.%I(%s) SET search_path = %I, pg_catalog',
                           home.nspname, fn.proname, fn.arguments, home.nspname);
        END LOOP;
    END LOOP;
END
$pin$;
