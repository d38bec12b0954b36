-- Back to 000014's verifier: the heap's runs found with lag() and lead(), every row at a run's end
-- leaving the scan by itself.
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
    edge RECORD;
    edges_read INT := 0;
    runs_in_order BOOLEAN := true;
    in_run BOOLEAN := false;
    run_first_seq BIGINT;
    run_first_pos BIGINT;
    rows_in_runs_before BIGINT := 0;
    last_seq BIGINT;
    last_run_hash TEXT;
    break_found BOOLEAN := false;
BEGIN
    SELECT m INTO first_modified FROM audit_events_verify_chain_first_modified() AS m;

    -- The heap's runs, by one sequential scan: a window without ORDER BY
    -- compares each row with its neighbours in the order the scan returns
    -- them. The CASEs compare positions without computing past bigint's
    -- ends. What leaves the scan: the first and last row of every run (the
    -- first's prev_hash, the last's row_hash), every row broken inside its
    -- run or modified, and the rows without a position (first), in chain_seq
    -- order; one more than the 10,000 kept tells that there are too many.
    FOR edge IN
        SELECT r.id, r.seq, r.starts_run, r.ends_run, r.broken,
               CASE WHEN r.starts_run THEN r.prev_hash END AS prev_hash,
               CASE WHEN r.ends_run THEN r.row_hash END AS row_hash
        FROM (
            SELECT n.id, n.seq, n.prev_hash, n.row_hash, n.starts_run, n.ends_run,
                   n.id IS NOT DISTINCT FROM first_modified
                       OR (NOT n.starts_run AND n.prev_hash IS DISTINCT FROM n.heap_prior_hash) AS broken
            FROM (
                SELECT e.id, e.chain_seq AS seq, e.prev_hash, e.row_hash,
                       lag(e.row_hash) OVER w AS heap_prior_hash,
                       NOT coalesce(CASE WHEN lag(e.chain_seq) OVER w < e.chain_seq
                                         THEN lag(e.chain_seq) OVER w = e.chain_seq - 1 END, false) AS starts_run,
                       NOT coalesce(CASE WHEN lead(e.chain_seq) OVER w > e.chain_seq
                                         THEN lead(e.chain_seq) OVER w - 1 = e.chain_seq END, false) AS ends_run
                FROM audit_events e
                WINDOW w AS ()
            ) AS n
        ) AS r
        WHERE r.starts_run OR r.ends_run OR r.broken
        ORDER BY r.seq NULLS FIRST
        LIMIT 10001
    LOOP
        edges_read := edges_read + 1;
        -- In chain_seq order every run's rows come together, its first row
        -- first: a row that starts a run inside another, or continues one
        -- outside any, means two runs overlap.
        IF edges_read > 10000 OR edge.seq IS NULL OR edge.seq <= last_seq OR edge.starts_run = in_run THEN
            runs_in_order := false;
            EXIT;
        END IF;
        IF edge.starts_run THEN
            in_run := true;
            run_first_seq := edge.seq;
            run_first_pos := rows_in_runs_before;
        END IF;
        IF NOT break_found AND (edge.broken OR (edge.starts_run AND edge.prev_hash IS DISTINCT FROM last_run_hash)) THEN
            break_found := true;
            first_break_id := edge.id;
            first_break_pos := run_first_pos + (edge.seq - run_first_seq);
        END IF;
        IF edge.ends_run THEN
            in_run := false;
            rows_in_runs_before := rows_in_runs_before + (edge.seq - run_first_seq + 1);
            last_run_hash := edge.row_hash;
        END IF;
        last_seq := edge.seq;
    END LOOP;
    IF runs_in_order AND NOT in_run THEN
        IF break_found THEN
            row_count := first_break_pos + 1;
        ELSE
            first_break_pos := -1;
            row_count := rows_in_runs_before;
        END IF;
        RETURN;
    END IF;
    first_break_id := NULL;
    first_break_pos := NULL;

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
