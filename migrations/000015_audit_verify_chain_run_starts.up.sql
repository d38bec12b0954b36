-- The server verifier of 000014 with a cheaper link pass (issue 20 item 2):
-- two windows over the heap's order instead of three. Same name, OUT
-- columns, verdicts and fallbacks; the hashing pass
-- (audit_events_verify_chain_first_modified()) is unchanged.
--
-- 000014 compared each heap row with the row before it (lag(row_hash),
-- lag(chain_seq): does it start a run, is its link intact) and with the row
-- after it (lead(chain_seq): does it end one). Both are one comparison: a
-- row ends a run exactly when the row after it in the heap starts one. So
-- each run's first row now also brings the position and row_hash of the row
-- before it in the heap, the last row of the run before it there, and
-- lead() goes. The heap's last row starts nothing after it: a row of NULLs
-- appended to the scan (UNION ALL after the table, in one plain Append)
-- brings it, and is no row of the log itself. In chain_seq order a row's
-- own mark and the mark of its run's end, at the same position, are one of
-- 000014's edges; the walk counts, bounds (10,000) and checks them as
-- 000014 did, so it falls back to 000012's walks in the same cases. One
-- more: when more than 10,001 rows leave the scan (first rows, broken or
-- modified rows, rows without a position), there are more than 10,000
-- edges, and the scan now stops there instead of reading the rest of a heap
-- in no useful order before the same fallback. At 2,000,000 rows the link
-- pass took 0.71-0.73 CPU-seconds against 000014's 0.83-0.85, the whole
-- verifier 3.53-3.57 against 3.65-3.68 (bench/RESULTS.md, medians on a
-- loaded host).
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
    mark RECORD;
    same_edge BOOLEAN;
    edges_read INT := 0;
    runs_in_order BOOLEAN := true;
    in_run BOOLEAN := false;
    run_first_seq BIGINT;
    run_first_pos BIGINT;
    rows_in_runs_before BIGINT := 0;
    last_seq BIGINT;
    last_was_row BOOLEAN := false;
    last_run_hash TEXT;
    break_found BOOLEAN := false;
BEGIN
    SELECT m INTO first_modified FROM audit_events_verify_chain_first_modified() AS m;

    -- The heap's runs, by one sequential scan: a window without ORDER BY
    -- compares each row with the one before it in the order the scan
    -- returns them (then with the row NULLs appended after the table, whose
    -- lag is the heap's last row; ids are never NULL). The CASE compares
    -- positions without computing past bigint's ends. What leaves the scan:
    -- the first row of every run (its prev_hash, and the position and
    -- row_hash of the row before it in the heap, the last of the run before
    -- in the heap), every row broken inside its run or modified, and the
    -- rows without a position. 10,002 of them (the NULLs row at most one)
    -- are more than 10,000 edges: the scan stops there. Each becomes a mark
    -- for itself and one for the run end before it, in chain_seq order
    -- (NULLs first), a row's own mark before its end's.
    FOR mark IN
        SELECT m.is_end, m.id, m.seq, m.starts_run, m.broken, m.hash
        FROM (
            SELECT r.id, r.seq, r.prev_hash, r.prior_seq, r.prior_hash, r.starts_run,
                   r.id IS NOT DISTINCT FROM first_modified
                       OR (NOT r.starts_run AND r.prev_hash IS DISTINCT FROM r.prior_hash) AS broken
            FROM (
                SELECT n.id, n.seq, n.prev_hash, n.prior_seq, n.prior_hash,
                       NOT coalesce(CASE WHEN n.prior_seq < n.seq THEN n.prior_seq = n.seq - 1 END, false) AS starts_run
                FROM (
                    SELECT h.id, h.seq, h.prev_hash,
                           lag(h.seq) OVER w AS prior_seq, lag(h.row_hash) OVER w AS prior_hash
                    FROM (
                        SELECT e.id, e.chain_seq AS seq, e.prev_hash, e.row_hash FROM audit_events e
                        UNION ALL
                        SELECT NULL, NULL, NULL, NULL
                    ) AS h
                    WINDOW w AS ()
                ) AS n
            ) AS r
            WHERE r.starts_run OR r.id IS NOT DISTINCT FROM first_modified OR r.prev_hash IS DISTINCT FROM r.prior_hash
            LIMIT 10002
        ) AS r
        CROSS JOIN LATERAL (VALUES
            (false, r.id, r.seq, r.starts_run, r.broken, CASE WHEN r.starts_run THEN r.prev_hash END),
            (true, NULL, r.prior_seq, false, false, r.prior_hash)
        ) AS m(is_end, id, seq, starts_run, broken, hash)
        WHERE CASE WHEN m.is_end THEN r.starts_run AND r.prior_seq IS NOT NULL ELSE r.id IS NOT NULL END
        ORDER BY m.seq NULLS FIRST, m.is_end
    LOOP
        -- 000014's edges are rows: a run's last row may also start it or
        -- be broken, and its end's mark, right after its own mark at the
        -- same position, is then the same edge, counted once. (Two rows at
        -- that position would be overlapping runs, which the checks below
        -- find at another mark: a start inside a run, an end outside any.)
        same_edge := coalesce(mark.is_end AND last_was_row AND mark.seq = last_seq, false);
        IF NOT same_edge THEN
            edges_read := edges_read + 1;
            -- In chain_seq order every run's marks come together, its first
            -- row first: a row that starts a run inside another, or one
            -- inside or at the end of a run outside any, means two runs
            -- overlap.
            IF edges_read > 10000 OR mark.seq IS NULL OR mark.seq <= last_seq OR mark.starts_run = in_run THEN
                runs_in_order := false;
                EXIT;
            END IF;
        END IF;
        IF mark.starts_run THEN
            in_run := true;
            run_first_seq := mark.seq;
            run_first_pos := rows_in_runs_before;
        END IF;
        IF NOT break_found AND (mark.broken OR (mark.starts_run AND mark.hash IS DISTINCT FROM last_run_hash)) THEN
            break_found := true;
            first_break_id := mark.id;
            first_break_pos := run_first_pos + (mark.seq - run_first_seq);
        END IF;
        IF mark.is_end THEN
            in_run := false;
            rows_in_runs_before := rows_in_runs_before + (mark.seq - run_first_seq + 1);
            last_run_hash := mark.hash;
        END IF;
        last_seq := mark.seq;
        last_was_row := NOT mark.is_end;
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
