-- Every pinned function of ours searches pg_catalog first and pg_temp last:
-- `search_path = pg_catalog, <its own schema>, pg_temp` instead of 000008's
-- and 000011's `<its own schema>, pg_catalog`.
--
-- A path that does not name pg_temp searches it first for tables. The
-- chain's SECURITY DEFINER functions (000011) read and write the sentinel
-- by its bare name, so a role with INSERT alone made a temporary table
-- audit_chain_head, granted it to PUBLIC, and the function, running as its
-- owner, linked that role's rows to whatever head the temporary table held
-- and advanced it instead of the real sentinel. And with our schema before
-- pg_catalog, a function of the same name and argument types created there
-- (split_part(text, text, integer), by anyone who may create in the schema:
-- every role in public up to PostgreSQL 14) ran in place of the built-in,
-- inside those functions with their owner's rights, and inside the
-- verifier. pg_catalog first and pg_temp last leave neither a way in; our
-- tables and our own functions have no namesakes in pg_catalog, so nothing
-- else resolves differently. The row trigger stays unpinned: it names
-- pg_catalog.* and reads no table (000011).
--
-- Edited once, with 000022: the schema is looked up by its name in
-- pg_namespace. to_regnamespace(current_schema()) read the name as SQL
-- would, so a schema whose name needs quotes ("Tenant") was not found and
-- kept the old pins, and one that is no identifier ("Audit Log") failed
-- here. In every other schema the edit changes nothing this file does.
DO $pin$
DECLARE
    fn RECORD;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure AS signature
        FROM pg_proc p
        WHERE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = pg_catalog.current_schema())
          AND p.proname IN ('audit_events_reject_change', 'audit_events_reject_truncate',
                            'audit_events_canonical_payload', 'audit_events_row_hash', 'audit_events_chain_begin',
                            'audit_events_chain_flush', 'audit_events_verify_chain',
                            'audit_events_verify_chain_first_modified')
          AND EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS setting WHERE setting LIKE 'search_path=%')
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', fn.signature,
                                  pg_catalog.current_schema());
    END LOOP;
END
$pin$;
