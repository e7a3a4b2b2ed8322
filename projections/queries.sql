-- Writes of the projectors. {scripts}, {script_versions}, {executions} are the target tables
-- (live or scratch), formatted in as identifiers; values are always bound parameters.

-- name: upsert_script
INSERT INTO {scripts} (tenant_id, id, name, description, content, type, is_enabled, metadata,
                       tags, version, created_at, updated_at, created_by, updated_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    name = excluded.name, description = excluded.description, content = excluded.content,
    is_enabled = excluded.is_enabled, metadata = excluded.metadata, tags = excluded.tags,
    version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by
WHERE {scripts}.version < excluded.version;

-- name: delete_script
DELETE FROM {scripts} WHERE tenant_id = %s AND id = %s;

-- name: insert_versions
INSERT INTO {script_versions} (tenant_id, script_id, version, change, updated_at, updated_by)
SELECT %s, %s, v, c, u, b
FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::uuid[]) AS r(v, c, u, b)
ON CONFLICT (tenant_id, script_id, version) DO NOTHING;

-- name: upsert_execution
INSERT INTO {executions} (tenant_id, id, script_id, script_version, status, result, started_at,
                          completed_at, duration, trigger_type, triggered_by, input, version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    status = excluded.status, result = excluded.result, started_at = excluded.started_at,
    completed_at = excluded.completed_at, duration = excluded.duration, version = excluded.version
WHERE {executions}.version < excluded.version;

-- name: replace_tags
-- The script's tags become exactly the given array, as rows of {script_tags}.
WITH untagged AS (
    DELETE FROM {script_tags}
    WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s AND tag <> ALL(%(tags)s::text[])
)
INSERT INTO {script_tags} (tenant_id, tag, script_id)
SELECT %(tenant_id)s, t, %(id)s FROM unnest(%(tags)s::text[]) AS t
ON CONFLICT DO NOTHING;

-- name: delete_script_tags
DELETE FROM {script_tags} WHERE tenant_id = %s AND script_id = %s;

-- name: delete_script_versions
DELETE FROM {script_versions} WHERE tenant_id = %s AND script_id = %s;
