-- The server-side verifier (SPEC section 6): walks the rows in
-- ("timestamp", id) order and reports the first row that breaks the chain.
-- id is compared with the C collation so the order, and with it the
-- verdict, cannot change when a restore lands on a server with another
-- default collation.
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
        SELECT * FROM audit_events ORDER BY "timestamp", id COLLATE "C"
    LOOP
        IF (pos = 0 AND r.prev_hash IS NOT NULL)
           OR (pos > 0 AND r.prev_hash IS DISTINCT FROM expected_prev)
           OR r.row_hash IS DISTINCT FROM audit_events_row_hash(
                  r.prev_hash, r.id, r.actor, r.actor_type, r.action,
                  r.resource_type, r.resource_id, r.details, r."timestamp",
                  r.event_category)
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
