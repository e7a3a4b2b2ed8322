-- Queries of the schema migrator (scripts_es/store/migrations.py). They run as the login role.

-- name: lock_schema
-- The same key schema.sql and every migration take: one installer or upgrader at a time.
SELECT pg_advisory_xact_lock(hashtext('scripts_es.schema'));

-- name: catalog_state
-- Which of the version table, release 0.1.0's digest table and the event store exist.
SELECT to_regclass('scripts_es.schema_version') IS NOT NULL,
       to_regclass('scripts_es.schema_meta') IS NOT NULL,
       to_regclass('scripts_es.events') IS NOT NULL;

-- name: newest_version
SELECT max(version) FROM scripts_es.schema_version;

-- name: applied_versions
SELECT version, name, applied_at FROM scripts_es.schema_version ORDER BY version;

-- name: record_version
INSERT INTO scripts_es.schema_version (version, name) VALUES (%(version)s, %(name)s)
ON CONFLICT (version) DO NOTHING;

-- name: as_maintenance
-- Data steps read every tenant's rows through the maintenance policy (the owner may not bypass
-- row-level security); schema.sql made the installing login a member of scripts_es_maint.
SET LOCAL ROLE scripts_es_maint;

-- name: as_owner
RESET ROLE;

-- name: unscheduled_cron_scripts
-- Enabled cron scripts written before schedules existed (migration 0004).
SELECT s.tenant_id, s.id, s.metadata, s.updated_at FROM scripts_es.scripts s
WHERE s.type = 'cron' AND s.is_enabled
  AND NOT EXISTS (SELECT FROM scripts_es.script_schedules sch
                  WHERE sch.tenant_id = s.tenant_id AND sch.script_id = s.id);

-- name: insert_schedule
INSERT INTO scripts_es.script_schedules (tenant_id, script_id, anchor, next_fire_at)
VALUES (%s, %s, %s, %s)
ON CONFLICT (tenant_id, script_id) DO NOTHING;
