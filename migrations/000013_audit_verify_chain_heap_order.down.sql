-- Back to 000012's verifier: the link walk in chain_seq order through the index, always.
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
BEGIN
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_catalog', 'audit_events_verify_chain()'::regprocedure,
                   (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE p.oid = 'audit_events_verify_chain()'::regprocedure));
END
$pin$;
