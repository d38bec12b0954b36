-- Back to the pins of 000008 and 000011: our schema first, then pg_catalog,
-- for each function of ours that 000016 pinned.
DO $unpin$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid FROM pg_proc p
        WHERE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = pg_catalog.current_schema())
          AND p.proname LIKE 'audit_events%'
          AND pg_catalog.format('search_path=pg_catalog, %I, pg_temp', pg_catalog.current_schema()) = ANY (p.proconfig)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', fn,
                                  pg_catalog.current_schema());
    END LOOP;
END
$unpin$;
