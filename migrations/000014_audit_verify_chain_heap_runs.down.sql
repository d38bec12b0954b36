-- Back to 000013's verifier: the heap-order link walk kept only when the whole heap is in chain_seq order,
-- else 000012's walks through the index.
CREATE OR REPLACE FUNCTION audit_events_verify_chain(
    OUT first_break_id  TEXT,
    OUT first_break_pos INT,
    OUT row_count       INT
)
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET synchronize_seqscans = off
AS $$
DECLARE
    first_modified TEXT;
    position_shared BOOLEAN;
    heap_in_chain_order BOOLEAN;
    broken_place TID;
BEGIN
    SELECT m INTO first_modified FROM audit_events_verify_chain_first_modified() AS m;

    -- In the heap's order, read by one sequential scan: a window without
    -- ORDER BY numbers and compares the rows in the order the scan returns
    -- them. Its verdict stands only when that order is proven to be the
    -- chain_seq order of every row: ctid and chain_seq both rise from each
    -- row to the next, none is NULL (so no position is shared, and the full
    -- order is chain_seq's too). Else, or when no row was read, the walks
    -- below run as before.
    SELECT h.broken_pos, h.broken_place, h.rows, h.rows > 0 AND NOT h.disordered
    INTO first_break_pos, broken_place, row_count, heap_in_chain_order
    FROM (
        -- In that order ctid rises with the position: the first broken row
        -- is the one with the least ctid, found again by it below.
        SELECT min(l.pos) FILTER (WHERE l.broken) AS broken_pos,
               min(l.place) FILTER (WHERE l.broken) AS broken_place,
               count(*)::int AS rows,
               coalesce(bool_or(l.disordered), false) AS disordered
        FROM (
            SELECT e.ctid AS place,
                   (row_number() OVER w - 1)::int AS pos,
                   e.prev_hash IS DISTINCT FROM lag(e.row_hash) OVER w
                       OR e.id IS NOT DISTINCT FROM first_modified AS broken,
                   e.chain_seq IS NULL
                       OR coalesce(e.chain_seq <= lag(e.chain_seq) OVER w, false)
                       OR coalesce(e.ctid <= lag(e.ctid) OVER w, false) AS disordered
            FROM audit_events e
            WINDOW w AS ()
        ) AS l
    ) AS h;
    IF heap_in_chain_order AND first_break_pos IS NULL THEN
        first_break_pos := -1;
        RETURN;
    END IF;
    IF heap_in_chain_order THEN
        SELECT e.id INTO first_break_id FROM audit_events e WHERE e.ctid = broken_place;
        row_count := first_break_pos + 1;
        RETURN;
    END IF;

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
