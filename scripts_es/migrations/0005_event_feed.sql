-- Migration 0005 (issue 12, the event feed): dense
-- feed positions assigned after commit by a sequencer, consumers' tracking, pruned-event
-- notices, the held-back report. Events may start at version 0 (the eventsourcing library's
-- recorders do).

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

ALTER TABLE scripts_es.events DROP CONSTRAINT IF EXISTS events_originator_version_check;
ALTER TABLE scripts_es.events
    ADD CONSTRAINT events_originator_version_check CHECK (originator_version >= 0);

-- The projection runner becomes a consumer of the feed: its position there. A row from before
-- keeps 0 until the runner adopts the feed position of its (txid, notification_id).
ALTER TABLE scripts_es.projection_tracking
    ADD COLUMN IF NOT EXISTS last_position bigint NOT NULL DEFAULT 0;

-- ---------------------------------------------------------------------------------------------
-- Event feed (DESIGN §9): dense positions in commit order, assigned after commit
-- ---------------------------------------------------------------------------------------------

-- Appends take no global lock: an event gets its (txid, notification_id) when written. The
-- sequencer (scripts_es.sequence_feed) later gives every event below the in-flight horizon
-- (pg_snapshot_xmin) a dense position, whole transactions in (txid, notification_id) order:
-- an event that commits late can never land behind a position a consumer has passed, and the
-- events of one transaction never interleave with another's. The feed keeps only the key and
-- the topic; the payload stays in scripts_es.events (a pruned event's row stays as a notice).
CREATE TABLE IF NOT EXISTS scripts_es.feed (
    tenant_id          uuid   NOT NULL,
    position           bigint NOT NULL,
    originator_id      uuid   NOT NULL,
    originator_version bigint NOT NULL,
    topic              text   NOT NULL,
    PRIMARY KEY (tenant_id, position)
);
CREATE INDEX IF NOT EXISTS feed_position_idx ON scripts_es.feed (position);
CREATE INDEX IF NOT EXISTS feed_event_idx
    ON scripts_es.feed (tenant_id, originator_id, originator_version);

-- Events deleted (by pruning) before the sequencer reached them: the sequencer still gives
-- them a position, so a consumer is told of the pruned event instead of never seeing it.
CREATE TABLE IF NOT EXISTS scripts_es.feed_removed (
    tenant_id          uuid   NOT NULL,
    originator_id      uuid   NOT NULL,
    originator_version bigint NOT NULL,
    topic              text   NOT NULL,
    txid               xid8   NOT NULL,
    notification_id    bigint NOT NULL,
    PRIMARY KEY (tenant_id, originator_id, originator_version)
);

-- The sequencer's watermark: one row, locked FOR UPDATE by a sequencing pass (sequencers
-- queue behind each other, writers never do).
CREATE TABLE IF NOT EXISTS scripts_es.feed_sequencer (
    id                   boolean     PRIMARY KEY DEFAULT true CHECK (id),
    last_txid            xid8        NOT NULL DEFAULT '0'::xid8,
    last_notification_id bigint      NOT NULL DEFAULT 0,
    last_position        bigint      NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
INSERT INTO scripts_es.feed_sequencer (id) VALUES (true) ON CONFLICT (id) DO NOTHING;

-- Consumers' positions in the feed (the eventsourcing tracking recorders; not tenant data).
-- A row here is a registered consumer.
CREATE TABLE IF NOT EXISTS scripts_es.feed_tracking (
    application_name text        PRIMARY KEY,
    notification_id  bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One sequencing pass: positions for up to max_events events below the horizon; returns the
-- last position. A no-op (no lock, no write) when nothing new is below the horizon. Runs as
-- the schema's owner, so a tenant's login advances the feed for every tenant; it reveals
-- nothing (readers still read through row-level security).
CREATE OR REPLACE FUNCTION scripts_es.sequence_feed(max_events integer DEFAULT 50000)
RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    seen_txid xid8;
    seen_nid  bigint;
    last      bigint;
    newest    bigint;
BEGIN
    SELECT last_txid, last_notification_id INTO seen_txid, seen_nid
    FROM scripts_es.feed_sequencer;
    IF NOT EXISTS (
        SELECT FROM scripts_es.events
        WHERE (txid, notification_id) > (seen_txid, seen_nid)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ) AND NOT EXISTS (
        SELECT FROM scripts_es.feed_removed
        WHERE (txid, notification_id) > (seen_txid, seen_nid)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ) THEN
        RETURN (SELECT last_position FROM scripts_es.feed_sequencer);
    END IF;
    SELECT last_txid, last_notification_id, last_position INTO seen_txid, seen_nid, last
    FROM scripts_es.feed_sequencer FOR UPDATE;
    -- Positions are a function of the committed log (whole transactions below the horizon, in
    -- (txid, notification_id) order), so a pass lost in a crash is assigned again the same;
    -- and any durable write after it (a consumer's tracking, a prune) flushes it first. So a
    -- pass does not wait for its own flush.
    PERFORM set_config('synchronous_commit', 'off', true);
    WITH pending AS (
        SELECT tenant_id, originator_id, originator_version, topic, txid, notification_id
        FROM scripts_es.events
        WHERE (txid, notification_id) > (seen_txid, seen_nid)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
        UNION ALL
        SELECT tenant_id, originator_id, originator_version, topic, txid, notification_id
        FROM scripts_es.feed_removed
        WHERE (txid, notification_id) > (seen_txid, seen_nid)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ), taken AS (
        SELECT * FROM pending ORDER BY txid, notification_id LIMIT max_events
    ), numbered AS (
        SELECT taken.*, last + row_number() OVER (ORDER BY txid, notification_id) AS position
        FROM taken
    ), inserted AS (
        INSERT INTO scripts_es.feed
            (tenant_id, position, originator_id, originator_version, topic)
        SELECT tenant_id, position, originator_id, originator_version, topic FROM numbered
    )
    UPDATE scripts_es.feed_sequencer s
    SET last_txid = n.txid, last_notification_id = n.notification_id,
        last_position = n.position, updated_at = now()
    FROM (SELECT txid, notification_id, position FROM numbered
          ORDER BY position DESC LIMIT 1) n
    RETURNING s.last_position INTO newest;
    IF newest IS NULL THEN
        RETURN last;
    END IF;
    DELETE FROM scripts_es.feed_removed
    WHERE (txid, notification_id) <= (
        SELECT last_txid, last_notification_id FROM scripts_es.feed_sequencer);
    PERFORM pg_notify('scripts_es_feed', newest::text);
    RETURN newest;
END
$$;

-- Pruning deletes events; those the sequencer has not reached yet are kept in feed_removed
-- (runs as the pruning role, inside the pruning transaction).
CREATE OR REPLACE FUNCTION scripts_es.feed_keep_removed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO scripts_es.feed_removed
        (tenant_id, originator_id, originator_version, topic, txid, notification_id)
    SELECT r.tenant_id, r.originator_id, r.originator_version, r.topic, r.txid,
           r.notification_id
    FROM removed r, scripts_es.feed_sequencer s
    WHERE (r.txid, r.notification_id) > (s.last_txid, s.last_notification_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER events_removed_before_the_feed
    AFTER DELETE ON scripts_es.events
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION scripts_es.feed_keep_removed();

-- What holds the feed back: committed events the horizon keeps from being sequenced, and the
-- backend whose transaction is the horizon (which database, since when). Runs as the schema's
-- owner so that any login can name the holder; no query text is shown.
CREATE OR REPLACE FUNCTION scripts_es.feed_held_back()
RETURNS TABLE (waiting bigint, pid integer, datname text, usename text,
               application_name text, state text, xact_start timestamptz,
               held_seconds double precision)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH mark AS (
        SELECT last_txid, last_notification_id FROM scripts_es.feed_sequencer
    ), waiting AS (
        SELECT count(*) AS n FROM scripts_es.events e, mark m
        WHERE (e.txid, e.notification_id) > (m.last_txid, m.last_notification_id)
    )
    SELECT w.n, a.pid, a.datname::text, a.usename::text, a.application_name, a.state,
           a.xact_start, extract(epoch FROM clock_timestamp() - a.xact_start)::float8
    FROM waiting w
    LEFT JOIN pg_stat_activity a
        ON a.backend_xid = pg_snapshot_xmin(pg_current_snapshot())::xid
    WHERE w.n > 0
$$;

-- The feed's tables are tenant tables like the others: the same policies and grants.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['feed', 'feed_removed']
    LOOP
        EXECUTE format('ALTER TABLE scripts_es.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE scripts_es.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON scripts_es.%I', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON scripts_es.%I TO scripts_es_app '
            'USING (tenant_id = scripts_es.current_tenant()) '
            'WITH CHECK (tenant_id = scripts_es.current_tenant())', t);
        EXECUTE format('DROP POLICY IF EXISTS maintenance ON scripts_es.%I', t);
        EXECUTE format(
            'CREATE POLICY maintenance ON scripts_es.%I TO scripts_es_maint '
            'USING (true) WITH CHECK (true)', t);
        EXECUTE format(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.%I TO scripts_es_app, '
            'scripts_es_maint', t);
    END LOOP;
END
$$;
GRANT SELECT ON scripts_es.feed_sequencer TO scripts_es_app, scripts_es_maint;
GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.feed_tracking
    TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.sequence_feed(integer) TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.feed_held_back() TO scripts_es_app, scripts_es_maint;
