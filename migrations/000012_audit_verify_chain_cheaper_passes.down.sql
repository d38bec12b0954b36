-- Back to 000010's verifier: the hashing pass with AT TIME ZONE through the index, the walk in the full order.
CREATE OR REPLACE FUNCTION audit_events_verify_chain_first_modified()
RETURNS SETOF TEXT
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0
AS $$
BEGIN
    -- RETURN QUERY runs to completion, the one way a PL/pgSQL function's
    -- query may use parallel workers.
    RETURN QUERY
    SELECT e.id
    FROM audit_events e
    WHERE e.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
              coalesce(e.prev_hash, '')
              || '|' || e.id || '|' || e.actor || '|' || e.actor_type || '|' || e.action
              || '|' || e.resource_type || '|' || e.resource_id
              || '|' || coalesce(e.details::text, '')
              || '|' || to_char(e."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              || '|' || coalesce(e.event_category, ''), 'UTF8')), 'hex')
    ORDER BY e.chain_seq NULLS LAST, e."timestamp", e.id COLLATE "C"
    LIMIT 1;
END;
$$;

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
    first_modified TEXT;
BEGIN
    SELECT m INTO first_modified FROM audit_events_verify_chain_first_modified() AS m;
    SELECT CASE WHEN stop.broken THEN stop.id END,
           CASE WHEN stop.broken THEN stop.pos ELSE -1 END,
           coalesce(stop.pos + 1, 0)
    INTO first_break_id, first_break_pos, row_count
    FROM (SELECT 1) AS always_one_row
    LEFT JOIN (
        SELECT l.id, l.pos, l.link_broken OR l.id IS NOT DISTINCT FROM first_modified AS broken
        FROM (
            SELECT e.id,
                   (row_number() OVER w - 1)::int AS pos,
                   lead(true) OVER w IS NULL AS is_last,
                   e.prev_hash IS DISTINCT FROM lag(e.row_hash) OVER w AS link_broken
            FROM audit_events e
            WINDOW w AS (ORDER BY e.chain_seq NULLS LAST, e."timestamp", e.id COLLATE "C")
        ) AS l
        WHERE l.link_broken OR l.id IS NOT DISTINCT FROM first_modified OR l.is_last
        ORDER BY l.pos
        LIMIT 1
    ) AS stop ON true;
END;
$$;


-- Pinned like every other function of ours (000008): its own schema, then pg_catalog.
DO $pin$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY['audit_events_verify_chain_first_modified()'::regprocedure,
                              'audit_events_verify_chain()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', fn,
                       (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = fn));
    END LOOP;
END
$pin$;
