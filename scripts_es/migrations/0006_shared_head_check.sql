-- Migration 0006 (issue 15, performance): the head check on its own, for a stream this
-- transaction already holds (shared or exclusive), so that an execution can start from the
-- command cache's state of its script in one round trip: the script is held shared (no
-- writer can be in flight) and its cached version is checked instead of loading the stream.

SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

-- Check that the stream's head (newest version, whatever pruning removed) is expected_head;
-- raises SQLSTATE 'SE409' when it is not. The caller holds the stream's lock: only then is
-- the answer still true at commit.
CREATE OR REPLACE FUNCTION scripts_es.check_stream_head(
    tenant uuid, stream uuid, expected_head bigint
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    head bigint;
BEGIN
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

-- Take the stream's lock, then check its head: the optimistic-concurrency check of every
-- append. Volatile, so the head is read with a snapshot taken after the lock was granted.
CREATE OR REPLACE FUNCTION scripts_es.lock_stream_head(
    tenant uuid, stream uuid, expected_head bigint
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(scripts_es.stream_key(stream));
    PERFORM scripts_es.check_stream_head(tenant, stream, expected_head);
END
$$;

GRANT EXECUTE ON FUNCTION scripts_es.check_stream_head(uuid, uuid, bigint)
    TO scripts_es_app, scripts_es_maint;
