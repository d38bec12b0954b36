-- Back to the PL/pgSQL loop of 000005, pinned as in 000008.
CREATE OR REPLACE FUNCTION audit_events_verify_chain(
    OUT first_break_id  TEXT,
    OUT first_break_pos INT,
    OUT row_count       INT
)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    r             RECORD;
    expected_prev TEXT := NULL;
    pos           INT := 0;
BEGIN
    FOR r IN
        SELECT * FROM audit_events ORDER BY chain_seq NULLS LAST, "timestamp", id COLLATE "C"
    LOOP
        IF (pos = 0 AND r.prev_hash IS NOT NULL)
           OR (pos > 0 AND r.prev_hash IS DISTINCT FROM expected_prev)
           OR r.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
                  coalesce(r.prev_hash, '')
                  || '|' || r.id || '|' || r.actor || '|' || r.actor_type || '|' || r.action
                  || '|' || r.resource_type || '|' || r.resource_id
                  || '|' || coalesce(r.details::text, '')
                  || '|' || to_char(r."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                  || '|' || coalesce(r.event_category, ''), 'UTF8')), 'hex')
        THEN
            first_break_id := r.id;
            first_break_pos := pos;
            row_count := pos + 1;
            RETURN;
        END IF;
        expected_prev := r.row_hash;
        pos := pos + 1;
    END LOOP;

    first_break_id := NULL;
    first_break_pos := -1;
    row_count := pos;
END;
$$;

DROP FUNCTION IF EXISTS audit_events_verify_chain_walk();

DO $pin$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_events_verify_chain() SET search_path = %I, pg_catalog',
                   (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE p.oid = 'audit_events_verify_chain()'::regprocedure));
END
$pin$;
