-- The pins 000016 meant, for a schema whose name needs quotes. 000016
-- looked its schema up with to_regnamespace(current_schema()), which reads
-- the name as SQL would: in a schema named "Tenant" it found none, so the
-- functions 000008 and 000011 pinned kept `"Tenant", pg_catalog`, which
-- searches pg_temp first for tables (a temporary audit_chain_head reached
-- the SECURITY DEFINER functions, as 000016 explains). 000016 now looks the
-- schema up by its name; this pins what it left, wherever the path of a
-- function of ours is not yet `pg_catalog, <schema>, pg_temp`. In any other
-- schema it finds nothing to change.
DO $pin$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid FROM pg_proc p
        WHERE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n
                                WHERE n.nspname = pg_catalog.current_schema())
          AND p.proname IN ('audit_events_reject_change', 'audit_events_reject_truncate',
                            'audit_events_canonical_payload', 'audit_events_row_hash', 'audit_events_chain_begin',
                            'audit_events_chain_flush', 'audit_events_verify_chain',
                            'audit_events_verify_chain_first_modified')
          AND EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS setting WHERE setting LIKE 'search_path=%')
          AND NOT pg_catalog.format('search_path=pg_catalog, %I, pg_temp', pg_catalog.current_schema())
                  = ANY (p.proconfig)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', fn,
                                  pg_catalog.current_schema());
    END LOOP;
END
$pin$;
