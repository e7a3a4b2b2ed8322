-- Migration 0002 (issue 9): appends check the stream's head under its lock, whatever pruning
-- removed; streams removed whole by execution retention leave a tombstone.

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

-- Streams removed whole by execution retention: the version they had reached, so that an
-- append can still tell a new stream from one that existed (an id is never reused).
CREATE TABLE IF NOT EXISTS scripts_es.stream_tombstones (
    tenant_id  uuid        NOT NULL,
    stream_id  uuid        NOT NULL,
    version    bigint      NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id)
);

-- Locks. One order for every path, so no two transactions wait on each other in a circle:
--   1. stream locks (advisory, transaction-scoped, keyed by scripts_es.stream_key): a script
--      before the executions it starts, several streams in id order;
--   2. row and table locks of the event store and the read model.
-- Every append holds its stream exclusively (scripts_es.lock_stream_head); prunes hold theirs
-- exclusively; readers that must see a stream on one side of a prune (time travel, the
-- projection runner, starting an execution) hold it shared. Rebuild and verify lock the
-- read-model tables and then take no stream lock.
CREATE OR REPLACE FUNCTION scripts_es.stream_key(stream_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended(stream_id::text, 0) $$;

-- Take the stream's lock, then check that its head (newest version, whatever pruning removed)
-- is expected_head: the optimistic-concurrency check of every append. Pruning deletes events
-- below the horizon, so the events primary key alone cannot tell a stale append from a fresh
-- one. Raises SQLSTATE 'SE409' when the stream has moved. Volatile, so the head is read with a
-- snapshot taken after the lock was granted (READ COMMITTED).
CREATE OR REPLACE FUNCTION scripts_es.lock_stream_head(
    tenant uuid, stream uuid, expected_head bigint
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    head bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(scripts_es.stream_key(stream));
    SELECT max(originator_version) INTO head FROM scripts_es.events
    WHERE tenant_id = tenant AND originator_id = stream;
    IF head IS NULL THEN  -- no events: a new stream, or one that retention removed whole
        SELECT max(v) INTO head FROM (
            SELECT originator_version AS v FROM scripts_es.snapshots
            WHERE tenant_id = tenant AND originator_id = stream
            UNION ALL
            SELECT version FROM scripts_es.stream_tombstones
            WHERE tenant_id = tenant AND stream_id = stream
        ) known;
    END IF;
    IF coalesce(head, 0) <> expected_head THEN
        RAISE EXCEPTION 'stream % is at version %, not %', stream, coalesce(head, 0), expected_head
            USING ERRCODE = 'SE409';
    END IF;
END
$$;

ALTER TABLE scripts_es.stream_tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE scripts_es.stream_tombstones FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON scripts_es.stream_tombstones;
CREATE POLICY tenant_isolation ON scripts_es.stream_tombstones TO scripts_es_app
    USING (tenant_id = scripts_es.current_tenant())
    WITH CHECK (tenant_id = scripts_es.current_tenant());
DROP POLICY IF EXISTS maintenance ON scripts_es.stream_tombstones;
CREATE POLICY maintenance ON scripts_es.stream_tombstones TO scripts_es_maint
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON scripts_es.stream_tombstones
    TO scripts_es_app, scripts_es_maint;

GRANT EXECUTE ON FUNCTION scripts_es.stream_key(uuid) TO scripts_es_app, scripts_es_maint;
GRANT EXECUTE ON FUNCTION scripts_es.lock_stream_head(uuid, uuid, bigint)
    TO scripts_es_app, scripts_es_maint;
