-- The chain trigger refuses a row that arrives with a row_hash other than
-- the one it gives it: a dump's rows loaded with the trigger on are no
-- longer hashed anew.
--
-- pg_dump puts the triggers in the post-data section, so a whole restore
-- loads the rows before the chain trigger exists and keeps their hashes.
-- But a data-only load into a schema that already has its triggers (the
-- application ran the migrations first, then pg_restore --data-only, or
-- pg_dump --data-only --inserts | psql; or the sections restored
-- pre-data, post-data, then data) fires the trigger on every row, and it
-- overwrote prev_hash, row_hash and chain_seq with what it computed:
--  * A dump whose row audit-smoke-0001 had its actor changed from
--    smoke-actor to mallory (sed on pg_dump --data-only --column-inserts),
--    loaded with psql into a freshly migrated database, came out with new
--    hashes from that row on (head 6675698b... instead of cb8be983...), and
--    both the server's verifier and --mode=verify called it clean: the
--    change left no trace but the head, which only an anchor kept outside
--    (--expect-head, the ledger) would catch.
--  * Sections restored in the wrong order (pre-data and post-data, then
--    data): the dump's own sentinel row went in first, so every row was
--    hashed anew after its head; all three hashes changed and verify
--    reported a break at position 0 of a log nobody had touched.
-- Every inserter of ours leaves row_hash out (NULL: the trigger fills it);
-- a loaded dump brings the hash each row had. Now a row that brings one
-- (neither NULL nor '') must be given that very hash, or the statement is
-- refused (SQLSTATE 23514). An untouched dump loaded in chain order into
-- an empty chain still goes in, with the same hashes; a changed row, rows
-- loaded after other rows or after the dump's sentinel, and a table whose
-- heap holds the rows out of chain order (COPY dumps heap order: three
-- rows stored in reverse, which verify calls clean, were refused at the
-- first) are refused instead of hashed anew. chain_seq is still handed
-- out afresh. Rows loaded with triggers disabled (pg_restore
-- --disable-triggers, a replica session) keep what they bring, and verify
-- judges them.

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
    -- The row_hash the row arrives with: NULL from every inserter of ours, a
    -- hash when a dump's rows are loaded with this trigger on (000020).
    arrived   TEXT := NEW.row_hash;
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

    -- A row that brings a hash keeps it or is refused: rehashed, a changed
    -- row would come out clean (000020).
    IF arrived IS NOT NULL AND arrived <> '' AND arrived <> NEW.row_hash THEN
        RAISE EXCEPTION 'audit_events row % arrives with row_hash %, but the chain links it as %: hashing a loaded row anew would hide any change made to it; load audit_events'' rows with its triggers disabled (pg_restore --disable-triggers) or before they exist (before the post-data section), then verify',
            NEW.id, arrived, NEW.row_hash
            USING ERRCODE = 'check_violation';
    END IF;

    -- An assignment, not PERFORM: a plain expression skips the executor.
    state := pg_catalog.set_config(state_of,
        NEW.row_hash || '|' || head || '|' || seq || '|' || TG_RELID || '|' || inserted || '|' || depth, true);
    RETURN NEW;
END;
$$;
