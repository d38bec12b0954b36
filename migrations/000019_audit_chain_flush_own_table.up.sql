-- The sentinel's writer fires on its own schema's audit_events only.
--
-- 000017 revoked PUBLIC's EXECUTE on audit_events_chain_flush(): the
-- function runs as its owner, and a role with no right on audit_events had
-- attached it to a temporary table of its own, set the chain state and
-- inserted a row there; the function wrote that role's hash into the
-- sentinel and its position into the sequence. But a restore that leaves
-- privileges out (pg_restore --no-acl, pg_dump -x, the in-place harness)
-- makes the function anew with the default EXECUTE for PUBLIC, and the
-- same steps wrote 64 f's into a restored sentinel and 999 into its
-- sequence. The function now refuses to run for any table but the
-- audit_events its pinned search_path finds (its own schema's), so the
-- hole stays shut whatever privileges a restore gives back. Its EXECUTE
-- stays revoked (CREATE OR REPLACE keeps the privileges).

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
    -- Only its own table (000019): privileges alone do not survive every restore.
    IF TG_RELID <> 'audit_events'::regclass THEN
        RAISE EXCEPTION 'audit_events_chain_flush() writes the sentinel of its own schema''s audit_events and fires on that table only, not on %.%',
            TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
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
