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
