-- The server verifier of 000010, each pass cheaper (issue 20 item 2).
-- Same two passes, same name, OUT columns and verdicts; the payload is
-- byte for byte the trigger's.
--
-- 1. The hashing pass printed each timestamp with
--    to_char("timestamp" AT TIME ZONE 'UTC', …), and AT TIME ZONE looks the
--    zone up by its name on every row. The function now pins TimeZone to
--    UTC (a SET clause: it holds for the call only, parallel workers
--    included) and prints the timestamptz itself: to_char of a timestamptz
--    reads the fields in the session's zone, so the text is the same, and
--    'infinity' still gives NULL. It reads the table by a parallel
--    sequential scan: a clean chain has no modified row to order, and an
--    index scan paid a heap visit per index entry for nothing.
-- 2. The link walk ordered by (chain position, "timestamp", id) through an
--    incremental sort on top of the chain_seq index: about a third of the
--    walk's time, although positions never tie in a chain our trigger
--    wrote. It now walks in chain_seq order alone, straight from the
--    index, and flags every row whose position is shared with a
--    neighbour (or missing). Up to the first flagged row both orders agree;
--    when the walk stops at a flagged row, the walk of 000010, in the full
--    order, runs instead and gives the verdict.
CREATE OR REPLACE FUNCTION audit_events_verify_chain_first_modified()
RETURNS SETOF TEXT
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET TimeZone = 'UTC'
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0
SET enable_indexscan = off
SET enable_bitmapscan = off
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
              || '|' || to_char(e."timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
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
    position_shared BOOLEAN;
BEGIN
    SELECT m INTO first_modified FROM audit_events_verify_chain_first_modified() AS m;

    -- In chain_seq order alone (the index's order, NULLs last).
    SELECT CASE WHEN stop.broken THEN stop.id END,
           CASE WHEN stop.broken THEN stop.pos ELSE -1 END,
           coalesce(stop.pos + 1, 0),
           coalesce(stop.shared, false)
    INTO first_break_id, first_break_pos, row_count, position_shared
    FROM (SELECT 1) AS always_one_row
    LEFT JOIN (
        SELECT l.id, l.pos, l.link_broken OR l.id IS NOT DISTINCT FROM first_modified AS broken, l.shared
        FROM (
            SELECT e.id,
                   (row_number() OVER w - 1)::int AS pos,
                   lead(true) OVER w IS NULL AS is_last,
                   e.prev_hash IS DISTINCT FROM lag(e.row_hash) OVER w AS link_broken,
                   e.chain_seq IS NULL
                       OR coalesce(e.chain_seq = lag(e.chain_seq) OVER w, false)
                       OR coalesce(e.chain_seq = lead(e.chain_seq) OVER w, false) AS shared
            FROM audit_events e
            WINDOW w AS (ORDER BY e.chain_seq)
        ) AS l
        WHERE l.link_broken OR l.id IS NOT DISTINCT FROM first_modified OR l.is_last OR l.shared
        ORDER BY l.pos
        LIMIT 1
    ) AS stop ON true;
    IF NOT position_shared THEN
        RETURN;
    END IF;

    -- A shared or missing position: 000010's walk in the full order.
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
