-- scripts-es: the complete schema, the single source of truth. Applying it twice is harmless.
-- Every change to it also ships as a numbered migration in scripts_es/migrations/; a test proves
-- that this file and every migration applied in order give the same catalog.
-- Everything lives in schema "scripts_es". Every table holding tenant data leads with tenant_id
-- (so it can be distributed by tenant_id on Citus), has ENABLE + FORCE ROW LEVEL SECURITY and a
-- policy keyed on the per-transaction setting app.tenant_id.

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

CREATE SCHEMA IF NOT EXISTS scripts_es;

-- Roles. scripts_es_app runs all tenant-scoped work (no BYPASSRLS; only rows of the tenant named by
-- app.tenant_id are visible). scripts_es_maint runs maintenance (projection runner, rebuild,
-- cross-tenant prune) through policies of its own. The login role switches with SET ROLE.
DO $$
BEGIN
    -- Roles are cluster-wide: another database may create them at the same moment.
    BEGIN
        CREATE ROLE scripts_es_app NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE scripts_es_maint NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    IF NOT pg_has_role(current_user, 'scripts_es_app', 'MEMBER') THEN
        EXECUTE format('GRANT scripts_es_app TO %I', current_user);
    END IF;
    IF NOT pg_has_role(current_user, 'scripts_es_maint', 'MEMBER') THEN
        EXECUTE format('GRANT scripts_es_maint TO %I', current_user);
    END IF;
END
$$;

-- The tenant of the current transaction, or NULL (which matches nothing).
CREATE OR REPLACE FUNCTION scripts_es.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- ---------------------------------------------------------------------------------------------
-- Event store
-- ---------------------------------------------------------------------------------------------

-- Global order for projections: notification_id from a sequence (no table lock), plus the writing
-- transaction's id. Readers only read rows whose txid is below the oldest transaction still in
-- flight (pg_snapshot_xmin), in (txid, notification_id) order, so an event that commits late is
-- never skipped.
CREATE SEQUENCE IF NOT EXISTS scripts_es.events_notification_id_seq;

CREATE TABLE IF NOT EXISTS scripts_es.events (
    tenant_id          uuid        NOT NULL,
    originator_id      uuid        NOT NULL,
    originator_version bigint      NOT NULL CHECK (originator_version >= 0),
    topic              text        NOT NULL,
    state              bytea       NOT NULL,
    occurred_at        timestamptz NOT NULL,
    notification_id    bigint      NOT NULL
                                   DEFAULT nextval('scripts_es.events_notification_id_seq'),
    txid               xid8        NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (tenant_id, originator_id, originator_version)
);
ALTER SEQUENCE scripts_es.events_notification_id_seq OWNED BY scripts_es.events.notification_id;
CREATE INDEX IF NOT EXISTS events_position_idx ON scripts_es.events (txid, notification_id);

CREATE TABLE IF NOT EXISTS scripts_es.snapshots (
    tenant_id          uuid   NOT NULL,
    originator_id      uuid   NOT NULL,
    originator_version bigint NOT NULL,
    topic              text   NOT NULL,
    state              bytea  NOT NULL,
    PRIMARY KEY (tenant_id, originator_id, originator_version)
);

-- Streams removed whole by execution retention: the version they had reached, so that an
-- append can still tell a new stream from one that existed (an id is never reused).
CREATE TABLE IF NOT EXISTS scripts_es.stream_tombstones (
    tenant_id  uuid        NOT NULL,
    stream_id  uuid        NOT NULL,
    version    bigint      NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id)
);

-- Locks. One order for every path, so no two transactions wait on each other in a circle:
--   1. stream locks (advisory, transaction-scoped, keyed by scripts_es.stream_key): a script
--      before the executions it starts, several streams in id order;
--   2. row and table locks of the event store and the read model.
-- Every append holds its stream exclusively (scripts_es.lock_stream_head); prunes hold theirs
-- exclusively; readers that must see a stream on one side of a prune (time travel, the
-- projection runner, starting an execution) hold it shared. Rebuild and verify lock the
-- read-model tables and then take no stream lock.
CREATE OR REPLACE FUNCTION scripts_es.stream_key(stream_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended(stream_id::text, 0) $$;

-- Check that the stream's head (newest version, whatever pruning removed) is expected_head;
-- raises SQLSTATE 'SE409' when it is not. The caller holds the stream's lock: only then is
-- the answer still true at commit.
CREATE OR REPLACE FUNCTION scripts_es.check_stream_head(
    tenant uuid, stream uuid, expected_head bigint
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    head bigint;
BEGIN
    SELECT max(originator_version) INTO head FROM scripts_es.events
    WHERE tenant_id = tenant AND originator_id = stream;
    IF head IS NULL THEN  -- no events: a new stream, or one that retention removed whole
        SELECT max(v) INTO head FROM (
            SELECT originator_version AS v FROM scripts_es.snapshots
            WHERE tenant_id = tenant AND originator_id = stream
            UNION ALL
            SELECT version FROM scripts_es.stream_tombstones
            WHERE tenant_id = tenant AND stream_id = stream
        ) known;
    END IF;
    IF coalesce(head, 0) <> expected_head THEN
        RAISE EXCEPTION 'stream % is at version %, not %', stream, coalesce(head, 0), expected_head
            USING ERRCODE = 'SE409';
    END IF;
END
$$;

-- Take the stream's lock, then check its head: the optimistic-concurrency check of every
-- append. Volatile, so the head is read with a snapshot taken after the lock was granted.
CREATE OR REPLACE FUNCTION scripts_es.lock_stream_head(
    tenant uuid, stream uuid, expected_head bigint
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(scripts_es.stream_key(stream));
    PERFORM scripts_es.check_stream_head(tenant, stream, expected_head);
END
$$;
-- Idempotent commands: a command_id is applied once; its result is kept for replays.
CREATE TABLE IF NOT EXISTS scripts_es.commands (
    tenant_id   uuid        NOT NULL,
    command_id  uuid        NOT NULL,
    kind        text        NOT NULL,
    result      bytea       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, command_id)
);

-- HTTP routes of live http scripts: written in the same transaction as the event, so the primary
-- key enforces "one live script per (tenant, method, path)" atomically.
CREATE TABLE IF NOT EXISTS scripts_es.script_routes (
    tenant_id uuid NOT NULL,
    method    text NOT NULL,
    path      text NOT NULL,
    script_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, method, path)
);
-- Not unique: a route change deletes the old row and inserts the new one in one statement,
-- where a unique index would still see the row being deleted.
DROP INDEX IF EXISTS scripts_es.script_routes_script_idx;
CREATE INDEX IF NOT EXISTS script_routes_script_id_idx
    ON scripts_es.script_routes (tenant_id, script_id);

-- Audit of every prune of a script's history.
CREATE TABLE IF NOT EXISTS scripts_es.prune_audit (
    tenant_id  uuid        NOT NULL,
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    script_id  uuid        NOT NULL,
    pruned_at  timestamptz NOT NULL,
    pruned_by  uuid,
    policy     jsonb       NOT NULL,
    horizon    bigint      NOT NULL,
    removed    bigint      NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS prune_audit_script_idx
    ON scripts_es.prune_audit (tenant_id, script_id, pruned_at);

-- ---------------------------------------------------------------------------------------------
-- Read model (maintained by the projectors in projections/)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS scripts_es.scripts (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL,
    content     text        NOT NULL,
    type        text        NOT NULL,
    is_enabled  boolean     NOT NULL,
    metadata    jsonb       NOT NULL,
    tags        text[]      NOT NULL,
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  uuid        NOT NULL,
    updated_by  uuid        NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- One index per sort (ties broken by id) and per filter; all lead with tenant_id.
CREATE INDEX IF NOT EXISTS scripts_name_idx       ON scripts_es.scripts (tenant_id, name, id);
CREATE INDEX IF NOT EXISTS scripts_created_at_idx ON scripts_es.scripts (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS scripts_updated_at_idx ON scripts_es.scripts (tenant_id, updated_at, id);
CREATE INDEX IF NOT EXISTS scripts_version_idx    ON scripts_es.scripts (tenant_id, version, id);
CREATE INDEX IF NOT EXISTS scripts_type_idx
    ON scripts_es.scripts (tenant_id, type, updated_at, id);
CREATE INDEX IF NOT EXISTS scripts_enabled_idx
    ON scripts_es.scripts (tenant_id, is_enabled, updated_at, id);
CREATE INDEX IF NOT EXISTS scripts_created_by_idx
    ON scripts_es.scripts (tenant_id, created_by, updated_at, id);
-- No GIN index on tags: under row-level security PostgreSQL only uses LEAKPROOF operators in
-- index conditions, and && / @> are not. Tag filters go through script_tags below instead.
DROP INDEX IF EXISTS scripts_es.scripts_tags_idx;

-- One row per (script, tag): tags_any / tags_all become `tag = ANY(...)` index lookups.
CREATE TABLE IF NOT EXISTS scripts_es.script_tags (
    tenant_id uuid NOT NULL,
    tag       text NOT NULL,
    script_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, tag, script_id),
    FOREIGN KEY (tenant_id, script_id)
        REFERENCES scripts_es.scripts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS script_tags_script_idx
    ON scripts_es.script_tags (tenant_id, script_id);

CREATE TABLE IF NOT EXISTS scripts_es.script_versions (
    tenant_id  uuid        NOT NULL,
    script_id  uuid        NOT NULL,
    version    bigint      NOT NULL,
    change     text        NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by uuid,
    PRIMARY KEY (tenant_id, script_id, version),
    FOREIGN KEY (tenant_id, script_id)
        REFERENCES scripts_es.scripts (tenant_id, id) ON DELETE CASCADE
);

-- Executions outlive their script (readable by id until pruned), so no foreign key to scripts.
CREATE TABLE IF NOT EXISTS scripts_es.executions (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL,
    script_id      uuid        NOT NULL,
    script_version bigint      NOT NULL,
    status         text        NOT NULL,
    result         jsonb,
    started_at     timestamptz,
    completed_at   timestamptz,
    duration       interval    NOT NULL,
    trigger_type   text        NOT NULL,
    triggered_by   uuid,
    input          json        NOT NULL,  -- json, not jsonb: numbers read back exactly as written
    version        bigint      NOT NULL,
    queued_at        timestamptz,  -- its first event (NULL only before migration 0004 ran)
    worker           text,         -- the worker whose claim runs it
    lease_expires_at timestamptz,  -- when that claim lapses
    scheduled_for    timestamptz,  -- a cron run's slot
    skipped_slots    int         NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS executions_started_idx
    ON scripts_es.executions (tenant_id, script_id, started_at, id);
CREATE INDEX IF NOT EXISTS executions_completed_idx
    ON scripts_es.executions (tenant_id, script_id, completed_at, id);
CREATE INDEX IF NOT EXISTS executions_duration_idx
    ON scripts_es.executions (tenant_id, script_id, duration, id);
CREATE INDEX IF NOT EXISTS executions_status_idx
    ON scripts_es.executions (tenant_id, script_id, status, started_at, id);
CREATE INDEX IF NOT EXISTS executions_trigger_idx
    ON scripts_es.executions (tenant_id, script_id, trigger_type, started_at, id);
-- Retention scans terminal executions by age.
CREATE INDEX IF NOT EXISTS executions_retention_idx
    ON scripts_es.executions (tenant_id, completed_at) WHERE completed_at IS NOT NULL;

-- Workers take the oldest pending executions; the sweep finds lapsed claims.
CREATE INDEX IF NOT EXISTS executions_pending_idx
    ON scripts_es.executions (queued_at, tenant_id, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS executions_lease_idx
    ON scripts_es.executions (lease_expires_at, tenant_id, id) WHERE status = 'running';

-- Each enabled cron script's schedule: since when it applies (`anchor`: its creation, its last
-- metadata change or enable), the last slot fired, and the next slot as a UTC instant. Written
-- by the same statements as the script and its fired runs; rebuild recomputes next_fire_at.
CREATE TABLE IF NOT EXISTS scripts_es.script_schedules (
    tenant_id      uuid        NOT NULL,
    script_id      uuid        NOT NULL,
    anchor         timestamptz NOT NULL,
    last_fired_for timestamptz,
    next_fire_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, script_id)
);
CREATE INDEX IF NOT EXISTS script_schedules_due_idx
    ON scripts_es.script_schedules (next_fire_at, tenant_id, script_id);
CREATE INDEX IF NOT EXISTS script_schedules_tenant_due_idx
    ON scripts_es.script_schedules (tenant_id, next_fire_at, script_id);

-- The executions a worker claims (`due` = 'pending': the oldest pending) or the sweep times out
-- ('lapsed': running with a lease that ended before `now`), at most `lim`, as their events. A
-- row another transaction holds is skipped (SKIP LOCKED), and so is a stream whose lock is
-- taken: the stream lock is only tried, never waited for, so taking it after the row lock
-- cannot close a circle with a writer (stream lock, then row). The events are read by a later
-- statement, so with a snapshot taken after the locks were granted.
CREATE OR REPLACE FUNCTION scripts_es.pick_executions(due text, lim int, now timestamptz)
RETURNS TABLE (tenant_id uuid, originator_id uuid, originator_version bigint, topic text,
               state bytea)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    tenants uuid[];
    ids     uuid[];
BEGIN
    IF due = 'pending' THEN
        WITH candidates AS MATERIALIZED (
            SELECT x.tenant_id, x.id, x.queued_at AS since FROM scripts_es.executions x
            WHERE x.status = 'pending'
            ORDER BY x.queued_at, x.tenant_id, x.id
            LIMIT lim FOR UPDATE SKIP LOCKED
        )
        SELECT array_agg(c.tenant_id ORDER BY c.since, c.tenant_id, c.id),
               array_agg(c.id ORDER BY c.since, c.tenant_id, c.id) INTO tenants, ids
        FROM candidates c WHERE pg_try_advisory_xact_lock(scripts_es.stream_key(c.id));
    ELSE
        WITH candidates AS MATERIALIZED (
            SELECT x.tenant_id, x.id, x.lease_expires_at AS since FROM scripts_es.executions x
            WHERE x.status = 'running' AND x.lease_expires_at < now
            ORDER BY x.lease_expires_at, x.tenant_id, x.id
            LIMIT lim FOR UPDATE SKIP LOCKED
        )
        SELECT array_agg(c.tenant_id ORDER BY c.since, c.tenant_id, c.id),
               array_agg(c.id ORDER BY c.since, c.tenant_id, c.id) INTO tenants, ids
        FROM candidates c WHERE pg_try_advisory_xact_lock(scripts_es.stream_key(c.id));
    END IF;
    RETURN QUERY
        SELECT e.tenant_id, e.originator_id, e.originator_version, e.topic, e.state
        FROM unnest(tenants, ids) WITH ORDINALITY AS p(t, i, n)
        JOIN scripts_es.events e ON e.tenant_id = p.t AND e.originator_id = p.i
        ORDER BY p.n, e.originator_version;  -- in the order picked: the oldest first
END
$$;
-- Which migrations (scripts_es/migrations/) this database has: a fresh install from this file
-- records every one; `scripts-es db upgrade` applies and records the missing ones.
CREATE TABLE IF NOT EXISTS scripts_es.schema_version (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Positions of the out-of-process projection runner (not tenant data), one consumer of the
-- event feed: its feed position, and the (txid, notification_id) of the last event applied.
CREATE TABLE IF NOT EXISTS scripts_es.projection_tracking (
    name                 text   PRIMARY KEY,
    last_txid            xid8   NOT NULL DEFAULT '0'::xid8,
    last_notification_id bigint NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    last_position        bigint NOT NULL DEFAULT 0  -- its position in scripts_es.feed
);

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

-- Case-insensitive substring search uses trigram indexes where pg_trgm is available.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
        CREATE INDEX IF NOT EXISTS scripts_name_trgm_idx
            ON scripts_es.scripts USING gin (lower(name) public.gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS scripts_description_trgm_idx
            ON scripts_es.scripts USING gin (lower(description) public.gin_trgm_ops);
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security, grants
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'snapshots', 'stream_tombstones', 'commands',
                             'script_routes', 'prune_audit', 'scripts', 'script_versions',
                             'script_tags', 'executions', 'script_schedules', 'feed',
                             'feed_removed']
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

GRANT USAGE ON SCHEMA scripts_es TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.current_tenant() TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.stream_key(uuid) TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.lock_stream_head(uuid, uuid, bigint)
    TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.check_stream_head(uuid, uuid, bigint)
    TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.pick_executions(text, int, timestamptz) TO scripts_es_maint;
GRANT USAGE ON SEQUENCE scripts_es.events_notification_id_seq TO scripts_es_app, scripts_es_maint;
GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.projection_tracking TO scripts_es_maint;
GRANT SELECT ON scripts_es.projection_tracking TO scripts_es_app;
GRANT CREATE ON SCHEMA scripts_es TO scripts_es_maint;
-- Any login of the module reads the version before it does anything (least privilege: a host
-- login that is a member of scripts_es_app only must be able to open the module).
GRANT SELECT ON scripts_es.schema_version TO scripts_es_app, scripts_es_maint;

GRANT SELECT ON scripts_es.feed_sequencer TO scripts_es_app, scripts_es_maint;
GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.feed_tracking
    TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.sequence_feed(integer) TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.feed_held_back() TO scripts_es_app, scripts_es_maint;
