-- The rows a claim or a sweep takes when the read model is written inline (so an execution's
-- row is its current state, written in the same transaction as its events). {columns} are the
-- executions columns in projections/rows.py's order. FOR UPDATE SKIP LOCKED returns each row as
-- committed now (never a row another worker holds); the stream lock is only tried, after the
-- row lock, so nothing here ever waits: no lock cycle with writers (stream lock, then row).

-- name: pick_pending
SELECT {columns} FROM (
    SELECT * FROM scripts_es.executions
    WHERE status = 'pending'
    ORDER BY queued_at, tenant_id, id
    LIMIT %(limit)s FOR UPDATE SKIP LOCKED
) picked
WHERE pg_try_advisory_xact_lock(scripts_es.stream_key(id))
ORDER BY queued_at, tenant_id, id

-- name: pick_lapsed
SELECT {columns} FROM (
    SELECT * FROM scripts_es.executions
    WHERE status = 'running' AND lease_expires_at < %(now)s
    ORDER BY lease_expires_at, tenant_id, id
    LIMIT %(limit)s FOR UPDATE SKIP LOCKED
) picked
WHERE pg_try_advisory_xact_lock(scripts_es.stream_key(id))
ORDER BY lease_expires_at, tenant_id, id
