-- The read model's writes, as parts of one statement: the CTEs that bring one stream's rows up
-- to its state. The inline write (scripts_es/service/writes.sql, after the events), the runner
-- and the catch-up of rebuild/verify all run this text. {scripts}, {script_versions},
-- {script_tags}, {executions} name the target tables (live or scratch); {*_columns},
-- {*_values} and {*_updates} come from the one column list in projections/rows.py. Every value
-- is a bound parameter, named as projections/rows.py builds them; rows only move forward in
-- version, so applying a change twice (inline, then the runner) leaves one result. `project`
-- is the runner's statement for one stream: a rows part on its own.

-- name: script_rows
upserted AS (
    INSERT INTO {scripts} AS s ({script_columns})
    SELECT {script_values}
    WHERE %(project)s AND NOT %(deleted)s
    ON CONFLICT (tenant_id, id) DO UPDATE SET {script_updates}
    WHERE s.version < excluded.version
), versioned AS (
    INSERT INTO {script_versions} (tenant_id, script_id, version, change, updated_at, updated_by)
    SELECT %(tenant_id)s, %(id)s, v, c, u, b
    FROM unnest(%(v_versions)s::bigint[], %(v_changes)s::text[], %(v_at)s::timestamptz[],
                %(v_by)s::uuid[]) AS r(v, c, u, b)
    WHERE %(project)s AND NOT %(deleted)s
    ON CONFLICT (tenant_id, script_id, version) DO NOTHING
), untagged AS (
    DELETE FROM {script_tags}
    WHERE %(project)s AND %(tags_changed)s AND NOT %(deleted)s
      AND tenant_id = %(tenant_id)s AND script_id = %(id)s AND tag <> ALL(%(tags)s::text[])
), tagged AS (
    INSERT INTO {script_tags} (tenant_id, tag, script_id)
    SELECT %(tenant_id)s, t, %(id)s FROM unnest(%(tags)s::text[]) AS t
    WHERE %(project)s AND %(tags_changed)s AND NOT %(deleted)s
    ON CONFLICT DO NOTHING
), removed AS (
    DELETE FROM {scripts}
    WHERE %(project)s AND %(deleted)s AND tenant_id = %(tenant_id)s AND id = %(id)s
), unversioned AS (  -- the live tables cascade from scripts; scratch tables have no keys
    DELETE FROM {script_versions}
    WHERE %(project)s AND %(deleted)s AND tenant_id = %(tenant_id)s AND script_id = %(id)s
), detagged AS (
    DELETE FROM {script_tags}
    WHERE %(project)s AND %(deleted)s AND tenant_id = %(tenant_id)s AND script_id = %(id)s
)

-- name: execution_rows
upserted AS (
    INSERT INTO {executions} AS x ({execution_columns})
    SELECT {execution_values}
    WHERE %(project)s
    ON CONFLICT (tenant_id, id) DO UPDATE SET {execution_updates}
    WHERE x.version < excluded.version
)

-- name: project
WITH {rows} SELECT 1
