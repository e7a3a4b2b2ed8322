-- Queries of the event feed (DESIGN §9). A tenant feed runs them as scripts_es_app with
-- app.tenant_id set, so row-level security decides what it sees; the maintenance feed runs
-- them as scripts_es_maint. The sequencer and the held-back report are SECURITY DEFINER
-- functions (schema.sql).

-- name: sequence
SELECT scripts_es.sequence_feed(%(max_events)s);

-- name: mark
SELECT last_position FROM scripts_es.feed_sequencer;

-- name: read
-- Notifications after %(after)s up to %(stop)s in position order, with the payload from the
-- event store; a position whose event was pruned comes back as an EventPruned notice.
SELECT f.position, f.tenant_id, f.originator_id, f.originator_version,
       CASE WHEN e.state IS NULL THEN %(pruned_topic)s ELSE f.topic END,
       coalesce(e.state, convert_to(json_build_object('topic', f.topic)::text, 'UTF8'))
FROM scripts_es.feed f
LEFT JOIN scripts_es.events e
    ON e.tenant_id = f.tenant_id AND e.originator_id = f.originator_id
   AND e.originator_version = f.originator_version
WHERE f.position > %(after)s AND f.position <= %(stop)s
  AND (cardinality(%(topics)s::text[]) = 0 OR f.topic = ANY(%(topics)s::text[]))
ORDER BY f.position
LIMIT %(limit)s;

-- name: read_tenant
-- The same for one tenant: row-level security filters; the tenant_id condition only lets the
-- (tenant_id, position) key serve the scan.
SELECT f.position, f.tenant_id, f.originator_id, f.originator_version,
       CASE WHEN e.state IS NULL THEN %(pruned_topic)s ELSE f.topic END,
       coalesce(e.state, convert_to(json_build_object('topic', f.topic)::text, 'UTF8'))
FROM scripts_es.feed f
LEFT JOIN scripts_es.events e
    ON e.tenant_id = f.tenant_id AND e.originator_id = f.originator_id
   AND e.originator_version = f.originator_version
WHERE f.tenant_id = scripts_es.current_tenant()
  AND f.position > %(after)s AND f.position <= %(stop)s
  AND (cardinality(%(topics)s::text[]) = 0 OR f.topic = ANY(%(topics)s::text[]))
ORDER BY f.position
LIMIT %(limit)s;

-- name: last_position
SELECT max(position) FROM scripts_es.feed;

-- name: last_position_tenant
SELECT max(position) FROM scripts_es.feed WHERE tenant_id = scripts_es.current_tenant();

-- name: positions_of
-- The positions the given events received, in position order (fewer while held back).
SELECT f.position
FROM unnest(%(ids)s::uuid[], %(versions)s::bigint[]) AS k(originator_id, originator_version)
JOIN scripts_es.feed f
    ON f.tenant_id = %(tenant_id)s AND f.originator_id = k.originator_id
   AND f.originator_version = k.originator_version
ORDER BY f.position;

-- name: held_back
SELECT waiting, pid, datname, usename, application_name, state, xact_start, held_seconds
FROM scripts_es.feed_held_back();

-- name: insert_events
-- The eventsourcing recorders' append: in the order given (notification ids follow it).
INSERT INTO scripts_es.events
    (tenant_id, originator_id, originator_version, topic, state, occurred_at)
SELECT %(tenant_id)s, k.originator_id, k.originator_version, k.topic, k.state, now()
FROM unnest(%(ids)s::uuid[], %(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[])
    WITH ORDINALITY AS k(originator_id, originator_version, topic, state, n)
ORDER BY k.n;

-- name: select_events
SELECT originator_id, originator_version, topic, state FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s
  AND originator_version > %(gt)s AND originator_version <= %(lte)s
ORDER BY originator_version
LIMIT %(limit)s;

-- name: select_events_desc
SELECT originator_id, originator_version, topic, state FROM scripts_es.events
WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s
  AND originator_version > %(gt)s AND originator_version <= %(lte)s
ORDER BY originator_version DESC
LIMIT %(limit)s;

-- name: insert_tracking
-- A consumer's position only moves forward: the same or a lower one returns no row.
INSERT INTO scripts_es.feed_tracking AS t (application_name, notification_id)
VALUES (%(application_name)s, %(notification_id)s)
ON CONFLICT (application_name) DO UPDATE
SET notification_id = excluded.notification_id, updated_at = now()
WHERE t.notification_id < excluded.notification_id
RETURNING notification_id;

-- name: max_tracking_id
SELECT notification_id FROM scripts_es.feed_tracking WHERE application_name = %(application_name)s;

-- name: consumers
-- Registered consumers: their positions and how many feed positions lie after each.
SELECT t.application_name, t.notification_id, t.updated_at,
       (SELECT count(*) FROM scripts_es.feed f WHERE f.position > t.notification_id)
FROM scripts_es.feed_tracking t
ORDER BY t.application_name;

-- name: listen
LISTEN scripts_es_feed;
