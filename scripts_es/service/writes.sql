-- One statement per change, composed of the parts it needs (service/writes.py `append`): the
-- events, a snapshot when one is due, route and schedule changes when the change moves them,
-- and (inline projection) the read model's own parts (projections/queries.sql, the text the
-- runner runs too). A content update is the events part and the two read-model parts; no part
-- runs that its change does not need. Every value is a bound parameter.

-- name: events_one
appended AS (  -- the common case: one event, no arrays to build or unnest
    INSERT INTO scripts_es.events
        (tenant_id, originator_id, originator_version, topic, state, occurred_at)
    VALUES (%(tenant_id)s, %(id)s, %(event_version)s, %(topic)s, %(state)s, %(occurred)s)
    RETURNING txid, notification_id
)

-- name: events_many
appended AS (
    INSERT INTO scripts_es.events
        (tenant_id, originator_id, originator_version, topic, state, occurred_at)
    SELECT %(tenant_id)s, %(id)s, v, t, s, o
    FROM unnest(%(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[],
                %(occurred)s::timestamptz[]) AS e(v, t, s, o)
    RETURNING txid, notification_id
)

-- name: snapshot
snapshot AS (
    INSERT INTO scripts_es.snapshots (tenant_id, originator_id, originator_version, topic, state)
    VALUES (%(tenant_id)s, %(id)s, %(snap_version)s, %(snap_topic)s, %(snap_state)s)
    ON CONFLICT (tenant_id, originator_id, originator_version) DO UPDATE SET state = excluded.state
)

-- name: route_release
released AS (
    DELETE FROM scripts_es.script_routes WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s
)

-- name: route_claim
claimed AS (
    INSERT INTO scripts_es.script_routes (tenant_id, method, path, script_id)
    VALUES (%(tenant_id)s, %(method)s, %(path)s, %(id)s)
)

-- name: unschedule
unscheduled AS (  -- the script's cron schedule ends with its change
    DELETE FROM scripts_es.script_schedules WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s
)

-- name: schedule
scheduled AS (  -- ... or (re)starts, anchored at the change
    INSERT INTO scripts_es.script_schedules (tenant_id, script_id, anchor, next_fire_at)
    VALUES (%(tenant_id)s, %(id)s, %(anchor)s, %(next_fire_at)s)
    ON CONFLICT (tenant_id, script_id) DO UPDATE
    SET anchor = excluded.anchor, last_fired_for = NULL, next_fire_at = excluded.next_fire_at
)

-- name: position
-- Where the change sits in the runner's order, for read-your-writes without inline projection.
SELECT txid::text::bigint, notification_id FROM appended ORDER BY notification_id DESC LIMIT 1
