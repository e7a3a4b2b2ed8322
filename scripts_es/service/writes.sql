-- One statement per change: the events, an optional snapshot, route changes and (when inline
-- projection is on) the read-model rows, all in one round trip inside the tenant transaction.
-- Parts that do not apply are switched off by their WHERE guard. The rows themselves are built
-- by projections/rows.py, the same builders the runner and rebuild use.

-- name: write_script
WITH appended AS (
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
), released AS (
    DELETE FROM scripts_es.script_routes
    WHERE %(route_changed)s AND tenant_id = %(tenant_id)s AND script_id = %(id)s
), claimed AS (
    INSERT INTO scripts_es.script_routes (tenant_id, method, path, script_id)
    SELECT %(tenant_id)s, %(method)s, %(path)s, %(id)s
    WHERE %(route_changed)s AND %(method)s::text IS NOT NULL
), upserted AS (
    INSERT INTO scripts_es.scripts AS s (tenant_id, id, name, description, content, type,
        is_enabled, metadata, tags, version, created_at, updated_at, created_by, updated_by)
    SELECT %(tenant_id)s, %(id)s, %(name)s, %(description)s, %(content)s, %(type)s,
        %(is_enabled)s, %(metadata)s, %(tags)s, %(version)s, %(created_at)s, %(updated_at)s,
        %(created_by)s, %(updated_by)s
    WHERE %(project)s AND NOT %(deleted)s
    ON CONFLICT (tenant_id, id) DO UPDATE SET
        name = excluded.name, description = excluded.description, content = excluded.content,
        is_enabled = excluded.is_enabled, metadata = excluded.metadata, tags = excluded.tags,
        version = excluded.version, updated_at = excluded.updated_at,
        updated_by = excluded.updated_by
    WHERE s.version < excluded.version
), versioned AS (
    INSERT INTO scripts_es.script_versions
        (tenant_id, script_id, version, change, updated_at, updated_by)
    SELECT %(tenant_id)s, %(id)s, v, c, u, b
    FROM unnest(%(v_versions)s::bigint[], %(v_changes)s::text[], %(v_at)s::timestamptz[],
                %(v_by)s::uuid[]) AS r(v, c, u, b)
    WHERE %(project)s AND NOT %(deleted)s
    ON CONFLICT (tenant_id, script_id, version) DO NOTHING
), untagged AS (
    DELETE FROM scripts_es.script_tags
    WHERE %(project)s AND %(tags_changed)s AND NOT %(deleted)s
      AND tenant_id = %(tenant_id)s AND script_id = %(id)s AND tag <> ALL(%(tags)s::text[])
), tagged AS (
    INSERT INTO scripts_es.script_tags (tenant_id, tag, script_id)
    SELECT %(tenant_id)s, t, %(id)s FROM unnest(%(tags)s::text[]) AS t
    WHERE %(project)s AND %(tags_changed)s AND NOT %(deleted)s
    ON CONFLICT DO NOTHING
), removed AS (
    DELETE FROM scripts_es.scripts
    WHERE %(project)s AND %(deleted)s AND tenant_id = %(tenant_id)s AND id = %(id)s
)
-- Where the change sits in the runner's order, for read-your-writes without inline projection.
SELECT txid::text::bigint, notification_id FROM appended ORDER BY notification_id DESC LIMIT 1;

-- name: write_execution
WITH appended AS (
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
), upserted AS (
    INSERT INTO scripts_es.executions AS x (tenant_id, id, script_id, script_version, status,
        result, started_at, completed_at, duration, trigger_type, triggered_by, input, version)
    SELECT %(tenant_id)s, %(id)s, %(script_id)s, %(script_version)s, %(status)s, %(result)s,
        %(started_at)s, %(completed_at)s, %(duration)s, %(trigger_type)s, %(triggered_by)s,
        %(input)s, %(version)s
    WHERE %(project)s
    ON CONFLICT (tenant_id, id) DO UPDATE SET
        status = excluded.status, result = excluded.result, started_at = excluded.started_at,
        completed_at = excluded.completed_at, duration = excluded.duration,
        version = excluded.version
    WHERE x.version < excluded.version
)
-- Where the change sits in the runner's order, for read-your-writes without inline projection.
SELECT txid::text::bigint, notification_id FROM appended ORDER BY notification_id DESC LIMIT 1;
