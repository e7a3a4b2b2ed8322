-- The read model's writes, as parts of one statement: each block is one CTE, and a stream's
-- write takes only the parts its change needs (projections/writer.py `parts`), so a content
-- update starts two CTEs, not eight. The inline write (scripts_es/service/writes.sql, after the
-- events), the runner and the catch-up of rebuild/verify all compose these same blocks.
-- {scripts}, {script_versions}, {script_tags}, {executions} name the target tables (live or
-- scratch); {*_columns}, {*_values} and {*_updates} come from the one column list in
-- projections/rows.py. Every value is a bound parameter, named as projections/rows.py builds
-- them; rows only move forward in version, so applying a change twice (inline, then the
-- runner) leaves one result.

-- name: script_upsert
upserted AS (
    INSERT INTO {scripts} AS s ({script_columns})
    VALUES ({script_values})
    ON CONFLICT (tenant_id, id) DO UPDATE SET {script_updates}
    WHERE s.version < excluded.version
)

-- name: script_version
versioned AS (  -- the common case: one change, one version row
    INSERT INTO {script_versions} (tenant_id, script_id, version, change, updated_at, updated_by)
    VALUES (%(tenant_id)s, %(id)s, %(v_version)s, %(v_change)s, %(v_at)s, %(v_by)s)
    ON CONFLICT (tenant_id, script_id, version) DO NOTHING
)

-- name: script_versions
versioned AS (
    INSERT INTO {script_versions} (tenant_id, script_id, version, change, updated_at, updated_by)
    SELECT %(tenant_id)s, %(id)s, v, c, u, b
    FROM unnest(%(v_versions)s::bigint[], %(v_changes)s::text[], %(v_at)s::timestamptz[],
                %(v_by)s::uuid[]) AS r(v, c, u, b)
    ON CONFLICT (tenant_id, script_id, version) DO NOTHING
)

-- name: script_retag
untagged AS (
    DELETE FROM {script_tags}
    WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s AND tag <> ALL(%(tags)s::text[])
), tagged AS (
    INSERT INTO {script_tags} (tenant_id, tag, script_id)
    SELECT %(tenant_id)s, t, %(id)s FROM unnest(%(tags)s::text[]) AS t
    ON CONFLICT DO NOTHING
)

-- name: script_remove
removed AS (
    DELETE FROM {scripts} WHERE tenant_id = %(tenant_id)s AND id = %(id)s
), unversioned AS (  -- the live tables cascade from scripts; scratch tables have no keys
    DELETE FROM {script_versions} WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s
), detagged AS (
    DELETE FROM {script_tags} WHERE tenant_id = %(tenant_id)s AND script_id = %(id)s
)

-- name: execution_upsert
upserted AS (
    INSERT INTO {executions} AS x ({execution_columns})
    VALUES ({execution_values})
    ON CONFLICT (tenant_id, id) DO UPDATE SET {execution_updates}
    WHERE x.version < excluded.version
)

-- name: project
WITH {rows} SELECT 1
