-- One statement per change: the events, an optional snapshot, route changes and (when inline
-- projection is on) the read-model rows, all in one round trip inside the tenant transaction.
-- Parts that do not apply are switched off by their WHERE guard. The blocks are templates:
-- {append} is the block below, {script_rows} and {execution_rows} the read model's own
-- statement parts (projections/queries.sql, for the live tables), the same text the runner
-- runs; every value is a bound parameter, built by projections/rows.py and the event store.

-- name: append
appended AS (
    INSERT INTO scripts_es.events
        (tenant_id, originator_id, originator_version, topic, state, occurred_at)
    SELECT %(tenant_id)s, %(id)s, v, t, s, o
    FROM unnest(%(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[],
                %(occurred)s::timestamptz[]) AS e(v, t, s, o)
    RETURNING txid, notification_id
), snapshot AS (
    INSERT INTO scripts_es.snapshots (tenant_id, originator_id, originator_version, topic, state)
    SELECT %(tenant_id)s, %(id)s, %(snap_version)s, %(snap_topic)s, %(snap_state)s
    WHERE %(snap_version)s::bigint IS NOT NULL
    ON CONFLICT (tenant_id, originator_id, originator_version) DO UPDATE SET state = excluded.state
)

-- name: write_script
WITH {append}, released AS (
    DELETE FROM scripts_es.script_routes
    WHERE %(route_changed)s AND tenant_id = %(tenant_id)s AND script_id = %(id)s
), claimed AS (
    INSERT INTO scripts_es.script_routes (tenant_id, method, path, script_id)
    SELECT %(tenant_id)s, %(method)s, %(path)s, %(id)s
    WHERE %(route_changed)s AND %(method)s::text IS NOT NULL
), unscheduled AS (  -- a cron schedule (re)starts or ends with the script's change
    DELETE FROM scripts_es.script_schedules
    WHERE %(schedule_changed)s AND %(next_fire_at)s::timestamptz IS NULL
      AND tenant_id = %(tenant_id)s AND script_id = %(id)s
), scheduled AS (
    INSERT INTO scripts_es.script_schedules (tenant_id, script_id, anchor, next_fire_at)
    SELECT %(tenant_id)s, %(id)s, %(anchor)s, %(next_fire_at)s
    WHERE %(schedule_changed)s AND %(next_fire_at)s::timestamptz IS NOT NULL
    ON CONFLICT (tenant_id, script_id) DO UPDATE
    SET anchor = excluded.anchor, last_fired_for = NULL, next_fire_at = excluded.next_fire_at
), {script_rows}
-- Where the change sits in the runner's order, for read-your-writes without inline projection.
SELECT txid::text::bigint, notification_id FROM appended ORDER BY notification_id DESC LIMIT 1;

-- name: write_execution
WITH {append}, {execution_rows}
SELECT txid::text::bigint, notification_id FROM appended ORDER BY notification_id DESC LIMIT 1;
