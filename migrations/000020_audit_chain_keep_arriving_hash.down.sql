-- Back to 000018's row trigger, which hashes every row anew, whatever
-- row_hash it arrives with.

CREATE OR REPLACE FUNCTION audit_events_chain_hash()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- '' or NULL while this statement does not hold the sentinel's lock; else
    -- L|H|S|R|C|D: L the row_hash of the row linked last ('' when none),
    -- H the confirmed head, S the last chain position handed out, R and C
    -- the table that row went to and its insert count just before it, D the
    -- trigger depth it was linked at (000017; begin() leaves D out).
    -- This table's own settings: a trigger of one audit_events inserting
    -- into another's (a schema each) leaves the first one's alone (000018).
    state_of  TEXT := 'audit_chain.state_' || TG_RELID;
    suspect_of TEXT; -- named when needed: most rows never need it
    state     TEXT := pg_catalog.current_setting(state_of, true);
    last_row  TEXT;
    head      TEXT;
    seq       BIGINT;
    inserted  BIGINT := pg_catalog.pg_stat_get_xact_tuples_inserted(TG_RELID);
    depth     INT := pg_catalog.pg_trigger_depth();
    suspect   TEXT;
BEGIN
    -- The payload writes the year as digits only, without era, and cannot write infinity.
    IF NOT pg_catalog.isfinite(NEW."timestamp") OR NEW."timestamp" < '0001-01-01 00:00:00+00'::timestamptz THEN
        RAISE EXCEPTION 'audit_events cannot hold timestamp % (row %): the hash chain''s payload writes only finite timestamps from 0001-01-01 UTC on',
            NEW."timestamp", NEW.id
            USING ERRCODE = 'datetime_field_overflow';
    END IF;
    IF state IS NULL OR state = '' THEN
        -- A deeper statement's flush emptied the state; at the depth of a
        -- row it may have forked from, find out first (000018).
        suspect_of := 'audit_chain.suspect_' || TG_RELID;
        suspect := pg_catalog.current_setting(suspect_of, true);
        IF suspect <> '' AND depth <= pg_catalog.split_part(suspect, '|', 3)::INT THEN
            IF pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.split_part(suspect, '|', 1)::OID)
               > pg_catalog.split_part(suspect, '|', 2)::BIGINT THEN
                RAISE EXCEPTION 'audit_events cannot chain row % while the row linked before it is still in its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger instead',
                    pg_catalog.substr(suspect, pg_catalog.length(pg_catalog.split_part(suspect, '|', 1)
                        || pg_catalog.split_part(suspect, '|', 2) || pg_catalog.split_part(suspect, '|', 3)) + 4)
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            suspect := pg_catalog.set_config(suspect_of, '', true);
        END IF;
        EXECUTE 'SELECT ' || pg_catalog.quote_ident(TG_TABLE_SCHEMA) || '.audit_events_chain_begin()' INTO state;
    END IF;
    last_row := pg_catalog.split_part(state, '|', 1);
    head := pg_catalog.split_part(state, '|', 2);
    seq := pg_catalog.split_part(state, '|', 3)::BIGINT + 1;

    -- The row linked last becomes the head only if it really went in. Not
    -- in yet, it was dropped, or it is still in its BEFORE triggers and one
    -- of them inserts this row (a deeper trigger; an AFTER trigger after a
    -- dropped row looks the same): linked as after a dropped row, and
    -- remembered until its depth finds out (000018).
    IF last_row <> '' THEN
        IF pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.split_part(state, '|', 4)::OID)
           > pg_catalog.split_part(state, '|', 5)::BIGINT THEN
            head := last_row;
        ELSIF depth > NULLIF(pg_catalog.split_part(state, '|', 6), '')::INT THEN
            suspect_of := 'audit_chain.suspect_' || TG_RELID;
            IF pg_catalog.current_setting(suspect_of, true) <> '' THEN
                RAISE EXCEPTION 'audit_events cannot chain row % while the row linked before it is still in its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger instead',
                    NEW.id
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            suspect := pg_catalog.set_config(suspect_of, pg_catalog.split_part(state, '|', 4) || '|'
                || pg_catalog.split_part(state, '|', 5) || '|' || pg_catalog.split_part(state, '|', 6) || '|' || NEW.id,
                true);
        END IF;
    END IF;

    NEW.chain_seq := seq;
    NEW.prev_hash := NULLIF(head, '');
    -- Every piece text, the details as jsonb's output function prints them (000017).
    NEW.row_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        coalesce(NEW.prev_hash, ''::text)
        || '|'::text || NEW.id || '|'::text || NEW.actor::text || '|'::text || NEW.actor_type::text
        || '|'::text || NEW.action::text || '|'::text || NEW.resource_type::text
        || '|'::text || NEW.resource_id::text
        || '|'::text || coalesce(pg_catalog.textin(pg_catalog.jsonb_out(NEW.details)), ''::text)
        || '|'::text || pg_catalog.to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text)
        || '|'::text || coalesce(NEW.event_category, ''::text), 'UTF8'::name)), 'hex'::text);

    -- An assignment, not PERFORM: a plain expression skips the executor.
    state := pg_catalog.set_config(state_of,
        NEW.row_hash || '|' || head || '|' || seq || '|' || TG_RELID || '|' || inserted || '|' || depth, true);
    RETURN NEW;
END;
$$;
