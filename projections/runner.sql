-- Queries of the out-of-process projection runner (maintenance role).

-- name: ensure_tracking
INSERT INTO scripts_es.projection_tracking (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING;

-- name: lock_tracking
SELECT last_txid, last_notification_id FROM scripts_es.projection_tracking
WHERE name = %(name)s FOR UPDATE;

-- name: next_events
-- Only transactions older than the oldest one still in flight: everything below that horizon has
-- committed or aborted, so reading in (txid, notification_id) order never passes over an event
-- that commits later. No global lock is needed on the write side.
SELECT tenant_id, originator_id, originator_version, topic, state, txid, notification_id
FROM scripts_es.events
WHERE (txid, notification_id) > (%(txid)s::xid8, %(nid)s)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, notification_id
LIMIT %(limit)s;

-- name: save_tracking
UPDATE scripts_es.projection_tracking
SET last_txid = %(txid)s::xid8, last_notification_id = %(nid)s, updated_at = now()
WHERE name = %(name)s;

-- name: status
SELECT t.name, t.last_notification_id, t.last_txid::text::bigint, t.updated_at,
       (SELECT count(*) FROM scripts_es.events e
        WHERE (e.txid, e.notification_id) > (t.last_txid, t.last_notification_id))
FROM scripts_es.projection_tracking t
ORDER BY t.name;

-- name: lag_untracked
SELECT count(*) FROM scripts_es.events;

-- name: held_back
-- Committed events after the position that the in-flight horizon still holds back.
SELECT EXISTS (
    SELECT FROM scripts_es.events
    WHERE (txid, notification_id) > (
        SELECT last_txid, last_notification_id FROM scripts_es.projection_tracking
        WHERE name = %(name)s)
);
