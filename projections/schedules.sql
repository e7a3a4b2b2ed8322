-- Schedules in rebuild and verify (maintenance role). {scripts} and {executions} name the
-- tables the read model was rebuilt into (scratch, or live after the swap).

-- name: lock_schedules
LOCK TABLE scripts_es.script_schedules IN SHARE ROW EXCLUSIVE MODE;

-- name: schedule_inputs
-- Every enabled cron script with what its next slot follows from: the schedule's anchor and
-- last fired slot (the scheduler's memory, kept by the live table) and the newest slot its
-- executions record.
SELECT s.tenant_id, s.id, s.metadata, s.updated_at, sch.anchor, sch.last_fired_for,
       (SELECT max(x.scheduled_for) FROM {executions} x
        WHERE x.tenant_id = s.tenant_id AND x.script_id = s.id AND x.trigger_type = 'cron')
FROM {scripts} s
LEFT JOIN scripts_es.script_schedules sch ON sch.tenant_id = s.tenant_id AND sch.script_id = s.id
WHERE s.type = 'cron' AND s.is_enabled
  AND (%(tenant_id)s::uuid IS NULL OR s.tenant_id = %(tenant_id)s);

-- name: live_schedules
SELECT tenant_id, script_id, anchor, last_fired_for, next_fire_at
FROM scripts_es.script_schedules
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: clear_schedules
DELETE FROM scripts_es.script_schedules
WHERE (%(tenant_id)s::uuid IS NULL OR tenant_id = %(tenant_id)s);

-- name: insert_schedule
INSERT INTO scripts_es.script_schedules (tenant_id, script_id, anchor, last_fired_for, next_fire_at)
VALUES (%s, %s, %s, %s, %s);
