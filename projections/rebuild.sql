-- Queries of rebuild and verify (maintenance role). {scripts}, {script_versions}, {executions}
-- name the scratch tables, {live_*} the live ones; values are bound parameters.

-- name: create_scratch
DROP TABLE IF EXISTS {scripts}, {script_versions}, {script_tags}, {executions};
CREATE UNLOGGED TABLE {scripts} (LIKE {live_scripts} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {script_versions} (LIKE {live_script_versions} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {script_tags} (LIKE {live_script_tags} INCLUDING DEFAULTS);
CREATE UNLOGGED TABLE {executions} (LIKE {live_executions} INCLUDING DEFAULTS);

-- name: index_scratch
ALTER TABLE {scripts} ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE {script_versions} ADD PRIMARY KEY (tenant_id, script_id, version);
ALTER TABLE {script_tags} ADD PRIMARY KEY (tenant_id, tag, script_id);
ALTER TABLE {executions} ADD PRIMARY KEY (tenant_id, id);

-- name: drop_scratch
DROP TABLE IF EXISTS {scripts}, {script_versions}, {script_tags}, {executions};

-- name: snapshot
SELECT pg_current_snapshot()::text;

-- name: count_events
SELECT count(*) FROM scripts_es.events WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: seeds
-- Streams whose first events were pruned start from the snapshot at their oldest event.
SELECT s.tenant_id, s.originator_id, s.originator_version, s.topic, s.state
FROM scripts_es.snapshots s
JOIN (SELECT tenant_id, originator_id, min(originator_version) AS v
      FROM scripts_es.events
      WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
      GROUP BY tenant_id, originator_id
      HAVING min(originator_version) > 1) m
  ON m.tenant_id = s.tenant_id AND m.originator_id = s.originator_id AND m.v = s.originator_version;

-- name: all_events
SELECT tenant_id, originator_id, originator_version, topic, state
FROM scripts_es.events
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
ORDER BY tenant_id, originator_id, originator_version;

-- name: lock_live
LOCK TABLE {live_scripts}, {live_script_versions}, {live_script_tags}, {live_executions}
    IN SHARE ROW EXCLUSIVE MODE;

-- name: late_events
-- Events that committed after the rebuild's snapshot %(snapshot)s was taken.
SELECT tenant_id, originator_id, originator_version, topic, state
FROM scripts_es.events
WHERE txid >= pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
  AND NOT pg_visible_in_snapshot(txid, %(snapshot)s::pg_snapshot)
  AND (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: drop_pruned
-- Rows whose events were pruned after the rebuild's snapshot.
DELETE FROM {script_versions} v
WHERE NOT EXISTS (SELECT FROM scripts_es.events e
                  WHERE e.tenant_id = v.tenant_id AND e.originator_id = v.script_id
                    AND e.originator_version = v.version);
DELETE FROM {executions} x
WHERE NOT EXISTS (SELECT FROM scripts_es.events e
                  WHERE e.tenant_id = x.tenant_id AND e.originator_id = x.id);

-- name: clear_live_executions
DELETE FROM {live_executions} WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: clear_live_scripts
-- script_versions and script_tags follow by cascade.
DELETE FROM {live_scripts} WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: fill_live
INSERT INTO {live_scripts} SELECT * FROM {scripts};
INSERT INTO {live_script_versions} SELECT * FROM {script_versions};
INSERT INTO {live_script_tags} SELECT * FROM {script_tags};
INSERT INTO {live_executions} SELECT * FROM {executions};

-- name: diff
-- Rows compared as jsonb documents (json columns have no equality operator).
SELECT count(*) FROM (
    SELECT to_jsonb(a) FROM {a} a WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
    EXCEPT ALL
    SELECT to_jsonb(b) FROM {b} b WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
) d;

-- name: diff_sample
SELECT row FROM (
    SELECT to_jsonb(a) AS row FROM {a} a
    WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
    EXCEPT ALL
    SELECT to_jsonb(b) FROM {b} b WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
) d
LIMIT 5;
