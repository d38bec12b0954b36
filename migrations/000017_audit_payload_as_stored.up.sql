-- The server's verifier and the chain trigger read the payload as it is
-- stored, whatever casts or operators others define (red-team review 3).
-- The payload's bytes are unchanged: every row still hashes as before, the
-- SPEC's test vectors included, and the chain simply continues.
--
-- What the verifier's hashing pass (000012) still called clean, where the
-- client's walk, which rebuilds the payload in Java from COPY's text, says
-- modified:
--  * A row's timestamp moved to the same instant BC: to_char's YYYY prints
--    the year without its era, so the row kept its hash. The trigger has
--    refused such timestamps since 000011; a row holding one now counts as
--    modified here too, as it does for the client.
--  * A superuser's CREATE CAST (jsonb AS text) WITH FUNCTION ...: details::text
--    called that function (jsonb has no cast to text of its own, so any may
--    be created), which could print the recorded text of changed details.
--    The details are now printed by jsonb's output function, as COPY prints
--    them. The trigger had the same cast, so under such a cast it hashed a
--    text other than the stored details; it prints them the same way now.
--  * An operator ||(text, character varying) in the audit schema (its owner
--    may create one; every role could in public up to PostgreSQL 14): the
--    verifier's path searches pg_catalog first, but PostgreSQL takes an
--    exact match of the arguments' types from any schema on the path before
--    a built-in that needs a conversion, and four payload fields are
--    character varying. Every piece is now text (a cast from varchar to
--    text is built in and cannot be replaced), so the built-in || of
--    pg_catalog, first on the path, is the exact match. The trigger, which
--    runs under the inserting session's path, gets the same spelling:
--    under a path that does not put a schema before pg_catalog, a schema's
--    operator no longer changes what it hashes.
--
-- And the trigger refuses a row inserted by a BEFORE INSERT trigger on
-- audit_events while the row that trigger fires for is linked but not in
-- yet: it took that row for a dropped one (000007) and linked both to the
-- same head, a fork verify then reported on a log nobody had tampered with.
-- The row's trigger depth, kept in the state, tells the two apart: a row
-- dropped before the next is linked at the same depth, a pending one
-- deeper. A BEFORE trigger that drops its row and inserts another is
-- refused too (chained cleanly before): its row's fate is not known yet.
-- Rows inserted by AFTER triggers chain as before.
-- The era test costs one comparison a row (bench/RESULTS.md).
--
-- Still open by design (deploy/docs/tool.md, "What the chain cannot tell"):
-- 000011 said a session that sets audit_chain.state spoils only the links
-- of its own rows. A statement of such a session that inserts no row also
-- writes the state's head into the sentinel and its position into the
-- sequence, so the next rows of others link to that head; verify reports
-- the break there. Only a read of the rows each statement inserted could
-- refuse it, which the row trigger's design (no table read) leaves out.

CREATE OR REPLACE FUNCTION audit_events_verify_chain_first_modified()
RETURNS SETOF TEXT
LANGUAGE plpgsql
STABLE
SET search_path FROM CURRENT
SET TimeZone = 'UTC'
SET parallel_setup_cost = 0
SET parallel_tuple_cost = 0
SET enable_indexscan = off
SET enable_bitmapscan = off
AS $$
BEGIN
    -- RETURN QUERY runs to completion, the one way a PL/pgSQL function's
    -- query may use parallel workers.
    RETURN QUERY
    SELECT e.id
    FROM audit_events e
    WHERE e."timestamp" < '0001-01-01 00:00:00+00'::timestamptz
       OR e.row_hash IS DISTINCT FROM encode(pg_catalog.sha256(convert_to(
              coalesce(e.prev_hash, ''::text)
              || '|'::text || e.id || '|'::text || e.actor::text || '|'::text || e.actor_type::text
              || '|'::text || e.action::text || '|'::text || e.resource_type::text
              || '|'::text || e.resource_id::text
              || '|'::text || coalesce(textin(jsonb_out(e.details)), ''::text)
              || '|'::text || to_char(e."timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text)
              || '|'::text || coalesce(e.event_category, ''::text), 'UTF8'::name)), 'hex'::text)
    ORDER BY e.chain_seq NULLS LAST, e."timestamp", e.id COLLATE "C"
    LIMIT 1;
END;
$$;

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
    state     TEXT := pg_catalog.current_setting('audit_chain.state', true);
    last_row  TEXT;
    head      TEXT;
    seq       BIGINT;
    inserted  BIGINT := pg_catalog.pg_stat_get_xact_tuples_inserted(TG_RELID);
    depth     INT := pg_catalog.pg_trigger_depth();
BEGIN
    -- The payload writes the year as digits only, without era, and cannot write infinity.
    IF NOT pg_catalog.isfinite(NEW."timestamp") OR NEW."timestamp" < '0001-01-01 00:00:00+00'::timestamptz THEN
        RAISE EXCEPTION 'audit_events cannot hold timestamp % (row %): the hash chain''s payload writes only finite timestamps from 0001-01-01 UTC on',
            NEW."timestamp", NEW.id
            USING ERRCODE = 'datetime_field_overflow';
    END IF;
    IF state IS NULL OR state = '' THEN
        EXECUTE 'SELECT ' || pg_catalog.quote_ident(TG_TABLE_SCHEMA) || '.audit_events_chain_begin()' INTO state;
    END IF;
    last_row := pg_catalog.split_part(state, '|', 1);
    head := pg_catalog.split_part(state, '|', 2);
    seq := pg_catalog.split_part(state, '|', 3)::BIGINT + 1;

    -- The row linked last becomes the head only if it really went in. Not
    -- in yet, it was dropped, unless it is still in its BEFORE triggers and
    -- one of them inserts this row (a deeper trigger): linking this row to
    -- the head too would fork the chain (000017).
    IF last_row <> '' THEN
        IF pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.split_part(state, '|', 4)::OID)
           > pg_catalog.split_part(state, '|', 5)::BIGINT THEN
            head := last_row;
        ELSIF depth > NULLIF(pg_catalog.split_part(state, '|', 6), '')::INT THEN
            RAISE EXCEPTION 'audit_events cannot chain row % while the row linked before it is still in its BEFORE INSERT triggers: the two would fork the chain; insert audit rows from an AFTER trigger instead',
                NEW.id
                USING ERRCODE = 'object_not_in_prerequisite_state';
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
    state := pg_catalog.set_config('audit_chain.state',
        NEW.row_hash || '|' || head || '|' || seq || '|' || TG_RELID || '|' || inserted || '|' || depth, true);
    RETURN NEW;
END;
$$;

-- Pinned as 000016 pins every function of ours (CREATE OR REPLACE above
-- set the path of this session instead).
DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                              'audit_events_verify_chain_first_modified()'::regprocedure, pg_catalog.current_schema());
END
$pin$;

-- The sentinel's writer runs as its owner, and PUBLIC could execute it: a
-- role with no right on audit_events made a temporary table, attached
-- audit_events_chain_flush() to it as a statement trigger, set
-- audit_chain.state and inserted a row there; the function then wrote that
-- role's hash into the sentinel and its position into the sequence, and the
-- next rows linked to it. A trigger fires without asking for EXECUTE on its
-- function, so audit_events' own statement trigger goes on as before; only
-- attaching the function to another table now needs a grant.
REVOKE EXECUTE ON FUNCTION audit_events_chain_flush() FROM PUBLIC;
