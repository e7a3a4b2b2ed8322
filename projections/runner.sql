-- Queries of the out-of-process projection runner (maintenance role): one consumer of the
-- event feed (scripts_es.feed, DESIGN §9). Its tracking row keeps its feed position and the
-- (txid, notification_id) of the last event it applied (read-your-writes compares those).

-- name: ensure_tracking
INSERT INTO scripts_es.projection_tracking (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING;

-- name: lock_tracking
SELECT last_txid, last_notification_id, last_position FROM scripts_es.projection_tracking
WHERE name = %(name)s FOR UPDATE;

-- name: adopt_position
-- A tracking row from before the feed (a position in (txid, notification_id) only): the feed
-- position of the newest event at or below it. Everything below that old position was below
-- the horizon then, so it is sequenced now.
SELECT coalesce(max(f.position), 0)
FROM scripts_es.events e
JOIN scripts_es.feed f
    ON f.tenant_id = e.tenant_id AND f.originator_id = e.originator_id
   AND f.originator_version = e.originator_version
WHERE (e.txid, e.notification_id) <= (%(txid)s::xid8, %(nid)s);

-- name: next_events
-- The next feed positions. A position whose event was pruned comes back with a NULL topic:
-- the prune already changed the read model in its own transaction, so it is only passed.
SELECT f.tenant_id, f.originator_id, f.originator_version, e.topic, e.state, e.txid,
       e.notification_id, f.position
FROM scripts_es.feed f
LEFT JOIN scripts_es.events e
    ON e.tenant_id = f.tenant_id AND e.originator_id = f.originator_id
   AND e.originator_version = f.originator_version
WHERE f.position > %(position)s
ORDER BY f.position
LIMIT %(limit)s;

-- name: save_tracking
UPDATE scripts_es.projection_tracking
SET last_txid = %(txid)s::xid8, last_notification_id = %(nid)s, last_position = %(position)s,
    updated_at = now()
WHERE name = %(name)s;

-- name: status
-- Lag: feed positions after the runner's, plus committed events not yet in the feed.
SELECT t.name, t.last_notification_id, t.last_txid::text::bigint, t.updated_at,
       (SELECT count(*) FROM scripts_es.feed f WHERE f.position > t.last_position)
       + (SELECT count(*) FROM scripts_es.events e, scripts_es.feed_sequencer s
          WHERE (e.txid, e.notification_id) > (s.last_txid, s.last_notification_id)),
       t.last_position
FROM scripts_es.projection_tracking t
ORDER BY t.name;

-- name: lag_untracked
SELECT count(*) FROM scripts_es.events;
