-- Queries of the event store and repositories. Every query runs inside a transaction whose
-- app.tenant_id is set (RLS), and still filters by tenant_id itself.

-- name: member_of
-- Whether the login may SET ROLE to %(role)s (false, not an error, when the role is missing).
SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = %(role)s)
            THEN pg_has_role(current_user, %(role)s, 'MEMBER') ELSE false END;

-- name: set_tenant
SELECT set_config('app.tenant_id', %(tenant_id)s, true);

-- name: insert_snapshot
INSERT INTO scripts_es.snapshots (tenant_id, originator_id, originator_version, topic, state)
VALUES (%(tenant_id)s, %(originator_id)s, %(version)s, %(topic)s, %(state)s)
ON CONFLICT (tenant_id, originator_id, originator_version) DO UPDATE SET state = excluded.state;

-- name: load_stream
-- The newest snapshot at or below %(upto)s, then the events after it, plus the oldest stored
-- event version (the history horizon). One round trip whatever the stream's length.
WITH snap AS (
    SELECT originator_version, topic, state
    FROM scripts_es.snapshots
    WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s
      AND originator_version <= %(upto)s
    ORDER BY originator_version DESC
    LIMIT 1
), oldest AS (
    SELECT originator_version AS v
    FROM scripts_es.events
    WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s
    ORDER BY originator_version
    LIMIT 1
)
SELECT true AS is_snapshot, originator_version, topic, state, (SELECT v FROM oldest)
FROM snap
UNION ALL
SELECT false, e.originator_version, e.topic, e.state, (SELECT v FROM oldest)
FROM scripts_es.events e
WHERE e.tenant_id = %(tenant_id)s AND e.originator_id = %(originator_id)s
  -- Under RLS a bound wrapped in coalesce() is not used as an index condition; max() over
  -- the (at most one) snapshot row is.
  AND e.originator_version > (SELECT coalesce(max(originator_version), 0) FROM snap)
  AND e.originator_version <= %(upto)s
ORDER BY 2, 1 DESC;

-- name: lock_stream_head
-- Every append (and every no-op decided on a cached state) holds its stream exclusively and
-- checks its head first: see scripts_es.lock_stream_head in schema.sql for the lock order.
SELECT scripts_es.lock_stream_head(%(tenant_id)s, %(id)s, %(head)s);

-- name: check_stream_head
-- A stream this transaction already holds: is its head still the version a cached state has?
SELECT scripts_es.check_stream_head(%(tenant_id)s, %(id)s, %(head)s);

-- name: hold_streams
-- Exclusive per-stream locks (a prune holds its script), taken in id order.
SELECT pg_advisory_xact_lock(scripts_es.stream_key(id))
FROM (SELECT unnest(%(ids)s::uuid[]) AS id ORDER BY 1) AS ordered;

-- name: share_streams
-- Shared per-stream lock (prunes take it exclusively), taken in id order to avoid deadlocks.
SELECT pg_advisory_xact_lock_shared(scripts_es.stream_key(id))
FROM (SELECT unnest(%(ids)s::uuid[]) AS id ORDER BY 1) AS ordered;

-- name: event_exists
SELECT state = %(state)s FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s
  AND originator_version = %(version)s;

-- name: record_command
INSERT INTO scripts_es.commands (tenant_id, command_id, kind, result)
VALUES (%(tenant_id)s, %(command_id)s, %(kind)s, %(result)s);

-- name: find_command
SELECT kind, result FROM scripts_es.commands
WHERE tenant_id = %(tenant_id)s AND command_id = %(command_id)s;

-- name: version_history
SELECT version, updated_at, updated_by, change FROM scripts_es.script_versions
WHERE tenant_id = %(tenant_id)s AND script_id = %(script_id)s
ORDER BY version;

-- name: projected_position
SELECT last_txid::text::bigint, last_notification_id FROM scripts_es.projection_tracking
WHERE name = 'read_model';

-- name: find_route
-- The live http script that owns (method, path): one lookup on the route table's primary key.
SELECT script_id FROM scripts_es.script_routes
WHERE tenant_id = %(tenant_id)s AND method = %(method)s AND path = %(path)s;

-- name: schedule_of
SELECT anchor, last_fired_for, next_fire_at FROM scripts_es.script_schedules
WHERE tenant_id = %(tenant_id)s AND script_id = %(script_id)s;

-- name: advance_schedule
-- A fired slot moves the schedule on (never back: a slot already passed changes nothing).
UPDATE scripts_es.script_schedules
SET last_fired_for = %(slot)s, next_fire_at = %(next_fire_at)s
WHERE tenant_id = %(tenant_id)s AND script_id = %(script_id)s AND next_fire_at <= %(slot)s;

-- name: due_runs
-- Enabled cron scripts whose next slot is at or before %(until)s, oldest first, read in order
-- from the schedule index and stopped at the limit (a tenant session sees its own rows only:
-- row-level security). The version comes from the read model per returned row, not from a
-- join, which would let the planner sort or scan the scripts table as it grows. A script the
-- read model has not caught up with yet (projections not inline) is left for the next call.
SELECT tenant_id, script_id, version, next_fire_at FROM (
    SELECT s.tenant_id, s.script_id, s.next_fire_at,
           (SELECT sc.version FROM scripts_es.scripts sc
            WHERE sc.tenant_id = s.tenant_id AND sc.id = s.script_id) AS version
    FROM scripts_es.script_schedules s
    WHERE s.next_fire_at <= %(until)s
    ORDER BY s.next_fire_at, s.tenant_id, s.script_id
    LIMIT %(limit)s
) due
WHERE version IS NOT NULL;

-- name: pick_executions
SELECT tenant_id, originator_id, originator_version, topic, state
FROM scripts_es.pick_executions(%(due)s, %(limit)s, %(now)s);
