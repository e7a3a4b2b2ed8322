-- Migration 0004 (issue 13): running scripts. Executions record when they were queued, the
-- worker whose claim runs them and when that claim lapses, and (cron runs) their slot; cron
-- scripts get a schedule (scripts_es.script_schedules); workers claim and the sweep times out
-- through scripts_es.pick_executions.

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

ALTER TABLE scripts_es.executions
    ADD COLUMN IF NOT EXISTS queued_at        timestamptz,
    ADD COLUMN IF NOT EXISTS worker           text,
    ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS scheduled_for    timestamptz,
    ADD COLUMN IF NOT EXISTS skipped_slots    int NOT NULL DEFAULT 0;

-- Rows written by 0.1.0: queued when their first event happened (the fold says the same). The
-- upgrading role may own the table without bypassing its row-level security.
ALTER TABLE scripts_es.executions NO FORCE ROW LEVEL SECURITY;
UPDATE scripts_es.executions x SET queued_at = e.occurred_at
FROM scripts_es.events e
WHERE x.queued_at IS NULL AND e.tenant_id = x.tenant_id AND e.originator_id = x.id
  AND e.originator_version = 1;
ALTER TABLE scripts_es.executions FORCE ROW LEVEL SECURITY;

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

ALTER TABLE scripts_es.script_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE scripts_es.script_schedules FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON scripts_es.script_schedules;
CREATE POLICY tenant_isolation ON scripts_es.script_schedules TO scripts_es_app
    USING (tenant_id = scripts_es.current_tenant())
    WITH CHECK (tenant_id = scripts_es.current_tenant());
DROP POLICY IF EXISTS maintenance ON scripts_es.script_schedules;
CREATE POLICY maintenance ON scripts_es.script_schedules TO scripts_es_maint
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.script_schedules
    TO scripts_es_app, scripts_es_maint;

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
GRANT EXECUTE ON FUNCTION scripts_es.pick_executions(text, int, timestamptz) TO scripts_es_maint;
