-- Retention: pruning script history behind a snapshot, and removing old executions.
-- Runs in a tenant transaction (RLS) unless noted; every query also filters by tenant_id.

-- name: lock_streams
SELECT pg_advisory_xact_lock(scripts_es.stream_key(id))
FROM (SELECT unnest(%(ids)s::uuid[]) AS id ORDER BY 1) AS ordered;

-- name: stored_versions
SELECT originator_version, occurred_at FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(stream_id)s
ORDER BY originator_version;

-- name: doomed_size
SELECT count(*), coalesce(sum(octet_length(state)), 0) FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(stream_id)s
  AND originator_version < %(horizon)s;

-- name: delete_events_below
DELETE FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(stream_id)s
  AND originator_version < %(horizon)s;

-- name: delete_snapshots_below
DELETE FROM scripts_es.snapshots
WHERE tenant_id = %(tenant_id)s AND originator_id = %(stream_id)s
  AND originator_version < %(horizon)s;

-- name: delete_versions_below
DELETE FROM scripts_es.script_versions
WHERE tenant_id = %(tenant_id)s AND script_id = %(stream_id)s AND version < %(horizon)s;

-- name: audit
INSERT INTO scripts_es.prune_audit (tenant_id, script_id, pruned_at, pruned_by, policy, horizon,
                                    removed)
VALUES (%(tenant_id)s, %(stream_id)s, %(now)s, %(user_id)s, %(policy)s, %(horizon)s, %(removed)s);

-- name: doomed_executions
-- Terminal executions completed before %(cutoff)s, except each script's newest %(keep)s
-- terminal ones. Pending and running executions are never candidates.
SELECT id FROM (
    SELECT id, completed_at,
           row_number() OVER (PARTITION BY script_id ORDER BY completed_at DESC, id DESC) AS rank
    FROM scripts_es.executions
    WHERE tenant_id = %(tenant_id)s AND status IN ('completed', 'failed', 'timeout')
) ranked
WHERE rank > %(keep)s AND completed_at < %(cutoff)s;

-- name: execution_size
SELECT count(*), coalesce(sum(octet_length(state)), 0) FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = ANY(%(ids)s);

-- name: delete_execution_streams
-- A tombstone keeps each removed stream's version, so its id can never start a new stream.
WITH removed AS (
    DELETE FROM scripts_es.events
    WHERE tenant_id = %(tenant_id)s AND originator_id = ANY(%(ids)s)
    RETURNING originator_id, originator_version
)
INSERT INTO scripts_es.stream_tombstones (tenant_id, stream_id, version)
SELECT %(tenant_id)s, originator_id, max(originator_version) FROM removed GROUP BY originator_id
ON CONFLICT (tenant_id, stream_id) DO UPDATE SET version = excluded.version;

-- name: delete_execution_snapshots
DELETE FROM scripts_es.snapshots WHERE tenant_id = %(tenant_id)s AND originator_id = ANY(%(ids)s);

-- name: delete_execution_rows
DELETE FROM scripts_es.executions WHERE tenant_id = %(tenant_id)s AND id = ANY(%(ids)s);

-- name: tenants_with_scripts
-- Maintenance role: every (tenant, script) to consider, optionally one tenant's.
SELECT tenant_id, id FROM scripts_es.scripts
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s)
ORDER BY tenant_id, id;

-- name: tenants_with_executions
SELECT DISTINCT tenant_id FROM scripts_es.executions
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s) AND completed_at IS NOT NULL;
