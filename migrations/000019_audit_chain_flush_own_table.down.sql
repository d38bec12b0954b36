-- Back to 000018's flush, which fires for any table it is attached to,
-- pinned as 000016 pins it; its EXECUTE stays revoked (000017).

CREATE OR REPLACE FUNCTION audit_events_chain_flush()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    state_of  TEXT := 'audit_chain.state_' || TG_RELID;
    suspect_of TEXT := 'audit_chain.suspect_' || TG_RELID;
    state     TEXT := current_setting(state_of, true);
    suspect   TEXT := current_setting(suspect_of, true);
    last_row  TEXT;
    head      TEXT;
BEGIN
    -- A row linked as after a dropped one (000018): a deeper statement
    -- counts its rows in; the statement of the row before finds out.
    IF suspect <> '' THEN
        IF pg_trigger_depth() > split_part(suspect, '|', 3)::INT THEN
            suspect := set_config(suspect_of, split_part(suspect, '|', 1) || '|'
                || pg_stat_get_xact_tuples_inserted(split_part(suspect, '|', 1)::OID) || '|'
                || substr(suspect, length(split_part(suspect, '|', 1) || split_part(suspect, '|', 2)) + 3), true);
        ELSE
            IF pg_stat_get_xact_tuples_inserted(split_part(suspect, '|', 1)::OID)
               > split_part(suspect, '|', 2)::BIGINT THEN
                RAISE EXCEPTION 'audit_events cannot chain row % while the row linked before it is still in its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger instead',
                    substr(suspect, length(split_part(suspect, '|', 1) || split_part(suspect, '|', 2)
                        || split_part(suspect, '|', 3)) + 4)
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            suspect := set_config(suspect_of, '', true);
        END IF;
    END IF;
    IF state IS NULL OR state = '' THEN
        RETURN NULL;
    END IF;
    last_row := split_part(state, '|', 1);
    head := split_part(state, '|', 2);
    IF last_row <> '' AND pg_stat_get_xact_tuples_inserted(split_part(state, '|', 4)::OID)
                          > split_part(state, '|', 5)::BIGINT THEN
        head := last_row;
    END IF;
    UPDATE audit_chain_head SET row_hash = head, updated_at = NOW()
    WHERE id = 1 AND row_hash IS DISTINCT FROM head;
    IF split_part(state, '|', 3)::BIGINT > 0 THEN
        PERFORM setval('audit_events_chain_seq', split_part(state, '|', 3)::BIGINT, true);
    END IF;
    state := set_config(state_of, '', true);
    RETURN NULL;
END;
$$;

-- Pinned as 000016 pins every function of ours (CREATE OR REPLACE above
-- set the path of this session instead); its EXECUTE stays revoked (000017).
DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_chain_flush()'::regprocedure, pg_catalog.current_schema());
END
$pin$;
