-- A faster server verifier: the walk as one query that PostgreSQL may run
-- with parallel workers, instead of a PL/pgSQL loop (issue 13).
--
-- The loop of 000005 fetched every row through a cursor and hashed it in
-- the interpreter, on one core. Measured, nearly all of its time is the
-- per-row payload (jsonb text, to_char, concatenation, SHA-256), not the
-- loop itself, so a single-query walk alone gains little; what gains is
-- hashing in parallel. Here the walk is two parts joined by id:
--   links:    the rows in the order of 000005 (chain position, then
--             "timestamp", id in the C collation), each prev_hash compared
--             with the previous row's row_hash, its position, and whether
--             it is the last row;
--   modified: the rows whose recomputed hash differs, from a scan that
--             needs no order, so parallel workers can share the hashing;
-- and the first row that is broken (or else the last row) gives the verdict.
--
-- PostgreSQL runs a query in parallel only when it runs to completion:
-- RETURN QUERY in a set-returning function does, a SELECT … INTO or a
-- cursor loop does not. So the walk lives in audit_events_verify_chain_walk(),
-- and audit_events_verify_chain() keeps its contract: same name, same OUT
-- columns, one row, and the verdicts of 000005 (a first row with a
-- non-NULL prev_hash, a later row whose prev_hash is not the previous
-- row's row_hash, or a row whose recomputed hash differs, reported as its
-- id, 0-based position and position + 1; clean: NULL, -1, the row count).
-- The planner's parallel costs are lowered for the walk only, so it uses
-- the workers the server allows (max_parallel_workers_per_gather).
CREATE OR REPLACE FUNCTION audit_events_verify_chain_walk(
    OUT first_break_id  TEXT,
    OUT first_break_pos INT,
    OUT row_count       INT
)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0
AS $$
BEGIN
    RETURN QUERY
    WITH links AS (
        SELECT e.id,
               (row_number() OVER w - 1)::int AS pos,
               lead(true) OVER w IS NULL AS is_last,
               e.prev_hash IS DISTINCT FROM lag(e.row_hash) OVER w AS link_broken
        FROM audit_events e
        WINDOW w AS (ORDER BY e.chain_seq NULLS LAST, e."timestamp", e.id COLLATE "C")
    ),
    modified AS (
        SELECT e.id
        FROM audit_events e
        WHERE e.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
                  coalesce(e.prev_hash, '')
                  || '|' || e.id || '|' || e.actor || '|' || e.actor_type || '|' || e.action
                  || '|' || e.resource_type || '|' || e.resource_id
                  || '|' || coalesce(e.details::text, '')
                  || '|' || to_char(e."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                  || '|' || coalesce(e.event_category, ''), 'UTF8')), 'hex')
    ),
    stop AS (
        SELECT l.id, l.pos, l.link_broken OR m.id IS NOT NULL AS broken
        FROM links l
        LEFT JOIN modified m ON m.id = l.id
        WHERE l.link_broken OR m.id IS NOT NULL OR l.is_last
        ORDER BY l.pos
        LIMIT 1
    )
    SELECT CASE WHEN stop.broken THEN stop.id END,
           CASE WHEN stop.broken THEN stop.pos ELSE -1 END,
           coalesce(stop.pos + 1, 0)
    FROM (SELECT 1) AS always_one_row
    LEFT JOIN stop ON true;
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
BEGIN
    SELECT w.first_break_id, w.first_break_pos, w.row_count
    INTO first_break_id, first_break_pos, row_count
    FROM audit_events_verify_chain_walk() AS w;
END;
$$;

-- Pinned like every other function of ours (000008): its own schema, then pg_catalog.
DO $pin$
DECLARE
    fn regprocedure;
BEGIN
    FOREACH fn IN ARRAY ARRAY['audit_events_verify_chain_walk()'::regprocedure,
                              'audit_events_verify_chain()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', fn,
                       (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = fn));
    END LOOP;
END
$pin$;
